/**
 * What each cluster role needs from the store, kept narrow so any store can serve it (SQLite
 * here; PostgreSQL in pgStores.ts, implementing the same three interfaces).
 *
 *  - a poll node reads a source's stored poll state (before its first poll as the new owner)
 *    and which guids are already stored (to skip classifying them);
 *  - a write node commits ItemBatches in order and gets StoredBatches back;
 *  - a serve node reads items after a seq (replay, gap fill) — the server's ItemStore.
 */
import type { TickerpulseError } from '../lib/errors.js';
import type { ItemBatch, StoredBatch } from '../lib/messages.js';
import type { SourceState } from '../lib/types.js';
import type { ItemStore } from '../store/itemStore.js';
import type { PruneCounts, PruneCutoffs } from '../store/retention.js';
import type { StoredItem } from '../lib/types.js';

export interface PollStateReader {
  getSourceState(sourceId: string): Promise<SourceState | null>;
  knownGuids(sourceId: string, guids: string[]): Promise<Set<string>>;
}

/** The writer stage as a write node drives it (src/daemon/writer.ts StoreWriter has this shape). */
export interface ClusterWriter {
  /** Which of these guids of the source are stored already. */
  knownGuids(sourceId: string, guids: string[]): Promise<Set<string>>;
  /** Resolves once durable, in the order batches were sent; rejects only when the store failed. */
  commit(batch: ItemBatch): Promise<StoredBatch>;
  /** Records a webhook outcome for an alert. */
  markAlert(alertId: number, failure: string | null): void;
  /** The store failed outside a commit: the node must stop being the writer. */
  onFatal: ((err: TickerpulseError) => void) | null;
  /** Shutdown step (index, checkpoint). */
  finish(): Promise<unknown>;
  /** Retention (config `retention`), run by the active writer only: src/daemon/retentionTask.ts. */
  prune(cutoffs: PruneCutoffs, batch: number): Promise<PruneCounts>;
  vacuum(pages: number): Promise<number>;
  close(): Promise<void>;
}

export type ClusterWriterFactory = () => Promise<ClusterWriter>;

/** Asynchronous: SQLite's read-only connection answers at once, PostgreSQL after a round trip. */
export interface StoreTail {
  latestSeq(): Promise<number>;
  itemsAfter(seq: number, limit: number): Promise<StoredItem[]>;
}

/** PollStateReader over the node's read-only SQLite connection. */
export function sqlitePollStateReader(store: ItemStore): PollStateReader {
  return {
    getSourceState: async (id) => store.getSourceState(id),
    knownGuids: async (id, guids) => (guids.length ? store.knownGuids(id, guids) : new Set()),
  };
}

/** StoreTail over the node's read-only SQLite connection. */
export function sqliteStoreTail(store: ItemStore): StoreTail {
  return {
    latestSeq: async () => store.latestSeq(),
    itemsAfter: async (seq, limit) => store.itemsAfter(seq, limit),
  };
}
