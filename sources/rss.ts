/**
 * RSS/Atom/RDF polling source: one PollResult per poll, forever, until ctx.signal aborts.
 * Fetching happens here (sources/httpFetch.ts); decoding and parsing happen on the source's
 * worker thread through ctx.parseFeed. A failed poll is a PollResult with `error`, never an
 * error notification: the observable only ever completes (on abort or unsubscribe).
 */
import { Observable } from 'rxjs';
import { TickerpulseError, type ErrorCode } from '../src/lib/errors.js';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { fetchFeed } from './httpFetch.js';
import { ABORTED, sleepUnlessAborted, untilAborted, type RssSourceConfig, type SourceContext } from './types.js';

/** Upper bound of the error backoff: max(intervalMs, this). */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * Delay before the next poll after `consecutiveErrors` failures in a row: never shorter than the
 * normal interval, then exponential with full jitter on the extra part —
 * interval + random × (min(cap, interval × 2^n) − interval), cap = max(interval, MAX_BACKOFF_MS).
 * A Retry-After from the server raises the delay (still capped).
 */
export function backoffDelayMs(intervalMs: number, consecutiveErrors: number, retryAfterMs: number | null = null, random: () => number = Math.random): number {
  const cap = Math.max(intervalMs, MAX_BACKOFF_MS);
  const ceiling = Math.min(cap, intervalMs * 2 ** Math.min(Math.max(consecutiveErrors, 0), 30));
  let delay = intervalMs + random() * Math.max(0, ceiling - intervalMs);
  if (retryAfterMs !== null && retryAfterMs > delay) delay = Math.min(retryAfterMs, cap);
  return Math.round(delay);
}

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

export function rssSource(cfg: RssSourceConfig, ctx: SourceContext): Observable<PollResult> {
  return new Observable<PollResult>((subscriber) => {
    const stop = new AbortController();
    const onCtxAbort = () => stop.abort();
    if (ctx.signal.aborted) stop.abort();
    else ctx.signal.addEventListener('abort', onCtxAbort, { once: true });
    const signal = stop.signal;
    const log = ctx.log;
    const intervalMs = Math.max(1, cfg.intervalMs);
    const cap = Math.max(intervalMs, MAX_BACKOFF_MS);

    let etag = ctx.state?.etag ?? null;
    let lastModified = ctx.state?.lastModified ?? null;
    let consecutiveErrors = ctx.state?.consecutiveErrors ?? 0;

    async function run(): Promise<void> {
      // First poll at once, or at the persisted nextPollAt when that is still ahead (bounded by the cap).
      const persistedNext = ctx.state?.nextPollAt ? Date.parse(ctx.state.nextPollAt) : NaN;
      let nextAt = Number.isFinite(persistedNext) ? Math.min(persistedNext, Date.now() + cap) : Date.now();

      for (;;) {
        if (!(await sleepUnlessAborted(nextAt - Date.now(), signal))) return;
        if ((await untilAborted(ctx.waitForRoom(), signal)) === ABORTED) return;

        const startedAt = Date.now();
        const lastPollAt = new Date(startedAt).toISOString();
        let result: PollResult;
        try {
          const res = await fetchFeed(cfg.url, { limits: cfg.limits, userAgent: cfg.userAgent, etag, lastModified, signal });
          if (res.notModified) {
            nextAt = startedAt + intervalMs;
            const state: PollResult['state'] = { lastPollAt, nextPollAt: new Date(nextAt).toISOString(), consecutiveErrors: 0, lastError: null };
            if (res.etag && res.etag !== etag) state.etag = etag = res.etag;
            if (res.lastModified && res.lastModified !== lastModified) state.lastModified = lastModified = res.lastModified;
            result = { sourceId: cfg.id, items: [], state };
            log.debug({ sourceId: cfg.id }, 'feed not modified (304)');
          } else {
            const parsed = await untilAborted(ctx.parseFeed(res.body, { contentType: res.contentType, url: res.url, fetchedAt: lastPollAt }), signal);
            if (parsed === ABORTED) return;
            const items: RawItem[] = parsed;
            // Validators only move forward once the body was parsed: a failed parse is fetched again.
            etag = res.etag;
            lastModified = res.lastModified;
            nextAt = startedAt + intervalMs;
            result = {
              sourceId: cfg.id,
              items,
              state: { lastPollAt, nextPollAt: new Date(nextAt).toISOString(), etag, lastModified, consecutiveErrors: 0, lastError: null },
            };
            log.debug({ sourceId: cfg.id, items: items.length, bytes: res.body.byteLength }, 'feed polled');
          }
          if (consecutiveErrors > 0) log.info({ sourceId: cfg.id, after: consecutiveErrors }, 'feed recovered');
          consecutiveErrors = 0;
        } catch (err) {
          if (signal.aborted) return;
          consecutiveErrors++;
          const code = codeOf(err);
          const message = messageOf(err);
          const retryAfter = err instanceof TickerpulseError && typeof err.details?.retryAfterMs === 'number' ? err.details.retryAfterMs : null;
          nextAt = Date.now() + backoffDelayMs(intervalMs, consecutiveErrors, retryAfter);
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
