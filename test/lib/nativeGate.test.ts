import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TickerpulseError } from '../../src/lib/errors.js';
import { closeAllGates, guarded, NativeGate } from '../../src/lib/nativeGate.js';

test('close() waits for the guarded call in progress and refuses new ones', async () => {
  const gate = new NativeGate();
  let finish!: () => void;
  const running = guarded(gate.buffer, () => new Promise<string>((r) => (finish = () => r('done'))));
  assert.equal(gate.running, 1);
  let closed = false;
  const closing = gate.close(60_000).then((idle) => {
    closed = true;
    return idle;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false, 'not while a call runs');
  await assert.rejects(guarded(gate.buffer, async () => 'late'), (e: unknown) => e instanceof TickerpulseError && e.code === 'WORKER_FAILED');
  assert.equal(gate.running, 1, 'the refused call counted itself out');
  finish();
  assert.equal(await running, 'done');
  assert.equal(await closing, true);
});

test('closeAllGates stops every open gate; a call that never ends only delays the exit by the bound', async () => {
  const a = new NativeGate();
  const b = new NativeGate();
  void guarded(b.buffer, () => new Promise(() => undefined));
  assert.equal(await closeAllGates(50), false);
  await assert.rejects(guarded(a.buffer, async () => 1));
  await assert.rejects(guarded(b.buffer, async () => 1));
});

test('without a gate (the CLI pools), calls just run', async () => {
  assert.equal(await guarded(undefined, async () => 7), 7);
});
