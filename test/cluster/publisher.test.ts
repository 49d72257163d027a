import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { ItemPublisher } from '../../src/cluster/itemPublisher.js';
import { decodeItemBatch, encodeBatch } from '../../src/cluster/codec.js';
import { Slots } from '../../src/cluster/slots.js';
import { ITEMS_STREAM, ITEMS_SUBJECTS, itemsSubject } from '../../src/cluster/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { itemBatch, type ItemBatch } from '../../src/lib/messages.js';
import type { ClassifiedItem } from '../../src/lib/types.js';
import { SKIP_NO_NATS, startNatsServer } from './natsServer.js';

const log = createLogger({ level: 'silent' });
let nc: NatsConnection;
let jsm: JetStreamManager;

async function setup(): Promise<void> {
  if (nc) return;
  const nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: ITEMS_STREAM, subjects: [ITEMS_SUBJECTS], retention: RetentionPolicy.Workqueue, duplicate_window: 120e9 });
}
after(async () => {
  await nc?.close();
});

function items(source: string, n: number, start = 0): ClassifiedItem[] {
  return Array.from({ length: n }, (_, k) => ({
    guid: `${source}-${start + k}`,
    title: `Acme Robotics beats profit forecast, item ${start + k} ${'x'.repeat(200)}`,
    url: null,
    publishedAt: '2026-11-01T12:00:00.000Z',
    summary: null,
    source,
    fetchedAt: '2026-11-01T12:00:01.000Z',
    model: 'test',
    label: 'positive',
    score: 0.5,
    pNeg: 0.1,
    pNeu: 0.3,
    pPos: 0.6,
    storySig: Uint32Array.from([1, 2, 4294967295]),
  })) as unknown as ClassifiedItem[];
}

function publisher(sourceId: string, maxPayload = 1 << 20): ItemPublisher {
  return new ItemPublisher({ js: jetstream(nc), sourceId, slots: new Slots(4), maxPayload, retryDelayMs: 50, maxRetryDelayMs: 500, log });
}

async function drain(sourceId: string): Promise<ItemBatch[]> {
  const name = `t-${sourceId}`;
  await jsm.consumers.add(ITEMS_STREAM, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: itemsSubject(sourceId) });
  const c = await jetstream(nc).consumers.get(ITEMS_STREAM, name);
  const out: ItemBatch[] = [];
  for (;;) {
    const m = await c.next({ expires: 1000 });
    if (!m) return out;
    out.push(decodeItemBatch(m.data));
    m.ack();
  }
}

test('re-publishing the same batch is dropped by JetStream (same Nats-Msg-Id)', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  const p = publisher('dedupe');
  const batch = itemBatch('dedupe', items('dedupe', 5), true, { cursor: '42' });
  await p.commit(batch);
  await p.commit(structuredClone(batch)); // e.g. a retry after a lost ack
  await p.commit(itemBatch('dedupe', items('dedupe', 5, 5), true, { cursor: '84' }));
  const got = await drain('dedupe');
  assert.equal(got.length, 2);
  assert.deepEqual(got.map((b) => b.state.cursor), ['42', '84']);
  assert.equal(p.published, 15, 'every commit resolved once JetStream had it');
});

test('a batch over max_payload is split in order; only the last part carries final and the state', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  const p = publisher('split', 40_000);
  const all = items('split', 500);
  assert.ok(encodeBatch(itemBatch('split', all, true)).length > 40_000 * 4);
  await p.commit(itemBatch('split', all, true, { cursor: 'end', etag: '"e"' }, undefined, [{ guid: 'bad', payload: {}, code: 'MODEL_RUN_FAILED', message: 'm', attempts: 3 }]));
  const got = await drain('split');
  assert.ok(got.length > 4);
  assert.deepEqual(
    got.flatMap((b) => b.items.map((i) => i.guid)),
    all.map((i) => i.guid),
  );
  assert.deepEqual(got.map((b) => b.final), [...Array(got.length - 1).fill(false), true]);
  assert.deepEqual(got[got.length - 1].state, { cursor: 'end', etag: '"e"' });
  assert.equal(got[got.length - 1].deadLetters?.length, 1);
  for (const b of got.slice(0, -1)) assert.deepEqual(b.state, {});
  // The story signature survives the trip as the typed array the writer needs.
  assert.ok(got[0].items[0].storySig instanceof Uint32Array);
  assert.deepEqual([...got[0].items[0].storySig!], [1, 2, 4294967295]);
});

test('a failing publish is retried, never dropped, until the publisher is stopped (CLUSTER_FAILED)', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  // A subject no stream takes: every publish fails (no responders), as with NATS down.
  const js = jetstream(nc, { timeout: 500 });
  const failing = new ItemPublisher({
    js: { publish: (s: string, d: Uint8Array, o: object) => js.publish(`nowhere.${s}`, d, o) } as never,
    sourceId: 'nowhere',
    slots: new Slots(1),
    maxPayload: 1 << 20,
    retryDelayMs: 20,
    maxRetryDelayMs: 100,
    log,
  });
  const pending = failing.commit(itemBatch('nowhere', items('nowhere', 1), true));
  let settled = false;
  pending.then(() => (settled = true), () => (settled = true));
  while (failing.publishFailures < 3) await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'still retrying after several failures');
  failing.stop();
  await assert.rejects(pending, (e: { code?: string }) => e.code === 'CLUSTER_FAILED');
});
