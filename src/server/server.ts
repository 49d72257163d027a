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
import { executeQuery, type QueryResult } from '../query/queries.js';
import { resultToCsv } from '../query/output.js';
import type { ItemStore } from '../store/itemStore.js';
import { serveDashboard } from './static.js';
import { CloseCode, PROTOCOL_VERSION, toApiRows, toWireAlert, toWireItem, type ProtocolErrorCode, type ServerMessage } from './wire.js';

export { toWireItem, toApiItem, toWireAlert } from './wire.js';

export interface ServerLimits {
  /** Outbound bytes buffered for one client above which it is closed with 4008. */
  maxBufferedBytes: number;
  /** Items read from the store per replay page. */
  replayPageSize: number;
  /** A replay pauses while the client's buffered bytes are at or above this (default: min(1 MiB, maxBufferedBytes / 4)). */
  replayHighWaterBytes: number;
  /** Live items queued per client while its replay runs; beyond it the queue is dropped (see replay()). */
  maxReplayQueue: number;
  /** Largest accepted inbound WebSocket message (larger → close 1009). */
  maxInboundBytes: number;
  /** Server ping interval; a client that has not answered the previous ping is terminated. */
  pingIntervalMs: number;
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
  replayPageSize: 500,
  maxReplayQueue: 10_000,
  maxInboundBytes: 64 * 1024,
  pingIntervalMs: 30_000,
  closeGraceMs: 2_000,
  slowCloseGraceMs: 5_000,
  maxClients: 1_000,
  apiDefaultLimit: 100,
  apiMaxLimit: 1_000,
});

export interface ServerOptions {
  host: string;
  port: number;
  store: ItemStore;
  /** Extra fields for /healthz; `status: 'degraded'` (or anything but 'ok') makes it degraded. */
  health: () => Record<string, unknown>;
  log: Logger;
  limits?: Partial<ServerLimits>;
}

export interface ServerStats {
  /** Open WebSocket connections. */
  clients: number;
  /** Of which still replaying history. */
  replaying: number;
}

export interface RunningServer {
  port: number;
  url: string;
  /** Send newly committed items (commitPoll's return value, in commit order) to every client. */
  broadcast(items: StoredItem[]): void;
  /**
   * Send a stored alert to every client (`{"type":"alert","alert":…}`), after the items it
   * refers to have been broadcast. Replaying clients get it once their replay has caught up.
   */
  broadcastAlert(alert: StoredAlert): void;
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

/** A serialized item (or alert) message, shared by every client it goes to. */
interface Frame {
  /** The item's seq; null for an alert frame (not part of the seq stream: always sent once). */
  seq: number | null;
  data: Buffer;
}

interface Client {
  id: number;
  ws: WebSocket;
  remote: string;
  /** Highest seq sent to this client (its stream position). */
  lastSent: number;
  replaying: boolean;
  /** Live frames that arrived during the replay; null when not replaying or after overflow. */
  queue: Frame[] | null;
  /**
   * Alerts that arrived during the replay after its queue overflowed (the store gives the
   * replay the items back, not the alerts): sent when the replay has caught up.
   */
  lateAlerts: Frame[];
  alive: boolean;
  closing: boolean;
  killTimer?: NodeJS.Timeout;
}

const json = (msg: ServerMessage): string => JSON.stringify(msg);
const itemFrame = (item: StoredItem): Frame => ({ seq: item.seq, data: Buffer.from(json({ type: 'item', item: toWireItem(item) })) });
const alertFrame = (alert: StoredAlert): Frame => ({ seq: null, data: Buffer.from(json({ type: 'alert', alert: toWireAlert(alert) })) });
/** Query API routes → query kind (src/query). */
const API_ROUTES: Readonly<Record<string, QueryKind>> = { '/api/items': 'items', '/api/tickers': 'tickers', '/api/series': 'series', '/api/alerts': 'alerts' };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { store, log } = opts;
  const given = opts.limits ?? {};
  const limits: ServerLimits = {
    ...DEFAULT_LIMITS,
    replayHighWaterBytes: Math.min(1024 * 1024, Math.floor((given.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes) / 4)),
    ...stripUndefined(given),
  };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw new TickerpulseError('CONFIG_INVALID', `server limit ${k} must be a positive number (got ${String(v)})`);
  }

  const clients = new Set<Client>();
  let nextClientId = 1;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let maxBroadcastSeq = 0;
  let warnedOrder = false;
  let port = 0;

  const http: Server = createServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (err) {
      log.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
      else res.destroy();
    }
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxInboundBytes, perMessageDeflate: false, clientTracking: false });
  wss.on('error', (err) => log.warn({ err }, 'websocket server error'));

  // ------------------------------------------------------------------------------ HTTP

  function handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported`);
    }
    const apiKind = Object.prototype.hasOwnProperty.call(API_ROUTES, url.pathname) ? API_ROUTES[url.pathname] : undefined;
    if (apiKind !== undefined) return apiQuery(apiKind, url.searchParams, res);
    if (serveDashboard(req, res, url.pathname)) return; // dist/dashboard: / and /assets/* (src/server/static.ts)
    switch (url.pathname) {
      case '/healthz':
        return healthz(res);
      case '/':
        return sendHtml(res, PLACEHOLDER_HTML);
      default:
        return sendError(res, 404, 'NOT_FOUND', `no route for ${url.pathname}`);
    }
  }

  function healthz(res: ServerResponse): void {
    const dbOk = store.healthy();
    let extra: Record<string, unknown>;
    let healthFailed = false;
    try {
      extra = opts.health() ?? {};
    } catch (err) {
      healthFailed = true;
      extra = { healthError: err instanceof Error ? err.message : String(err) };
    }
    const { status: extraStatus, port: _p, db: extraDb, ...rest } = extra;
    const ok = dbOk && !healthFailed && (extraStatus === undefined || extraStatus === 'ok');
    const db = typeof extraDb === 'object' && extraDb !== null ? { ...extraDb, ok: dbOk } : { ok: dbOk };
    const s = stats();
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', port, db, websocket: s, ...rest });
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
    let result: QueryResult;
    try {
      result = executeQuery(store, p);
    } catch (err) {
      const e = err as TickerpulseError;
      log.error({ err: e.cause ?? e, code: e.code, details: e.details, route: `/api/${kind}` }, 'query failed');
      return sendError(res, 500, 'STORE_FAILED', 'the database could not answer the query');
    }
    if (p.format === 'csv') {
      return sendBody(res, 200, 'text/csv; charset=utf-8; header=present', resultToCsv(result), { 'Content-Disposition': `inline; filename="tickerpulse-${kind}.csv"` });
    }
    sendJson(res, 200, toApiRows(result));
  }

  // ------------------------------------------------------------------------------ WebSocket

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return rejectUpgrade(socket, 404, 'Not Found');
    if (closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    if (clients.size >= limits.maxClients) {
      log.warn({ max: limits.maxClients }, 'websocket client limit reached, refusing connection');
      return rejectUpgrade(socket, 503, 'Service Unavailable');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, url));
  });

  function onConnection(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (closing) {
      ws.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    ws.on('error', (err) => log.debug({ err, remote }, 'websocket error'));

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

    let latest: number;
    try {
      latest = store.latestSeq();
    } catch (err) {
      log.error({ err }, 'websocket connect: store failed');
      sendMsg(ws, { type: 'error', code: 'STORE_FAILED', message: 'the store could not answer' });
      ws.close(CloseCode.INTERNAL_ERROR, 'store failed');
      return;
    }

    const c: Client = {
      id: nextClientId++,
      ws,
      remote,
      // Without since, the client starts at "now"; a since beyond the latest seq (e.g. the
      // database was replaced) also starts at now — hello.seq tells the client where that is.
      lastSent: since === undefined ? latest : Math.min(since, latest),
      replaying: since !== undefined,
      queue: since !== undefined ? [] : null,
      lateAlerts: [],
      alive: true,
      closing: false,
    };
    clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
    ws.on('close', (code, reason) => {
      clients.delete(c);
      if (c.killTimer) clearTimeout(c.killTimer);
      log.debug({ client: c.id, remote, code, reason: reason.toString(), lastSent: c.lastSent }, 'websocket closed');
    });
    log.debug({ client: c.id, remote, since, latest }, 'websocket connected');

    sendMsg(ws, { type: 'hello', seq: latest, protocol: PROTOCOL_VERSION, version: VERSION });
    if (c.replaying) void replay(c);
  }

  function onMessage(c: Client, data: RawData, isBinary: boolean): void {
    c.alive = true;
    if (isBinary) return;
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      sendMsg(c.ws, { type: 'error', code: 'BAD_REQUEST', message: 'messages must be JSON objects' });
      return;
    }
    if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'ping') {
      sendMsg(c.ws, { type: 'pong' });
      checkSlow(c);
    }
    // Other message types are ignored (forward compatible: later versions add subscriptions).
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
   */
  async function replay(c: Client): Promise<void> {
    try {
      for (;;) {
        if (!isOpen(c)) return;
        const page = store.itemsAfter(c.lastSent, limits.replayPageSize);
        let paused = false;
        for (const item of page) {
          if (!isOpen(c)) return;
          sendFrame(c, itemFrame(item));
          if (c.ws.bufferedAmount >= limits.replayHighWaterBytes) {
            paused = true;
            await waitForDrain(c);
          }
        }
        // A short page read and sent without pausing: the store has nothing newer *right now*,
        // and we are still in the synchronous step of that read — switch to live here.
        if (page.length < limits.replayPageSize && !paused) break;
        await waitForDrain(c); // also yields to the event loop between pages
      }
      const queued = c.queue ?? [];
      c.queue = null;
      c.replaying = false;
      for (const f of queued) sendFrame(c, f);
      for (const f of c.lateAlerts) sendFrame(c, f);
      c.lateAlerts = [];
      checkSlow(c);
      log.debug({ client: c.id, lastSent: c.lastSent }, 'replay caught up, live');
    } catch (err) {
      log.error({ err, client: c.id }, 'replay failed');
      if (isOpen(c)) {
        sendMsg(c.ws, { type: 'error', code: 'STORE_FAILED', message: 'replay failed, reconnect with since=' + c.lastSent });
        c.ws.close(CloseCode.INTERNAL_ERROR, 'replay failed');
      }
    }
  }

  /** Resolves once the client's buffer is below the replay high-water mark (always yields once). */
  async function waitForDrain(c: Client): Promise<void> {
    await tick();
    // ws exposes no 'drain' event; poll with backoff (a stuck client is ended by the heartbeat).
    for (let delay = 2; isOpen(c) && c.ws.bufferedAmount >= limits.replayHighWaterBytes; delay = Math.min(delay * 2, 50)) {
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

      const frames = sorted.map(itemFrame);
      for (const c of clients) {
        if (!isOpen(c)) continue;
        if (c.replaying) {
          if (c.queue) {
            if (c.queue.length + frames.length > limits.maxReplayQueue) {
              log.debug({ client: c.id }, 'replay queue full: dropping it, the replay will read these items from the store');
              // Alerts are not in what the replay reads: keep them for after the replay.
              c.lateAlerts = c.queue.filter((f) => f.seq === null);
              c.queue = null;
            } else {
              for (const f of frames) c.queue.push(f);
            }
          }
          continue;
        }
        for (const f of frames) {
          if (!sendFrame(c, f)) break;
          if (checkSlow(c)) break;
        }
      }
    } catch (err) {
      log.error({ err }, 'broadcast failed');
    }
  }

  function broadcastAlert(alert: StoredAlert): void {
    try {
      if (clients.size === 0) return;
      const frame = alertFrame(alert);
      for (const c of clients) {
        if (!isOpen(c)) continue;
        if (c.replaying) {
          // After the replayed items, like a live client that got the items before the alert.
          if (c.queue && c.queue.length < limits.maxReplayQueue) c.queue.push(frame);
          else if (c.queue) {
            c.lateAlerts = c.queue.filter((f) => f.seq === null);
            c.lateAlerts.push(frame);
            c.queue = null;
          } else if (c.lateAlerts.length < limits.maxReplayQueue) c.lateAlerts.push(frame);
          else log.warn({ client: c.id, alert: alert.id }, 'too many alerts queued for a replaying client, dropping one');
          continue;
        }
        if (sendFrame(c, frame)) checkSlow(c);
      }
    } catch (err) {
      log.error({ err }, 'broadcastAlert failed');
    }
  }

  function isOpen(c: Client): boolean {
    return !c.closing && c.ws.readyState === WebSocket.OPEN;
  }

  /** Sends an item frame unless the client is already past it (alert frames always). False when the client is not open. */
  function sendFrame(c: Client, f: Frame): boolean {
    if (!isOpen(c)) return false;
    if (f.seq === null) {
      c.ws.send(f.data, { binary: false });
      return true;
    }
    if (f.seq <= c.lastSent) return true;
    c.ws.send(f.data, { binary: false });
    c.lastSent = f.seq;
    return true;
  }

  /** Closes the client with 4008 when its outbound buffer is over the cap. True if it did. */
  function checkSlow(c: Client): boolean {
    if (c.closing || c.ws.bufferedAmount <= limits.maxBufferedBytes) return false;
    c.closing = true;
    log.warn({ client: c.id, remote: c.remote, buffered: c.ws.bufferedAmount, lastSent: c.lastSent }, 'websocket client too slow, closing (4008)');
    c.ws.close(CloseCode.TOO_SLOW, `too slow, reconnect with since=${c.lastSent}`);
    c.killTimer = setTimeout(() => c.ws.terminate(), limits.slowCloseGraceMs);
    c.killTimer.unref();
    return true;
  }

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        log.debug({ client: c.id, remote: c.remote }, 'websocket client missed a ping, terminating');
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

  function stats(): ServerStats {
    let open = 0;
    let replaying = 0;
    for (const c of clients) {
      if (!isOpen(c)) continue;
      open++;
      if (c.replaying) replaying++;
    }
    return { clients: open, replaying };
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
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}`;
  log.info({ url, ws: `ws://${hostForUrl}:${port}/ws` }, 'server listening');

  async function close(): Promise<void> {
    closing = true;
    clearInterval(heartbeat);
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    const all = [...clients];
    const wsClosed = Promise.all(
      all.map((c) => (c.ws.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((r) => c.ws.once('close', () => r())))),
    );
    for (const c of all) {
      c.closing = true;
      if (c.ws.readyState === WebSocket.OPEN) c.ws.close(CloseCode.GOING_AWAY, 'server shutting down');
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
    stats,
    close: () => (closePromise ??= close()),
  };
}

// -------------------------------------------------------------------------------- helpers

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sendMsg(ws: WebSocket, msg: ServerMessage): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(json(msg));
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
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
<li><a href="/api/items">/api/items</a> &mdash; latest items (filters: <code>source</code>, <code>ticker</code>, <code>label</code>, <code>since</code>, <code>search</code>, <code>limit</code>, <code>sort</code>, <code>order</code>)</li>
<li><a href="/api/tickers">/api/tickers</a> &mdash; most mentioned tickers (<code>since</code>, <code>limit</code>, <code>sort</code>, <code>order</code>)</li>
<li><code>/api/series?ticker=AAPL&amp;bucket=1h</code> &mdash; a ticker's (or <code>source</code>'s) counts and sentiment per bucket</li>
<li><a href="/api/alerts">/api/alerts</a> &mdash; alerts (<code>since</code>, <code>ticker</code>, <code>rule</code>, <code>kind</code>, <code>limit</code>)</li>
<li>JSON by default, <code>?format=csv</code> for CSV</li>
<li><code>/ws</code> &mdash; live WebSocket stream (<code>?since=SEQ</code> to resume)</li>
</ul>
</body>
</html>
`;
