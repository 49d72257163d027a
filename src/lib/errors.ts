/**
 * One error type for the whole daemon. Callers branch on `code` (stable, documented),
 * never on message text. `retryable` says whether trying the same thing again later
 * can succeed (a timeout can; a malformed config cannot).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MODEL_LOAD_FAILED'
  | 'MODEL_RUN_FAILED'
  /** A model folder that loads but cannot serve sentiment: labels, inputs or tokenizer we cannot use. */
  | 'MODEL_UNSUPPORTED'
  | 'INPUT_INVALID'
  | 'FEED_TOO_LARGE'
  | 'FEED_TIMEOUT'
  | 'FEED_HTTP_ERROR'
  | 'FEED_FETCH_FAILED'
  | 'FEED_PARSE_FAILED'
  | 'FEED_NOT_A_FEED'
  | 'FEED_EMPTY'
  | 'SSRF_BLOCKED'
  | 'TOO_MANY_REDIRECTS'
  | 'JSON_PARSE_FAILED'
  | 'JSON_MAPPING_FAILED'
  | 'WS_CONNECT_FAILED'
  | 'WS_CONNECTION_LOST'
  | 'WS_PEER_DEAD'
  | 'WS_MESSAGE_TOO_LARGE'
  | 'SOURCE_FAILED'
  | 'WORKER_FAILED'
  | 'WORKER_QUEUE_FULL'
  | 'STORE_FAILED'
  /** The database is held by another daemon (src/store/daemonLock.ts). */
  | 'DB_IN_USE'
  | 'SERVER_FAILED'
  /** Cluster mode: NATS unreachable or a cluster role stopped (lease lost, node shutting down). */
  | 'CLUSTER_FAILED'
  | 'DATA_MISSING'
  | 'INTERNAL';

export interface ErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class TickerpulseError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TickerpulseError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    if (opts.details) this.details = opts.details;
  }
}

/** What crosses a worker-thread boundary: class instances do not survive postMessage. */
export interface WireError {
  ok: false;
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function toWireError(err: unknown, fallback: ErrorCode = 'INTERNAL'): WireError {
  if (err instanceof TickerpulseError) {
    return { ok: false, code: err.code, message: err.message, retryable: err.retryable };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, code: fallback, message, retryable: false };
}

export function fromWireError(w: WireError): TickerpulseError {
  return new TickerpulseError(w.code, w.message, { retryable: w.retryable });
}

export function isWireError(x: unknown): x is WireError {
  return typeof x === 'object' && x !== null && (x as { ok?: unknown }).ok === false && typeof (x as { code?: unknown }).code === 'string';
}

export function errorCode(err: unknown): ErrorCode {
  return err instanceof TickerpulseError ? err.code : 'INTERNAL';
}
