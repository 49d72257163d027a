/**
 * Keeps a worker thread from being terminated inside an ONNX Runtime call.
 *
 * onnxruntime-node runs a session (and loads one) synchronously inside the worker's JS. When
 * the thread is terminated meanwhile (process.exit stops every worker thread; so does piscina's
 * destroy), the call returns into a thread that can no longer run JS: node-addon-api's
 * Napi::Error cannot be thrown into JS either and becomes a C++ exception nobody catches —
 * `terminate called after throwing an instance of 'Napi::Error'`, SIGABRT for the whole process.
 *
 * A gate is two shared counters per pool: `stopping` (set by the main thread) and `running`
 * (guarded calls in progress). A guarded call counts itself in *before* it checks `stopping`;
 * the main thread sets `stopping` *before* it reads `running`. With sequentially consistent
 * Atomics one of the two always sees the other: once `close()` saw `running` at 0, no guarded
 * call is in progress and none can start, so the threads can be terminated.
 */
const STOPPING = 0;
const RUNNING = 1;
const POLL_MS = 2;

/** Gates not closed yet: all of them are closed by closeAllGates (a second signal). */
const openGates = new Set<NativeGate>();

export class NativeGate {
  /** Hand to the pool's threads (workerData); they pass it to `guarded`. */
  readonly buffer = new SharedArrayBuffer(8);
  private readonly view = new Int32Array(this.buffer);

  constructor() {
    openGates.add(this);
  }

  get running(): number {
    return Atomics.load(this.view, RUNNING);
  }

  /** Stop new guarded calls. */
  stop(): void {
    Atomics.store(this.view, STOPPING, 1);
  }

  /**
   * No new guarded call starts; resolves true once none is running, false if one still was after
   * `maxWaitMs` (a thread that died inside a call never counts itself out: the wait is bounded).
   */
  async close(maxWaitMs: number): Promise<boolean> {
    this.stop();
    try {
      return await untilIdle([this], maxWaitMs);
    } finally {
      openGates.delete(this);
    }
  }
}

/** Closes every open gate of the process and waits (bounded) until no guarded call runs. */
export function closeAllGates(maxWaitMs: number): Promise<boolean> {
  const gates = [...openGates];
  for (const g of gates) g.stop();
  return untilIdle(gates, maxWaitMs);
}

async function untilIdle(gates: NativeGate[], maxWaitMs: number): Promise<boolean> {
  const end = Date.now() + maxWaitMs;
  while (gates.some((g) => g.running > 0)) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

const views = new WeakMap<SharedArrayBuffer, Int32Array>();
function viewOf(buffer: SharedArrayBuffer): Int32Array {
  let v = views.get(buffer);
  if (!v) views.set(buffer, (v = new Int32Array(buffer)));
  return v;
}

/**
 * Worker side: a new thread of a one-thread pool replaces one that died, maybe inside a guarded
 * call it never counted itself out of; nothing else can be running, so the count starts over.
 */
export function resetGateForSoleThread(buffer: SharedArrayBuffer | undefined): void {
  if (buffer) Atomics.store(viewOf(buffer), RUNNING, 0);
}

/**
 * Worker side: runs `fn` (which makes native calls) unless the gate is closed. A closed gate
 * means the thread is about to be terminated: the call then never settles. An error instead
 * would be retried and, after the last attempt, dead-lettered by the pipeline — and committed
 * in the moments before a second signal's exit, so items that should be fetched again on the
 * next start would be recorded as failed.
 */
export async function guarded<T>(buffer: SharedArrayBuffer | undefined, fn: () => Promise<T>): Promise<T> {
  if (!buffer) return fn();
  const v = viewOf(buffer);
  Atomics.add(v, RUNNING, 1);
  if (Atomics.load(v, STOPPING) !== 0) {
    Atomics.sub(v, RUNNING, 1);
    return new Promise<T>(() => undefined);
  }
  try {
    return await fn();
  } finally {
    Atomics.sub(v, RUNNING, 1);
  }
}
