import type { Logger } from '../src/lib/log.js';
import type { RawItem, SourceState } from '../src/lib/types.js';

/** What the fetching side knows about a feed body; passed to the worker with the raw bytes. */
export interface FeedMeta {
  /** The Content-Type response header as sent (may carry `charset=`), or null. */
  contentType: string | null;
  /** Final URL after redirects: relative item links are resolved against it. */
  url: string;
  /** ISO-8601 time of the fetch: the date given to items whose own date is missing or unusable. */
  fetchedAt: string;
}

export interface SourceContext {
  log: Logger;
  /** Aborted on shutdown: stop polling/reading, complete the observable. */
  signal: AbortSignal;
  /** As persisted in SQLite at startup (etag, lastModified, cursor, nextPollAt...). */
  state: SourceState | null;
  /**
   * Runs on this source's worker thread; rejects with a TickerpulseError
   * (codes FEED_PARSE_FAILED, FEED_NOT_A_FEED, FEED_EMPTY...).
   */
  parseFeed(body: Uint8Array, meta: FeedMeta): Promise<RawItem[]>;
  /**
   * Bounded queue between this source and the pipeline: await before each emission;
   * resolves when there is room. Overflow policy = the source pauses.
   */
  waitForRoom(): Promise<void>;
}

export interface HttpLimits {
  /** Total time for one request: connect + headers + whole body. */
  timeoutMs: number;
  /** Maximum body size in bytes, counted after decompression while streaming. */
  maxBodyBytes: number;
}

export interface RssSourceConfig {
  id: string;
  url: string;
  intervalMs: number;
  userAgent?: string;
  limits: HttpLimits;
}

export interface JsonlSourceConfig {
  id: string;
  path: string;
  /** Items per emitted PollResult (default 500). */
  chunkSize?: number;
}

/** Marker returned by `untilAborted` when the signal fired first. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * Wait for `p` or for `signal` to abort, whichever comes first (a hung waitForRoom must not
 * block shutdown). Never rejects because of the abort: returns ABORTED instead.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Sleep `ms`, returning early (false) when `signal` aborts; true when the time elapsed. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.min(ms, 2 ** 31 - 1));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
