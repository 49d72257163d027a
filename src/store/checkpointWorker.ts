/**
 * Entry point of the store's checkpoint thread (see checkpointer.ts). Its own connection copies
 * committed WAL frames into the database file with PRAGMA wal_checkpoint(PASSIVE), which never
 * blocks or waits for the writer, so the fsyncs of checkpoints happen here and not on the
 * daemon's event loop. Messages: 'stop' → close the connection and exit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

const data = workerData as CheckpointWorkerData;
const db = new Database(data.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
// NORMAL in WAL mode: the checkpoint fsyncs the WAL before copying and the database after.
db.pragma('synchronous = NORMAL');
let stopped = false;

function tick(): void {
  if (stopped) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    parentPort?.postMessage({ type: 'checkpoint', log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    // SQLITE_BUSY and the like: try again next tick; the writer's own auto-checkpoint is the backstop.
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  setTimeout(tick, data.intervalMs).unref();
}

parentPort?.on('message', (m: unknown) => {
  if (m === 'stop') {
    stopped = true;
    db.close();
    parentPort?.close();
  }
});

tick();
