/**
 * The one config schema. Validated once at start; every problem is reported together with
 * the path of the offending field. Unknown keys are errors, so a typo never silently falls
 * back to a default. Every limit the daemon enforces is a named setting here with a safe default.
 */
import { z } from 'zod';
import { alertsConfigSchema } from './alerts.js';
import { retentionSchema } from './retention.js';
import { clusterConfigSchema } from './cluster.js';
import { duration, parseDuration } from './units.js';
import { formatBytes, maxBodyForHeap, PARSE_HEAP_FACTOR } from '../lib/bodyHeap.js';

const UNITS_BYTES: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1 << 20, gb: 1e9, gib: 1 << 30 };

export { parseDuration };

/** 10485760, "10MiB", "512 KiB" → bytes. */
const byteSize = (maxBytes: number) =>
  z.union([z.number(), z.string()]).meta({ description: `a size up to ${maxBytes} bytes: a byte count or e.g. 10MiB, 512KiB` }).transform((v, ctx) => {
    let n: number | null = null;
    if (typeof v === 'number') n = v;
    else {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
      const unit = m ? (m[2] || 'b').toLowerCase() : '';
      if (m && unit in UNITS_BYTES) n = Math.round(Number(m[1]) * UNITS_BYTES[unit]);
    }
    if (n === null || !Number.isInteger(n) || n < 1 || n > maxBytes) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a size between 1 B and ${maxBytes} B: write e.g. 10MiB, 512KiB or a byte count` });
      return z.NEVER;
    }
    return n;
  });

const sourceId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit');

const httpUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http:// or https:// URL');

const wsUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'ws:' || u.protocol === 'wss:';
    } catch {
      return false;
    }
  }, 'must be an absolute ws:// or wss:// URL');

/** A dot path into JSON: keys and array indices separated by dots (`data.articles`, `media.0.url`). */
const jsonPath = z
  .string()
  .refine(
    (p) => p.length <= 256 && p.split('.').length <= 32 && p.split('.').every((seg) => seg.length > 0),
    'must be a dot path like data.articles or items.0.title (no empty segments; at most 32 segments, 256 characters)',
  );

/** Where each item field is read from inside one item (dot paths); unset fields use these defaults. */
const fieldMapSchema = z
  .object({
    title: jsonPath.default('title'),
    url: jsonPath.default('url'),
    publishedAt: jsonPath.default('publishedAt'),
    id: jsonPath.default('id'),
    summary: jsonPath.default('summary'),
  })
  .strict();

/** A User-Agent header value: printable ASCII only (no header injection). */
const userAgent = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII on one line');

/** RSS 2.0 / Atom 1.0 / RSS 1.0 feed polled over HTTP. */
export const rssSourceSchema = z
  .object({
    id: sourceId,
    kind: z.literal('rss'),
    url: httpUrl,
    /** Time between polls. */
    interval: duration('1s', '7d').default(5 * 60_000),
    /** Overrides limits.fetchTimeout for this source. */
    timeout: duration('100ms', '5m').optional(),
    /** Overrides limits.connectTimeout for this source. */
    connectTimeout: duration('100ms', '5m').optional(),
    /** Overrides limits.maxBodyBytes for this source. */
    maxBodyBytes: byteSize(1 << 30).optional(),
    /** Sent as User-Agent; overrides the top-level userAgent (some publishers ask for a contact address in it). */
    userAgent: userAgent.optional(),
    /** Allow loopback / private / link-local addresses (a feed on the LAN). Off: such targets are SSRF_BLOCKED. */
    allowPrivateNetworks: z.boolean().default(false),
    enabled: z.boolean().default(true),
  })
  .strict();

/** `kind: atom` is an alias of `kind: rss` (the same parser reads RSS, Atom and RDF); normalized to rss. */
const atomSourceSchema = rssSourceSchema.extend({ kind: z.literal('atom') });

/**
 * An HTTP JSON API polled like a feed (same fetch layer, schedule and limits as rss); each element
 * of the array at `items` becomes an item, its fields read with the dot paths of `fields`.
 */
export const jsonSourceSchema = rssSourceSchema.extend({
  kind: z.literal('json'),
  /** Dot path of the items array in the document (default: the document itself must be an array). */
  items: jsonPath.optional(),
  fields: fieldMapSchema.prefault({}),
});

/** An upstream WebSocket news stream: JSON messages mapped like `json`, reconnecting forever. */
export const websocketSourceSchema = z
  .object({
    id: sourceId,
    kind: z.literal('websocket'),
    url: wsUrl,
    /** Any JSON value, sent as JSON text on every (re)connect. */
    subscribe: z.json().optional(),
    /** Dot path of the item(s) in a message (default: a message is one item, or an array of items). */
    items: jsonPath.optional(),
    fields: fieldMapSchema.prefault({}),
    userAgent: userAgent.optional(),
    allowPrivateNetworks: z.boolean().default(false),
    /** Resolve + connect + opening handshake; overrides limits.connectTimeout. */
    connectTimeout: duration('100ms', '5m').optional(),
    /** First reconnect delay; later ones double (with full jitter) up to maxReconnectDelay. */
    reconnectDelay: duration('100ms', '1h').default(1000),
    maxReconnectDelay: duration('1s', '1d').default(60_000),
    /** A ping is sent this often while connected… */
    pingInterval: duration('100ms', '10m').default(30_000),
    /** …and the connection is terminated (dead peer) when no pong comes back within this. */
    pongTimeout: duration('100ms', '5m').default(10_000),
    /** Largest incoming message (after permessage-deflate); larger → connection closed with 1009. */
    maxPayload: byteSize(64 << 20).default(1 << 20),
    /** Messages per emitted batch; overrides limits.batchSize. */
    batchSize: z.number().int().min(1).max(4096).optional(),
    /** Longest a received message waits to be emitted; overrides limits.batchWait. */
    batchWait: duration('1ms', '60s').optional(),
    /** Received messages held while the pipeline is full before reading from the socket pauses. */
    maxBufferedMessages: z.number().int().min(1).max(1_000_000).default(1000),
    /** The same bound in bytes. */
    maxBufferedBytes: byteSize(1 << 30).default(16 << 20),
    enabled: z.boolean().default(true),
  })
  .strict();

/**
 * A JSON Lines file (or stdin with `path: "-"`): replayed once, or followed as it grows;
 * objects with title (or text) and optional id, url, publishedAt, summary.
 */
export const jsonlSourceSchema = z
  .object({
    id: sourceId,
    kind: z.literal('jsonl'),
    path: z.string().min(1),
    /** Lines per commit: one SQLite transaction and one resume point per chunk. */
    chunkSize: z.number().int().min(1).max(100_000).default(500),
    /** Keep reading as the file grows (tail -F: survives rotation and truncation); stdin: stay up after EOF. */
    follow: z.boolean().default(false),
    /** How often a followed file is checked for new lines, rotation and truncation; stdin: idle flush. */
    pollInterval: duration('10ms', '1h').default(1000),
    enabled: z.boolean().default(true),
  })
  .strict();

export const sourceSchema = z
  .discriminatedUnion('kind', [rssSourceSchema, atomSourceSchema, jsonSourceSchema, websocketSourceSchema, jsonlSourceSchema])
  .transform((s) => {
    if (s.kind === 'atom') return { ...s, kind: 'rss' as const };
    // Marked before relative paths are resolved against the config file's folder.
    if (s.kind === 'jsonl') return { ...s, stdin: s.path === '-' };
    return s;
  });

/** Request budget of one host, shared by every source polling it. */
export const hostLimitSchema = z
  .object({
    /** Requests in flight at once (default 4, or the "*" entry's value). */
    maxConcurrent: z.number().int().min(1).max(64).optional(),
    /** Request starts per second; fractions allowed, 0.5 = one every 2 s (default 5, or the "*" entry's value). */
    maxPerSecond: z.number().min(0.01).max(1000).optional(),
  })
  .strict();

export const limitsSchema = z
  .object({
    /** Total deadline of one feed fetch (connect + headers + body, redirects included). */
    fetchTimeout: duration('100ms', '5m').default(20_000),
    /** Time to resolve a feed host and connect to it (TCP, and TLS for https). */
    connectTimeout: duration('100ms', '5m').default(10_000),
    /** Upper bound of the error backoff of a polling source (never below its interval). */
    maxBackoff: duration('1s', '7d').default(60 * 60_000),
    /** Largest feed body accepted, counted after decompression. */
    maxBodyBytes: byteSize(1 << 30).default(10 * 1024 * 1024),
    /** Items per classification batch sent to a source's worker; also the micro-batch of a websocket source. */
    batchSize: z.number().int().min(1).max(4096).default(64),
    /** Longest a websocket source holds received messages before emitting them (with batchSize, whichever first). */
    batchWait: duration('1ms', '60s').default(250),
    /** Polls (or file chunks) a source may have waiting in the pipeline before it is paused. */
    maxPendingPolls: z.number().int().min(1).max(1000).default(4),
    /** Tasks that may queue for one source's worker thread. */
    workerQueue: z.number().int().min(1).max(10_000).default(16),
    /** Tries per classification batch before its items go to the dead-letter table. */
    classifyAttempts: z.number().int().min(1).max(10).default(3),
    /** V8 heap cap of each source's worker thread, in MiB. */
    workerHeapMb: z.number().int().min(32).max(16_384).default(512),
    /** SQLite page cache of the daemon's database connection, MiB. */
    dbCacheMb: z.number().int().min(2).max(16_384).default(64),
    /**
     * Newest items whose tickers may wait for the index by ticker; a commit that finds this many
     * indexes them in one sorted batch. Larger: cheaper commits, slower ticker reads (they scan
     * the waiting items' tickers column). See docs/SCHEMA.md.
     */
    tickerIndexLag: z.number().int().min(1).max(100_000).default(4096),
    /**
     * Items per writer transaction at most: a bigger poll commits in chunks, so no single commit
     * holds the writer (and the readers' view) for long; the poll's state commits with its last
     * chunk (README, Architecture).
     */
    commitChunk: z.number().int().min(1).max(100_000).default(2000),
    /** How long shutdown waits for in-flight batches before it gives up on them. */
    shutdownTimeout: duration('100ms', '60s').default(8_000),
    /** /healthz says degraded once the writer's oldest unanswered request is this old. */
    writerLagDegraded: duration('1s', '1h').default(30_000),
  })
  .strict();

/** The SQLite file when neither `store` nor `db` says otherwise. */
export const DEFAULT_DB_PATH = 'data/tickerpulse.db';

/** postgres:// or postgresql:// connection URL (libpq form, as node-postgres reads it). */
const postgresUrl = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL, e.g. postgres://user:password@db.example.com:5432/tickerpulse');

/**
 * Where items are stored: one SQLite file (the default, single process) or a PostgreSQL
 * database (cluster mode, docs/CLUSTER.md).
 */
export const storeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite'), path: z.string().min(1).default(DEFAULT_DB_PATH) }).strict(),
  z.object({ kind: z.literal('postgres'), url: postgresUrl }).strict(),
]);

export const configSchema = z
  .object({
    /** SQLite database file: the older spelling of `store: { kind: sqlite, path }`, still accepted. */
    db: z.string().min(1).optional(),
    store: storeSchema.optional(),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8787),
        /**
         * Bearer token required on /ws and /api/* (Authorization: Bearer <t> or ?token=<t>);
         * env TICKERPULSE_TOKEN when absent. Required when host is not a loopback address.
         */
        token: z.string().min(16, 'must be at least 16 characters').max(1024).optional(),
        /** Browser Origins allowed on /ws and /api/* (default: the server's own http://host:port, localhost and 127.0.0.1 on its port); "*" allows any. */
        allowedOrigins: z
          .array(
            z.string().refine((s) => {
              if (s === '*') return true;
              try {
                const u = new URL(s);
                return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/$/, '').toLowerCase();
              } catch {
                return false;
              }
            }, 'must be an origin like http://localhost:8787 or https://news.example.com (scheme, host, optional port; no path), or "*"'),
          )
          .max(1000)
          .optional(),
        /** Extra Host names accepted on a loopback bind without a token, e.g. behind a local reverse proxy (DNS-rebinding guard). */
        allowedHosts: z.array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s/:[\]]+)$/, 'must be a host name or address without scheme, port or path')).max(100).optional(),
        /** Open WebSocket connections per client IP (more → HTTP 429). */
        maxConnectionsPerIp: z.number().int().min(1).max(100_000).default(32),
        /** Largest accepted client → server WebSocket message (larger → close 1009). */
        maxClientMessageBytes: byteSize(16 * 1024 * 1024).default(65_536),
        /** Client messages per second per connection (token bucket, burst twice as many). */
        clientMessagesPerSecond: z.number().int().min(1).max(10_000).default(20),
        /** Unsent bytes queued for one client above which it is closed with 4008 (too slow). */
        maxBufferedBytes: byteSize(1 << 30).default(4 * 1024 * 1024),
        /** WebSocket ping frame interval; a client that misses two pongs is terminated. */
        pingInterval: duration('1s', '10m').default(30_000),
        /** How often subscribed clients get `rollup` updates. */
        rollupInterval: duration('100ms', '10m').default(5_000),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        /** builtin: the shipped model (or one like it); hf: a Hugging Face export (model.onnx + tokenizer.json + config.json, see docs/MODELS.md). */
        kind: z.enum(['builtin', 'hf']).default('builtin'),
        /** Model folder of either kind (required for hf). */
        path: z.string().min(1).optional(),
        /** builtin only, older name of path: folder with sentiment.onnx + tokenizer.json (default: the shipped model). */
        dir: z.string().min(1).optional(),
        intraOpNumThreads: z.number().int().min(1).max(64).default(1),
        /** hf only: texts longer than the model's window are split into windows overlapping by this many tokens. */
        stride: z.number().int().min(0).max(4096).default(64),
      })
      .strict()
      .superRefine((m, ctx) => {
        if (m.kind === 'hf' && !m.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'kind hf needs path: the folder holding model.onnx, tokenizer.json and config.json (see docs/MODELS.md)' });
        if (m.kind === 'hf' && m.dir) ctx.addIssue({ code: 'custom', path: ['dir'], message: 'dir is for the builtin model; an hf model is given with path' });
        if (m.path && m.dir) ctx.addIssue({ code: 'custom', path: ['dir'], message: 'give path or dir, not both' });
      })
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    limits: limitsSchema.prefault({}),
    /** How long items, alerts and dead letters are kept (src/config/retention.ts); default: all. */
    retention: retentionSchema.prefault({}),
    /** Alert rules and their webhook (src/config/alerts.ts; docs/ALERTS.md). */
    alerts: alertsConfigSchema.prefault({}),
    /** Cluster mode (docs/CLUSTER.md): absent = one process doing everything on SQLite, as always. */
    cluster: clusterConfigSchema.optional(),
    /** Ticker linking (docs/TICKERS.md): extra nicknames (name → symbol) and watchlist symbols accepted as cashtags. */
    tickers: z
      .object({
        extraAliases: z.record(z.string().min(1).max(100), z.string().regex(/^[A-Za-z]{1,6}(?:[./-][A-Za-z]{1,2})?$/, 'must be a ticker symbol like AAPL or BRK.B')).default({}),
        watchlist: z.array(z.string().regex(/^[A-Za-z]{1,6}(?:[./-][A-Za-z]{1,2})?$/, 'must be a ticker symbol like AAPL or BRK.B')).max(10_000).default([]),
      })
      .strict()
      .prefault({}),
    /** User-Agent of every polling source without its own (default: tickerpulse/<version> (+project URL)). */
    userAgent: userAgent.optional(),
    /**
     * Per-host request budgets shared by all sources on that host, keyed by host name (no port);
     * the "*" entry sets the default for every other host (4 concurrent, 5 per second).
     */
    hosts: z.record(z.string().regex(/^(\*|[^\s/:]+|\[[0-9A-Fa-f:.]+\])$/, 'must be a host name (no scheme, port or path) or "*"'), hostLimitSchema).default({}),
    sources: z
      .array(sourceSchema)
      .superRefine((list, ctx) => {
        const stdin = list.map((s, i) => (s.kind === 'jsonl' && s.stdin ? i : -1)).filter((i) => i >= 0);
        for (const i of stdin.slice(1)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `only one source can read standard input ("-"; also sources[${stdin[0]}])` });
      })
      .default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // A body must fit the worker heap that parses it (src/lib/bodyHeap.ts): said here, with what
    // to change, rather than discovered as a worker killed at its heap limit on a big poll.
    const heapMb = cfg.limits.workerHeapMb;
    const fits = maxBodyForHeap(heapMb);
    const advice = (bytes: number) =>
      `${formatBytes(bytes)} does not fit a worker heap of ${heapMb} MiB (parsing takes up to ${PARSE_HEAP_FACTOR}× the body): lower it to at most ${formatBytes(fits)} or raise limits.workerHeapMb to at least ${Math.ceil((bytes * PARSE_HEAP_FACTOR) / (1024 * 1024))}`;
    if (cfg.limits.maxBodyBytes > fits) ctx.addIssue({ code: 'custom', path: ['limits', 'maxBodyBytes'], message: advice(cfg.limits.maxBodyBytes) });
    cfg.sources.forEach((s, i) => {
      if ('maxBodyBytes' in s && s.maxBodyBytes !== undefined && s.maxBodyBytes > fits) ctx.addIssue({ code: 'custom', path: ['sources', i, 'maxBodyBytes'], message: advice(s.maxBodyBytes) });
    });
    // Two spellings of one setting may not disagree: which one wins would be a guess.
    if (cfg.db !== undefined && cfg.store !== undefined && !(cfg.store.kind === 'sqlite' && cfg.store.path === cfg.db)) {
      ctx.addIssue({ code: 'custom', path: ['db'], message: `db and store both say where to store, and differ: keep only store (db: ${JSON.stringify(cfg.db)} is store: { kind: sqlite, path: ${JSON.stringify(cfg.db)} })` });
    }
  })
  .transform(({ db, store, ...rest }) => {
    const resolved: StoreConfig = store ?? { kind: 'sqlite', path: db ?? DEFAULT_DB_PATH };
    // `db` stays the SQLite file the single-process daemon and its tools open (unused with postgres).
    return { ...rest, store: resolved, db: resolved.kind === 'sqlite' ? resolved.path : (db ?? DEFAULT_DB_PATH) };
  });

export type StoreConfig = z.output<typeof storeSchema>;

export type Config = z.output<typeof configSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type RssSourceConfig = z.output<typeof rssSourceSchema>;
export type JsonlSourceConfig = z.output<typeof jsonlSourceSchema>;
export type JsonSourceConfig = z.output<typeof jsonSourceSchema>;
export type WebSocketSourceConfig = z.output<typeof websocketSourceSchema>;
export type Limits = z.output<typeof limitsSchema>;
export type HostLimitConfig = z.output<typeof hostLimitSchema>;
