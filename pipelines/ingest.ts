import { concatMap, map, type OperatorFunction } from 'rxjs';
import type { Logger } from '../src/lib/log.js';
import type { ClassifiedItem, PollResult, SourceState, StoredAlert, StoredItem } from '../src/lib/types.js';
import type { Alert } from './alerts.js';
import { classifyItems, type BatchClassifier, type FailedItem } from './classify.js';
import { dropKnown } from './dedupe.js';
import type { PollGate } from './gate.js';
import type { StoryAssignment, StoryInput, StoryMatch } from './storyCluster.js';

const NO_TICKERS: string[] = [];

/** Resolves after the event loop's I/O phase has run (see the commit stage in ingestPolls). */
const afterPendingIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Assigns stories (pipelines/storyCluster.ts StoryClusterer; one shared by every source's pipeline). */
export interface StoryAssigner {
  match(item: Omit<StoryInput, 'seq'>): StoryMatch;
  record(match: StoryMatch, seq: number): StoryAssignment;
}

/** The store's view of the clusterer (ItemStore CommitStories). */
interface CommitStories {
  match(item: ClassifiedItem, publishedAt: string): StoryMatch;
  record(match: StoryMatch, seq: number): StoryAssignment;
}

/** The part of the store the pipeline writes through (kept narrow so the stage is testable). */
export interface IngestStore {
  knownGuids(sourceId: string, guids: string[]): Set<string>;
  commitPoll(
    sourceId: string,
    items: ClassifiedItem[],
    state: Partial<SourceState>,
    error?: { code: string; message: string },
    opts?: { stories?: CommitStories; evaluateAlerts?: (stored: StoredItem[]) => Alert[]; onAlerts?: (alerts: StoredAlert[]) => void },
  ): StoredItem[];
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
  /** A source's worker (which also links tickers and signs titles) or any BatchClassifier. */
  classifier: BatchClassifier;
  store: IngestStore;
  gate: PollGate;
  batchSize: number;
  attempts: number;
  log: Logger;
  onReport?: (report: IngestReport) => void;
  /**
   * Story clustering on the main thread at commit time, for the items that are really new (not
   * for duplicates the store drops). Share one instance across sources so the same story from
   * five outlets becomes one story.
   */
  stories?: StoryAssigner;
  /**
   * The alert rules (pipelines/alerts.ts AlertEngine, one shared by every source), evaluated on
   * the newly stored items inside the commit; `onAlerts` gets the stored alerts after it.
   */
  alerts?: { evaluate(items: readonly StoredItem[]): Alert[]; onAlerts(alerts: StoredAlert[]): void };
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
  // Two stages so the source's worker never idles while the main thread commits: a poll starts
  // classifying as soon as it arrives (at most gate.capacity polls at once, bounded by the
  // PollGate), while commits happen strictly in arrival order. Two overlapping polls of a feed
  // may both classify an item; the store's ON CONFLICT keeps one and reports only new rows.
  const stories = opts.stories;
  // Called by the store inside the commit transaction: match before an item's insert, record
  // after it succeeded (see ItemStore.commitPoll).
  const commitStories: CommitStories | undefined = stories
    ? {
        match: (item, publishedAt) =>
          stories.match({ source: opts.sourceId, title: item.title, publishedAt, tickers: item.tickers ? item.tickers.map((t) => t.symbol) : NO_TICKERS, sig: item.storySig }),
        record: (m, seq) => stories.record(m, seq),
      }
    : undefined;
  // Built once per pipeline (not per commit); the engine's methods are bound here because the
  // store calls them as plain functions.
  const engine = opts.alerts;
  const commitOpts =
    commitStories || engine
      ? {
          stories: commitStories,
          evaluateAlerts: engine ? (items: StoredItem[]) => engine.evaluate(items) : undefined,
          onAlerts: engine ? (a: StoredAlert[]) => engine.onAlerts(a) : undefined,
        }
      : undefined;
  return (polls$) =>
    polls$.pipe(
      map((poll) => {
        const work = prepare(poll);
        work.catch(() => undefined); // surfaced, in order, by the commit stage below
        return { poll, work };
      }),
      concatMap(async ({ poll, work }) => {
        try {
          const classified = await work;
          // Commits whose polls are already classified would otherwise run back to back in one
          // chain of microtasks, starving I/O callbacks: the source's next file read or HTTP
          // response (which needs the slot the previous commit freed) waited until every ready
          // commit was done, so the source's worker ran dry and polls then arrived in bursts.
          // Measured on the replay bench: the main thread busy 76 % → 84 %, +12 % items/s.
          await afterPendingIo();
          return commit(poll, classified);
        } finally {
          opts.gate.release();
        }
      }),
    );

  async function prepare(poll: PollResult): Promise<{ fresh: number; classified: ClassifiedItem[]; failed: FailedItem[] }> {
    const known = poll.items.length ? opts.store.knownGuids(opts.sourceId, poll.items.map((i) => i.guid)) : new Set<string>();
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
    });
    return { fresh: fresh.length, classified, failed };
  }

  function commit(poll: PollResult, r: { fresh: number; classified: ClassifiedItem[]; failed: FailedItem[] }): StoredItem[] {
    const { classified, failed } = r;
    if (failed.length) {
      opts.log.error({ failed: failed.length, code: failed[0].code }, 'items could not be classified; recorded as dead letters');
      opts.store.addDeadLetters(
        opts.sourceId,
        failed.map((f) => ({ guid: f.item.guid, payload: f.item, code: f.code, message: f.message, attempts: f.attempts })),
      );
    }
    const error = poll.error ?? (failed.length ? { code: failed[0].code, message: `${failed.length} item(s) failed classification: ${failed[0].message}` } : undefined);
    const state = failed.length && !poll.error ? { ...poll.state, lastError: failed[0].code } : poll.state;
    const stored = commitOpts
      ? opts.store.commitPoll(opts.sourceId, classified, state, error, commitOpts)
      : opts.store.commitPoll(opts.sourceId, classified, state, error);
    opts.onReport?.({ poll, stored, duplicates: poll.items.length - r.fresh, failed });
    return stored;
  }
}
