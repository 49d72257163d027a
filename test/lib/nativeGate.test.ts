import { test } from 'node:test';
import assert from 'node:assert/strict';
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
  let lateRan = false;
  let lateSettled = false;
  void guarded(gate.buffer, async () => (lateRan = true)).finally(() => (lateSettled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(lateRan, false, 'no new call starts');
  assert.equal(lateSettled, false, 'and it does not fail either (the pipeline would dead-letter its items)');
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
  let ran = 0;
  void guarded(a.buffer, async () => ran++);
  void guarded(b.buffer, async () => ran++);
  await new Promise((r) => setImmediate(r));
  assert.equal(ran, 0, 'both gates are closed');
  assert.equal(a.running, 0);
});

test('without a gate (the CLI pools), calls just run', async () => {
  assert.equal(await guarded(undefined, async () => 7), 7);
});
