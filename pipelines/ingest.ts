import { concatMap, map, type OperatorFunction } from 'rxjs';
import type { Logger } from '../src/lib/log.js';
import { itemBatch, type ItemBatch, type StoredBatch } from '../src/lib/messages.js';
import type { ClassifiedItem, PollResult } from '../src/lib/types.js';
import { classifyItems, type BatchClassifier, type FailedItem, type RetryNotice } from './classify.js';
import { dropKnown } from './dedupe.js';
import type { PollGate } from './gate.js';

/**
 * The writer stage as a source's pipeline sees it (src/daemon/writer.ts StoreWriter: a thread
 * of its own that owns SQLite; kept narrow so the stage is testable without it).
 */
export interface IngestStore {
  knownGuids(sourceId: string, guids: string[]): Promise<Set<string>>;
  /** Resolves with what the commit stored, once it is durable; answers come in the order batches were sent. */
  commit(batch: ItemBatch): Promise<StoredBatch>;
}

export interface IngestReport {
  poll: PollResult;
  /** New rows stored (duplicates the store dropped are not counted). */
  stored: number;
  /** Items of the poll that were already stored (before classification, or by the store itself). */
  duplicates: number;
  failed: FailedItem[];
}

export interface IngestOptions {
  sourceId: string;
  /** A source's worker (which also links tickers and signs titles) or any BatchClassifier. */
  classifier: BatchClassifier;
  store: IngestStore;
  gate: PollGate;
  batchSize: number;
  attempts: number;
  /** Items per ItemBatch (one writer transaction) at most: a big poll commits in chunks. */
  commitChunk: number;
  /** Chunks of one poll posted to the writer before the first is acknowledged. */
  chunksInFlight: number;
  /**
   * Ask the store which items it already has before classifying (default true). Worth a writer
   * round trip where polls repeat what was stored (feeds, APIs, a replaced JSONL file); a push
   * stream's items are new, and the round trip (queued behind the writer's current commit) was
   * pure latency: the store's ON CONFLICT still drops any duplicate. A poll flagged
   * `newSinceCursor` (a JSONL chunk after the committed cursor) skips it too.
   */
  checkKnown?: boolean;
  log: Logger;
  /** Each retry or split of a failing classify batch (classifyItems' onRetry). */
  onRetry?: (notice: RetryNotice) => void;
}

/**
 * One source's pipeline: drop known items, classify the rest on the source's worker, then hand
 * the writer ItemBatches and emit one report per poll once the poll's last chunk is committed.
 *
 * Three overlapping steps, so neither the source's worker nor the writer idles:
 *  - classification starts as soon as a poll arrives (at most gate.capacity polls at once);
 *  - batches are *sent* strictly in poll order (a poll's chunks before the next poll's), which is
 *    what keeps seq order = arrival order per source;
 *  - acknowledgements are awaited in order, and each frees the poll's PollGate slot.
 * Two overlapping polls of a feed may both classify an item; the store's ON CONFLICT keeps one
 * and reports only new rows.
 *
 * A big poll is cut into `commitChunk`-item batches: no single transaction holds the writer for
 * long. Only the last carries the poll's source state (ETag, cursor) and error, so the state
 * commits atomically with the last chunk; after a crash in between, the poll is fetched again
 * and the chunks already stored are dropped as known (resumable chunk by chunk, nothing lost
 * or stored twice).
 *
 * A store failure is fatal and propagates as an error: continuing would let a source's
 * in-memory validators (ETag, cursor) run ahead of what was committed.
 */
export function ingestPolls(opts: IngestOptions): OperatorFunction<PollResult, IngestReport> {
  const chunk = Math.max(1, Math.trunc(opts.commitChunk));
  const inFlight = Math.max(1, Math.trunc(opts.chunksInFlight));
  return (polls$) =>
    polls$.pipe(
      map((poll) => {
        const work = prepare(poll);
        work.catch(() => undefined); // surfaced, in order, by the send step below
        return { poll, work };
      }),
      concatMap(async ({ poll, work }) => {
        let sent: { done: Promise<IngestReport> };
        try {
          sent = await send(poll, await work);
        } catch (err) {
          opts.gate.release();
          throw err;
        }
        sent.done.then(
          () => opts.gate.release(),
          () => opts.gate.release(),
        );
        return sent;
      }),
      concatMap((sent) => sent.done),
    );

  async function prepare(poll: PollResult): Promise<{ fresh: number; classified: ClassifiedItem[]; failed: FailedItem[] }> {
    const known = poll.items.length && opts.checkKnown !== false && poll.newSinceCursor !== true ? await opts.store.knownGuids(opts.sourceId, poll.items.map((i) => i.guid)) : new Set<string>();
    const fresh = dropKnown(poll.items, known);
    const fetchedAt = poll.state.lastPollAt ?? new Date().toISOString();
    // The source's worker links tickers and computes story signatures in the same task as it
    // classifies (one round trip); classifyItems attaches both to the items.
    const { classified, failed } = await classifyItems(fresh, opts.classifier, {
      source: opts.sourceId,
      batchSize: opts.batchSize,
      attempts: opts.attempts,
      fetchedAt,
      concurrency: 4,
      onRetry: opts.onRetry,
    });
    return { fresh: fresh.length, classified, failed };
  }

  /** Posts the poll's batches in order; resolves once the last is posted, with the report's promise. */
  async function send(poll: PollResult, r: { fresh: number; classified: ClassifiedItem[]; failed: FailedItem[] }): Promise<{ done: Promise<IngestReport> }> {
    const { classified, failed } = r;
    if (failed.length) {
      opts.log.error({ failed: failed.length, code: failed[0].code }, 'items could not be classified; recorded as dead letters');
    }
    const error = poll.error ?? (failed.length ? { code: failed[0].code, message: `${failed.length} item(s) failed classification: ${failed[0].message}` } : undefined);
    const state = failed.length && !poll.error ? { ...poll.state, lastError: failed[0].code } : poll.state;
    const deadLetters = failed.map((f) => ({ guid: f.item.guid, payload: f.item, code: f.code, message: f.message, attempts: f.attempts }));
    const n = Math.max(1, Math.ceil(classified.length / chunk));
    const acks: Promise<StoredBatch>[] = [];
    for (let i = 0; i < n; i++) {
      if (i >= inFlight) await acks[i - inFlight];
      const items = n === 1 ? classified : classified.slice(i * chunk, (i + 1) * chunk);
      const final = i === n - 1;
      const ack = opts.store.commit(final ? itemBatch(opts.sourceId, items, true, state, error, deadLetters) : itemBatch(opts.sourceId, items, false));
      ack.catch(() => undefined); // surfaced through `done`
      acks.push(ack);
    }
    const done = Promise.all(acks).then((batches) => {
      let stored = 0;
      for (const b of batches) stored += b.items.length;
      // Items neither stored nor failed were duplicates: those dropped as known before
      // classification and those the store's ON CONFLICT dropped (e.g. a resent stream whose
      // first copies were still in flight when it arrived).
      return { poll, stored, duplicates: poll.items.length - failed.length - stored, failed };
    });
    done.catch(() => undefined);
    return { done };
  }
}
