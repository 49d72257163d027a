/**
 * The messages stages hand each other (issue 13's stage boundaries). Plain, versioned,
 * structured-clone-safe objects: no class instances, no functions, no Maps — so a MessagePort
 * today and a networked transport later (NATS JetStream in cluster mode) carry them unchanged.
 *
 *   source stage (the source's worker + its pipeline)  --ItemBatch-->   writer stage (one thread: SQLite)
 *   writer stage                                       --StoredBatch--> fan-out (main thread: /ws, webhook)
 *
 * A consumer refuses a message whose `v` it does not know (MESSAGE_VERSION) rather than guess.
 */
import type { ClassifiedItem, SourceState, StoredAlert, StoredItem } from './types.js';

export const MESSAGE_VERSION = 1;

/** An item that could not be classified, stored as a dead letter with the batch that carries it. */
export interface DeadLetter {
  guid: string | null;
  payload: unknown;
  code: string;
  message: string;
  attempts: number;
}

/**
 * Classified items of one source, ready to store. A big poll travels as several ItemBatches
 * (`limits.commitChunk` items each at most); only the poll's last one carries `final: true`, the
 * poll's source state and its error, so the state (ETag, cursor) commits atomically with the
 * poll's last chunk. Earlier chunks commit their items alone: after a crash between two chunks the
 * poll is fetched again and what was stored is dropped as known (resumable chunk by chunk).
 */
export interface ItemBatch {
  v: typeof MESSAGE_VERSION;
  type: 'ItemBatch';
  sourceId: string;
  items: ClassifiedItem[];
  /** The last chunk of its poll: `state` and `error` are committed with it. */
  final: boolean;
  /** Source-state fields to persist (final chunk only; `{}` otherwise). */
  state: Partial<SourceState>;
  error?: { code: string; message: string };
  /** Items of the poll that failed classification (final chunk only). */
  deadLetters?: DeadLetter[];
}

/** What one writer commit stored: the new rows only (duplicates are not in it), in seq order. */
export interface StoredBatch {
  v: typeof MESSAGE_VERSION;
  type: 'StoredBatch';
  sourceId: string;
  items: StoredItem[];
  /** Alerts raised by these items, stored in the same transaction (fan-out sends them after the items). */
  alerts: StoredAlert[];
  /** Items of the ItemBatch (before the store dropped duplicates). */
  offered: number;
}

export function itemBatch(sourceId: string, items: ClassifiedItem[], final: boolean, state: Partial<SourceState> = {}, error?: ItemBatch['error'], deadLetters?: DeadLetter[]): ItemBatch {
  const b: ItemBatch = { v: MESSAGE_VERSION, type: 'ItemBatch', sourceId, items, final, state };
  if (error) b.error = error;
  if (deadLetters && deadLetters.length) b.deadLetters = deadLetters;
  return b;
}
