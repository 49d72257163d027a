import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/log.js';

export interface Checkpointer {
  /** WAL frames copied by the last checkpoint and frames in the WAL then (for /healthz and benchmarks). */
  readonly last: { log: number; checkpointed: number; at: number } | null;
  stop(): Promise<void>;
}

/**
 * Runs WAL checkpoints on a thread of their own. With tickers and rollups a commit dirties a few
 * hundred pages, and SQLite's automatic checkpoint would copy them into the database file (and
 * fsync it) on the committing thread, i.e. on the daemon's event loop: measured, that halved
 * ingest throughput. The writer keeps a much larger wal_autocheckpoint (ItemStore.open's
 * `autoCheckpointPages`) as the backstop in case this thread falls behind or dies.
 */
export function startCheckpointer(path: string, opts: { intervalMs: number; log: Logger }): Checkpointer {
  const here = fileURLToPath(import.meta.url);
  const file = join(dirname(here), 'checkpointWorker' + (here.endsWith('.ts') ? '.ts' : '.js'));
  const worker = new Worker(file, { workerData: { path, intervalMs: opts.intervalMs } });
  let last: Checkpointer['last'] = null;
  let warned = false;
  worker.on('message', (m: { type: string; log?: number; checkpointed?: number; message?: string }) => {
    if (m.type === 'checkpoint') last = { log: m.log ?? 0, checkpointed: m.checkpointed ?? 0, at: Date.now() };
    else if (m.type === 'error' && !warned) {
      warned = true;
      opts.log.warn({ err: m.message }, 'background WAL checkpoint failed; the writer checkpoints itself meanwhile');
    }
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (err) => opts.log.error({ err }, 'checkpoint thread died; the writer checkpoints itself from now on'));
  worker.unref();
  return {
    get last() {
      return last;
    },
    async stop() {
      worker.postMessage('stop');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
      await Promise.race([exited, timeout]);
      await worker.terminate().catch(() => undefined);
    },
  };
}
