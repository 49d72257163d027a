import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeBatch } from '../../src/cluster/codec.js';
import type { NatsLink } from '../../src/cluster/natsLink.js';
import { startStoredFeed } from '../../src/cluster/storedFeed.js';
import { STORED_SUBJECT } from '../../src/cluster/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { MESSAGE_VERSION, type StoredBatch } from '../../src/lib/messages.js';
import type { StoredAlert, StoredItem } from '../../src/lib/types.js';
import { waitFor } from '../daemon/harness.js';
import { SKIP_NO_NATS, startNatsServer } from './natsServer.js';

let nc: NatsConnection | undefined;
after(async () => {
  await nc?.close();
});

const item = (seq: number) => ({ seq, source: 's', guid: `g${seq}`, title: `t${seq}` }) as unknown as StoredItem;
const batch = (seqs: number[], alerts: StoredAlert[] = []): StoredBatch => ({ v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: 's', items: seqs.map(item), alerts, offered: seqs.length });

test('serve feed: live batches in seq order, gaps filled from the store, seqs already sent dropped, missed batches caught up', { skip: SKIP_NO_NATS }, async () => {
  const nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const stored: StoredItem[] = [1, 2, 3].map(item);
  const store = {
    latestSeq: async () => (stored.length ? stored[stored.length - 1].seq : 0),
    itemsAfter: async (seq: number, limit: number) => stored.filter((i) => i.seq > seq).slice(0, limit),
  };
  const sent: number[] = [];
  const alerts: number[] = [];
  const feed = await startStoredFeed({ nc } as unknown as NatsLink, store, { broadcast: (items) => sent.push(...items.map((i) => i.seq)), broadcastAlert: (a) => alerts.push(a.id) }, 200, createLogger({ level: 'silent' }));
  try {
    const publish = async (b: StoredBatch) => {
      for (const i of b.items) if (!stored.some((s) => s.seq === i.seq)) stored.push(i);
      stored.sort((a, b2) => a.seq - b2.seq);
      nc!.publish(STORED_SUBJECT, encodeBatch(b));
      await nc!.flush();
    };
    // Starts at the store's latest seq: 1-3 are history (a client's ?since replay reads them).
    await publish(batch([4, 5]));
    await waitFor('4, 5 live', () => sent.length === 2);
    // 6 and 7 were committed but their StoredBatch never came: read from the store before 8.
    stored.push(item(6), item(7));
    await publish(batch([8], [{ id: 77 } as StoredAlert]));
    await waitFor('6-8', () => sent.length === 5 && alerts.length === 1);
    // A batch the feed already covered (redelivered, or read by the catch-up) is not sent again.
    await publish(batch([7, 8]));
    // Committed by a writer that died before publishing: the periodic catch-up sends them.
    stored.push(item(9), item(10));
    await waitFor('9, 10 caught up from the store', () => sent.length === 7);
    await publish(batch([9, 10]));
    await publish(batch([11]));
    await waitFor('11 live', () => sent.length === 8);
    assert.deepEqual(sent, [4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(alerts, [77]);
    assert.equal(feed.lastSeq, 11);
  } finally {
    feed.stop();
  }
});
