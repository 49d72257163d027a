/**
 * HTTP + WebSocket server: /healthz, the query API (/api/items, /api/tickers, /api/series,
 * /api/alerts: src/query), a placeholder page, and the live item (and alert) stream on /ws with
 * gap-free, duplicate-free resume (?since=SEQ). See docs/PROTOCOL.md.
 *
 * Stream invariant, per client: items are sent in strictly increasing seq order and an item
 * with seq <= the client's last sent seq is never sent. Every broadcast item is already
 * committed to the store (the daemon calls broadcast() with what commitPoll returned), so the
 * store can always fill in whatever a client did not get live.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import type { StoredAlert, StoredItem } from '../lib/types.js';
import { fromSearchParams, validateParams, type QueryKind, type QueryParams } from '../query/params.js';
import { alertsInSeqRange, executeQuery, type QueryResult } from '../query/queries.js';
import { resultToCsv } from '../query/output.js';
import { nextItemsLink } from '../query/cursor.js';
import type { ItemStore } from '../store/itemStore.js';
import type { StoreReader } from '../query/storeReader.js';
import { serveDashboard } from './static.js';
import { CloseCode, PROTOCOL_VERSION, toApiRows, toWireAlert, toWireItem, type DeliveryMessage, type ProtocolErrorCode, type RollupMessage, type ServerMessage, type WireSource } from './wire.js';
import { assertBindAllowed, OriginPolicy, redactUrl, TokenCheck } from './auth.js';
import { RollupFeed, rollupMessage } from './rollupFeed.js';
import { FlushScheduler, textFrame } from './outbound.js';
import { CountingOutbound } from './countingOutbound.js';
import { healthResponse, type MetricsEndpoint } from './health.js';
import { HostCheck } from './hostCheck.js';
import { RefusalLog } from './refusalLog.js';
import {
  EMPTY_FILTER,
  filterFromSearch,
  filterKey,
  matchesAlert,
  matchesItem,
  parseClientMessage,
  TokenBucket,
  ViolationWindow,
  wireFilter,
  type Filter,
} from './subscriptions.js';

export { toWireItem, toApiItem, toWireAlert } from './wire.js';

export interface ServerLimits {
  /** Outbound bytes buffered for one client (its queue + inside its socket) above which it is closed with 4008. */
  maxBufferedBytes: number;
  /** Most queued bytes coalesced into one socket write for a client (outbound.ts). */
  maxWriteBytes: number;
  /** Items read from the store per replay page. */
  replayPageSize: number;
  /** A replay pauses while the client's buffered bytes are at or above this (default: min(1 MiB, maxBufferedBytes / 4)). */
  replayHighWaterBytes: number;
  /** Live items queued per client while its replay runs; beyond it the queue is dropped (see replay()). */
  maxReplayQueue: number;
  /** Largest accepted inbound WebSocket message (larger → close 1009). */
  maxInboundBytes: number;
  /** Server ping interval; a client that has missed `maxMissedPongs` pongs in a row is terminated. */
  pingIntervalMs: number;
  maxMissedPongs: number;
  /** Client messages per second (token bucket refill) and the bucket size (burst). */
  clientMessagesPerSecond: number;
  clientMessageBurst: number;
  /** Invalid or rate-limited client messages tolerated within clientErrorWindowMs; the last one closes with 1008. */
  maxClientErrors: number;
  clientErrorWindowMs: number;
  /** How often `rollup` messages are sent (at most once per changed bucket per interval). */
  rollupIntervalMs: number;
  /** Open WebSocket connections per remote IP; more are refused with HTTP 429. */
  maxConnectionsPerIp: number;
  /** close(): how long to wait for clients to finish the close handshake / requests to finish. */
  closeGraceMs: number;
  /** After a 4008 close, how long the slow client gets to read its buffer before the socket is destroyed. */
  slowCloseGraceMs: number;
  /** Concurrent WebSocket clients; more are refused with HTTP 503. */
  maxClients: number;
  /** /api/items: default `limit`; every /api/* endpoint: maximum `limit` (at most 1000). */
  apiDefaultLimit: number;
  apiMaxLimit: number;
}

export const DEFAULT_LIMITS: Readonly<Omit<ServerLimits, 'replayHighWaterBytes'>> = Object.freeze({
  maxBufferedBytes: 4 * 1024 * 1024,
  maxWriteBytes: 256 * 1024,
  replayPageSize: 500,
  maxReplayQueue: 10_000,
  maxInboundBytes: 64 * 1024,
  pingIntervalMs: 30_000,
  maxMissedPongs: 2,
  clientMessagesPerSecond: 20,
  clientMessageBurst: 40,
  maxClientErrors: 5,
  clientErrorWindowMs: 60_000,
  rollupIntervalMs: 5_000,
  maxConnectionsPerIp: 32,
  closeGraceMs: 2_000,
  slowCloseGraceMs: 5_000,
  maxClients: 1_000,
  apiDefaultLimit: 100,
  apiMaxLimit: 1_000,
});

export interface ServerOptions {
  host: string;
  port: number;
  /**
   * The server's reads: the SQLite ItemStore (the single-process daemon; synchronous, which the
   * replay's switch to live relies on, see replay()) or a StoreReader (src/query/storeReader.ts;
   * PostgreSQL, asynchronously).
   */
  store: ItemStore | StoreReader;
  /**
   * Extra fields for /healthz: `status` ok | degraded | failing with its `reason` (health.ts);
   * failing (or the database not answering) makes /healthz and /readyz answer 503.
   */
  health: () => Record<string, unknown>;
  /** Served on /metrics (same access rules as /api/*); without it /metrics is 404. */
  metrics?: MetricsEndpoint;
  log: Logger;
  limits?: Partial<ServerLimits>;
  /**
   * Bearer token required on /ws and /api/* (`Authorization: Bearer <t>` or `?token=<t>`).
   * Without one the server refuses to bind to a non-loopback host (CONFIG_INVALID).
   */
  token?: string;
  /** Browser origins allowed on /ws and /api/* (default: this server's own, see auth.ts); "*" = any. */
  allowedOrigins?: readonly string[];
  /** Extra names accepted in Host on a loopback bind without a token (src/server/hostCheck.ts). */
  allowedHosts?: readonly string[];
}

/** A source's state as the daemon reports it (/healthz `sources`); see broadcastSources. */
export type SourceReport = WireSource;

export interface ServerStats {
  /** Open WebSocket connections. */
  clients: number;
  /** Of which still replaying history. */
  replaying: number;
  /** Items the replaying clients have yet to be sent (newest seq − their position, summed). */
  replayBacklog: number;
  /** Messages (and their bytes) queued to clients since start. */
  messagesSent: number;
  bytesSent: number;
  /** Connections closed since start, by close code (the one the server sent, else the peer's). */
  closedByCode: Record<string, number>;
}

export interface RunningServer {
  port: number;
  url: string;
  /** Send newly committed items (commitPoll's return value, in commit order) to every client. */
  broadcast(items: StoredItem[]): void;
  /**
   * Send a stored alert to every client (`{"type":"alert","alert":…}`), after the items of its
   * commit have been broadcast. A replaying client gets it from its replay, at its place (alerts.seq).
   */
  broadcastAlert(alert: StoredAlert): void;
  /**
   * The daemon's current source list: every source whose status or lastError differs from the
   * previous call (or that is new) is sent to every client as `{"type":"source","source":…}`.
   */
  broadcastSources(list: readonly SourceReport[]): void;
  /**
   * The webhook gave up on an alert: `{"type":"delivery",…}` to every live client whose filter
   * lets the alert through (not replayed: /api/alerts has the alert's deliveryError).
   */
  broadcastDeliveryFailure(failure: DeliveryMessage['delivery']): void;
  stats(): ServerStats;
  /** Idempotent. Closes every WebSocket with 1001, then the HTTP server. */
  close(): Promise<void>;
}

const VERSION: string = (() => {
  try {
    return String((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
})();

/** An item (or alert) message, serialized at most once and shared by every client it goes to. */
interface Frame {
  /** The item's seq; null for an alert frame (not part of the seq stream: always sent once). */
  seq: number | null;
  item?: StoredItem;
  alert?: StoredAlert;
  /** The complete WebSocket frame (outbound.ts textFrame), built on first use. */
  wire?: Buffer;
}

/**
 * The clients whose filters match exactly the same items (same filterKey). A broadcast matches
 * each item once per class and builds one buffer of the class's frames, which every live member
 * gets by reference: per client it costs a queue push and, usually, one socket write.
 */
interface FilterClass {
  key: string;
  filter: Filter;
  members: Set<Client>;
}

interface Client {
  id: number;
  ws: WebSocket;
  remote: string;
  /** Frames waiting for the socket (bounded by maxBufferedBytes: over it → 4008). */
  out: CountingOutbound;
  cls: FilterClass;
  /** Highest seq sent to this client (its stream position). */
  lastSent: number;
  replaying: boolean;
  /** Live item frames that arrived during the replay; null when not replaying or after overflow. */
  queue: Frame[] | null;
  /**
   * Highest alert id the replay read from the store: its broadcast, which may come after the
   * client went live, is not sent again (ids follow commit order, like seqs).
   */
  alertsThrough: number;
  /** What this client is sent (items, alerts, rollups); EMPTY_FILTER = everything. */
  filter: Filter;
  /** Client message rate limit and the count of recent invalid / rate-limited messages. */
  bucket: TokenBucket;
  violations: ViolationWindow;
  alive: boolean;
  /** Pings in a row the client has not answered. */
  missedPongs: number;
  closing: boolean;
  killTimer?: NodeJS.Timeout;
}

const json = (msg: ServerMessage): string => JSON.stringify(msg);
const itemFrame = (item: StoredItem): Frame => ({ seq: item.seq, item });
const alertFrame = (alert: StoredAlert): Frame => ({ seq: null, alert });
function frameWire(f: Frame): Buffer {
  f.wire ??= textFrame(f.item ? json({ type: 'item', item: toWireItem(f.item) }) : json({ type: 'alert', alert: toWireAlert(f.alert!) }));
  return f.wire;
}
/** Query API routes → query kind (src/query). */
const API_ROUTES: Readonly<Record<string, QueryKind>> = { '/api/items': 'items', '/api/tickers': 'tickers', '/api/series': 'series', '/api/alerts': 'alerts' };
/**
 * The socket under a ws connection, which Outbound writes whole frames to (ws has no public way
 * to send pre-framed bytes; `_socket` is its net.Socket in ws 8). Undefined if that ever
 * changes: onConnection then refuses the client (1011) rather than send malformed streams.
 */
function socketOf(ws: WebSocket): Duplex | undefined {
  const s = (ws as unknown as { _socket?: unknown })._socket as Duplex | undefined;
  return s && typeof s.write === 'function' && typeof s.writableNeedDrain === 'boolean' && !s.destroyed ? s : undefined;
}
/** ws's error codes for the closes it sends itself (it then closes with these codes). */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = { WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG, WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { log } = opts;
  // Exactly one of the two is set: the synchronous SQLite store, or an asynchronous reader.
  const reader: StoreReader | null = 'kind' in opts.store ? opts.store : null;
  const store: ItemStore = (reader ? null : opts.store) as ItemStore;
  const given = opts.limits ?? {};
  const limits: ServerLimits = {
    ...DEFAULT_LIMITS,
    replayHighWaterBytes: Math.min(1024 * 1024, Math.floor((given.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes) / 4)),
    ...stripUndefined(given),
  };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw new TickerpulseError('CONFIG_INVALID', `server limit ${k} must be a positive number (got ${String(v)})`);
  }
  // Before anything listens: no token off loopback → refuse (CONFIG_INVALID, says what to set).
  const token = opts.token === undefined || opts.token === '' ? undefined : opts.token;
  assertBindAllowed(opts.host, token);
  const tokenCheck = token === undefined ? null : new TokenCheck(token);
  // Replaced once the real port is known (port 0): the default origins name it.
  let origins = new OriginPolicy(opts.allowedOrigins, opts.host, opts.port);
  const perIpRefusals = new RefusalLog(log, 'websocket connections per IP limit reached, refusing connections (429)');
  const hostCheck = HostCheck.needed(opts.host, token) ? new HostCheck(opts.host, () => port, opts.allowedHosts) : null;
  const HOST_REFUSED = 'Host header not allowed: this server answers to localhost, 127.0.0.1, [::1] and its bind address on its port (DNS-rebinding guard; see server.allowedHosts)';
  const rollups = new RollupFeed(reader ? null : () => store.database);
  /** Sockets upgrading or upgraded per remote IP (maxConnectionsPerIp). */
  const perIp = new Map<string, number>();
  /** Last status/lastError sent per source id (broadcastSources). */
  const sourceStates = new Map<string, string>();

  const clients = new Set<Client>();
  /** Open clients grouped by filterKey (see FilterClass). */
  const classes = new Map<string, FilterClass>();
  /** Socket writes of every client, in time slices (outbound.ts). */
  const flushes = new FlushScheduler();
  let nextClientId = 1;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let maxBroadcastSeq = 0;
  let warnedOrder = false;
  let port = 0;
  const sent = { messages: 0, bytes: 0 };
  const countSent = (messages: number, bytes: number) => {
    sent.messages += messages;
    sent.bytes += bytes;
  };
  const closedByCode = new Map<number, number>();
  /** The close code this side sent (the peer may answer with another, or drop: 1006). */
  const sentClose = new WeakMap<WebSocket, number>();

  const http: Server = createServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (err) {
      log.error({ err, url: redactUrl(req.url) }, 'http handler failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
      else res.destroy();
    }
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxInboundBytes, perMessageDeflate: false, clientTracking: false });
  wss.on('error', (err) => log.warn({ err }, 'websocket server error'));

  // ------------------------------------------------------------------------------ HTTP

  function handleHttp(req: IncomingMessage, res: ServerResponse): void {
    if (hostCheck && !hostCheck.allows(req.headers.host)) return sendError(res, 403, 'FORBIDDEN', HOST_REFUSED);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported`);
    }
    const apiKind = Object.prototype.hasOwnProperty.call(API_ROUTES, url.pathname) ? API_ROUTES[url.pathname] : undefined;
    if (apiKind !== undefined || (url.pathname === '/metrics' && opts.metrics)) {
      const denied = checkAccess(req, url);
      if (denied) {
        if (denied.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
        return sendError(res, denied.status, denied.code, denied.message);
      }
      url.searchParams.delete('token');
      if (apiKind === undefined) return void serveMetrics(opts.metrics!, res);
      return apiQuery(apiKind, url.searchParams, res);
    }
    if (serveDashboard(req, res, url.pathname)) return; // dist/dashboard: / and /assets/* (src/server/static.ts)
    switch (url.pathname) {
      case '/healthz':
        return healthWithDb(res, false);
      case '/readyz':
        return healthWithDb(res, true);
      case '/livez':
        // Answered by the event loop itself: 200 as long as the process works (restart on timeout).
        return sendJson(res, 200, { status: 'alive' });
      case '/':
        return sendHtml(res, PLACEHOLDER_HTML);
      default:
        return sendError(res, 404, 'NOT_FOUND', `no route for ${url.pathname}`);
    }
  }

  /** The store's health: synchronous for SQLite, awaited for a StoreReader. */
  function healthWithDb(res: ServerResponse, brief: boolean): void {
    if (reader) return void reader.healthy().then((ok) => healthz(res, brief, ok), () => healthz(res, brief, false));
    healthz(res, brief, store.healthy());
  }

  /** /healthz (everything) and /readyz (status and reason only); 503 when failing. */
  function healthz(res: ServerResponse, brief: boolean, dbOk: boolean): void {
    const h = healthResponse(dbOk, opts.health);
    if (brief) return sendJson(res, h.httpStatus, { status: h.status, reason: h.reason });
    sendJson(res, h.httpStatus, { status: h.status, reason: h.reason, port, db: h.db, websocket: stats(), ...h.rest });
  }

  async function serveMetrics(m: MetricsEndpoint, res: ServerResponse): Promise<void> {
    try {
      sendBody(res, 200, m.contentType, await m.render());
    } catch (err) {
      log.error({ err }, '/metrics failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
    }
  }

  /**
   * GET /api/<kind>: the same parameters, validation and queries as `tickerpulse query <kind>`
   * (src/query). Bad parameters → 400 INPUT_INVALID naming the parameter; a store failure →
   * 500 STORE_FAILED with a generic message (the SQLite error is only logged).
   */
  function apiQuery(kind: QueryKind, search: URLSearchParams, res: ServerResponse): void {
    let p: QueryParams;
    try {
      p = validateParams(kind, fromSearchParams(search), { channel: 'http', itemsDefaultLimit: limits.apiDefaultLimit, maxLimit: limits.apiMaxLimit });
    } catch (err) {
      if (err instanceof TickerpulseError && err.code === 'INPUT_INVALID') return sendError(res, 400, 'INPUT_INVALID', err.message);
      throw err;
    }
    if (reader) {
      reader
        .query(p)
        .then(
          (result) => sendQueryResult(kind, p, result, res, search),
          (err: unknown) => queryFailed(kind, err, res),
        )
        .catch((err: unknown) => {
          log.error({ err, route: `/api/${kind}` }, 'http handler failed');
          if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
          else res.destroy();
        });
      return;
    }
    let result: QueryResult;
    try {
      result = executeQuery(store, p);
    } catch (err) {
      return queryFailed(kind, err, res);
    }
    sendQueryResult(kind, p, result, res, search);
  }

  function queryFailed(kind: QueryKind, err: unknown, res: ServerResponse): void {
    const e = err as TickerpulseError;
    log.error({ err: e.cause ?? e, code: e.code, details: e.details, route: `/api/${kind}` }, 'query failed');
    if (res.headersSent) res.destroy();
    else sendError(res, 500, 'STORE_FAILED', 'the database could not answer the query');
  }

  function sendQueryResult(kind: QueryKind, p: QueryParams, result: QueryResult, res: ServerResponse, search: URLSearchParams): void {
    // Items in seq order: the next page's cursor as a Link header (src/query/cursor.ts).
    const link = p.kind === 'items' && result.kind === 'items' ? nextItemsLink('/api/items', search, p, result.rows) : null;
    const linkHeader: Record<string, string> = link ? { Link: link } : {};
    if (p.format === 'csv') {
      return sendBody(res, 200, 'text/csv; charset=utf-8; header=present', resultToCsv(result), { 'Content-Disposition': `inline; filename="tickerpulse-${kind}.csv"`, ...linkHeader });
    }
    sendBody(res, 200, 'application/json; charset=utf-8', JSON.stringify(toApiRows(result)), linkHeader);
  }

  /**
   * Origin allowlist (403) and bearer token (401) of /ws and /api/*; null when the request may
   * proceed. A request without an Origin header is not from a browser page and passes the first.
   */
  function checkAccess(req: IncomingMessage, url: URL): { status: 401 | 403; code: ProtocolErrorCode; message: string } | null {
    const origin = req.headers.origin;
    if (!origins.allows(origin)) {
      log.warn({ origin, path: url.pathname }, 'request from an origin not in server.allowedOrigins refused (403)');
      return { status: 403, code: 'FORBIDDEN', message: 'this Origin is not allowed (server.allowedOrigins)' };
    }
    if (tokenCheck && !tokenCheck.matches(TokenCheck.presented(req, url))) {
      log.debug({ path: url.pathname, remote: req.socket.remoteAddress }, 'request without a valid token refused (401)');
      return { status: 401, code: 'UNAUTHORIZED', message: 'a valid bearer token is required (Authorization: Bearer <token> or ?token=<token>)' };
    }
    return null;
  }

  // ------------------------------------------------------------------------------ WebSocket

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    if (hostCheck && !hostCheck.allows(req.headers.host)) return rejectUpgrade(socket, 403, HOST_REFUSED);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return rejectUpgrade(socket, 404, 'Not Found');
    if (closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    const denied = checkAccess(req, url);
    if (denied) return rejectUpgrade(socket, denied.status, denied.message, denied.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
    let filter: Filter;
    try {
      filter = filterFromSearch(url.searchParams);
    } catch (err) {
      if (err instanceof TickerpulseError && err.code === 'INPUT_INVALID') return rejectUpgrade(socket, 400, err.message);
      throw err;
    }
    const ip = req.socket.remoteAddress ?? '?';
    const open = perIp.get(ip) ?? 0;
    if (open >= limits.maxConnectionsPerIp) {
      perIpRefusals.refused({ remote: ip, max: limits.maxConnectionsPerIp });
      return rejectUpgrade(socket, 429, 'Too Many Requests: too many connections from this address');
    }
    if (clients.size >= limits.maxClients) {
      log.warn({ max: limits.maxClients }, 'websocket client limit reached, refusing connection');
      return rejectUpgrade(socket, 503, 'Service Unavailable');
    }
    perIp.set(ip, open + 1);
    socket.once('close', () => {
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n > 0) perIp.set(ip, n);
      else perIp.delete(ip);
    });
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, url, filter));
  });

  function onConnection(ws: WebSocket, req: IncomingMessage, url: URL, filter: Filter): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (closing) {
      ws.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    ws.on('error', (err) => {
      log.debug({ err, remote }, 'websocket error');
      // ws closes with 1009 / 1007 itself on these; record what it sent, not the peer's echo.
      const code = WS_ERROR_CLOSE_CODES[(err as { code?: string }).code ?? ''];
      if (code && !sentClose.has(ws)) sentClose.set(ws, code);
    });
    ws.once('close', (code) => {
      const c = sentClose.get(ws) ?? code;
      closedByCode.set(c, (closedByCode.get(c) ?? 0) + 1);
    });

    const sinceValues = url.searchParams.getAll('since');
    let since: number | undefined;
    if (sinceValues.length > 0) {
      const text = sinceValues[0];
      if (sinceValues.length > 1 || !/^\d{1,15}$/.test(text)) {
        sendMsg(ws, { type: 'error', code: 'BAD_REQUEST', message: `since must be a non-negative integer seq (got ${JSON.stringify(sinceValues.join(','))})` });
        ws.close(CloseCode.POLICY_VIOLATION, 'invalid since');
        return;
      }
      since = Number(text);
    }

    const storeFailed = (err: unknown) => {
      log.error({ err }, 'websocket connect: store failed');
      sendMsg(ws, { type: 'error', code: 'STORE_FAILED', message: 'the store could not answer' });
      ws.close(CloseCode.INTERNAL_ERROR, 'store failed');
    };
    if (reader) {
      // The read takes a while, and items broadcast meanwhile would reach no one for this
      // client: a client without since also replays, from the latest seq read, so it gets them
      // from the store (its replay queue catches the ones broadcast after it registers).
      reader.latestSeq().then(
        (latest) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (closing) return ws.close(CloseCode.GOING_AWAY, 'server shutting down');
          openClient(ws, remote, filter, since, latest, since ?? latest);
        },
        (err: unknown) => {
          if (ws.readyState === WebSocket.OPEN) storeFailed(err);
        },
      );
      return;
    }
    let latest: number;
    try {
      latest = store.latestSeq();
    } catch (err) {
      return storeFailed(err);
    }
    openClient(ws, remote, filter, since, latest, since);
  }

  /** `replayFrom`: replay the items after it before going live (undefined: live from `latest`). */
  function openClient(ws: WebSocket, remote: string, filter: Filter, since: number | undefined, latest: number, replayFrom: number | undefined): void {
    const sock = socketOf(ws);
    if (!sock) {
      log.error({ remote }, 'websocket connect: the ws library exposes no socket to write frames to (ws major version changed?)');
      ws.close(CloseCode.INTERNAL_ERROR, 'internal error');
      return;
    }
    // Without since, the client starts at "now"; a since beyond the latest seq (e.g. the
    // database was replaced) also starts at now — hello.seq tells the client where that is.
    const start = replayFrom === undefined ? latest : Math.min(replayFrom, latest);
    const c: Client = {
      id: nextClientId++,
      ws,
      remote,
      out: new CountingOutbound(countSent, sock, limits.maxWriteBytes, () => ws.readyState === WebSocket.OPEN, start, flushes),
      cls: joinClass(filter),
      lastSent: start,
      replaying: replayFrom !== undefined,
      queue: replayFrom !== undefined ? [] : null,
      alertsThrough: 0,
      filter,
      bucket: new TokenBucket(limits.clientMessagesPerSecond, limits.clientMessageBurst),
      violations: new ViolationWindow(limits.maxClientErrors, limits.clientErrorWindowMs),
      alive: true,
      missedPongs: 0,
      closing: false,
    };
    c.cls.members.add(c);
    clients.add(c);
    rollups.watch(c.filter.tickers);
    ws.on('pong', () => {
      c.alive = true;
      c.missedPongs = 0;
    });
    ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
    ws.on('close', (code, reason) => {
      clients.delete(c);
      leaveClass(c);
      c.out.drop();
      rollups.unwatch(c.filter.tickers);
      if (c.killTimer) clearTimeout(c.killTimer);
      log.debug({ client: c.id, remote, code, reason: reason.toString(), lastSent: c.lastSent }, 'websocket closed');
    });
    log.debug({ client: c.id, remote, since, latest }, 'websocket connected');

    sendTo(c, { type: 'hello', seq: latest, protocol: PROTOCOL_VERSION, version: VERSION, filter: wireFilter(c.filter) });
    if (c.replaying) void replay(c);
  }

  function joinClass(filter: Filter): FilterClass {
    const key = filterKey(filter);
    let cls = classes.get(key);
    if (!cls) classes.set(key, (cls = { key, filter, members: new Set() }));
    return cls;
  }

  function leaveClass(c: Client): void {
    c.cls.members.delete(c);
    if (c.cls.members.size === 0 && classes.get(c.cls.key) === c.cls) classes.delete(c.cls.key);
  }

  /** A message for this client only, behind the frames already queued for it. */
  function sendTo(c: Client, msg: ServerMessage): void {
    if (!isOpen(c)) return;
    c.out.push(textFrame(json(msg)), c.lastSent);
    checkSlow(c);
  }

  /**
   * Closes the connection after whatever is queued for it (an `error` message just sent must
   * arrive before the close frame ws writes). Not for 4008: see checkSlow.
   */
  function closeAfterQueued(c: Client, code: number, reason: string): void {
    c.out.flushAll();
    c.closing = true;
    if (!sentClose.has(c.ws)) sentClose.set(c.ws, code);
    c.ws.close(code, reason);
  }

  /**
   * One client message (the ws library already closed the connection for a frame over
   * maxInboundBytes, 1009, or a text frame that is not UTF-8, 1007). Rate-limited, then parsed;
   * every refused message gets an `error` and counts towards the 1008 close.
   */
  function onMessage(c: Client, data: RawData, isBinary: boolean): void {
    c.alive = true;
    if (!isOpen(c)) return;
    if (!c.bucket.take()) {
      return refuse(c, 'RATE_LIMITED', `too many messages: at most ${limits.clientMessagesPerSecond} per second (bursts of ${limits.clientMessageBurst})`, 'rate limit exceeded');
    }
    if (isBinary) return refuse(c, 'BAD_REQUEST', 'messages must be JSON text, not binary frames', 'too many invalid messages');
    let msg;
    try {
      msg = parseClientMessage(data.toString());
    } catch (err) {
      if (err instanceof TickerpulseError && err.code === 'INPUT_INVALID') return refuse(c, 'BAD_REQUEST', err.message, 'too many invalid messages');
      // Not expected; never let a client message throw out of the 'message' handler.
      log.error({ err, client: c.id }, 'client message handling failed');
      return refuse(c, 'BAD_REQUEST', 'the message could not be handled', 'too many invalid messages');
    }
    switch (msg.type) {
      case 'ping':
        sendTo(c, msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id });
        break;
      case 'subscribe':
      case 'unsubscribe': {
        const next = msg.type === 'subscribe' ? msg.filter : EMPTY_FILTER;
        rollups.unwatch(c.filter.tickers);
        rollups.watch(next.tickers);
        c.filter = next;
        leaveClass(c);
        c.cls = joinClass(next);
        c.cls.members.add(c);
        log.debug({ client: c.id, filter: wireFilter(next) }, 'websocket filter changed');
        sendTo(c, { type: 'subscribed', filter: wireFilter(next) });
        break;
      }
    }
  }

  /** An `error` message; the maxClientErrors-th within the window closes the connection with 1008. */
  function refuse(c: Client, code: ProtocolErrorCode, message: string, closeReason: string): void {
    sendTo(c, { type: 'error', code, message });
    if (!isOpen(c)) return;
    if (c.violations.add()) {
      log.warn({ client: c.id, remote: c.remote, code }, `websocket client closed: ${closeReason} (1008)`);
      closeAfterQueued(c, CloseCode.POLICY_VIOLATION, closeReason);
      c.killTimer = setTimeout(() => c.ws.terminate(), limits.slowCloseGraceMs);
      c.killTimer.unref();
    }
  }

  /**
   * History first, then live, without gap or duplicate:
   *  - read pages of items with seq > lastSent from the store and send them, pausing while the
   *    client's buffer is above replayHighWaterBytes (so history never floods memory);
   *  - meanwhile broadcast() queues this client's live frames (bounded by maxReplayQueue). If
   *    the queue would overflow it is dropped and further broadcasts are not queued: they are
   *    committed before they are broadcast, so the replay will read them from the store anyway;
   *  - the replay ends after a store read that returned less than a full page and was sent
   *    without awaiting; in that same synchronous step the queue is flushed (frames with
   *    seq > lastSent only) and the client switches to live. No commit can happen in between
   *    (single thread), so nothing falls between replay and live. (Requiring an *empty* read
   *    instead would never finish while items keep arriving between pages.)
   *  - alerts come from the store too, each right after the item of its alerts.seq: read for the
   *    page's seq range after the page (so every alert of a commit whose items the page holds is
   *    visible). Alerts broadcast during the replay are not queued — they were committed before
   *    their broadcast, so the replay reads them — and alertsThrough keeps a broadcast arriving
   *    after the replay read its alert from sending it twice.
   */
  async function replay(c: Client): Promise<void> {
    try {
      for (;;) {
        if (!isOpen(c)) return;
        const from = c.lastSent;
        let page: StoredItem[];
        let alerts: StoredAlert[];
        if (reader) {
          // An asynchronous read can end after a commit its snapshot missed, so the switch to
          // live below needs that commit's broadcast (items and alerts) queued: a dropped queue
          // is re-armed before each read (whatever is committed later is broadcast later, into it).
          if (c.queue === null) c.queue = [];
          page = await reader.itemsAfter(from, limits.replayPageSize);
          alerts = page.length ? await reader.alertsInSeqRange(from, page[page.length - 1].seq) : [];
          if (!isOpen(c)) return;
        } else {
          page = store.itemsAfter(from, limits.replayPageSize);
          alerts = page.length ? alertsInSeqRange(store, from, page[page.length - 1].seq) : [];
        }
        let nextAlert = 0;
        let paused = false;
        for (const item of page) {
          if (!isOpen(c)) return;
          if (!matchesItem(c.filter, item)) {
            // Not for this client: its stream position still moves past it.
            if (item.seq > c.lastSent) c.lastSent = item.seq;
          } else {
            sendFrame(c, itemFrame(item));
          }
          while (nextAlert < alerts.length && (alerts[nextAlert].seq ?? 0) <= item.seq) {
            const a = alerts[nextAlert++];
            if (a.id > c.alertsThrough) {
              c.alertsThrough = a.id;
              sendFrame(c, alertFrame(a));
            }
          }
          if (c.out.buffered() >= limits.replayHighWaterBytes) {
            paused = true;
            await waitForDrain(c);
          }
        }
        // A short page read and sent without pausing: the store has nothing newer *right now*,
        // and we are still in the synchronous step of that read — switch to live here.
        // (An asynchronous store: only if no broadcast overflowed the queue during the read.)
        if (page.length < limits.replayPageSize && !paused && (!reader || c.queue !== null)) break;
        await waitForDrain(c); // also yields to the event loop between pages
      }
      const queued = c.queue ?? [];
      c.queue = null;
      c.replaying = false;
      for (const f of queued) {
        // Alerts are queued only with an asynchronous store; the replay may have sent one already.
        if (f.alert) {
          if (f.alert.id <= c.alertsThrough) continue;
          c.alertsThrough = f.alert.id;
        }
        sendFrame(c, f);
      }
      checkSlow(c);
      log.debug({ client: c.id, lastSent: c.lastSent }, 'replay caught up, live');
    } catch (err) {
      log.error({ err, client: c.id }, 'replay failed');
      if (isOpen(c)) {
        sendTo(c, { type: 'error', code: 'STORE_FAILED', message: 'replay failed, reconnect with since=' + c.lastSent });
        if (isOpen(c)) closeAfterQueued(c, CloseCode.INTERNAL_ERROR, 'replay failed');
      }
    }
  }

  /** Resolves once the client's buffer is below the replay high-water mark (always yields once). */
  async function waitForDrain(c: Client): Promise<void> {
    await tick();
    // Poll with backoff (a stuck client is ended by the heartbeat); the socket's 'drain' moves
    // the client's queue (outbound.ts), this only watches the total.
    for (let delay = 2; isOpen(c) && c.out.buffered() >= limits.replayHighWaterBytes; delay = Math.min(delay * 2, 50)) {
      await sleep(delay);
    }
  }

  function broadcast(items: StoredItem[]): void {
    if (items.length === 0) return;
    try {
      let sorted = items;
      for (let i = 1; i < items.length; i++) {
        if (items[i].seq <= items[i - 1].seq) {
          sorted = [...items].sort((a, b) => a.seq - b.seq);
          break;
        }
      }
      if (sorted[0].seq <= maxBroadcastSeq && !warnedOrder) {
        warnedOrder = true;
        log.warn({ seq: sorted[0].seq, maxBroadcastSeq }, 'broadcast() called out of seq order: live clients skip seqs they are past (call broadcast right after commitPoll, in commit order)');
      }
      maxBroadcastSeq = Math.max(maxBroadcastSeq, sorted[sorted.length - 1].seq);
      if (clients.size === 0) return;
      rollups.observe(sorted);

      const frames = sorted.map(itemFrame);
      const firstSeq = sorted[0].seq;
      const lastSeq = sorted[sorted.length - 1].seq;
      for (const cls of classes.values()) {
        /** The class's frames of this broadcast, concatenated; built for the first live member (null: none match). */
        let shared: Buffer | null | undefined;
        for (const c of cls.members) {
          if (!isOpen(c)) continue;
          if (c.replaying) {
            queueForReplay(c, frames);
            continue;
          }
          if (c.lastSent >= firstSeq) {
            // Already past part of this batch (broadcasts out of seq order): frame by frame.
            for (const f of frames) if (!sendFrame(c, f)) break;
            continue;
          }
          shared ??= classFrames(cls.filter, frames);
          c.lastSent = lastSeq; // items the filter excludes move the position too
          if (shared) {
            c.out.push(shared, lastSeq);
            checkSlow(c);
          }
        }
      }
    } catch (err) {
      log.error({ err }, 'broadcast failed');
    }
  }

  /** The frames of the items `filter` matches, as one buffer; null when it matches none. */
  function classFrames(filter: Filter, frames: Frame[]): Buffer | null {
    const parts: Buffer[] = [];
    for (const f of frames) if (matchesItem(filter, f.item!)) parts.push(frameWire(f));
    return parts.length === 0 ? null : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  function queueForReplay(c: Client, frames: Frame[]): void {
    if (!c.queue) return;
    if (c.queue.length + frames.length > limits.maxReplayQueue) {
      log.debug({ client: c.id }, 'replay queue full: dropping it, the replay will read these items from the store');
      c.queue = null;
    } else {
      for (const f of frames) c.queue.push(f);
    }
  }

  function broadcastAlert(alert: StoredAlert): void {
    try {
      if (clients.size === 0) return;
      const frame = alertFrame(alert);
      for (const cls of classes.values()) {
        const matches = matchesAlert(cls.filter, alert);
        for (const c of cls.members) {
          if (!isOpen(c) || alert.id <= c.alertsThrough) continue;
          if (c.replaying) {
            // SQLite: the replay reads it from the store at its place (committed before this
            // broadcast). An asynchronous read may have missed its commit: queued after its
            // items, like them (an overflow drops the queue and the replay reads again).
            if (reader) queueForReplay(c, [frame]);
            continue;
          }
          if (matches) {
            c.out.push(frameWire(frame), c.lastSent);
            checkSlow(c);
          }
        }
      }
    } catch (err) {
      log.error({ err }, 'broadcastAlert failed');
    }
  }

  function isOpen(c: Client): boolean {
    return !c.closing && c.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Sends an item frame unless the client is already past it or its filter excludes it (the
   * position moves past it either way); alert frames when the filter allows. False when the
   * client is not open (or was just closed for being too slow).
   */
  function sendFrame(c: Client, f: Frame): boolean {
    if (!isOpen(c)) return false;
    if (f.seq === null) {
      if (f.alert && !matchesAlert(c.filter, f.alert)) return true;
      c.out.push(frameWire(f), c.lastSent);
      return !checkSlow(c);
    }
    if (f.seq <= c.lastSent) return true;
    c.lastSent = f.seq;
    if (f.item && !matchesItem(c.filter, f.item)) return true;
    c.out.push(frameWire(f), f.seq);
    return !checkSlow(c);
  }

  /** Rollup messages of the buckets that changed since the last tick, to the clients subscribed to their ticker. */
  /** An asynchronous store's rollup read in flight: the next tick waits for it (its changes stay pending). */
  let rollupsReading = false;

  function sendRollups(): void {
    if (!rollups.pending) return;
    if (reader) {
      if (rollupsReading) return;
      rollupsReading = true;
      const changed = rollups.takeChanged();
      reader
        .minuteRollups(changed)
        .then((rows) => {
          const byKey = new Map(rows.map((r) => [`${r.ticker}\u0000${r.start}`, r]));
          const msgs: RollupMessage[] = [];
          for (const { ticker, start } of changed) {
            const r = byKey.get(`${ticker}\u0000${start}`);
            if (r) msgs.push(rollupMessage(ticker, start, r));
          }
          sendRollupMessages(msgs);
        })
        .catch((err: unknown) => log.error({ err }, 'rollup updates: the store failed'))
        .finally(() => {
          rollupsReading = false;
        });
      return;
    }
    let msgs;
    try {
      msgs = rollups.flush();
    } catch (err) {
      log.error({ err }, 'rollup updates: the store failed');
      return;
    }
    sendRollupMessages(msgs);
  }

  function sendRollupMessages(msgs: RollupMessage[]): void {
    for (const m of msgs) {
      let data: Buffer | undefined;
      for (const c of clients) {
        if (!isOpen(c) || c.replaying || !c.filter.tickers?.has(m.ticker)) continue;
        data ??= textFrame(json(m));
        c.out.push(data, c.lastSent);
        checkSlow(c);
      }
    }
  }

  function broadcastDeliveryFailure(failure: DeliveryMessage['delivery']): void {
    try {
      let data: Buffer | undefined;
      for (const c of clients) {
        if (!isOpen(c) || c.replaying || (c.filter.tickers !== null && !c.filter.tickers.has(failure.ticker))) continue;
        data ??= textFrame(json({ type: 'delivery', delivery: { ...failure } }));
        c.out.push(data, c.lastSent);
        checkSlow(c);
      }
    } catch (err) {
      log.error({ err }, 'broadcastDeliveryFailure failed');
    }
  }

  function broadcastSources(list: readonly SourceReport[]): void {
    try {
      for (const s of list) {
        if (!s || typeof s.id !== 'string') continue;
        const state = `${s.status}\u0000${s.lastError ?? ''}\u0000${s.lastErrorMessage ?? ''}`;
        if (sourceStates.get(s.id) === state) continue;
        sourceStates.set(s.id, state);
        if (clients.size === 0) continue;
        const data = textFrame(json({ type: 'source', source: { ...s } }));
        for (const c of clients) {
          if (!isOpen(c)) continue;
          c.out.push(data, c.lastSent);
          checkSlow(c);
        }
      }
    } catch (err) {
      log.error({ err }, 'broadcastSources failed');
    }
  }

  /**
   * Closes the client with 4008 when its queue plus its socket's buffer is over the cap. True if
   * it did. The queue is dropped, not written: the close frame follows only what the socket
   * already holds (at most its high-water mark plus one write), so the `since` in the reason is
   * the position of the last frame written, and the terminate() after the grace has next to
   * nothing to error out.
   */
  function checkSlow(c: Client): boolean {
    if (c.closing) return false;
    const buffered = c.out.buffered();
    if (buffered <= limits.maxBufferedBytes) return false;
    const since = c.out.empty ? c.lastSent : c.out.written;
    c.out.drop();
    c.closing = true;
    log.warn({ client: c.id, remote: c.remote, buffered, since }, 'websocket client too slow, closing (4008)');
    sentClose.set(c.ws, CloseCode.TOO_SLOW);
    c.ws.close(CloseCode.TOO_SLOW, `too slow, reconnect with since=${since}`);
    c.killTimer = setTimeout(() => c.ws.terminate(), limits.slowCloseGraceMs);
    c.killTimer.unref();
    return true;
  }

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive && ++c.missedPongs >= limits.maxMissedPongs) {
        log.debug({ client: c.id, remote: c.remote, missed: c.missedPongs }, 'websocket client missed pongs, terminating');
        c.out.drop();
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        /* closing */
      }
    }
  }, limits.pingIntervalMs);
  heartbeat.unref();
  const rollupTimer = setInterval(sendRollups, limits.rollupIntervalMs);
  rollupTimer.unref();

  /** The store's newest seq; `fallback` when it cannot answer (stats must not fail /healthz). */
  function latestSeqOr(fallback: number): number {
    try {
      return store.latestSeq();
    } catch {
      return fallback;
    }
  }

  function stats(): ServerStats {
    let open = 0;
    let replaying = 0;
    let behind = 0;
    let newest: number | null = null;
    for (const c of clients) {
      if (!isOpen(c)) continue;
      open++;
      if (!c.replaying) continue;
      replaying++;
      newest ??= Math.max(maxBroadcastSeq, latestSeqOr(maxBroadcastSeq));
      behind += Math.max(0, newest - c.lastSent);
    }
    return { clients: open, replaying, replayBacklog: behind, messagesSent: sent.messages, bytesSent: sent.bytes, closedByCode: Object.fromEntries(closedByCode) };
  }

  // ------------------------------------------------------------------------------ lifecycle

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(opts.port, opts.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    clearInterval(heartbeat);
    clearInterval(rollupTimer);
    const code = (err as { code?: string }).code;
    throw new TickerpulseError(
      'SERVER_FAILED',
      `cannot listen on ${opts.host}:${opts.port}: ${code === 'EADDRINUSE' ? 'address already in use (another tickerpulse running? pick another port)' : (err as Error).message}`,
      { cause: err },
    );
  }
  http.on('error', (err) => log.error({ err }, 'http server error'));
  http.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  const address = http.address();
  port = typeof address === 'object' && address ? address.port : opts.port;
  origins = new OriginPolicy(opts.allowedOrigins, opts.host, port);
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}`;
  log.info({ url, ws: `ws://${hostForUrl}:${port}/ws` }, 'server listening');

  async function close(): Promise<void> {
    perIpRefusals.flush();
    closing = true;
    clearInterval(heartbeat);
    clearInterval(rollupTimer);
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    const all = [...clients];
    const wsClosed = Promise.all(
      all.map((c) => (c.ws.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((r) => c.ws.once('close', () => r())))),
    );
    for (const c of all) {
      if (c.ws.readyState === WebSocket.OPEN) closeAfterQueued(c, CloseCode.GOING_AWAY, 'server shutting down');
      c.closing = true;
    }
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([wsClosed, new Promise<void>((r) => (graceTimer = setTimeout(r, limits.closeGraceMs)))]);
    if (graceTimer) clearTimeout(graceTimer);
    for (const c of all) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
    wss.close();
    // Idle keep-alive connections were closed above; give in-flight requests the same grace.
    const forceTimer = setTimeout(() => http.closeAllConnections(), limits.closeGraceMs);
    await httpClosed;
    clearTimeout(forceTimer);
    log.info('server closed');
  }

  return {
    port,
    url,
    broadcast,
    broadcastAlert,
    broadcastSources,
    broadcastDeliveryFailure,
    stats,
    close: () => (closePromise ??= close()),
  };
}

// -------------------------------------------------------------------------------- helpers

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Before a connection has its Client (and so its queue): refusals right after the upgrade. */
function sendMsg(ws: WebSocket, msg: ServerMessage): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(json(msg));
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** An HTTP answer instead of the upgrade; `text` is the plain-text body (the status line uses the standard phrase). */
function rejectUpgrade(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) return void socket.destroy();
  socket.once('finish', () => socket.destroy());
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n${extra}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendBody(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function sendBody(res: ServerResponse, status: number, contentType: string, data: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(data) });
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

function sendError(res: ServerResponse, status: number, code: ProtocolErrorCode, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(res.req.method === 'HEAD' ? undefined : html);
}

const PLACEHOLDER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickerpulse</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}code{background:#f3f3f3;padding:0 .25em}</style>
</head>
<body>
<h1>tickerpulse</h1>
<p>The daemon is running. The live dashboard comes in a later version.</p>
<ul>
<li><a href="/healthz">/healthz</a> &mdash; daemon health (JSON)</li>
<li><a href="/api/items">/api/items</a> &mdash; latest items (filters: <code>source</code>, <code>ticker</code>, <code>label</code>, <code>since</code>, <code>search</code>, <code>limit</code>, <code>sort</code>, <code>order</code>; cursors <code>before</code>/<code>after</code>)</li>
<li><a href="/api/tickers">/api/tickers</a> &mdash; most mentioned tickers (<code>since</code>, <code>limit</code>, <code>sort</code>, <code>order</code>)</li>
<li><code>/api/series?ticker=AAPL&amp;bucket=1h</code> &mdash; a ticker's (or <code>source</code>'s) counts and sentiment per bucket</li>
<li><a href="/api/alerts">/api/alerts</a> &mdash; alerts (<code>since</code>, <code>ticker</code>, <code>rule</code>, <code>kind</code>, <code>limit</code>)</li>
<li>JSON by default, <code>?format=csv</code> for CSV</li>
<li><code>/ws</code> &mdash; live WebSocket stream (<code>?since=SEQ</code> to resume)</li>
</ul>
</body>
</html>
`;
