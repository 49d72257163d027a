import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { BatchClassifier } from '../../pipelines/classify.js';
import { PollGate } from '../../pipelines/gate.js';
import { ingestPolls, type IngestStore } from '../../pipelines/ingest.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { createLogger } from '../../src/lib/log.js';
import { MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../../src/lib/messages.js';
import type { PollResult, Prediction, RawItem, StoredItem } from '../../src/lib/types.js';

const log = createLogger({ level: 'silent', pretty: false });
const neutral: Prediction = { label: 'neutral', pNeg: 0.2, pNeu: 0.6, pPos: 0.2, score: 0 };
const clf: BatchClassifier = { classify: async (texts) => ({ model: 'm', predictions: texts.map(() => neutral) }) };
const items = (prefix: string, n: number): RawItem[] =>
  Array.from({ length: n }, (_, i) => ({ guid: `${prefix}-${i}`, url: null, title: `headline ${prefix} ${i}`, summary: null, publishedAt: null }));
const poll = (sourceId: string, its: RawItem[], cursor: string): PollResult => ({ sourceId, items: its, state: { cursor, lastPollAt: '2026-01-01T00:00:00.000Z' } });

/** A writer that stores in memory, answers in order, and can hold its answers back. */
function fakeWriter(opts: { known?: string[]; failOn?: number } = {}) {
  const batches: ItemBatch[] = [];
  const stored = new Set(opts.known ?? []);
  let seq = 0;
  let unacked = 0;
  let maxUnacked = 0;
  const store: IngestStore = {
    knownGuids: async (_s, guids) => new Set(guids.filter((g) => stored.has(g))),
    commit: async (batch) => {
      batches.push(structuredClone(batch));
      unacked++;
      maxUnacked = Math.max(maxUnacked, unacked);
      await new Promise((r) => setTimeout(r, 2));
      unacked--;
      if (opts.failOn === batches.length) throw new TickerpulseError('STORE_FAILED', 'disk full');
      const fresh = batch.items.filter((i) => !stored.has(i.guid));
      for (const i of fresh) stored.add(i.guid);
      const out: StoredBatch = { v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: batch.sourceId, items: fresh.map((i) => ({ ...i, seq: ++seq }) as StoredItem), alerts: [], offered: batch.items.length };
      return out;
    },
  };
  return { store, batches, get maxUnacked() { return maxUnacked; } };
}

test('a poll bigger than commitChunk goes to the writer in chunks; only the last carries the state', async () => {
  const w = fakeWriter();
  const gate = new PollGate(4);
  await gate.waitForRoom();
  const reports = await firstValueFrom(
    from([poll('s', items('a', 10), 'c1')]).pipe(ingestPolls({ sourceId: 's', classifier: clf, store: w.store, gate, batchSize: 4, attempts: 1, commitChunk: 3, chunksInFlight: 2, log }), toArray()),
  );
  assert.deepEqual(w.batches.map((b) => b.items.length), [3, 3, 3, 1]);
  assert.deepEqual(w.batches.map((b) => b.final), [false, false, false, true]);
  assert.deepEqual(w.batches.map((b) => b.state.cursor), [undefined, undefined, undefined, 'c1']);
  for (const b of w.batches) assert.equal(b.v, MESSAGE_VERSION);
  assert.deepEqual(w.batches.flatMap((b) => b.items.map((i) => i.guid)), items('a', 10).map((i) => i.guid));
  assert.ok(w.maxUnacked <= 2, `at most 2 chunks unacknowledged, saw ${w.maxUnacked}`);
  assert.equal(reports.length, 1);
  assert.equal(reports[0].stored, 10);
  assert.equal(gate.depth, 0, 'the poll’s gate slot is released once its last chunk is committed');
});

test('polls are sent to the writer strictly in order, chunk by chunk; known items are not sent; an empty poll still commits its state', async () => {
  const w = fakeWriter({ known: ['b-0', 'b-1'] });
  const gate = new PollGate(4);
  const polls = [poll('s', items('a', 5), 'c1'), poll('s', items('b', 4), 'c2'), poll('s', [], 'c3')];
  const reports = await firstValueFrom(
    from(polls).pipe(ingestPolls({ sourceId: 's', classifier: clf, store: w.store, gate, batchSize: 2, attempts: 1, commitChunk: 2, chunksInFlight: 2, log }), toArray()),
  );
  assert.deepEqual(w.batches.flatMap((b) => b.items.map((i) => i.guid)), ['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'b-2', 'b-3']);
  assert.deepEqual(w.batches.filter((b) => b.final).map((b) => b.state.cursor), ['c1', 'c2', 'c3']);
  assert.deepEqual(reports.map((r) => [r.stored, r.duplicates]), [[5, 0], [2, 2], [0, 0]]);
});

test('a failed commit fails the pipeline (the store is the one fatal error)', async () => {
  const w = fakeWriter({ failOn: 2 });
  const gate = new PollGate(4);
  await assert.rejects(
    firstValueFrom(from([poll('s', items('a', 6), 'c1')]).pipe(ingestPolls({ sourceId: 's', classifier: clf, store: w.store, gate, batchSize: 8, attempts: 1, commitChunk: 2, chunksInFlight: 2, log }), toArray())),
    (err: unknown) => err instanceof TickerpulseError && err.code === 'STORE_FAILED',
  );
});

test('checkKnown: false (push streams) skips the known-guid round trip; the store still drops duplicates and they are reported', async () => {
  const w = fakeWriter({ known: ['p-0', 'p-1'] });
  let lookups = 0;
  const store: IngestStore = { ...w.store, knownGuids: async (s, g) => (lookups++, w.store.knownGuids(s, g)) };
  const run = async (checkKnown: boolean) => {
    const gate = new PollGate(4);
    await gate.waitForRoom();
    return firstValueFrom(
      from([poll('s', items('p', 5), 'c')]).pipe(ingestPolls({ sourceId: 's', classifier: clf, store, gate, batchSize: 4, attempts: 1, commitChunk: 100, chunksInFlight: 2, checkKnown, log }), toArray()),
    );
  };
  const [pushed] = await run(false);
  assert.equal(lookups, 0);
  assert.equal(w.batches[0].items.length, 5, 'every item classified and offered to the store');
  assert.equal(pushed.stored, 3);
  assert.equal(pushed.duplicates, 2);
  const [polled] = await run(true);
  assert.equal(lookups, 1);
  assert.equal(w.batches[1].items.length, 0, 'all five are known by now: none is classified');
  assert.equal(polled.duplicates, 5);
});

test('a poll flagged newSinceCursor (a JSONL chunk after the committed cursor) skips the lookup; ON CONFLICT still drops repeats', async () => {
  const w = fakeWriter({ known: ['j-0'] });
  let lookups = 0;
  const store: IngestStore = { ...w.store, knownGuids: async (s, g) => (lookups++, w.store.knownGuids(s, g)) };
  const gate = new PollGate(4);
  await gate.waitForRoom();
  const flagged: PollResult = { ...poll('s', items('j', 3), 'c'), newSinceCursor: true };
  const [report] = await firstValueFrom(
    from([flagged]).pipe(ingestPolls({ sourceId: 's', classifier: clf, store, gate, batchSize: 4, attempts: 1, commitChunk: 100, chunksInFlight: 2, log }), toArray()),
  );
  assert.equal(lookups, 0);
  assert.equal(report.stored, 2);
  assert.equal(report.duplicates, 1);
});
