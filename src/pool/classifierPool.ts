import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { TickerpulseError, fromWireError } from '../lib/errors.js';
import { workerFile } from '../lib/paths.js';
import type { Prediction } from '../lib/types.js';
import type { ClassifyReply, ClassifyWorkerData } from '../../workers/classify.js';

export interface ClassifierPoolOptions {
  /** Worker threads (default: one per core). */
  threads?: number;
  modelDir?: string;
  /** Model of either kind (see src/model/hf/loadClassifier.ts); takes precedence over modelDir. */
  modelPath?: string;
  /** Default: 'auto' (detect) when modelPath is set, else builtin. */
  modelKind?: ClassifyWorkerData['modelKind'];
  /** hf models: overlap in tokens between windows of a long text. */
  windowStride?: number;
  intraOpNumThreads?: number;
  /** Tasks waiting for a thread before run() rejects with WORKER_QUEUE_FULL (default 4 per thread). */
  maxQueue?: number;
  /** Also link tickers (with per-ticker sentiment) as the daemon's source workers do (reclassify). */
  link?: boolean;
}

export interface BatchResult {
  model: string;
  predictions: Prediction[];
  /** With `link`: per text the JSON array of its tickers, null when none. */
  tickers?: (string | null)[];
}

/**
 * A pool of classify workers for bulk work (the `classify` CLI, eval, benchmarks). The daemon
 * does not use it: there each source has its own single-thread pool (SourceWorker).
 */
export class ClassifierPool {
  private readonly pool: Piscina;
  readonly threads: number;
  private readonly maxQueue: number;
  private readonly link: boolean;

  constructor(opts: ClassifierPoolOptions = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    const workerData: ClassifyWorkerData = {
      modelDir: opts.modelDir,
      modelPath: opts.modelPath,
      modelKind: opts.modelKind,
      windowStride: opts.windowStride,
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
    };
    this.maxQueue = opts.maxQueue ?? this.threads * 4;
    this.link = opts.link === true;
    this.pool = new Piscina({
      filename: workerFile('classify'),
      minThreads: this.threads,
      maxThreads: this.threads,
      maxQueue: this.maxQueue,
      idleTimeout: 60_000,
      workerData,
    });
  }

  async classify(texts: string[]): Promise<BatchResult> {
    // Checked here rather than by parsing piscina's rejection text: callers branch on our code.
    if (this.pool.queueSize >= this.maxQueue) {
      throw new TickerpulseError('WORKER_QUEUE_FULL', `classifier queue is full (${this.maxQueue} batches waiting); wait for results before submitting more`, { retryable: true });
    }
    let reply: ClassifyReply;
    try {
      reply = (await this.pool.run(this.link ? { texts, link: true } : { texts }, { name: 'classify' })) as ClassifyReply;
    } catch (err) {
      throw workerFailure(err);
    }
    if (!reply.ok) throw fromWireError(reply);
    return this.link ? { model: reply.model, predictions: reply.predictions, tickers: reply.tickers } : { model: reply.model, predictions: reply.predictions };
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** A rejection from piscina itself means the thread died or the queue was full, not a model error. */
export function workerFailure(err: unknown): TickerpulseError {
  if (err instanceof TickerpulseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TickerpulseError('WORKER_FAILED', `worker thread failed: ${message}`, { retryable: true, cause: err });
}
