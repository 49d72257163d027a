import type { Logger } from '../src/lib/log.js';
import type { RawItem, SourceState } from '../src/lib/types.js';
import type { Readable } from 'node:stream';
import type { JsonDocumentResult, JsonFieldMap, JsonMapping, JsonMessagesResult, MapMeta } from '../workers/jsonMap.js';
import type { JsonlLinesResult, JsonlLinesTask } from '../workers/jsonlLines.js';
import type { HostBudget } from './hostBudget.js';
import type { HostLookup } from './ssrf.js';

export type { JsonDocumentResult, JsonFieldMap, JsonMapping, JsonMessagesResult, MapMeta };

/** What the fetching side knows about a feed body; passed to the worker with the raw bytes. */
export interface FeedMeta {
  /** The Content-Type response header as sent (may carry `charset=`), or null. */
  contentType: string | null;
  /** Final URL after redirects: relative item links are resolved against it. */
  url: string;
  /** ISO-8601 time of the fetch: the date given to items whose own date is missing or unusable. */
  fetchedAt: string;
}

/** What a feed parser found: the items, plus channel metadata the scheduler uses. */
/**
 * A parse result too big for one message: `items` is its first page and `rest` yields the others
 * (src/pool/sourceWorker.ts, workers/pages.ts). The poller emits each page as a PollResult of its
 * own, the poll's state with the last (sources/poller.ts).
 */
export interface PagedItems {
  rest?: AsyncIterable<RawItem[]>;
}

export interface ParsedFeed extends PagedItems {
  items: RawItem[];
  /** RSS `<channel><ttl>` in minutes (a floor on the next poll), null when absent or invalid. */
  ttlMinutes: number | null;
}

/** Time as a source sees it; injectable so schedule tests need no real waiting. */
export interface SourceClock {
  now(): number;
  /** Resolves true after `ms`, or false as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
}

export interface SourceContext {
  log: Logger;
  /** Aborted on shutdown: stop polling/reading, complete the observable. */
  signal: AbortSignal;
  /** As persisted in SQLite at startup (etag, lastModified, cursor, nextPollAt...). */
  state: SourceState | null;
  /**
   * Runs on this source's worker thread; rejects with a TickerpulseError
   * (codes FEED_PARSE_FAILED, FEED_NOT_A_FEED, FEED_EMPTY...). Returns the items, or a
   * ParsedFeed when the parser also reports channel metadata (the source worker does).
   */
  parseFeed(body: Uint8Array, meta: FeedMeta): Promise<RawItem[] | ParsedFeed>;
  /**
   * A JSON document → items through `mapping`, on this source's worker thread; rejects with a
   * TickerpulseError (JSON_PARSE_FAILED, JSON_MAPPING_FAILED, FEED_EMPTY, WORKER_*). The daemon
   * always provides it; when absent (direct callers, tests) the json source maps in-process
   * with the same function (workers/jsonMap.ts `mapJsonDocument`).
   */
  parseJson?(body: Uint8Array, meta: MapMeta, mapping: JsonMapping): Promise<JsonDocumentResult & PagedItems>;
  /**
   * A batch of WebSocket messages (each one JSON text) → items, on this source's worker thread.
   * Bad messages are counted in the result, not thrown; rejects only when the worker fails.
   * Optional like parseJson (fallback: `mapJsonMessages` in-process).
   */
  parseJsonMessages?(messages: readonly Uint8Array[], meta: MapMeta, mapping: JsonMapping): Promise<JsonMessagesResult>;
  /**
   * A chunk of JSONL lines → items, on this source's worker thread (workers/jsonlLines.ts); bad
   * lines are in the result. Optional like parseJson (fallback: `parseJsonlLines` in-process).
   */
  parseJsonlLines?(task: JsonlLinesTask): Promise<JsonlLinesResult>;
  /**
   * Bounded queue between this source and the pipeline: await before each emission;
   * resolves when there is room. Overflow policy = the source pauses.
   */
  waitForRoom(): Promise<void>;
  /** Per-host concurrency / rate budget shared by every polling source of the daemon (none: unlimited). */
  hostBudget?: HostBudget;
  /** Defaults to the real clock (`Date.now`, `sleepUnlessAborted`). */
  clock?: SourceClock;
  /** Jitter source in [0, 1); defaults to Math.random. */
  random?: () => number;
}

export interface HttpLimits {
  /** Total time for one fetch: connect + headers + whole body, redirects included (not the wait for a host-budget slot). */
  timeoutMs: number;
  /** Maximum body size in bytes, counted after decompression while streaming. */
  maxBodyBytes: number;
  /** Time to resolve the name and establish the connection (TCP, and TLS for https); default 10 s. */
  connectTimeoutMs?: number;
}

export interface RssSourceConfig {
  id: string;
  url: string;
  intervalMs: number;
  /** Sent as User-Agent; default DEFAULT_USER_AGENT (names the project and its version). */
  userAgent?: string;
  limits: HttpLimits;
  /** Allow loopback / private / link-local targets (default false: SSRF_BLOCKED). */
  allowPrivateNetworks?: boolean;
  /** Upper bound of the error backoff (default 1 h; never below intervalMs). */
  maxBackoffMs?: number;
}

/** An HTTP JSON API polled like a feed (same fetch layer and schedule as RssSourceConfig). */
export interface JsonSourceConfig extends RssSourceConfig {
  /** Dot path of the items array (default: the document root must be an array). */
  items?: string | null;
  /** Dot paths of each item's fields; unset fields use DEFAULT_FIELDS (title, url, publishedAt, id, summary). */
  fields?: Partial<JsonFieldMap>;
}

export interface WebSocketSourceConfig {
  id: string;
  /** ws:// or wss:// */
  url: string;
  /** Sent once on every (re)connect, as JSON text; undefined: nothing is sent. */
  subscribe?: unknown;
  /** Dot path of the items inside each message (optional: a message may be one item or an array of items). */
  items?: string | null;
  fields?: Partial<JsonFieldMap>;
  /** Sent as User-Agent in the opening handshake; default DEFAULT_USER_AGENT. */
  userAgent?: string;
  /** Allow loopback / private / link-local targets (default false: SSRF_BLOCKED). */
  allowPrivateNetworks?: boolean;
  /** Name resolution + TCP (+ TLS) + the opening handshake (default 10 s). */
  connectTimeoutMs?: number;
  /** First reconnect delay; later ones grow exponentially with full jitter (default 1 s). */
  reconnectDelayMs?: number;
  /** Cap of the reconnect delay (default 60 s). */
  maxReconnectDelayMs?: number;
  /** A ping is sent this often while connected (default 30 s). */
  pingIntervalMs?: number;
  /** No pong within this long after a ping → the peer is dead: terminate and reconnect (default 10 s). */
  pongTimeoutMs?: number;
  /** Largest incoming message; above it the connection is closed with 1009 (default 1 MiB). */
  maxPayloadBytes?: number;
  /** A PollResult is emitted once this many messages are waiting (default 64, the daemon's limits.batchSize)… */
  batchSize?: number;
  /** …or this long after the first of them arrived, whichever comes first (default 250 ms). */
  batchWaitMs?: number;
  /** Received messages held while the pipeline is full before reading from the socket pauses (default 1000). */
  maxBufferedMessages?: number;
  /** Same bound in bytes (default 16 MiB). */
  maxBufferedBytes?: number;
  /** A connection that stayed open this long resets the reconnect backoff (default 30 s). Not a config setting. */
  stableAfterMs?: number;
  /** Name resolution (tests). */
  lookup?: HostLookup;
}

export interface JsonlSourceConfig {
  id: string;
  /** File path, or "-" for standard input. */
  path: string;
  /** Items per emitted PollResult (default 500). */
  chunkSize?: number;
  /** Keep reading as the file grows, across rotation and truncation (`tail -F`); stdin: wait at EOF. Default false. */
  follow?: boolean;
  /** How often a followed file is checked for new data, rotation and truncation; stdin: idle flush (default 1 s). */
  pollIntervalMs?: number;
  /** The stream read for `path: "-"` (default process.stdin; tests inject one). */
  stdin?: Readable;
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

/** The real clock (the default of SourceContext.clock). */
export const realClock: SourceClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepUnlessAborted(ms, signal),
};

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

/**
 * An abort controller that also aborts when the daemon's shutdown signal does, so a source can
 * stop itself (on unsubscribe) without aborting the daemon. `dispose()` unhooks it from the parent.
 */
export function linkedAbort(parent: AbortSignal): { signal: AbortSignal; abort(): void; dispose(): void } {
  const stop = new AbortController();
  const onParentAbort = () => stop.abort();
  if (parent.aborted) stop.abort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return { signal: stop.signal, abort: () => stop.abort(), dispose: () => parent.removeEventListener('abort', onParentAbort) };
}
