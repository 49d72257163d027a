/**
 * One HTTP GET of a feed with the built-in fetch: a total deadline, a body-size limit counted
 * while streaming (after decompression, so a gzip bomb stops at the limit), conditional GET,
 * and every failure as a TickerpulseError with a stable code. No decoding here: the raw bytes
 * and the Content-Type go to the worker, which knows about charsets.
 */
import { TickerpulseError } from '../src/lib/errors.js';
import type { HttpLimits } from './types.js';

export const DEFAULT_USER_AGENT = 'tickerpulse/0.1 (self-hosted news sentiment monitor)';
const ACCEPT = 'application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5';
/** Retry-After values above this are ignored (a misconfigured server should not park a source for days). */
const MAX_RETRY_AFTER_MS = 6 * 60 * 60 * 1000;

export interface FetchFeedOptions {
  limits: HttpLimits;
  userAgent?: string;
  /** Sent as If-None-Match. */
  etag?: string | null;
  /** Sent as If-Modified-Since. */
  lastModified?: string | null;
  /** Caller cancellation (shutdown). An aborted request rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface FetchFeedResult {
  status: number;
  /** True for 304 Not Modified: `body` is then empty. */
  notModified: boolean;
  body: Uint8Array;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  /** Final URL after redirects. */
  url: string;
}

/**
 * GET `url`. Rejects with TickerpulseError:
 * FEED_TIMEOUT (retryable) when the whole exchange exceeds limits.timeoutMs;
 * FEED_TOO_LARGE when the (decompressed) body exceeds limits.maxBodyBytes;
 * FEED_HTTP_ERROR for status ≥ 400 (details.status; retryable for 5xx and 429; details.retryAfterMs when sent);
 * FEED_FETCH_FAILED (retryable) for DNS/connect/TLS/reset errors.
 * When `opts.signal` aborts, rejects with `signal.reason` (callers check `signal.aborted`).
 */
export async function fetchFeed(url: string, opts: FetchFeedOptions): Promise<FetchFeedResult> {
  const { timeoutMs, maxBodyBytes } = opts.limits;
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new TickerpulseError('FEED_TIMEOUT', `no complete response within ${timeoutMs} ms`, { retryable: true }));
  }, timeoutMs);
  const onAbort = () => ctl.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });

  const fail = (err: unknown): never => {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    if (timedOut) throw new TickerpulseError('FEED_TIMEOUT', `no complete response from ${url} within ${timeoutMs} ms`, { retryable: true, cause: err });
    if (err instanceof TickerpulseError) throw err;
    throw new TickerpulseError('FEED_FETCH_FAILED', `fetching ${url} failed: ${describeNetworkError(err)}`, { retryable: true, cause: err });
  };

  try {
    const headers: Record<string, string> = {
      'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT,
      accept: ACCEPT,
    };
    if (opts.etag) headers['if-none-match'] = opts.etag;
    if (opts.lastModified) headers['if-modified-since'] = opts.lastModified;

    let res: Response;
    try {
      res = await fetch(url, { headers, signal: ctl.signal, redirect: 'follow' });
    } catch (err) {
      return fail(err);
    }

    const meta = {
      status: res.status,
      contentType: res.headers.get('content-type'),
      etag: res.headers.get('etag'),
      lastModified: res.headers.get('last-modified'),
      url: res.url || url,
    };

    if (res.status === 304) {
      await res.body?.cancel().catch(() => undefined);
      return { ...meta, notModified: true, body: new Uint8Array(0) };
    }
    if (res.status >= 400) {
      await res.body?.cancel().catch(() => undefined);
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      const details: Record<string, unknown> = { status: res.status };
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      if (retryAfterMs !== null) details.retryAfterMs = retryAfterMs;
      throw new TickerpulseError('FEED_HTTP_ERROR', `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} from ${meta.url}`, { retryable, details });
    }

    // Content-Length is the encoded size: it can only reject early when there is no Content-Encoding.
    const declared = Number(res.headers.get('content-length'));
    const encoded = (res.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
    if (!encoded && Number.isFinite(declared) && declared > maxBodyBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge(url, maxBodyBytes, `Content-Length ${declared}`);
    }

    let body: Uint8Array;
    try {
      body = await readLimited(res, maxBodyBytes, url);
    } catch (err) {
      return fail(err);
    }
    return { ...meta, notModified: false, body };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function tooLarge(url: string, max: number, what: string): TickerpulseError {
  return new TickerpulseError('FEED_TOO_LARGE', `feed body from ${url} exceeds the ${max}-byte limit (${what})`, { details: { maxBodyBytes: max } });
}

async function readLimited(res: Response, max: number, url: string): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(url, max, `more than ${max} bytes after decompression`);
    }
    chunks.push(value);
  }
  // Always a fresh buffer of exactly the body's size, so the caller may transfer `body.buffer`
  // to a worker thread without dragging (or detaching) a pooled buffer.
  const only = chunks.length === 1 ? chunks[0] : null;
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** "fetch failed" hides the interesting part in `cause` (ECONNREFUSED, ENOTFOUND, certificate errors...). */
function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const o = e as { message?: string; code?: string };
    const msg = [o.code, o.message].filter(Boolean).join(' ');
    if (msg && !parts.includes(msg)) parts.push(msg);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(err);
}

/** Retry-After as delay-seconds or an HTTP date → milliseconds (null when absent/invalid). */
export function parseRetryAfter(v: string | null): number | null {
  if (!v) return null;
  const s = v.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const t = Date.parse(s);
    if (!Number.isFinite(t)) return null;
    ms = t - Date.now();
  }
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
