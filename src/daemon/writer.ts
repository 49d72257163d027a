/**
 * The main thread's handle on the writer stage (writerThread.ts): the thread that owns the
 * SQLite write connection. The main thread sends `ItemBatch`es and gets `StoredBatch`es back,
 * in commit order, through `onStored` (the fan-out) and through the promise of each commit
 * (the source's pipeline, which releases its PollGate slot then).
 *
 * Queue bound: requests wait in the thread's message queue, which holds at most what the
 * pipelines have in flight — per source `limits.maxPendingPolls` polls, each with at most
 * COMMITS_IN_FLIGHT_PER_POLL chunks posted and one `known` lookup. Overflow policy: none is
 * needed, the sources pause (their PollGate is full until the writer answers); nothing is dropped.
 */
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TickerpulseError, fromWireError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { ItemBatch, StoredBatch } from '../lib/messages.js';
import type { CheckpointResult } from '../store/itemStore.js';
import type { PruneCounts, PruneCutoffs } from '../store/retention.js';
import type { WriterBackend } from './writerBackend.js';
import type { CommitSamples, WriterEvent, WriterReply, WriterRequest, WriterThreadData } from './writerProtocol.js';

/** V8 young generation of the writer thread (MiB). */
export const WRITER_YOUNG_GENERATION_MB = 16;

/** Chunks of one poll posted to the writer before the first of them is acknowledged. */
export const COMMITS_IN_FLIGHT_PER_POLL = 2;

export interface WriterStats {
  /** CPU time of the writer thread (ms; null off Linux). */
  cpuMs: number | null;
  /** Time spent handling requests (ms). */
  busyMs: number;
  commits: number;
  items: number;
  /** Requests sent and not yet answered. */
  queueDepth: number;
}

interface Pending {
  /** When it was sent (Date.now()): the oldest unanswered request is how far the writer lags. */
  at: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class StoreWriter implements WriterBackend {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: TickerpulseError | null = null;
  private readonly exited: Promise<void>;
  private last: Omit<WriterStats, 'queueDepth'> = { cpuMs: null, busyMs: 0, commits: 0, items: 0 };
  /** Every StoredBatch, in commit order, before the commit's own promise resolves. */
  onStored: ((batch: StoredBatch) => void) | null = null;
  /** The thread died or its store failed outside a request: the daemon must stop. */
  onFatal: ((err: TickerpulseError) => void) | null = null;
  /** The commits of each stats interval (the /metrics histograms). */
  onCommitSamples: ((samples: CommitSamples) => void) | null = null;

  private constructor(worker: Worker, private readonly log: Logger) {
    this.worker = worker;
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  }

  /** Starts the thread; resolves once its store is open and migrated and the story/alert state is warm. */
  static async start(data: WriterThreadData, log: Logger): Promise<StoreWriter> {
    const here = fileURLToPath(import.meta.url);
    const file = join(dirname(here), 'writerThread' + (here.endsWith('.ts') ? '.ts' : '.js'));
    // A bounded young generation: the writer's garbage is short-lived (each ItemBatch is
    // dropped after its commit), and V8's default lets a thread hold tens of MiB of it between
    // scavenges. 16 MiB, not the sources' 8 (probably because with 8 a batch still in flight survives
    // two scavenges and is promoted into the old generation) — measured on the templated replay, peak RSS
    // 431-434 vs 471-477 MiB (1 source, 4 interleaved rounds each) and 729-770 vs 794-801 MiB
    // (8 sources), same writer CPU.
    const w = new StoreWriter(new Worker(file, { workerData: data, name: 'tickerpulse-writer', resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB } }), log);
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number) => reject(new TickerpulseError('STORE_FAILED', `the writer thread exited (code ${code}) before it was ready`));
      w.worker.once('exit', onExit);
      w.worker.once('error', (err) => reject(new TickerpulseError('STORE_FAILED', `the writer thread failed to start: ${err.message}`, { cause: err })));
      w.worker.on('message', (m: WriterEvent | WriterReply) => {
        if (m.type === 'ready') {
          w.worker.off('exit', onExit);
          resolve();
        } else if (m.type === 'failed') reject(fromWireError(m.error));
        else w.onMessage(m);
      });
    });
    w.worker.on('error', (err) => w.fail(new TickerpulseError('STORE_FAILED', `the writer thread died: ${err.message}`, { cause: err })));
    w.worker.on('exit', (code) => w.fail(new TickerpulseError('STORE_FAILED', `the writer thread exited (code ${code})`)));
    return w;
  }

  private onMessage(m: WriterEvent | WriterReply): void {
    switch (m.type) {
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) {
          const r = m.result as StoredBatch | null;
          // Fan-out first, in the order commits happened, then the pipeline's own continuation.
          if (r && typeof r === 'object' && (r as { type?: unknown }).type === 'StoredBatch') {
            try {
              this.onStored?.(r);
            } catch (err) {
              this.log.error({ err }, 'fan-out of a stored batch failed');
            }
          }
          p.resolve(m.result);
        } else p.reject(fromWireError(m.error));
        return;
      }
      case 'stats':
        this.last = { cpuMs: m.cpuMs, busyMs: m.busyMs, commits: m.commits, items: m.items };
        if (m.samples.ms.length || m.samples.dropped) this.onCommitSamples?.(m.samples);
        return;
      case 'log':
        this.log[m.level](m.obj, m.msg);
        return;
      default:
        return;
    }
  }

  private fail(err: TickerpulseError): void {
    if (this.dead) return;
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.onFatal?.(err);
  }

  private request<T>(req: DistributiveOmit<WriterRequest, 'id'>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { at: Date.now(), resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id } as WriterRequest);
    });
  }

  async knownGuids(sourceId: string, guids: string[]): Promise<Set<string>> {
    if (guids.length === 0) return new Set();
    return new Set(await this.request<string[]>({ op: 'known', sourceId, guids }));
  }

  commit(batch: ItemBatch): Promise<StoredBatch> {
    return this.request<StoredBatch>({ op: 'commit', batch });
  }

  /** Records a webhook outcome; a failure is logged (the alert then stays marked undelivered). */
  markAlert(alertId: number, failure: string | null): void {
    const req = failure === null ? ({ op: 'alertDelivered', alertId } as const) : ({ op: 'alertFailed', alertId, reason: failure } as const);
    this.request(req).catch((err: unknown) => this.log.warn({ err, alert: alertId }, 'could not record the webhook outcome of an alert'));
  }

  /** Age (ms) of the oldest request the thread has not answered; 0 when none waits. */
  lagMs(now = Date.now()): number {
    // A Map iterates in insertion order: the first entry is the oldest.
    for (const p of this.pending.values()) return Math.max(0, now - p.at);
    return 0;
  }

  /** False once the thread died or was closed. */
  get alive(): boolean {
    return this.dead === null;
  }

  stats(): WriterStats {
    return { ...this.last, queueDepth: this.pending.size };
  }

  /** Retention: one prune transaction on the writer thread (src/store/retention.ts). */
  prune(cutoffs: PruneCutoffs, batch: number): Promise<PruneCounts> {
    return this.request<PruneCounts>({ op: 'prune', cutoffs, batch });
  }

  /** Retention: incremental vacuum of up to `pages` pages; resolves to the pages freed. */
  vacuum(pages: number): Promise<number> {
    return this.request<number>({ op: 'vacuum', pages });
  }

  /** Shutdown: index the newest tickers and checkpoint the WAL (TRUNCATE). */
  finish(): Promise<CheckpointResult> {
    return this.request<CheckpointResult>({ op: 'finish' });
  }

  /** Closes the connection and ends the thread (idempotent; a dead thread resolves at once). */
  async close(): Promise<void> {
    if (!this.dead) {
      const closing = this.request({ op: 'close' }).catch(() => undefined);
      this.dead = new TickerpulseError('STORE_FAILED', 'the writer is closed');
      await Promise.race([closing, this.exited]);
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([this.exited, timeout]);
    await this.worker.terminate().catch(() => undefined);
  }
}
