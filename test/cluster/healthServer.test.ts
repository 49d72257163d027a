/** A poll or write node's health server: the server's status rules (503 only when failing), /readyz, /livez. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHealthServer } from '../../src/cluster/healthServer.js';

test('ok 200, degraded 200 with its reason, failing 503; /readyz brief; /livez 200; other paths 404', async () => {
  let report: Record<string, unknown> = { status: 'ok', cluster: { node: 'n1' } };
  const hs = await startHealthServer('127.0.0.1', 0, () => report);
  const get = async (path: string) => {
    const res = await fetch(hs.url + path);
    return { code: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  try {
    assert.deepEqual(await get('/healthz'), { code: 200, body: { status: 'ok', reason: null, cluster: { node: 'n1' } } });
    report = { status: 'degraded', reason: '1 of 2 sources failing: a (x)', cluster: { node: 'n1' } };
    assert.deepEqual(await get('/healthz'), { code: 200, body: { status: 'degraded', reason: '1 of 2 sources failing: a (x)', cluster: { node: 'n1' } } });
    report = { status: 'failing', reason: 'not connected to NATS' };
    assert.deepEqual(await get('/healthz'), { code: 503, body: { status: 'failing', reason: 'not connected to NATS' } });
    assert.deepEqual(await get('/readyz'), { code: 503, body: { status: 'failing', reason: 'not connected to NATS' } });
    assert.deepEqual(await get('/livez'), { code: 200, body: { status: 'alive' } });
    assert.equal((await get('/api/items')).code, 404);
  } finally {
    await hs.close();
  }
});
