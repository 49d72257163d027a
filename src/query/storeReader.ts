/**
 * The read side of either store behind one async interface: `tickerpulse query`, the `/ws ?since`
 * replay (itemsAfter, latestSeq) and health checks read SQLite (the existing synchronous code,
 * wrapped) or PostgreSQL (cluster mode) the same way.
 */
import type { StoredAlert, StoredItem } from '../lib/types.js';
import { ItemStore, type StoredSourceState } from '../store/itemStore.js';
import type { PgReader } from '../store/pg/reader.js';
import type { QueryParams } from './params.js';
import { alertsInSeqRange, executeQuery, iterateQuery, type QueryResult, type RollupAggregate } from './queries.js';

/** A ticker's 1-minute rollup bucket as the `rollup` WebSocket message needs it. */
export interface MinuteRollup extends RollupAggregate {
  ticker: string;
  start: string;
}

const MINUTE_ROLLUP_COLUMNS = `key AS ticker, start, items, stories, CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg`;

export interface StoreReader {
  /** `sqlite` or `postgres`: for logs and /healthz. */
  readonly kind: 'sqlite' | 'postgres';
  latestSeq(): Promise<number>;
  /** Items with seq > `seq`, ascending, at most `limit`. */
  itemsAfter(seq: number, limit: number): Promise<StoredItem[]>;
  countItems(): Promise<number>;
  healthy(): Promise<boolean>;
  listSourceStates(): Promise<StoredSourceState[]>;
  /** Alerts placed after items (after, through] (alerts.seq), in stream order: what a replay page sends. */
  alertsInSeqRange(after: number, through: number): Promise<StoredAlert[]>;
  /** The rows of these (ticker, 1m bucket start) pairs that exist, in no particular order. */
  minuteRollups(pairs: readonly { ticker: string; start: string }[]): Promise<MinuteRollup[]>;
  /** A validated query (params.ts). STORE_FAILED with the generic message when the store fails. */
  query(params: QueryParams, now?: Date): Promise<QueryResult>;
  /**
   * Every row of a validated query (`limit` 0 = no limit) in chunks of at most `chunkRows`,
   * read lazily (a cursor: memory does not grow with the row count), from one read snapshot.
   * Stop early with `break`. The export of `tickerpulse query --all`.
   */
  stream(params: QueryParams, now?: Date, chunkRows?: number): AsyncIterable<QueryResult>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** A URL (postgres:// or postgresql://) names a PostgreSQL store; anything else is an SQLite file. */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export function sqliteReader(store: ItemStore): StoreReader {
  return {
    kind: 'sqlite',
    latestSeq: async () => store.latestSeq(),
    itemsAfter: async (seq, limit) => store.itemsAfter(seq, limit),
    countItems: async () => store.countItems(),
    healthy: async () => store.healthy(),
    listSourceStates: async () => store.listSourceStates(),
    alertsInSeqRange: async (after, through) => alertsInSeqRange(store, after, through),
    minuteRollups: async (pairs) => {
      const st = store.database.prepare(`SELECT ${MINUTE_ROLLUP_COLUMNS} FROM rollups WHERE kind = 'ticker' AND key = ? AND bucket = '1m' AND start = ?`);
      const out: MinuteRollup[] = [];
      for (const p of pairs) {
        const r = st.get(p.ticker, p.start) as MinuteRollup | undefined;
        if (r) out.push(r);
      }
      return out;
    },
    query: async (params, now) => executeQuery(store, params, now),
    // Synchronous reads between awaits: each chunk is read when the consumer asks for it.
    stream: async function* (params, now, chunkRows) {
      yield* iterateQuery(store, params, now, chunkRows);
    },
    close: async () => store.close(),
  };
}

export function pgReader(reader: PgReader): StoreReader {
  let closed: Promise<void> | null = null;
  return {
    kind: 'postgres',
    latestSeq: () => reader.latestSeq(),
    itemsAfter: (seq, limit) => reader.itemsAfter(seq, limit),
    countItems: () => reader.countItems(),
    healthy: () => reader.healthy(),
    listSourceStates: () => reader.listSourceStates(),
    alertsInSeqRange: async (after, through) => (await import('./pgQueries.js')).pgAlertsInSeqRange(reader.pool, after, through),
    minuteRollups: async (pairs) => {
      if (pairs.length === 0) return [];
      const r = await reader.pool.query<MinuteRollup>(
        `SELECT ${MINUTE_ROLLUP_COLUMNS} FROM rollups WHERE kind = 'ticker' AND bucket = '1m' AND (key, start) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [pairs.map((p) => p.ticker), pairs.map((p) => p.start)],
      );
      return r.rows;
    },
    // Loaded with the first query: the SQLite path never loads the PostgreSQL code.
    query: async (params, now) => (await import('./pgQueries.js')).executePgQuery(reader.pool, params, now),
    stream: async function* (params, now, chunkRows) {
      yield* (await import('./pgQueries.js')).pgStreamQuery(reader.pool, params, now, chunkRows);
    },
    close: () => (closed ??= reader.pool.end().catch(() => undefined)),
  };
}

/**
 * Opens a read-only view of the store `spec` names: an SQLite file (must exist, fully migrated)
 * or a postgres:// URL (its schema must be there and current). Throws STORE_FAILED.
 */
export async function openStoreReader(spec: string, opts: { poolSize?: number } = {}): Promise<StoreReader> {
  if (!isPostgresUrl(spec)) return sqliteReader(ItemStore.open(spec, { readonly: true }));
  // Loaded on demand: the single-node (SQLite) path never loads the PostgreSQL driver.
  const [{ createPgPool }, { PgReader }] = await Promise.all([import('../store/pg/pool.js'), import('../store/pg/reader.js')]);
  const pool = createPgPool(spec, { max: opts.poolSize ?? 2, applicationName: 'tickerpulse-reader' });
  const reader = new PgReader(pool);
  try {
    await reader.ready(false);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return pgReader(reader);
}
