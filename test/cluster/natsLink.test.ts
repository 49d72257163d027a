import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNatsLink } from '../../src/cluster/natsLink.js';
import { ITEMS_STREAM } from '../../src/cluster/topology.js';
import { resolveConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/log.js';
import { SKIP_NO_NATS, startNatsServer } from './natsServer.js';

const log = createLogger({ level: 'silent' });
const clusterCfg = (url: string, node: string, ttl: string) => resolveConfig({ cluster: { nats: { servers: [url] }, node, lease: { ttl, renewInterval: '1s' } } }).cluster!;

test('the first node creates the stream and the lease bucket; a node with another lease TTL is refused', { skip: SKIP_NO_NATS }, async () => {
  const nats = await startNatsServer();
  const a = await openNatsLink(clusterCfg(nats.url, 'a', '3s'), log);
  try {
    const info = await a.jsm.streams.info(ITEMS_STREAM);
    assert.equal(info.config.retention, 'workqueue');
    assert.equal(info.config.discard, 'new');
    assert.equal((await a.leases.status()).ttl, 3000);
    assert.equal(a.state().connected, true);
    // A second node with the same settings joins what exists.
    const b = await openNatsLink(clusterCfg(nats.url, 'b', '3s'), log);
    await b.close();
    // Leases timed by a 5 s TTL in a bucket that expires them after 3 s could have two holders.
    await assert.rejects(openNatsLink(clusterCfg(nats.url, 'c', '5s'), log), (e: { code?: string; message: string }) => e.code === 'CONFIG_INVALID' && /lease\.ttl/.test(e.message));
  } finally {
    await a.close();
  }
});
