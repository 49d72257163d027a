/**
 * The schedule every HTTP polling source shares (rss, json): one PollResult per poll, forever,
 * until ctx.signal aborts. Fetching goes through the polite HTTP layer (sources/httpFetch.ts:
 * SSRF guard, host budget, conditional GET, limits); the kind-specific part — turning a 200
 * body into items on the source's worker thread — is the `parse` hook. A failed poll is a
 * PollResult with `error`, never an error notification: the observable only ever completes (on
 * abort or unsubscribe).
 *
 * Schedule: first poll at subscribe time, or at the persisted `nextPollAt` when still ahead
 * (bounded by max(backoff cap, 24 h)). Before every poll `ctx.waitForRoom()`. After a success
 * (200 or 304) the next poll is `successDelayMs(interval, [max-age, …floors from parse])` after
 * the start of the previous one; after n failures in a row `backoffDelayMs` (jittered,
 * exponential above the interval, capped; Retry-After is a floor). Validators (ETag,
 * Last-Modified) only advance once a body was parsed.
 */
import { Observable } from 'rxjs';
import { TickerpulseError, type ErrorCode } from '../src/lib/errors.js';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { backoffDelayMs, DEFAULT_MAX_BACKOFF_MS, fetchFeed, MAX_POLL_FLOOR_MS, successDelayMs, type FetchFeedResult } from './httpFetch.js';
import { ABORTED, linkedAbort, realClock, untilAborted, type PagedItems, type RssSourceConfig, type SourceContext } from './types.js';

/** The stable code of whatever a poll threw (TickerpulseError, or a wire error re-thrown as an object). */
export function codeOf(err: unknown): ErrorCode {
  if (err instanceof TickerpulseError) return err.code;
  const c = (err as { code?: unknown } | null)?.code;
  // A wire error ({ok:false, code}) re-thrown by the worker wiring as a plain object/Error.
  if (typeof c === 'string' && /^[A-Z][A-Z_]+$/.test(c)) return c as ErrorCode;
  return 'SOURCE_FAILED';
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

/** What the parse hook made of a 200 body. */
export interface PollParse extends PagedItems {
  /** The items, or the first page of them when `rest` yields more. */
  items: RawItem[];
  /** Extra floors on the next poll in ms (e.g. RSS `<ttl>`), each capped at MAX_POLL_FLOOR_MS. */
  floorsMs?: readonly (number | null | undefined)[];
  /**
   * A partial failure (e.g. items skipped as invalid): reported as the poll's `error` and
   * `state.lastError` alongside its good items; the poll still counts as a success.
   */
  partial?: { code: ErrorCode; message: string } | null;
}

export interface PollerHooks {
  /** Source kind, for logs ("rss", "json"). */
  kind: string;
  /** What is polled, for log messages ("feed" → "feed polled", "feed poll failed"). */
  noun: string;
  /** Accept header (default: feed types). */
  accept?: string;
  /** A 200 response → items; throw (a TickerpulseError) to fail the poll. `fetchedAt` = start of the poll (ISO). */
  parse(res: FetchFeedResult, fetchedAt: string): Promise<PollParse>;
}

export function pollingSource(cfg: RssSourceConfig, ctx: SourceContext, hooks: PollerHooks): Observable<PollResult> {
  return new Observable<PollResult>((subscriber) => {
    const stop = linkedAbort(ctx.signal);
    const signal = stop.signal;
    const log = ctx.log;
    const clock = ctx.clock ?? realClock;
    const random = ctx.random ?? Math.random;
    const intervalMs = Math.max(1, cfg.intervalMs);
    const maxBackoffMs = cfg.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    const cap = Math.max(intervalMs, maxBackoffMs);
    const noun = hooks.noun;

    let etag = ctx.state?.etag ?? null;
    let lastModified = ctx.state?.lastModified ?? null;
    let consecutiveErrors = ctx.state?.consecutiveErrors ?? 0;

    async function run(): Promise<void> {
      // First poll at once, or at the persisted nextPollAt when that is still ahead (a restart
      // keeps honouring backoff and server floors; bounded by the largest delay we ever set).
      const persistedNext = ctx.state?.nextPollAt ? Date.parse(ctx.state.nextPollAt) : NaN;
      const maxAhead = Math.max(cap, MAX_POLL_FLOOR_MS);
      let nextAt = Number.isFinite(persistedNext) ? Math.min(persistedNext, clock.now() + maxAhead) : clock.now();

      for (;;) {
        if (!(await clock.sleep(nextAt - clock.now(), signal))) return;
        if ((await untilAborted(ctx.waitForRoom(), signal)) === ABORTED) return;

        const startedAt = clock.now();
        const lastPollAt = new Date(startedAt).toISOString();
        let result: PollResult;
        try {
          const res = await fetchFeed(cfg.url, {
            limits: cfg.limits,
            userAgent: cfg.userAgent,
            accept: hooks.accept,
            etag,
            lastModified,
            signal,
            allowPrivateNetworks: cfg.allowPrivateNetworks ?? false,
            hostBudget: ctx.hostBudget,
          });
          if (res.notModified) {
            nextAt = startedAt + successDelayMs(intervalMs, [res.maxAgeMs]);
            const state: PollResult['state'] = { lastPollAt, nextPollAt: new Date(nextAt).toISOString(), consecutiveErrors: 0, lastError: null };
            if (res.etag && res.etag !== etag) state.etag = etag = res.etag;
            if (res.lastModified && res.lastModified !== lastModified) state.lastModified = lastModified = res.lastModified;
            result = { sourceId: cfg.id, items: [], state };
            log.debug({ sourceId: cfg.id, nextPollAt: state.nextPollAt }, `${noun} not modified (304)`);
          } else {
            // Read before parsing: the parse hook may move the body to the source's thread.
            const bytes = res.body.byteLength;
            const parsed = await untilAborted(hooks.parse(res, lastPollAt), signal);
            if (parsed === ABORTED) return;
            const { floorsMs = [], partial = null, rest } = parsed;
            let items = parsed.items;
            if (rest) {
              // A big document comes page by page (PagedItems): every page but the last is a
              // PollResult of its own without source state, each taking a PollGate slot, so the
              // pipeline holds a bounded number of pages and the main thread never handles the
              // whole document at once. The state (validators, schedule) goes with the last
              // page: a crash before it is committed fetches the document again, and the pages
              // already stored are dropped as known.
              for await (const next of rest) {
                if (signal.aborted) return;
                subscriber.next({ sourceId: cfg.id, items, state: { lastPollAt } });
                if ((await untilAborted(ctx.waitForRoom(), signal)) === ABORTED) return;
                items = next;
              }
            }
            // Validators only move forward once the body was parsed: a failed parse is fetched again.
            etag = res.etag;
            lastModified = res.lastModified;
            nextAt = startedAt + successDelayMs(intervalMs, [res.maxAgeMs, ...floorsMs]);
            result = {
              sourceId: cfg.id,
              items,
              state: { lastPollAt, nextPollAt: new Date(nextAt).toISOString(), etag, lastModified, consecutiveErrors: 0, lastError: partial?.code ?? null },
            };
            if (partial) result.error = { code: partial.code, message: partial.message };
            log.debug({ sourceId: cfg.id, lastPage: items.length, bytes, nextPollAt: result.state.nextPollAt }, `${noun} polled`);
          }
          if (consecutiveErrors > 0) log.info({ sourceId: cfg.id, after: consecutiveErrors }, `${noun} recovered`);
          consecutiveErrors = 0;
        } catch (err) {
          if (signal.aborted) return;
          consecutiveErrors++;
          const code = codeOf(err);
          const message = messageOf(err);
          const retryAfter = err instanceof TickerpulseError && typeof err.details?.retryAfterMs === 'number' ? err.details.retryAfterMs : null;
          nextAt = clock.now() + backoffDelayMs(intervalMs, consecutiveErrors, retryAfter, random, maxBackoffMs);
          const nextPollAt = new Date(nextAt).toISOString();
          result = {
            sourceId: cfg.id,
            items: [],
            state: { lastPollAt, nextPollAt, consecutiveErrors, lastError: code },
            error: { code, message },
          };
          log.warn({ sourceId: cfg.id, code, consecutiveErrors, nextPollAt, err: message }, `${noun} poll failed`);
        }
        if (signal.aborted) return;
        subscriber.next(result);
      }
    }

    run()
      .catch((err: unknown) => {
        // Only a bug can land here (every poll failure is caught above): report it, do not error the stream.
        log.error({ sourceId: cfg.id, err: messageOf(err) }, `${hooks.kind} source loop crashed`);
      })
      .finally(() => {
        stop.dispose();
        if (!subscriber.closed) subscriber.complete();
      });

    return () => stop.abort();
  });
}
