/**
 * RSS/Atom/RDF polling source: one PollResult per poll, forever, until ctx.signal aborts.
 * Fetching happens here through the shared polite HTTP layer (sources/httpFetch.ts); decoding and
 * parsing happen on the source's worker thread through ctx.parseFeed. A failed poll is a
 * PollResult with `error`, never an error notification: the observable only ever completes (on
 * abort or unsubscribe).
 */
import { Observable } from 'rxjs';
import { TickerpulseError, type ErrorCode } from '../src/lib/errors.js';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { backoffDelayMs, DEFAULT_MAX_BACKOFF_MS, fetchFeed, MAX_POLL_FLOOR_MS, successDelayMs } from './httpFetch.js';
import { ABORTED, realClock, untilAborted, type ParsedFeed, type RssSourceConfig, type SourceContext } from './types.js';

export { backoffDelayMs, successDelayMs, MAX_POLL_FLOOR_MS };

/** Default upper bound of the error backoff: max(intervalMs, this). */
export const MAX_BACKOFF_MS = DEFAULT_MAX_BACKOFF_MS;

function codeOf(err: unknown): ErrorCode {
  if (err instanceof TickerpulseError) return err.code;
  const c = (err as { code?: unknown } | null)?.code;
  // A wire error ({ok:false, code}) re-thrown by the worker wiring as a plain object/Error.
  if (typeof c === 'string' && /^[A-Z][A-Z_]+$/.test(c)) return c as ErrorCode;
  return 'SOURCE_FAILED';
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

function asParsed(p: RawItem[] | ParsedFeed): ParsedFeed {
  return Array.isArray(p) ? { items: p, ttlMinutes: null } : p;
}

export function rssSource(cfg: RssSourceConfig, ctx: SourceContext): Observable<PollResult> {
  return new Observable<PollResult>((subscriber) => {
    const stop = new AbortController();
    const onCtxAbort = () => stop.abort();
    if (ctx.signal.aborted) stop.abort();
    else ctx.signal.addEventListener('abort', onCtxAbort, { once: true });
    const signal = stop.signal;
    const log = ctx.log;
    const clock = ctx.clock ?? realClock;
    const random = ctx.random ?? Math.random;
    const intervalMs = Math.max(1, cfg.intervalMs);
    const maxBackoffMs = cfg.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    const cap = Math.max(intervalMs, maxBackoffMs);

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
            log.debug({ sourceId: cfg.id, nextPollAt: state.nextPollAt }, 'feed not modified (304)');
          } else {
            const parsed = await untilAborted(ctx.parseFeed(res.body, { contentType: res.contentType, url: res.url, fetchedAt: lastPollAt }), signal);
            if (parsed === ABORTED) return;
            const { items, ttlMinutes } = asParsed(parsed);
            // Validators only move forward once the body was parsed: a failed parse is fetched again.
            etag = res.etag;
            lastModified = res.lastModified;
            nextAt = startedAt + successDelayMs(intervalMs, [res.maxAgeMs, ttlMinutes === null ? null : ttlMinutes * 60_000]);
            result = {
              sourceId: cfg.id,
              items,
              state: { lastPollAt, nextPollAt: new Date(nextAt).toISOString(), etag, lastModified, consecutiveErrors: 0, lastError: null },
            };
            log.debug({ sourceId: cfg.id, items: items.length, bytes: res.body.byteLength, nextPollAt: result.state.nextPollAt }, 'feed polled');
          }
          if (consecutiveErrors > 0) log.info({ sourceId: cfg.id, after: consecutiveErrors }, 'feed recovered');
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
          log.warn({ sourceId: cfg.id, code, consecutiveErrors, nextPollAt, err: message }, 'feed poll failed');
        }
        if (signal.aborted) return;
        subscriber.next(result);
      }
    }

    run()
      .catch((err: unknown) => {
        // Only a bug can land here (every poll failure is caught above): report it, do not error the stream.
        log.error({ sourceId: cfg.id, err: messageOf(err) }, 'rss source loop crashed');
      })
      .finally(() => {
        ctx.signal.removeEventListener('abort', onCtxAbort);
        if (!subscriber.closed) subscriber.complete();
      });

    return () => stop.abort();
  });
}
