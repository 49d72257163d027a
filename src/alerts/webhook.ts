/**
 * Webhook delivery of alerts: POSTs JSON payloads to one URL from a bounded in-memory queue, with
 * retries, without ever blocking or throwing into the caller (ingestion).
 *
 * - `deliver(payload)` serializes the payload at once (so later mutation cannot change what is
 *   sent) and enqueues it; it returns immediately and never throws.
 * - One request at a time, in order (gentle on the receiver, and alerts arrive in the order they
 *   were raised). The queue holds at most `maxQueue` payloads waiting besides the one in flight.
 *   **Overflow policy: the oldest waiting payload is dropped** (the newest alerts are the most
 *   useful); `onFailed(payload, { reason: 'dropped' })` is called for it, and a warning with the
 *   number dropped is logged — at most once per 10 s, with the count accumulated since the last.
 * - A POST has `content-type: application/json`, the configured headers, a deadline of
 *   `timeoutMs` (its own timer aborting the request; see post()) and does not follow redirects
 *   (a 3xx is a rejection).
 * - 2xx: delivered (`onDelivered`). Network error, timeout, 408, 429 or 5xx: retried up to
 *   `maxAttempts` tries in all, after exponential backoff with full jitter
 *   (random(0, min(maxBackoffMs, backoffMs · 2^(n−1)))); a Retry-After (seconds or HTTP date) is
 *   honoured as a lower bound, capped at `maxBackoffMs`. Any other 4xx: not retried (the request
 *   itself is wrong; trying again cannot help). Either way a final failure calls `onFailed` and
 *   logs a warning.
 * - `close(timeoutMs)`: no new payloads are accepted; what is queued keeps being delivered
 *   (retries included) until the queue is empty or the deadline passes; then the request in
 *   flight is aborted and what is left is failed with reason 'closed'. Pending work (a backoff
 *   timer) keeps the process alive, as a request in flight does: call close() to stop.
 * - Logs never contain header values or the URL's query string (either may hold a secret);
 *   `describe()` gives a loggable view of the configuration.
 */
import { TickerpulseError } from '../lib/errors.js';

/** The slice of a pino logger this module uses. */
export interface WebhookLog {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface DeliveryInfo {
  /** Tries it took (1 = first try). */
  attempts: number;
  status: number;
}

export interface DeliveryFailure {
  /**
   * rejected: a non-retryable response (4xx other than 408/429, or a redirect);
   * exhausted: maxAttempts tries failed with retryable errors;
   * dropped: pushed out of a full queue; closed: not delivered before close();
   * unserializable: JSON.stringify failed.
   */
  reason: 'rejected' | 'exhausted' | 'dropped' | 'closed' | 'unserializable';
  attempts: number;
  /** HTTP status of the last response, null if there was none. */
  status: number | null;
  message: string;
}

export interface WebhookOptions {
  /** http:// or https:// URL, without credentials (put those in a header). */
  url: string;
  headers?: Record<string, string>;
  /** Deadline of one POST. */
  timeoutMs: number;
  /** Tries per payload, ≥ 1. */
  maxAttempts: number;
  /** Payloads that may wait (besides the one in flight). */
  maxQueue: number;
  /** First retry delay before jitter (default 1000). */
  backoffMs?: number;
  /** Cap of the backoff and of Retry-After (default 60000). */
  maxBackoffMs?: number;
  log: WebhookLog;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** In [0, 1); default Math.random (tests make jitter deterministic). */
  random?: () => number;
  onDelivered?: (payload: object, info: DeliveryInfo) => void;
  onFailed?: (payload: object, failure: DeliveryFailure) => void;
}

export interface WebhookStats {
  pending: number;
  inFlight: boolean;
  delivered: number;
  failed: number;
  dropped: number;
}

interface Entry {
  payload: object;
  body: string;
}

const DROP_LOG_INTERVAL_MS = 10_000;

/** Header values never leave this module; for logs: names only. */
export function redactHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers ?? {})) out[name] = '[redacted]';
  return out;
}

/** origin + path: no credentials, no query (tokens often travel there), no fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?[redacted]' : ''}`;
  } catch {
    return '[invalid url]';
  }
}

/** Retry-After: delay-seconds or an HTTP date → ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export class WebhookDelivery {
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly maxQueue: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly log: WebhookLog;
  private readonly fetchImpl: typeof fetch;
  private readonly random: () => number;
  private readonly onDelivered?: WebhookOptions['onDelivered'];
  private readonly onFailed?: WebhookOptions['onFailed'];

  /** Ring buffer of waiting entries. */
  private ring: (Entry | undefined)[];
  private head = 0;
  private size = 0;
  private inFlight = false;
  private running: Promise<void> | null = null;
  private closed = false;
  /** Aborted when close()'s deadline passes: the request in flight and any backoff sleep end. */
  private readonly stop = new AbortController();
  private delivered = 0;
  private failed = 0;
  private dropped = 0;
  private droppedUnlogged = 0;
  private lastDropLog = -Infinity;

  constructor(opts: WebhookOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new TickerpulseError('CONFIG_INVALID', 'webhook url is not a valid URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TickerpulseError('CONFIG_INVALID', `webhook url must be http:// or https://, got ${u.protocol}`);
    if (u.username || u.password) throw new TickerpulseError('CONFIG_INVALID', 'webhook url must not contain credentials: put them in a header (e.g. authorization)');
    for (const [name, n] of [
      ['timeoutMs', opts.timeoutMs],
      ['maxAttempts', opts.maxAttempts],
      ['maxQueue', opts.maxQueue],
    ] as const) {
      if (!Number.isFinite(n) || n < 1) throw new TickerpulseError('CONFIG_INVALID', `webhook ${name} must be ≥ 1, got ${String(n)}`);
    }
    this.url = u.href;
    this.safeUrl = redactUrl(u.href);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      const lower = k.toLowerCase();
      if (lower !== 'content-type' && lower !== 'content-length') headers[k] = v;
    }
    headers['content-type'] = 'application/json';
    this.headers = headers;
    this.timeoutMs = opts.timeoutMs;
    this.maxAttempts = Math.floor(opts.maxAttempts);
    this.maxQueue = Math.floor(opts.maxQueue);
    this.backoffMs = opts.backoffMs ?? 1000;
    this.maxBackoffMs = Math.max(opts.maxBackoffMs ?? 60_000, this.backoffMs);
    this.log = opts.log;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.random = opts.random ?? Math.random;
    this.onDelivered = opts.onDelivered;
    this.onFailed = opts.onFailed;
    this.ring = new Array<Entry | undefined>(Math.min(this.maxQueue, 1024));
  }

  /** For a start-up log line: the URL without query or credentials, header names only. */
  describe(): { url: string; headers: Record<string, string>; timeoutMs: number; maxAttempts: number; maxQueue: number } {
    const { 'content-type': _ct, ...user } = this.headers;
    return { url: this.safeUrl, headers: redactHeaders(user), timeoutMs: this.timeoutMs, maxAttempts: this.maxAttempts, maxQueue: this.maxQueue };
  }

  stats(): WebhookStats {
    return { pending: this.size, inFlight: this.inFlight, delivered: this.delivered, failed: this.failed, dropped: this.dropped };
  }

  /** Enqueues a payload for delivery. Never blocks, never throws. */
  deliver(payload: object): void {
    try {
      if (this.closed) {
        this.fail(payload, { reason: 'closed', attempts: 0, status: null, message: 'webhook delivery is closed' });
        return;
      }
      let body: string | undefined;
      try {
        body = JSON.stringify(payload);
      } catch (err) {
        body = undefined;
        this.log.error({ url: this.safeUrl, err: (err as Error).message }, 'webhook payload cannot be serialized to JSON');
      }
      if (body === undefined) {
        this.fail(payload, { reason: 'unserializable', attempts: 0, status: null, message: 'payload is not JSON-serializable' });
        return;
      }
      this.push({ payload, body });
      if (this.running === null) this.running = this.drain();
    } catch (err) {
      // Defensive: nothing above should throw, but ingestion must never see it if it does.
      try {
        this.log.error({ url: this.safeUrl, err: (err as Error)?.message }, 'webhook deliver failed unexpectedly');
      } catch {
        /* a throwing logger: nothing left to tell */
      }
    }
  }

  /**
   * Stops accepting payloads and delivers what is queued until done or `timeoutMs` passes; then
   * aborts and fails the rest ('closed'). Resolves with the final stats; never rejects.
   */
  async close(timeoutMs = 5000): Promise<WebhookStats> {
    this.closed = true;
    if (this.running !== null) {
      const timer = setTimeout(() => this.stop.abort(), Math.max(0, timeoutMs));
      try {
        await this.running;
      } finally {
        clearTimeout(timer);
      }
    }
    this.stop.abort();
    this.flushDropLog(true);
    return this.stats();
  }

  private push(e: Entry): void {
    if (this.size === this.maxQueue) {
      const old = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.size--;
      this.dropped++;
      this.droppedUnlogged++;
      this.flushDropLog(false);
      this.fail(old.payload, { reason: 'dropped', attempts: 0, status: null, message: `webhook queue full (${this.maxQueue}): oldest payload dropped` });
    }
    if (this.size === this.ring.length) {
      // Grow (up to maxQueue), unrolling the ring.
      const bigger = new Array<Entry | undefined>(Math.min(this.maxQueue, this.ring.length * 2));
      for (let k = 0; k < this.size; k++) bigger[k] = this.ring[(this.head + k) % this.ring.length];
      this.ring = bigger;
      this.head = 0;
    }
    this.ring[(this.head + this.size) % this.ring.length] = e;
    this.size++;
  }

  private shift(): Entry | undefined {
    if (this.size === 0) return undefined;
    const e = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    return e;
  }

  private flushDropLog(force: boolean): void {
    if (this.droppedUnlogged === 0) return;
    const now = Date.now();
    if (!force && now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.lastDropLog = now;
    this.log.warn(
      { url: this.safeUrl, dropped: this.droppedUnlogged, droppedTotal: this.dropped, maxQueue: this.maxQueue },
      `webhook queue full: dropped the ${this.droppedUnlogged} oldest alert(s)`,
    );
    this.droppedUnlogged = 0;
  }

  private async drain(): Promise<void> {
    try {
      for (let e = this.shift(); e !== undefined; e = this.shift()) {
        this.inFlight = true;
        try {
          await this.send(e);
        } catch (err) {
          this.log.error({ url: this.safeUrl, err: (err as Error)?.message }, 'webhook delivery failed unexpectedly');
        }
        this.inFlight = false;
      }
    } finally {
      this.inFlight = false;
      this.running = null;
    }
  }

  private async send(e: Entry): Promise<void> {
    let status: number | null = null;
    let message = '';
    for (let attempt = 1; ; attempt++) {
      if (this.stop.signal.aborted) {
        this.fail(e.payload, { reason: 'closed', attempts: attempt - 1, status, message: 'not delivered before shutdown' });
        return;
      }
      let retryable: boolean;
      let retryAfter: number | null = null;
      const r = await this.post(e.body);
      if (r.kind === 'stopped') {
        this.fail(e.payload, { reason: 'closed', attempts: attempt, status, message: 'aborted at shutdown' });
        return;
      }
      if (r.kind === 'response') {
        const res = r.res;
        status = res.status;
        if (res.status >= 200 && res.status < 300) {
          this.delivered++;
          this.call(() => this.onDelivered?.(e.payload, { attempts: attempt, status: res.status }));
          return;
        }
        retryable = res.status >= 500 || res.status === 429 || res.status === 408;
        retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        message = res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirects are not followed)` : `HTTP ${res.status}`;
      } else {
        status = null;
        retryable = true;
        message = r.kind === 'error' ? r.message : `timed out after ${this.timeoutMs} ms`;
      }
      if (!retryable) {
        this.log.warn({ url: this.safeUrl, status, attempts: attempt }, `webhook rejected the alert (${message}); not retried`);
        this.fail(e.payload, { reason: 'rejected', attempts: attempt, status, message });
        return;
      }
      if (attempt >= this.maxAttempts) {
        this.log.warn({ url: this.safeUrl, status, attempts: attempt }, `webhook delivery failed after ${attempt} attempt(s): ${message}`);
        this.fail(e.payload, { reason: 'exhausted', attempts: attempt, status, message });
        return;
      }
      let delay = Math.floor(this.random() * Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1)));
      if (retryAfter !== null) delay = Math.max(delay, Math.min(retryAfter, this.maxBackoffMs));
      this.log.debug({ url: this.safeUrl, status, attempt, delayMs: delay }, `webhook attempt failed (${message}); retrying`);
      await sleep(delay, this.stop.signal);
    }
  }

  /**
   * One POST, bounded by timeoutMs and by close()'s deadline. The deadline is our own ref'd timer
   * racing the request, not AbortSignal.timeout: combined with the close signal through
   * AbortSignal.any, the timeout signal can be garbage-collected before it fires (Node 20;
   * nodejs/node#57736), leaving a POST to a silent receiver hanging until the server gives up
   * (5 min for a Node server) — it happened intermittently in this module's tests, and always
   * with a gc() during the request. The controller is still aborted, so the socket is released.
   */
  private async post(body: string): Promise<{ kind: 'response'; res: Response } | { kind: 'timeout' | 'stopped' } | { kind: 'error'; message: string }> {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStop: (() => void) | undefined;
    const deadline = new Promise<{ kind: 'timeout' | 'stopped' }>((resolve) => {
      timer = setTimeout(() => {
        ac.abort(new DOMException(`timed out after ${this.timeoutMs} ms`, 'TimeoutError'));
        resolve({ kind: 'timeout' });
      }, this.timeoutMs);
      onStop = () => {
        ac.abort(new DOMException('webhook delivery closed', 'AbortError'));
        resolve({ kind: 'stopped' });
      };
      if (this.stop.signal.aborted) onStop();
      else this.stop.signal.addEventListener('abort', onStop, { once: true });
    });
    const request = (async () => {
      const res = await this.fetchImpl(this.url, { method: 'POST', headers: this.headers, body, redirect: 'manual', signal: ac.signal });
      // The body is not needed; cancelling it frees the connection.
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'response' as const, res };
    })().catch((err: unknown) => {
      const cause = (err as { cause?: { code?: string } })?.cause?.code;
      return { kind: 'error' as const, message: String(cause ?? (err as Error)?.message ?? err) };
    });
    try {
      const first = await Promise.race([request, deadline]);
      // A request that lost the race because of an abort reports as the abort.
      if (first.kind === 'error' && ac.signal.aborted) return { kind: this.stop.signal.aborted ? 'stopped' : 'timeout' };
      return first;
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop!);
    }
  }

  private fail(payload: object, failure: DeliveryFailure): void {
    this.failed++;
    this.call(() => this.onFailed?.(payload, failure));
  }

  /** Runs a user callback; what it throws is logged, never propagated. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.log.error({ url: this.safeUrl, err: (err as Error)?.message }, 'webhook callback threw');
      } catch {
        /* ignore */
      }
    }
  }
}

/** Resolves after ms, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
