/**
 * Connections to the PostgreSQL store: one pg.Pool per process role, with the value parsing
 * the rest of tickerpulse expects (numbers, not strings) and PostgreSQL's errors mapped to
 * TickerpulseError('STORE_FAILED') with `retryable` for the transient ones.
 */
import pg from 'pg';
import { TickerpulseError } from '../../lib/errors.js';

/** Connections per pool unless the caller says otherwise (a writer needs 1–2, a reader a few). */
export const DEFAULT_PG_POOL_SIZE = 4;
/** How long a new connection may take before the attempt fails (retryable). */
export const PG_CONNECT_TIMEOUT_MS = 10_000;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * bigint (seq, counts, sums of integers) and numeric come back as strings by default, for
 * values past 2^53. Seqs and counts stay far below that, and every caller computes with numbers.
 */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => (v === null ? null : Number(v));
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

export interface PgPoolOptions {
  max?: number;
  /** Receives errors of idle connections (the server went away); the pool replaces them. */
  onIdleError?: (err: Error) => void;
  applicationName?: string;
}

export function createPgPool(url: string, opts: PgPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? DEFAULT_PG_POOL_SIZE,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    application_name: opts.applicationName ?? 'tickerpulse',
    types,
  });
  // Without a listener an idle client's error (server restart, network cut) would be an
  // uncaught exception; the next query gets a fresh connection or a typed error.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return pool;
}

/** SQLSTATE classes/codes worth retrying: connection loss, shutdown, resources, serialization, deadlock. */
const RETRYABLE_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

/** A pg (or network) error as STORE_FAILED, keeping the SQLSTATE in details.sqlState. */
export function pgStoreError(what: string, err: unknown): TickerpulseError {
  if (err instanceof TickerpulseError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  const sqlState = err instanceof pg.DatabaseError && code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  // Not a server's answer: a system error of the socket (ECONNREFUSED, ECONNRESET, ETIMEDOUT…),
  // or a plain Error of the driver (connection terminated, connect timeout): worth a retry.
  // A TypeError or the like is a bug, and a DatabaseError says by its SQLSTATE.
  const network = !(err instanceof pg.DatabaseError) && ((code !== undefined && /^E[A-Z]+$/.test(code)) || (err instanceof Error && err.constructor === Error && sqlState === undefined));
  const msg = err instanceof Error ? err.message : String(err);
  return new TickerpulseError('STORE_FAILED', `${what}: ${msg}`, {
    cause: err,
    retryable: network || (sqlState !== undefined && RETRYABLE_SQLSTATE.test(sqlState)),
    ...(sqlState ? { details: { sqlState } } : code ? { details: { errno: code } } : {}),
  });
}

/**
 * Runs `fn` in one transaction on one connection of the pool (ROLLBACK on any throw). `first`: a
 * statement (without parameters) sent together with BEGIN, saving a round trip; its result is
 * `fn`'s second argument.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient, first: pg.QueryResult | null) => Promise<T>, first?: string): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    try {
      const begun = (await c.query(first ? `BEGIN; ${first}` : 'BEGIN')) as unknown as pg.QueryResult | pg.QueryResult[];
      const out = await fn(c, first && Array.isArray(begun) ? begun[1] : null);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    }
  } finally {
    // A connection whose ROLLBACK failed is in an unknown state: dropped, not reused.
    c.release(broken ? true : undefined);
  }
}
