/**
 * Who may talk to the server: the optional bearer token (required off loopback), the browser
 * Origin allowlist, and log redaction of the token. See docs/PROTOCOL.md, "Access control".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { TickerpulseError } from '../lib/errors.js';

/** The environment variable read when `server.token` is not configured. */
export const TOKEN_ENV = 'TICKERPULSE_TOKEN';
export const MIN_TOKEN_LENGTH = 16;

/** The configured token wins over the environment's; empty strings count as absent. */
export function resolveToken(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (configured !== undefined && configured !== '') return configured;
  const e = env[TOKEN_ENV];
  return e === undefined || e === '' ? undefined : e;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped ::ffff:127.x) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The URL parser writes IPv6 in its shortest form (0:0::1 → ::1, ::ffff:127.0.0.1 → ::ffff:7f00:1).
    const c = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return c === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(c);
  }
  return false;
}

/**
 * Refuses a configuration that would expose the stream without a token: binding to anything
 * but loopback requires one. Also checks the token's length (the env var bypasses the schema).
 */
export function assertBindAllowed(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new TickerpulseError('CONFIG_INVALID', `server.token (or ${TOKEN_ENV}) must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new TickerpulseError(
      'CONFIG_INVALID',
      `server.host is ${host}, which is reachable from other machines: set server.token or the ${TOKEN_ENV} environment variable (at least ${MIN_TOKEN_LENGTH} characters) to require a bearer token, or bind to 127.0.0.1`,
    );
  }
}

/** Compares a presented token with the expected one in constant time (both hashed first, so lengths never leak). */
export class TokenCheck {
  private readonly digest: Buffer;
  constructor(token: string) {
    this.digest = sha256(token);
  }
  matches(presented: string | undefined): boolean {
    if (presented === undefined) return false;
    return timingSafeEqual(this.digest, sha256(presented));
  }
  /** The request's token: `Authorization: Bearer <t>` if present, else the one `?token=<t>`. */
  static presented(req: IncomingMessage, url: URL): string | undefined {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.length > 0) {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
      return m ? m[1] : undefined;
    }
    const q = url.searchParams.getAll('token');
    return q.length === 1 ? q[0] : undefined;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * The origins a browser may connect from: the configured list, or by default the server's own
 * `http://host:port` plus `http://localhost:port` and `http://127.0.0.1:port` (the dashboard).
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;
  constructor(configured: readonly string[] | undefined, host: string, port: number) {
    const list = configured ?? defaultOrigins(host, port);
    this.any = list.includes('*');
    this.allowed = new Set(list.filter((o) => o !== '*').map(normalizeOrigin));
  }
  /** No Origin header = not a browser: allowed (the token, if any, still applies). */
  allows(origin: string | undefined): boolean {
    if (origin === undefined || this.any) return true;
    return this.allowed.has(normalizeOrigin(origin));
  }
  list(): string[] {
    return this.any ? ['*'] : [...this.allowed];
  }
}

export function defaultOrigins(host: string, port: number): string[] {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [...new Set([`http://${h}:${port}`, `http://localhost:${port}`, `http://127.0.0.1:${port}`].map(normalizeOrigin))];
}

function normalizeOrigin(o: string): string {
  try {
    return new URL(o).origin;
  } catch {
    return o.trim().toLowerCase();
  }
}

/** A request URL fit for a log line: the `token` query parameter's value replaced. */
export function redactUrl(raw: string | undefined): string {
  if (raw === undefined) return '';
  return raw.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}
