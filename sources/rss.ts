/**
 * RSS/Atom/RDF polling source: one PollResult per poll, forever, until ctx.signal aborts.
 * The schedule, fetching (the shared polite HTTP layer, sources/httpFetch.ts), backoff and
 * floors live in sources/poller.ts; this module adds the feed-specific part: decoding and
 * parsing on the source's worker thread through ctx.parseFeed, and the channel `<ttl>` as a
 * floor on the next poll. A failed poll is a PollResult with `error`, never an error
 * notification: the observable only ever completes (on abort or unsubscribe).
 */
import type { Observable } from 'rxjs';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { backoffDelayMs, DEFAULT_MAX_BACKOFF_MS, MAX_POLL_FLOOR_MS, successDelayMs } from './httpFetch.js';
import { pollingSource } from './poller.js';
import type { ParsedFeed, RssSourceConfig, SourceContext } from './types.js';

export { backoffDelayMs, successDelayMs, MAX_POLL_FLOOR_MS };

/** Default upper bound of the error backoff: max(intervalMs, this). */
export const MAX_BACKOFF_MS = DEFAULT_MAX_BACKOFF_MS;

function asParsed(p: RawItem[] | ParsedFeed): ParsedFeed {
  return Array.isArray(p) ? { items: p, ttlMinutes: null } : p;
}

export function rssSource(cfg: RssSourceConfig, ctx: SourceContext): Observable<PollResult> {
  return pollingSource(cfg, ctx, {
    kind: 'rss',
    noun: 'feed',
    parse: async (res, fetchedAt) => {
      const { items, ttlMinutes, rest } = asParsed(await ctx.parseFeed(res.body, { contentType: res.contentType, url: res.url, fetchedAt }));
      return { items, rest, floorsMs: [ttlMinutes === null ? null : ttlMinutes * 60_000] };
    },
  });
}
