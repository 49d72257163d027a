import { concatMap, type OperatorFunction } from 'rxjs';
import type { Logger } from '../src/lib/log.js';
import type { ClassifiedItem, PollResult, SourceState, StoredItem } from '../src/lib/types.js';
import { classifyItems, type BatchClassifier, type FailedItem } from './classify.js';
import { dropKnown } from './dedupe.js';
import type { PollGate } from './gate.js';

/** The part of the store the pipeline writes through (kept narrow so the stage is testable). */
export interface IngestStore {
  knownGuids(sourceId: string, guids: string[]): Set<string>;
  commitPoll(sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: { code: string; message: string }): StoredItem[];
  addDeadLetters(sourceId: string, entries: { guid: string | null; payload: unknown; code: string; message: string; attempts: number }[]): void;
}

export interface IngestReport {
  poll: PollResult;
  stored: StoredItem[];
  duplicates: number;
  failed: FailedItem[];
}

export interface IngestOptions {
  sourceId: string;
  classifier: BatchClassifier;
  store: IngestStore;
  gate: PollGate;
  batchSize: number;
  attempts: number;
  log: Logger;
  onReport?: (report: IngestReport) => void;
}

/**
 * One source's pipeline: polls are handled strictly in order (concatMap) — drop known items,
 * classify the rest on the source's worker, then commit items + the poll's source state in one
 * SQLite transaction, and emit the stored items (with their seq) for the server.
 *
 * A store failure is fatal and propagates as an error: continuing would let a source's
 * in-memory validators (ETag, cursor) run ahead of what was committed.
 */
export function ingestPolls(opts: IngestOptions): OperatorFunction<PollResult, StoredItem[]> {
  return concatMap(async (poll) => {
    try {
      const known = poll.items.length ? opts.store.knownGuids(opts.sourceId, poll.items.map((i) => i.guid)) : new Set<string>();
      const fresh = dropKnown(poll.items, known);
      const fetchedAt = poll.state.lastPollAt ?? new Date().toISOString();
      const { classified, failed } = await classifyItems(fresh, opts.classifier, {
        source: opts.sourceId,
        batchSize: opts.batchSize,
        attempts: opts.attempts,
        fetchedAt,
      });
      if (failed.length) {
        opts.log.error({ failed: failed.length, code: failed[0].code }, 'items could not be classified; recorded as dead letters');
        opts.store.addDeadLetters(
          opts.sourceId,
          failed.map((f) => ({ guid: f.item.guid, payload: f.item, code: f.code, message: f.message, attempts: f.attempts })),
        );
      }
      const error = poll.error ?? (failed.length ? { code: failed[0].code, message: `${failed.length} item(s) failed classification: ${failed[0].message}` } : undefined);
      const state = failed.length && !poll.error ? { ...poll.state, lastError: failed[0].code } : poll.state;
      const stored = opts.store.commitPoll(opts.sourceId, classified, state, error);
      opts.onReport?.({ poll, stored, duplicates: poll.items.length - fresh.length, failed });
      return stored;
    } finally {
      opts.gate.release();
    }
  });
}
