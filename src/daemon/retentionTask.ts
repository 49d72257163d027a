/**
 * The daemon's retention runs (config `retention`): every `interval`, prune in batches on the
 * writer thread, then give free pages back. Off the hot path by construction: each batch is one
 * request to the writer, handled between commits (FIFO), and after each batch the task waits as
 * long as the batch took, so pruning never takes more than half of the writer's time.
 */
import type { RetentionConfig } from '../config/retention.js';
import type { Logger } from '../lib/log.js';
import { addCounts, cutoffsFor, hasPolicy, NO_COUNTS, Pruner, type PruneCounts, type PruneCutoffs } from '../store/retention.js';

export interface PruneTarget {
  prune(cutoffs: PruneCutoffs, batch: number): Promise<PruneCounts>;
  vacuum(pages: number): Promise<number>;
}

export interface RetentionTask {
  /** One full run now (tests, and the timer). */
  run(): Promise<PruneCounts & { freedPages: number }>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startRetention(cfg: RetentionConfig, writer: PruneTarget, log: Logger, opts: { clock?: () => number; firstDelayMs?: number } = {}): RetentionTask | null {
  if (!hasPolicy(cfg)) return null;
  const clock = opts.clock ?? Date.now;
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  async function once(): Promise<PruneCounts & { freedPages: number }> {
    const t0 = Date.now();
    const cutoffs = cutoffsFor(cfg, clock());
    let total: PruneCounts = { ...NO_COUNTS };
    while (!stopped) {
      const b0 = Date.now();
      const n = await writer.prune(cutoffs, cfg.batchSize);
      total = addCounts(total, n);
      if (Pruner.done(n, cfg.batchSize)) break;
      await sleep(Math.max(1, Date.now() - b0));
    }
    let freedPages = 0;
    if (total.items + total.alerts + total.deadLetters > 0) {
      while (!stopped) {
        const b0 = Date.now();
        const freed = await writer.vacuum(cfg.vacuumPages);
        freedPages += freed;
        if (freed < cfg.vacuumPages) break;
        await sleep(Math.max(1, Date.now() - b0));
      }
      log.info({ ...total, freedPages, cutoffs, ms: Date.now() - t0 }, 'retention: pruned old data');
    }
    return { ...total, freedPages };
  }

  const run = () => {
    const p = current.then(once);
    current = p.catch(() => undefined);
    return p;
  };
  const schedule = (ms: number) => {
    timer = setTimeout(() => {
      run().then(
        () => !stopped && schedule(cfg.interval),
        (err: unknown) => {
          // A failed run (e.g. the disk is full) is retried at the next interval; the daemon goes on.
          if (!stopped) {
            log.error({ err }, 'retention run failed; retrying at the next interval');
            schedule(cfg.interval);
          }
        },
      );
    }, ms);
    timer.unref();
  };
  schedule(opts.firstDelayMs ?? 60_000);
  return {
    run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
