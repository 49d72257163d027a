import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyItems, type BatchClassifier } from '../../pipelines/classify.js';
import { dropKnown } from '../../pipelines/dedupe.js';
import { PollGate } from '../../pipelines/gate.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import type { Prediction, RawItem } from '../../src/lib/types.js';

const item = (guid: string, title = `headline ${guid}`): RawItem => ({ guid, url: null, title, summary: null, publishedAt: null });
const neutral: Prediction = { label: 'neutral', pNeg: 0.2, pNeu: 0.6, pPos: 0.2, score: 0 };

test('classifyItems batches by size and keeps item order', async () => {
  const calls: number[] = [];
  const clf: BatchClassifier = {
    async classify(texts) {
      calls.push(texts.length);
      return { model: 'm1', predictions: texts.map(() => neutral) };
    },
  };
  const items = Array.from({ length: 10 }, (_, i) => item(String(i)));
  const out = await classifyItems(items, clf, { source: 's', batchSize: 4, attempts: 2, fetchedAt: '2026-01-01T00:00:00.000Z' });
  assert.deepEqual(calls, [4, 4, 2]);
  assert.deepEqual(out.classified.map((c) => c.guid), items.map((i) => i.guid));
  assert.equal(out.classified[0].model, 'm1');
  assert.equal(out.classified[0].source, 's');
  assert.equal(out.failed.length, 0);
});

test('a transient failure is retried; a poisonous item is isolated and dead-lettered alone', async () => {
  let transient = 1;
  const clf: BatchClassifier = {
    async classify(texts) {
      if (transient-- > 0) throw new TickerpulseError('WORKER_FAILED', 'thread died', { retryable: true });
      if (texts.some((t) => t.includes('POISON'))) throw new TickerpulseError('MODEL_RUN_FAILED', 'bad input');
      return { model: 'm', predictions: texts.map(() => neutral) };
    },
  };
  const items = [item('a'), item('b'), item('c', 'POISON here'), item('d'), item('e')];
  const out = await classifyItems(items, clf, { source: 's', batchSize: 8, attempts: 3, fetchedAt: 'x', backoffMs: () => 0 });
  assert.deepEqual(out.classified.map((c) => c.guid).sort(), ['a', 'b', 'd', 'e']);
  assert.equal(out.failed.length, 1);
  assert.equal(out.failed[0].item.guid, 'c');
  assert.equal(out.failed[0].code, 'MODEL_RUN_FAILED');
});

test('a worker returning the wrong number of predictions is treated as a failure', async () => {
  const clf: BatchClassifier = { classify: async () => ({ model: 'm', predictions: [] }) };
  const out = await classifyItems([item('a')], clf, { source: 's', batchSize: 8, attempts: 2, fetchedAt: 'x', backoffMs: () => 0 });
  assert.equal(out.classified.length, 0);
  assert.equal(out.failed[0].code, 'MODEL_RUN_FAILED');
});

test('dropKnown removes stored guids and repeats within a poll', () => {
  const out = dropKnown([item('a'), item('b'), item('a'), item('c')], new Set(['b']));
  assert.deepEqual(out.map((i) => i.guid), ['a', 'c']);
});

test('PollGate pauses a producer at capacity until a slot is released', async () => {
  const gate = new PollGate(2);
  await gate.waitForRoom();
  await gate.waitForRoom();
  let third = false;
  const p = gate.waitForRoom().then(() => {
    third = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(third, false, 'third producer must wait while the queue is full');
  assert.equal(gate.depth, 2);
  gate.release();
  await p;
  assert.equal(third, true);
  assert.equal(gate.depth, 2);
});

test('every retry and split of a failing batch is reported (the daemon shows the source as retrying)', async () => {
  let failures = 2;
  const clf: BatchClassifier = {
    async classify(texts) {
      if (failures-- > 0) throw new TickerpulseError('WORKER_FAILED', 'thread died', { retryable: true });
      if (texts.some((t) => t.includes('POISON'))) throw new TickerpulseError('MODEL_RUN_FAILED', 'bad input');
      return { model: 'm', predictions: texts.map(() => neutral) };
    },
  };
  const notices: unknown[] = [];
  const out = await classifyItems([item('a'), item('b', 'POISON'), item('c')], clf, {
    source: 's',
    batchSize: 8,
    attempts: 3,
    fetchedAt: 'x',
    backoffMs: (n) => n * 10,
    onRetry: (n) => notices.push(n),
  });
  assert.deepEqual(out.failed.map((f) => f.item.guid), ['b']);
  assert.deepEqual(notices, [
    { items: 3, attempt: 1, attempts: 3, next: 'retry', delayMs: 10, code: 'WORKER_FAILED', message: 'thread died' },
    { items: 3, attempt: 2, attempts: 3, next: 'retry', delayMs: 20, code: 'WORKER_FAILED', message: 'thread died' },
    { items: 3, attempt: 3, attempts: 3, next: 'split', delayMs: 0, code: 'MODEL_RUN_FAILED', message: 'bad input' },
    // The half [a, b] fails on b (one try), and is split again; [c] and then [a] pass, [b] is dead-lettered.
    { items: 2, attempt: 1, attempts: 1, next: 'split', delayMs: 0, code: 'MODEL_RUN_FAILED', message: 'bad input' },
  ]);
});
