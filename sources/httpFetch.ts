/**
 * The polite, hardened HTTP GET every polling source shares (RSS/Atom now, JSON later): it
 * returns raw bytes plus the headers a scheduler needs, and the caller parses.
 *
 * - node:http / node:https with a guarded `lookup` (sources/ssrf.ts): the socket connects to an
 *   address that was checked after DNS resolution; IP literals are checked before connecting;
 *   every redirect hop is checked again.
 * - Redirects followed by hand (at most `maxRedirects`, default 5; http/https only).
 * - A connect timeout (name resolution + TCP + TLS) and a total deadline for the whole exchange
 *   (all hops, headers and body), so a slow-drip server cannot hold a socket.
 * - The body is streamed and counted *after* decompression (gzip, deflate — zlib-wrapped or
 *   raw —, br; stacked codings too): a decompression bomb stops at `maxBodyBytes` having
 *   buffered at most that much.
 * - Conditional GET (If-None-Match / If-Modified-Since); `Cache-Control: max-age` and
 *   `Retry-After` are reported so the caller can use them as floors on its next poll.
 * - A per-host budget slot (sources/hostBudget.ts) is held for each hop.
 * - Every failure is a TickerpulseError with a stable code (see docs/SOURCES.md).
 *
 * Also here: the poll-schedule arithmetic shared by polling sources (backoff, floors, caps).
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ClientRequest } from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { TickerpulseError } from '../src/lib/errors.js';
import { packageRoot } from '../src/lib/paths.js';
import type { HostBudget, Release } from './hostBudget.js';
import { bareHost, checkUrlTarget, guardedLookup, type HostLookup, type SsrfPolicy } from './ssrf.js';
import type { HttpLimits } from './types.js';

const VERSION: string = (() => {
  try {
    return String((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
})();

/** Sent when neither the source nor the top-level config sets `userAgent`. */
export const DEFAULT_USER_AGENT = `tickerpulse/${VERSION} (+https://github.com/tickerpulse/tickerpulse)`;
/** Defaults of the `limits` config section, repeated here for direct callers. */
export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Redirect hops followed before TOO_MANY_REDIRECTS. */
export const MAX_REDIRECTS = 5;
/**
 * Cap of every server-chosen floor on the next poll (Retry-After, Cache-Control max-age, RSS
 * `<ttl>`): a server cannot park a feed for longer than this.
 */
export const MAX_POLL_FLOOR_MS = 24 * 60 * 60 * 1000;
/** Default upper bound of the error backoff (config `limits.maxBackoff`). */
export const DEFAULT_MAX_BACKOFF_MS = 60 * 60 * 1000;
/** Stacked Content-Encodings accepted ("gzip, br" is two). */
const MAX_CODINGS = 3;

export const FEED_ACCEPT = 'application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5';
const ACCEPT_ENCODING = 'gzip, deflate, br';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface FetchFeedOptions {
  limits: HttpLimits;
  /** Default DEFAULT_USER_AGENT. */
  userAgent?: string;
  /** Accept header; default FEED_ACCEPT (a JSON source passes its own). */
  accept?: string;
  /** Sent as If-None-Match. */
  etag?: string | null;
  /** Sent as If-Modified-Since. */
  lastModified?: string | null;
  /** Caller cancellation (shutdown). An aborted request rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Allow loopback / private / link-local targets (default false → SSRF_BLOCKED). */
  allowPrivateNetworks?: boolean;
  /** Exact addresses exempt from the SSRF guard (tests). */
  trustedAddresses?: readonly string[];
  /** Name resolution (default: the system resolver). Injected by tests. */
  lookup?: HostLookup;
  /** Per-host budget: a slot is held for each hop. */
  hostBudget?: HostBudget;
  /** Default MAX_REDIRECTS. */
  maxRedirects?: number;
}

export interface FetchFeedResult {
  status: number;
  /** True for 304 Not Modified: `body` is then empty. */
  notModified: boolean;
  /** Decompressed body; a standalone Uint8Array (owns its whole ArrayBuffer), transferable to a worker. */
  body: Uint8Array;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  /** Final URL after redirects. */
  url: string;
  /** Redirect hops followed. */
  redirects: number;
  /**
   * Freshness left per `Cache-Control: max-age` (minus `Age`), in ms; null when the response
   * gives none (or says no-store / no-cache). Not capped here: see MAX_POLL_FLOOR_MS.
   */
  maxAgeMs: number | null;
}

/**
 * GET `url`. Rejects with TickerpulseError:
 * FEED_TIMEOUT (retryable) — no connection within limits.connectTimeoutMs (details.phase 'connect')
 *   or no complete response within limits.timeoutMs (details.phase 'total');
 * FEED_TOO_LARGE — body (decompressed, or raw) beyond limits.maxBodyBytes;
 * FEED_HTTP_ERROR — status ≥ 400 or an unusable redirect (details.status; retryable for 5xx,
 *   408 and 429; details.retryAfterMs when the server sent Retry-After);
 * TOO_MANY_REDIRECTS — more than maxRedirects hops;
 * SSRF_BLOCKED — the target (or a redirect target) is not a public http(s) address;
 * FEED_FETCH_FAILED (retryable) — DNS, refused connection, TLS, reset, bad compressed data.
 * When `opts.signal` aborts, rejects with `signal.reason` (callers check `signal.aborted`).
 */
export async function fetchFeed(url: string, opts: FetchFeedOptions): Promise<FetchFeedResult> {
  const { timeoutMs, maxBodyBytes } = opts.limits;
  const connectTimeoutMs = opts.limits.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxRedirects = opts.maxRedirects ?? MAX_REDIRECTS;
  const policy: SsrfPolicy = { allowPrivateNetworks: opts.allowPrivateNetworks ?? false, trustedAddresses: opts.trustedAddresses };
  const lookup = guardedLookup(policy, opts.lookup);
  const caller = opts.signal;
  if (caller?.aborted) throw caller.reason;

  const headers: Record<string, string> = {
    'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT,
    accept: opts.accept ?? FEED_ACCEPT,
    'accept-encoding': ACCEPT_ENCODING,
  };
  if (opts.etag) headers['if-none-match'] = opts.etag;
  if (opts.lastModified) headers['if-modified-since'] = opts.lastModified;

  let current: URL;
  try {
    current = new URL(url);
  } catch (err) {
    throw new TickerpulseError('FEED_FETCH_FAILED', `not a valid URL: ${url}`, { cause: err });
  }

  // The deadline covers the time spent holding host slots (all hops), not waiting for them.
  let remainingMs = timeoutMs;
  for (let redirects = 0; ; redirects++) {
    checkUrlTarget(current, policy);
    const release: Release = opts.hostBudget ? await opts.hostBudget.acquire(bareHost(current.hostname), caller) : () => undefined;
    const hop = new AbortController();
    const started = Date.now();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      hop.abort(new TickerpulseError('FEED_TIMEOUT', `no complete response from ${url} within ${timeoutMs} ms`, { retryable: true, details: { phase: 'total', timeoutMs } }));
    }, Math.max(1, remainingMs));
    const onCallerAbort = () => hop.abort(caller?.reason);
    caller?.addEventListener('abort', onCallerAbort, { once: true });
    let req: ClientRequest | null = null;
    try {
      const sent = await request(current, headers, lookup, connectTimeoutMs, hop.signal);
      req = sent.req;
      const res = sent.res;
      const status = res.statusCode ?? 0;
      const finalUrl = current.href;

      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        res.destroy();
        if (!location) throw new TickerpulseError('FEED_HTTP_ERROR', `HTTP ${status} redirect without a Location header from ${finalUrl}`, { details: { status } });
        if (redirects >= maxRedirects) {
          throw new TickerpulseError('TOO_MANY_REDIRECTS', `more than ${maxRedirects} redirects starting at ${url} (last: ${finalUrl} → ${location})`, {
            details: { maxRedirects },
          });
        }
        let next: URL;
        try {
          next = new URL(location, current);
        } catch (err) {
          throw new TickerpulseError('FEED_HTTP_ERROR', `HTTP ${status} redirect to an invalid Location ${JSON.stringify(location)}`, { details: { status }, cause: err });
        }
        next.hash = '';
        current = next;
        continue;
      }

      const meta = {
        status,
        contentType: headerOf(res, 'content-type'),
        etag: headerOf(res, 'etag'),
        lastModified: headerOf(res, 'last-modified'),
        url: finalUrl,
        redirects,
        maxAgeMs: parseMaxAge(headerOf(res, 'cache-control'), headerOf(res, 'age')),
      };
      if (status === 304) {
        res.destroy();
        return { ...meta, notModified: true, body: new Uint8Array(0) };
      }
      if (status >= 400 || (status >= 300 && status < 400)) {
        res.destroy();
        const retryable = status >= 500 || status === 429 || status === 408;
        const details: Record<string, unknown> = { status };
        const retryAfterMs = parseRetryAfter(headerOf(res, 'retry-after'));
        if (retryAfterMs !== null) details.retryAfterMs = retryAfterMs;
        throw new TickerpulseError('FEED_HTTP_ERROR', `HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''} from ${finalUrl}`, { retryable, details });
      }

      const codings = parseCodings(headerOf(res, 'content-encoding'), finalUrl);
      // Content-Length is the encoded size: it can only reject early when there is no Content-Encoding.
      const declared = Number(headerOf(res, 'content-length') ?? NaN);
      if (codings.length === 0 && Number.isFinite(declared) && declared > maxBodyBytes) {
        res.destroy();
        throw tooLarge(finalUrl, maxBodyBytes, `Content-Length ${declared}`);
      }
      const body = await readBody(res, codings, maxBodyBytes, finalUrl, hop.signal);
      return { ...meta, notModified: false, body };
    } catch (err) {
      if (caller?.aborted) throw caller.reason ?? err;
      if (timedOut) throw hop.signal.reason;
      if (err instanceof TickerpulseError) throw err;
      throw new TickerpulseError('FEED_FETCH_FAILED', `fetching ${current.href} failed: ${describeNetworkError(err)}`, { retryable: true, cause: err });
    } finally {
      clearTimeout(deadline);
      caller?.removeEventListener('abort', onCallerAbort);
      req?.destroy();
      release();
      remainingMs -= Date.now() - started;
    }
  }
}

function headerOf(res: IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** One request; resolves at the response head. The connect timer covers lookup + TCP (+ TLS). */
function request(
  url: URL,
  headers: Record<string, string>,
  lookup: ReturnType<typeof guardedLookup>,
  connectTimeoutMs: number,
  signal: AbortSignal,
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const secure = url.protocol === 'https:';
    const mod = secure ? https : http;
    let req: ClientRequest;
    try {
      // agent: false → a fresh connection per request (Connection: close), so no pooled socket
      // ever skips the guarded lookup.
      req = mod.request(url, { method: 'GET', headers, agent: false, lookup });
    } catch (err) {
      reject(err);
      return;
    }
    const connectTimer = setTimeout(() => {
      req.destroy(
        new TickerpulseError('FEED_TIMEOUT', `could not connect to ${url.host} within ${connectTimeoutMs} ms`, {
          retryable: true,
          details: { phase: 'connect', connectTimeoutMs },
        }),
      );
    }, connectTimeoutMs);
    const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
    };
    req.once('socket', (sock) => {
      sock.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    let answered = false;
    req.once('response', (res) => {
      answered = true;
      done();
      resolve({ req, res });
    });
    // Kept for the request's lifetime: a late socket error must not become an uncaught exception
    // (after the response head, failures surface on the response stream instead).
    req.on('error', (err) => {
      if (answered) return;
      done();
      reject(signal.aborted ? signal.reason : err);
    });
    req.end();
  });
}

function parseCodings(header: string | null, url: string): string[] {
  if (!header) return [];
  const list = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  for (const c of list) {
    if (!['gzip', 'x-gzip', 'deflate', 'br'].includes(c)) {
      throw new TickerpulseError('FEED_FETCH_FAILED', `unsupported Content-Encoding ${JSON.stringify(header)} from ${url}`);
    }
  }
  if (list.length > MAX_CODINGS) throw new TickerpulseError('FEED_FETCH_FAILED', `too many stacked Content-Encodings (${header}) from ${url}`);
  return list;
}

function decoderFor(coding: string, firstBytes: Buffer | null): zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress {
  if (coding === 'br') return zlib.createBrotliDecompress();
  if (coding === 'deflate') {
    // RFC 9110 "deflate" is zlib-wrapped; some servers send raw deflate. Sniff the zlib header.
    const zlibWrapped = !firstBytes || firstBytes.length < 2 || ((firstBytes[0] & 0x0f) === 8 && ((firstBytes[0] << 8) | firstBytes[1]) % 31 === 0);
    return zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
  }
  return zlib.createGunzip(); // gzip, x-gzip (multi-member bodies are read to the end)
}

function tooLarge(url: string, max: number, what: string): TickerpulseError {
  return new TickerpulseError('FEED_TOO_LARGE', `feed body from ${url} exceeds the ${max}-byte limit (${what})`, { details: { maxBodyBytes: max } });
}

const EMPTY = Buffer.alloc(0);

/**
 * Stream `res` through its decoders and collect the result, failing with FEED_TOO_LARGE as soon
 * as the raw bytes or any decoding stage passes `max`. Back-pressure is kept between stages (pipe),
 * and everything is destroyed on failure or abort, so memory stays bounded by `max` plus buffers.
 */
function readBody(res: IncomingMessage, codings: string[], max: number, url: string, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const stages: Readable[] = [res];
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;

    const finish = (err: unknown, body?: Uint8Array) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err !== null) {
        for (const s of stages) s.destroy();
        chunks.length = 0;
        reject(err);
      } else resolve(body!);
    };
    const onAbort = () => finish(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });

    const watch = (stage: Readable, name: string) => {
      let count = 0;
      stage.on('data', (c: Buffer) => {
        if (settled) return;
        count += c.length;
        if (count > max) finish(tooLarge(url, max, name === 'raw' ? `more than ${max} bytes on the wire` : `more than ${max} bytes after ${name} decoding`));
      });
      stage.on('error', (e: Error) => {
        if (settled) return;
        if (name === 'raw') finish(e);
        else finish(new TickerpulseError('FEED_FETCH_FAILED', `cannot decode the ${name}-encoded body from ${url}: ${e.message}`, { retryable: true, cause: e }));
      });
    };

    const wire = (first: Buffer | null) => {
      // Decode in reverse order of application: "gzip, br" was gzipped, then brotli'd.
      let prev: Readable = res;
      for (const coding of [...codings].reverse()) {
        const d = decoderFor(coding, prev === res ? first : null);
        stages.push(d);
        watch(d, coding);
        if (prev === res && first) d.write(first);
        prev.pipe(d);
        prev = d;
      }
      const last = prev;
      last.on('data', (c: Buffer) => {
        if (settled) return;
        total += c.length;
        if (total <= max) chunks.push(c);
      });
      last.once('end', () => {
        if (settled) return;
        // A standalone buffer of exactly the body's size, transferable to a worker thread.
        const out = new Uint8Array(total);
        let off = 0;
        for (let i = 0; i < chunks.length; i++) {
          out.set(chunks[i], off);
          off += chunks[i].length;
          // let each chunk go as soon as it is copied: the listeners keep `chunks` alive until the streams are collected
          chunks[i] = EMPTY;
        }
        chunks.length = 0;
        finish(null, out);
      });
    };

    res.once('close', () => {
      if (!settled && !res.complete) finish(new TickerpulseError('FEED_FETCH_FAILED', `connection closed before the body from ${url} was complete`, { retryable: true }));
    });
    watch(res, 'raw');

    const needsSniff = codings.length > 0 && codings[codings.length - 1] === 'deflate';
    if (!needsSniff) {
      wire(null);
      return;
    }
    // Raw vs zlib-wrapped deflate: look at the first two bytes before building the decoder.
    let head = Buffer.alloc(0);
    const onFirst = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      if (head.length < 2) return;
      res.off('data', onFirst);
      res.off('end', onEarlyEnd);
      res.pause();
      wire(head);
    };
    const onEarlyEnd = () => {
      res.off('data', onFirst);
      wire(head.length ? head : null); // pipe() from an ended stream ends the decoder on its own
    };
    res.on('data', onFirst);
    res.once('end', onEarlyEnd);
  });
}

/** "fetch failed" / socket errors: include the code (ECONNREFUSED, ENOTFOUND, certificate errors...). */
export function describeNetworkError(err: unknown): string {
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

/** Retry-After as delay-seconds or an HTTP date → milliseconds (null when absent/invalid), at most MAX_POLL_FLOOR_MS. */
export function parseRetryAfter(v: string | null, now: number = Date.now()): number | null {
  if (!v) return null;
  const s = v.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const t = Date.parse(s);
    if (!Number.isFinite(t)) return null;
    ms = t - now;
  }
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, MAX_POLL_FLOOR_MS);
}

/** `Cache-Control: max-age=N` minus `Age` → ms of freshness left; null when absent, no-store or no-cache. */
export function parseMaxAge(cacheControl: string | null, age: string | null = null): number | null {
  if (!cacheControl) return null;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache' || d.startsWith('no-cache='))) return null;
  const m = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)).find((x) => x);
  if (!m) return null;
  const ageS = age && /^\d+$/.test(age.trim()) ? Number(age.trim()) : 0;
  return Math.max(0, Number(m[1]) - ageS) * 1000;
}

// ---------------------------------------------------------------------------------------------
// Poll schedule (shared by polling sources)
// ---------------------------------------------------------------------------------------------

/**
 * Delay before the next poll after `consecutiveErrors` failures in a row: never shorter than the
 * normal interval, then exponential with full jitter on the extra part —
 * interval + random × (min(cap, interval × 2^n) − interval), cap = max(interval, maxBackoffMs).
 * A Retry-After from the server is a floor on the delay, capped at MAX_POLL_FLOOR_MS.
 */
export function backoffDelayMs(
  intervalMs: number,
  consecutiveErrors: number,
  retryAfterMs: number | null = null,
  random: () => number = Math.random,
  maxBackoffMs: number = DEFAULT_MAX_BACKOFF_MS,
): number {
  const cap = Math.max(intervalMs, maxBackoffMs);
  const ceiling = Math.min(cap, intervalMs * 2 ** Math.min(Math.max(consecutiveErrors, 0), 30));
  const r = Math.min(Math.max(random(), 0), 1);
  let delay = intervalMs + r * Math.max(0, ceiling - intervalMs);
  if (retryAfterMs !== null) delay = Math.max(delay, Math.min(retryAfterMs, MAX_POLL_FLOOR_MS));
  return Math.round(delay);
}

/**
 * Delay before the next poll after a success (200 or 304): the interval, raised by the floors
 * the server set (Cache-Control max-age, RSS `<ttl>`), each capped at MAX_POLL_FLOOR_MS.
 */
export function successDelayMs(intervalMs: number, floorsMs: readonly (number | null | undefined)[]): number {
  let delay = intervalMs;
  for (const f of floorsMs) if (typeof f === 'number' && Number.isFinite(f) && f > delay) delay = Math.max(delay, Math.min(f, MAX_POLL_FLOOR_MS));
  return Math.round(delay);
}
