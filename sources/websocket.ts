/**
 * WebSocket stream source: connects to an upstream news stream (ws 8 client), optionally sends a
 * subscribe message on every open, and turns JSON messages into items with the same dot-path
 * mapping as the `json` source (workers/jsonMap.ts). Runs until ctx.signal aborts; never errors
 * its observable.
 *
 * - **Security / limits.** ws:// and wss:// only; the SSRF policy of the HTTP sources applies
 *   (IP literals checked before connecting, host names through the guarded `lookup`, so the
 *   address checked is the address connected to; no redirects are followed). Incoming messages
 *   are capped at `maxPayloadBytes` (ws closes the connection with 1009 above it →
 *   WS_MESSAGE_TOO_LARGE). The opening handshake takes a per-host budget slot and must finish
 *   within `connectTimeoutMs`.
 * - **Parsing** happens on the source's worker thread (ctx.parseJsonMessages): the main thread
 *   only receives frames. A batch of raw messages goes to the worker as one transferred buffer.
 * - **Micro-batching.** Received messages are emitted as one PollResult once `batchSize`
 *   messages are waiting or `batchWaitMs` after the first of them arrived, whichever comes first.
 *   `ctx.waitForRoom()` is awaited before each emission.
 * - **Overflow policy.** While the pipeline is full, received messages are buffered up to
 *   `maxBufferedMessages` / `maxBufferedBytes`; at that bound the source stops reading the
 *   socket (`ws.pause()`: TCP flow control pushes back on the upstream) and resumes once the
 *   buffer drains below it. Nothing is dropped (a message already inside ws's receive buffers
 *   when the pause takes effect is still buffered, so the bound is exceeded by at most that).
 *   While paused no pings are sent and no pong is expected (the pong could not be read).
 * - **Liveness.** A ping every `pingIntervalMs`; no pong within `pongTimeoutMs` → the peer is
 *   dead: the socket is terminated (WS_PEER_DEAD) and the source reconnects.
 * - **Reconnect.** After a failed connect or a lost connection the next attempt waits
 *   `reconnectDelay + random × (min(cap, reconnectDelay × 2ⁿ) − reconnectDelay)` (n = failures in
 *   a row, cap = max(reconnectDelay, maxReconnectDelay)): jittered, exponential, capped. n resets
 *   once a connection stayed open `stableAfterMs` (30 s), so a server that accepts and drops at
 *   once still backs off. Items the upstream resends after a reconnect are deduplicated by guid
 *   downstream.
 * - **Reporting.** Each failure emits `{ items: [], state: { consecutiveErrors: n, lastError,
 *   nextPollAt: <reconnect time> }, error }` after the items received before it. The first open
 *   (and a connection becoming stable after failures) emits an empty `{ consecutiveErrors: 0,
 *   lastError: null }` result so /healthz shows the source as ok. Invalid messages (not JSON;
 *   the items path leading to a scalar) are skipped: the batch carries `error` (JSON_PARSE_FAILED /
 *   JSON_MAPPING_FAILED) with its good items. Messages without items (no title; with `items`
 *   set, the path absent: acks, heartbeats) are counted and logged at debug level only.
 * - **Shutdown.** On abort the socket is closed (1001, terminated after 1 s) and messages already
 *   received are emitted if the pipeline takes them within 2 s (else logged as dropped).
 */
import { Observable } from 'rxjs';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import { TickerpulseError, type ErrorCode } from '../src/lib/errors.js';
import type { PollResult } from '../src/lib/types.js';
import { makeMapping, mapJsonMessages, type JsonMessagesResult, type MapMeta } from '../workers/jsonMap.js';
import type { Release } from './hostBudget.js';
import { backoffDelayMs, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_USER_AGENT, describeNetworkError } from './httpFetch.js';
import { codeOf, messageOf } from './poller.js';
import { bareHost, checkUrlTarget, guardedLookup, ssrfBlocked, type SsrfPolicy } from './ssrf.js';
import { ABORTED, linkedAbort, realClock, sleepUnlessAborted, untilAborted, type SourceContext, type WebSocketSourceConfig } from './types.js';

export const DEFAULT_RECONNECT_DELAY_MS = 1000;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 60_000;
export const DEFAULT_PING_INTERVAL_MS = 30_000;
export const DEFAULT_PONG_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_BATCH_SIZE = 64;
export const DEFAULT_BATCH_WAIT_MS = 250;
export const DEFAULT_MAX_BUFFERED_MESSAGES = 1000;
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** A connection open this long resets the reconnect backoff. */
export const STABLE_CONNECTION_MS = 30_000;
/** At shutdown, how long already-received messages wait for room in the pipeline. */
const SHUTDOWN_FLUSH_MS = 2000;
/** How long a closing socket may take before it is terminated. */
const CLOSE_GRACE_MS = 1000;
/** Tries to parse one batch on the worker (a crashed worker is replaced by the pool). */
const PARSE_ATTEMPTS = 3;

/** ws:// / wss:// only, and an IP literal must pass the SSRF policy (names are checked at lookup). */
export function checkWsTarget(url: URL, policy: SsrfPolicy): void {
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw ssrfBlocked(url.href, `scheme ${url.protocol} is not ws or wss`);
  checkUrlTarget(new URL(httpFormOf(url)), policy);
}

/** ws://h/p → http://h/p, wss:// → https:// (the base of relative item links, and the SSRF check). */
function httpFormOf(url: URL): string {
  return url.href.replace(/^ws(s?):/, 'http$1:');
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

interface Outcome {
  code: ErrorCode;
  message: string;
  opened: boolean;
}

export function websocketSource(cfg: WebSocketSourceConfig, ctx: SourceContext): Observable<PollResult> {
  const mapping = makeMapping(cfg.items, cfg.fields);
  const reconnectDelayMs = Math.max(1, cfg.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS);
  const maxReconnectDelayMs = cfg.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  const pingIntervalMs = Math.max(1, cfg.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
  const pongTimeoutMs = Math.max(1, cfg.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS);
  const maxPayload = cfg.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const batchSize = Math.max(1, Math.floor(cfg.batchSize ?? DEFAULT_BATCH_SIZE));
  const batchWaitMs = Math.max(0, cfg.batchWaitMs ?? DEFAULT_BATCH_WAIT_MS);
  const maxBufferedMessages = Math.max(batchSize, cfg.maxBufferedMessages ?? DEFAULT_MAX_BUFFERED_MESSAGES);
  const maxBufferedBytes = Math.max(maxPayload, cfg.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
  const stableAfterMs = cfg.stableAfterMs ?? STABLE_CONNECTION_MS;
  const connectTimeoutMs = cfg.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const policy: SsrfPolicy = { allowPrivateNetworks: cfg.allowPrivateNetworks ?? false };
  const lookup = guardedLookup(policy, cfg.lookup);
  const parseMessages = ctx.parseJsonMessages
    ? ctx.parseJsonMessages.bind(ctx)
    : async (messages: readonly Uint8Array[], meta: MapMeta, m: typeof mapping): Promise<JsonMessagesResult> => mapJsonMessages(messages, m, meta);

  return new Observable<PollResult>((subscriber) => {
    const stop = linkedAbort(ctx.signal);
    const signal = stop.signal;
    const log = ctx.log;
    const clock = ctx.clock ?? realClock;
    const random = ctx.random ?? Math.random;
    const sourceId = cfg.id;
    let baseUrl: string | null = null;
    try {
      baseUrl = httpFormOf(new URL(cfg.url));
    } catch {
      // reported by the first connect attempt
    }

    /** Failures in a row: the reconnect backoff exponent (seeded from the persisted state). */
    let failures = ctx.state?.consecutiveErrors ?? 0;
    const totals = { messages: 0, items: 0, skipped: 0, ignored: 0, invalid: 0, connects: 0 };

    // ---------------------------------------------------------------------------------------
    // Emission: one promise chain, so batches and status results leave in arrival order.
    // ---------------------------------------------------------------------------------------
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (task: () => Promise<void>): Promise<void> => {
      chain = chain.then(task).catch((err: unknown) => log.error({ sourceId, err: messageOf(err) }, 'websocket emission failed'));
      return chain;
    };

    /** Room in the pipeline; during shutdown only a short grace period. */
    async function room(): Promise<boolean> {
      const p = ctx.waitForRoom();
      if (!signal.aborted && (await untilAborted(p, signal)) !== ABORTED) return true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), SHUTDOWN_FLUSH_MS)));
      try {
        return await Promise.race([p.then(() => true), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }

    async function emit(result: PollResult, what: string): Promise<void> {
      if (!(await room())) {
        log.warn({ sourceId, items: result.items.length, what }, 'shutting down with a full pipeline: received items dropped');
        return;
      }
      if (!subscriber.closed) subscriber.next(result);
    }

    function enqueueStatus(result: PollResult): void {
      void enqueue(async () => {
        if (!signal.aborted) await emit(result, 'status');
      });
    }

    // ---------------------------------------------------------------------------------------
    // Buffer of received messages, micro-batches, flow control.
    // ---------------------------------------------------------------------------------------
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let batchTimer: NodeJS.Timeout | null = null;
    let flushQueued = false;
    let paused = false;
    let conn: { pause(): void; resume(): void } | null = null;

    function updateFlow(): void {
      const over = pending.length >= maxBufferedMessages || pendingBytes >= maxBufferedBytes;
      if (over && !paused) {
        paused = true;
        conn?.pause();
        log.warn({ sourceId, bufferedMessages: pending.length, bufferedBytes: pendingBytes }, 'pipeline full: pausing reads from the WebSocket');
      } else if (!over && paused) {
        paused = false;
        conn?.resume();
        log.info({ sourceId, bufferedMessages: pending.length }, 'resuming reads from the WebSocket');
      }
    }

    function takeBatch(): Buffer[] {
      const batch = pending.splice(0, batchSize);
      for (const b of batch) pendingBytes -= b.length;
      if (pending.length === 0) pending = [];
      updateFlow();
      return batch;
    }

    function armTimer(): void {
      if (pending.length > 0 && !batchTimer && !flushQueued) batchTimer = setTimeout(requestFlush, batchWaitMs);
    }

    function clearBatchTimer(): void {
      if (batchTimer) clearTimeout(batchTimer);
      batchTimer = null;
    }

    /** Emit the waiting messages: the first batch whatever its size (the timer fired or it is full), then only full ones. */
    function requestFlush(): void {
      clearBatchTimer();
      if (flushQueued) return;
      flushQueued = true;
      void enqueue(async () => {
        flushQueued = false;
        let first = true;
        while (pending.length > 0 && (first || pending.length >= batchSize)) {
          first = false;
          await emitBatch(takeBatch());
        }
        armTimer();
      });
    }

    /** Emit everything waiting (a connection ended, or shutdown). */
    function flushAll(): Promise<void> {
      clearBatchTimer();
      return enqueue(async () => {
        while (pending.length > 0) await emitBatch(takeBatch());
      });
    }

    function onMessage(data: RawData): void {
      if (signal.aborted) return;
      const buf = toBuffer(data);
      totals.messages++;
      pending.push(buf);
      pendingBytes += buf.length;
      updateFlow();
      if (pending.length >= batchSize) requestFlush();
      else armTimer();
    }

    async function emitBatch(batch: Buffer[]): Promise<void> {
      if (batch.length === 0) return;
      const fetchedAt = new Date(clock.now()).toISOString();
      let parsed: JsonMessagesResult | null = null;
      let lastErr: unknown = null;
      for (let attempt = 1; attempt <= PARSE_ATTEMPTS && !parsed; attempt++) {
        try {
          parsed = await parseMessages(batch, { url: baseUrl, fetchedAt }, mapping);
        } catch (err) {
          lastErr = err;
          if (attempt < PARSE_ATTEMPTS) await sleepUnlessAborted(100 * attempt, new AbortController().signal);
        }
      }
      let result: PollResult;
      if (!parsed) {
        const code = codeOf(lastErr);
        const message = `${batch.length} received message(s) lost: parsing failed ${PARSE_ATTEMPTS} times: ${messageOf(lastErr)}`;
        log.error({ sourceId, code, lost: batch.length, err: messageOf(lastErr) }, 'websocket messages could not be parsed');
        result = { sourceId, items: [], state: { lastPollAt: fetchedAt, consecutiveErrors: failures, lastError: code }, error: { code, message } };
      } else {
        totals.items += parsed.items.length;
        totals.skipped += parsed.skipped;
        totals.ignored += parsed.ignored;
        totals.invalid += parsed.invalid;
        log.debug({ sourceId, messages: batch.length, items: parsed.items.length, skipped: parsed.skipped, ignored: parsed.ignored, invalid: parsed.invalid }, 'websocket batch');
        // Only control messages (acks, heartbeats): nothing to store.
        if (parsed.items.length === 0 && parsed.invalid === 0) return;
        result = { sourceId, items: parsed.items, state: { lastPollAt: fetchedAt, consecutiveErrors: failures } };
        if (parsed.invalid > 0 && parsed.firstInvalid) {
          const { code, message } = parsed.firstInvalid;
          result.state.lastError = code;
          result.error = { code, message: `${parsed.invalid} of ${batch.length} message(s) invalid; first: ${message}` };
          if (totals.invalid <= 10 || totals.invalid % 1000 === 0) log.warn({ sourceId, invalid: parsed.invalid, totalInvalid: totals.invalid, code, first: message }, 'invalid websocket messages skipped');
        }
      }
      await emit(result, 'batch');
    }

    // ---------------------------------------------------------------------------------------
    // One connection: resolves with how it ended, or null on shutdown.
    // ---------------------------------------------------------------------------------------
    async function connectOnce(): Promise<Outcome | null> {
      let url: URL;
      try {
        url = new URL(cfg.url);
        checkWsTarget(url, policy);
      } catch (err) {
        return { code: err instanceof TickerpulseError ? err.code : 'WS_CONNECT_FAILED', message: `cannot connect to ${cfg.url}: ${messageOf(err)}`, opened: false };
      }
      let release: Release = () => undefined;
      if (ctx.hostBudget) {
        try {
          release = await ctx.hostBudget.acquire(bareHost(url.hostname), signal);
        } catch (err) {
          if (signal.aborted) return null;
          throw err;
        }
      }
      if (signal.aborted) {
        release();
        return null;
      }

      return new Promise<Outcome | null>((resolve) => {
        let opened = false;
        let failure: Outcome | null = null;
        let deadPeer = false;
        let settled = false;
        let heartbeat: NodeJS.Timeout | null = null;
        let pongTimer: NodeJS.Timeout | null = null;
        let stableTimer: NodeJS.Timeout | null = null;
        let ws: WebSocket;

        const clearPong = () => {
          if (pongTimer) clearTimeout(pongTimer);
          pongTimer = null;
        };
        const cleanup = () => {
          if (heartbeat) clearInterval(heartbeat);
          if (stableTimer) clearTimeout(stableTimer);
          clearPong();
          heartbeat = stableTimer = null;
          release();
          signal.removeEventListener('abort', onAbort);
          if (conn === handle) conn = null;
        };
        const settle = (o: Outcome | null) => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve(o);
        };
        const onAbort = () => {
          try {
            ws.close(1001, 'going away');
          } catch {
            // not open yet: close() aborts the handshake
          }
          setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
          settle(null);
        };
        const handle = {
          pause: () => {
            ws.pause();
            clearPong(); // a pong cannot be read while paused
          },
          resume: () => ws.resume(),
        };

        try {
          const options = {
            headers: { 'user-agent': cfg.userAgent ?? DEFAULT_USER_AGENT },
            handshakeTimeout: connectTimeoutMs,
            maxPayload,
            followRedirects: false,
            lookup,
          } as ClientOptions;
          ws = new WebSocket(url, options);
        } catch (err) {
          settle({ code: 'WS_CONNECT_FAILED', message: `cannot connect to ${cfg.url}: ${messageOf(err)}`, opened: false });
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });

        ws.on('open', () => {
          opened = true;
          release();
          conn = handle;
          totals.connects++;
          log.info({ sourceId, url: cfg.url, reconnects: totals.connects - 1 }, 'websocket connected');
          if (cfg.subscribe !== undefined) {
            ws.send(JSON.stringify(cfg.subscribe), (err) => {
              if (err) log.warn({ sourceId, err: err.message }, 'could not send the subscribe message');
            });
          }
          if (paused) handle.pause();
          heartbeat = setInterval(() => {
            if (paused || pongTimer || ws.readyState !== WebSocket.OPEN) return;
            ws.ping();
            pongTimer = setTimeout(() => {
              deadPeer = true;
              log.warn({ sourceId, pongTimeoutMs }, 'no pong from the WebSocket peer: terminating the connection');
              ws.terminate();
            }, pongTimeoutMs);
          }, pingIntervalMs);
          const becameStable = () => {
            failures = 0;
            enqueueStatus({ sourceId, items: [], state: { lastPollAt: new Date(clock.now()).toISOString(), nextPollAt: null, consecutiveErrors: 0, lastError: null } });
          };
          if (failures === 0) becameStable();
          else
            stableTimer = setTimeout(() => {
              stableTimer = null;
              if (failures > 0) {
                log.info({ sourceId, after: failures }, 'websocket connection stable: backoff reset');
                becameStable();
              }
            }, stableAfterMs);
        });
        ws.on('message', onMessage);
        ws.on('pong', clearPong);
        ws.on('error', (err: Error & { code?: string }) => {
          if (failure) return;
          if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
            failure = { code: 'WS_MESSAGE_TOO_LARGE', message: `a message from ${cfg.url} exceeded maxPayload (${maxPayload} bytes): connection closed (1009)`, opened };
          } else {
            // SSRF_BLOCKED from the guarded lookup keeps its code; socket and protocol errors get ours.
            failure = {
              code: err instanceof TickerpulseError ? err.code : opened ? 'WS_CONNECTION_LOST' : 'WS_CONNECT_FAILED',
              message: opened ? `connection to ${cfg.url} failed: ${describeNetworkError(err)}` : `cannot connect to ${cfg.url}: ${describeNetworkError(err)}`,
              opened,
            };
          }
        });
        ws.on('close', (code: number, reason: Buffer) => {
          if (signal.aborted) return settle(null);
          if (deadPeer) return settle({ code: 'WS_PEER_DEAD', message: `no pong from ${cfg.url} within ${pongTimeoutMs} ms of a ping: connection terminated`, opened });
          const why = `code ${code}${reason.length ? `: ${reason.toString('utf8').slice(0, 200)}` : ''}`;
          settle(failure ?? { code: opened ? 'WS_CONNECTION_LOST' : 'WS_CONNECT_FAILED', message: `connection to ${cfg.url} closed (${why})`, opened });
        });
      });
    }

    async function run(): Promise<void> {
      for (;;) {
        if (signal.aborted) break;
        const outcome = await connectOnce();
        if (outcome === null || signal.aborted) break;
        failures++;
        const delay = backoffDelayMs(reconnectDelayMs, failures, null, random, maxReconnectDelayMs);
        const now = clock.now();
        const nextPollAt = new Date(now + delay).toISOString();
        log.warn({ sourceId, code: outcome.code, err: outcome.message, consecutiveErrors: failures, reconnectInMs: delay }, outcome.opened ? 'websocket connection lost' : 'websocket connect failed');
        void flushAll();
        enqueueStatus({
          sourceId,
          items: [],
          state: { lastPollAt: new Date(now).toISOString(), nextPollAt, consecutiveErrors: failures, lastError: outcome.code },
          error: { code: outcome.code, message: outcome.message },
        });
        if (!(await clock.sleep(delay, signal))) break;
      }
      // Shutdown: what was already received goes out if the pipeline takes it.
      await flushAll();
      log.info({ sourceId, ...totals }, 'websocket source stopped');
    }

    run()
      .catch((err: unknown) => log.error({ sourceId, err: messageOf(err) }, 'websocket source loop crashed'))
      .finally(() => {
        clearBatchTimer();
        stop.dispose();
        if (!subscriber.closed) subscriber.complete();
      });

    return () => stop.abort();
  });
}

