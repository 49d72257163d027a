/**
 * The writer thread's protocol (main thread ⇄ src/daemon/writerThread.ts), plain structured-clone
 * objects. Requests carry an id; the writer answers each exactly once, in arrival order.
 */
import type { AlertsConfig } from '../config/alerts.js';
import type { WireError } from '../lib/errors.js';
import type { ItemBatch } from '../lib/messages.js';
import type { PruneCutoffs } from '../store/retention.js';

export interface WriterThreadData {
  path: string;
  cacheMb: number;
  tickerIndexLag: number;
  autoCheckpointPages: number;
  /** Config `alerts` (null: no rules); the webhook part is the main thread's. */
  alerts: AlertsConfig | null;
  watchlist: string[];
  /** Injected clock − wall clock at start (tests); 0 in production. */
  clockOffsetMs: number;
  statsIntervalMs: number;
}

export type WriterRequest =
  | { id: number; op: 'known'; sourceId: string; guids: string[] }
  | { id: number; op: 'commit'; batch: ItemBatch }
  | { id: number; op: 'alertDelivered'; alertId: number }
  | { id: number; op: 'alertFailed'; alertId: number; reason: string }
  /** Retention: one short transaction deleting at most `batch` rows of each kind (→ PruneCounts). */
  | { id: number; op: 'prune'; cutoffs: PruneCutoffs; batch: number }
  /** Retention: give up to `pages` free pages back to the file system (→ pages freed). */
  | { id: number; op: 'vacuum'; pages: number }
  /** Shutdown step: index the newest tickers, checkpoint the WAL (TRUNCATE). */
  | { id: number; op: 'finish' }
  /** Close the connection and end the thread. */
  | { id: number; op: 'close' };

export type WriterReply = { type: 'reply'; id: number; ok: true; result: unknown } | { type: 'reply'; id: number; ok: false; error: WireError };

export type WriterEvent =
  | { type: 'ready'; latestSeq: number }
  | { type: 'failed'; error: WireError }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg: string }
  /**
   * Every statsIntervalMs: the thread's own CPU time (null off Linux) and work done, plus each
   * commit since the last stats message (for the /metrics histograms; see CommitSamples).
   */
  | { type: 'stats'; cpuMs: number | null; busyMs: number; commits: number; items: number; samples: CommitSamples };

/**
 * The commits of one stats interval: duration (ms) and items offered (the transaction's size),
 * index by index. Bounded by MAX_COMMIT_SAMPLES per interval; the overflow is counted in
 * `dropped`, not sent (the histograms then miss those commits; `commits` still counts them).
 */
export interface CommitSamples {
  ms: number[];
  items: number[];
  dropped: number;
}

/** Commit samples a stats message carries at most (at 500 ms intervals: 20,000 commits/s). */
export const MAX_COMMIT_SAMPLES = 10_000;
