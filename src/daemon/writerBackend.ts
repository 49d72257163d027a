/**
 * The writer stage's contract, whatever it stores into: the SQLite writer thread's client
 * (StoreWriter, writer.ts) and the PostgreSQL writer (PgWriter, pgWriter.ts) both satisfy it, so
 * the daemon's pipelines and a cluster's write role feed either one the same ItemBatches.
 *
 * - `commit` stores one ItemBatch in one transaction: dedupe on (source, guid) against the store
 *   and within the batch, story assignment, rollups, alerts, the items, and — on the poll's final
 *   chunk only — the source's poll state. It resolves to the StoredBatch (the new rows only, in
 *   seq order); `onStored` gets every StoredBatch first, in commit order.
 * - A batch committed twice (a redelivery) stores nothing the second time.
 * - `markAlert` records a webhook outcome; failures are logged, never thrown.
 */
import type { TickerpulseError } from '../lib/errors.js';
import type { ItemBatch, StoredBatch } from '../lib/messages.js';
import type { WriterStats } from './writer.js';

export interface WriterBackend {
  knownGuids(sourceId: string, guids: string[]): Promise<Set<string>>;
  commit(batch: ItemBatch): Promise<StoredBatch>;
  markAlert(alertId: number, failure: string | null): void;
  /** Every StoredBatch, in commit order, before the commit's own promise resolves. */
  onStored: ((batch: StoredBatch) => void) | null;
  /** The backend failed outside a request and cannot go on: the owner must stop. */
  onFatal: ((err: TickerpulseError) => void) | null;
  stats(): WriterStats;
  /** Shutdown work of the store (SQLite: index the newest tickers, checkpoint the WAL). */
  finish(): Promise<unknown>;
  /** Idempotent. */
  close(): Promise<void>;
}
