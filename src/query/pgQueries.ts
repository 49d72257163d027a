/**
 * The four query kinds against the PostgreSQL store (src/store/pg/schema.ts): the same
 * parameters, the same rows and the same order as the SQLite executors (queries.ts), whose
 * allowlisted ORDER BY texts they reuse. Values are always bound ($n); failures become
 * STORE_FAILED with the generic message, the pg error as `cause` and its SQLSTATE in
 * `details.sqlState`.
 *
 * One difference: `search` is ILIKE, case-insensitive beyond ASCII (SQLite's LIKE folds ASCII only).
 */
import type pg from 'pg';
import { TickerpulseError } from '../lib/errors.js';
import type { StoredAlert, StoredItem } from '../lib/types.js';
import { itemFromRow, type ItemRow } from '../store/itemStore.js';
import { pgStoreError } from '../store/pg/pool.js';
import { floorTo, type AlertsParams, type ItemsParams, type QueryParams, type SeriesParams, type TickersParams } from './params.js';
import { ALERT_ORDER, ITEM_ORDER, STORE_FAILED_MESSAGE, TICKER_ORDER, alertFromRow, escapeLike, seriesFromDb, tickerFromAgg, sqlTime, windowRanges, type AlertDbRow, type QueryResult, type SeriesRow, type TickerRow } from './queries.js';

/** Positional parameters built alongside the SQL text. */
class Binds {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

async function run<T extends pg.QueryResultRow>(pool: pg.Pool, sql: string, values: unknown[]): Promise<T[]> {
  try {
    return (await pool.query<T>(sql, values)).rows;
  } catch (err) {
    // The driver's error classified as the store's (retryable, SQLSTATE), under the generic message.
    throw queryFailed(err);
  }
}

/** A query's SQL, values and row mapping: run whole (`run`) or through a cursor (`pgStreamQuery`). */
interface PgPlan<T> {
  sql: string;
  values: unknown[];
  map: (row: never) => T;
}

/** PostgreSQL's LIMIT: NULL is no limit (limit 0 = all, the CLI's streamed export). */
const pgLimit = (limit: number): number | null => (limit === 0 ? null : limit);

async function runPlan<T>(pool: pg.Pool, plan: PgPlan<T>): Promise<T[]> {
  return (await run<pg.QueryResultRow>(pool, plan.sql, plan.values)).map((r) => plan.map(r as never));
}

export async function pgQueryItems(pool: pg.Pool, p: ItemsParams): Promise<StoredItem[]> {
  return runPlan(pool, pgItemsPlan(p));
}

function pgItemsPlan(p: ItemsParams): PgPlan<StoredItem> {
  const b = new Binds();
  const where: string[] = [];
  if (p.source !== undefined) where.push(`source = ${b.add(p.source)}`);
  if (p.label !== undefined) where.push(`label = ${b.add(p.label)}`);
  if (p.since !== undefined) where.push(`published_at >= ${b.add(sqlTime(p.since))}`);
  if (p.search !== undefined) {
    const pattern = b.add(`%${escapeLike(p.search)}%`);
    where.push(`(title ILIKE ${pattern} ESCAPE '\\' OR summary ILIKE ${pattern} ESCAPE '\\')`);
  }
  if (p.ticker !== undefined) where.push(`seq IN (SELECT seq FROM item_tickers WHERE ticker = ${b.add(p.ticker)})`);
  if (p.before !== undefined) where.push(`seq < ${b.add(p.before)}`);
  if (p.after !== undefined) where.push(`seq > ${b.add(p.after)}`);
  const sql = `SELECT * FROM items ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${ITEM_ORDER[p.sort][p.order]} LIMIT ${b.add(pgLimit(p.limit))}`;
  return { sql, values: b.values, map: itemFromRow as (row: never) => StoredItem };
}

export async function pgQueryTickers(pool: pg.Pool, p: TickersParams, now: Date = new Date()): Promise<TickerRow[]> {
  return runPlan(pool, pgTickersPlan(p, now));
}


function pgTickersPlan(p: TickersParams, now: Date): PgPlan<TickerRow> {
  const r = windowRanges(p.since, now);
  return {
    sql: `SELECT key AS symbol, sum(items) AS items, sum(stories) AS stories,
            CASE WHEN sum(scored) > 0 THEN sum(sum_score) / sum(scored) END AS mean_score,
            sum(pos) AS pos, sum(neu) AS neu, sum(neg) AS neg
     FROM (
       SELECT key, items, stories, scored, sum_score, pos, neu, neg FROM rollups
       WHERE kind = 'ticker' AND bucket = $1 AND start >= $2 AND start < $3
       UNION ALL
       SELECT key, items, stories, scored, sum_score, pos, neu, neg FROM rollups
       WHERE kind = 'ticker' AND bucket = $4 AND start >= $3
     ) AS w
     GROUP BY key
     ORDER BY ${TICKER_ORDER[p.sort][p.order]}
     LIMIT $5`,
    values: [r.fine, r.fineFrom, r.coarseFrom, r.coarse, pgLimit(p.limit)],
    map: tickerFromAgg as (row: never) => TickerRow,
  };
}

export async function pgQuerySeries(pool: pg.Pool, p: SeriesParams): Promise<SeriesRow[]> {
  return runPlan(pool, pgSeriesPlan(p));
}


function pgSeriesPlan(p: SeriesParams): PgPlan<SeriesRow> {
  const kind = p.ticker !== undefined ? 'ticker' : 'source';
  const key = (p.ticker ?? p.source) as string;
  return {
    sql: `SELECT start, items, stories, CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg
     FROM rollups
     WHERE kind = $1 AND key = $2 AND bucket = $3 AND start >= $4
     ORDER BY start`,
    values: [kind, key, p.bucket, sqlTime(floorTo(p.since, p.bucket))],
    map: seriesFromDb as (row: never) => SeriesRow,
  };
}

const ALERT_COLUMNS = `a.id, a.rule, a.kind, a.ticker, a.at, a.direction, a.message, a.value, a.baseline, a.deviation,
            a.created_at, a.delivered_at, a.delivery_error, a.seq,
            (SELECT coalesce(json_agg(ai.seq ORDER BY ai.seq), '[]'::json)::text FROM alert_items ai WHERE ai.alert_id = a.id) AS seqs`;

/** As alertsInSeqRange (queries.ts): alerts placed after items (after, through], in stream order. */
export async function pgAlertsInSeqRange(pool: pg.Pool, after: number, through: number): Promise<StoredAlert[]> {
  return (await run<AlertDbRow>(pool, `SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.seq > $1 AND a.seq <= $2 ORDER BY a.seq, a.id`, [after, through])).map(alertFromRow);
}

export async function pgQueryAlerts(pool: pg.Pool, p: AlertsParams): Promise<StoredAlert[]> {
  return runPlan(pool, pgAlertsPlan(p));
}

function pgAlertsPlan(p: AlertsParams): PgPlan<StoredAlert> {
  const b = new Binds();
  const where = [`a.at >= ${b.add(sqlTime(p.since))}`];
  if (p.ticker !== undefined) where.push(`a.ticker = ${b.add(p.ticker)}`);
  if (p.rule !== undefined) where.push(`a.rule = ${b.add(p.rule)}`);
  if (p.alertKind !== undefined) where.push(`a.kind = ${b.add(p.alertKind)}`);
  const sql = `SELECT ${ALERT_COLUMNS}
     FROM alerts a
     WHERE ${where.join(' AND ')}
     ORDER BY ${ALERT_ORDER[p.sort][p.order]}
     LIMIT ${b.add(pgLimit(p.limit))}`;
  return { sql, values: b.values, map: alertFromRow as (row: never) => StoredAlert };
}

/**
 * Every row of a validated query (limit 0 = no limit) through a server-side cursor, fetched
 * `chunkRows` at a time, so neither side holds the whole result. One pooled connection runs a
 * READ ONLY, REPEATABLE READ transaction for the whole walk (one consistent snapshot, like the
 * SQLite export); stopping early closes the cursor, ends the transaction and returns the
 * connection.
 */
export async function* pgStreamQuery(pool: pg.Pool, p: QueryParams, now: Date = new Date(), chunkRows = 500): AsyncGenerator<QueryResult, void, undefined> {
  const plan: PgPlan<unknown> = p.kind === 'items' ? pgItemsPlan(p) : p.kind === 'tickers' ? pgTickersPlan(p, now) : p.kind === 'series' ? pgSeriesPlan(p) : pgAlertsPlan(p);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw queryFailed(err);
  }
  const q = async (sql: string, values?: unknown[]): Promise<pg.QueryResult> => {
    try {
      return await client.query(sql, values);
    } catch (err) {
      throw queryFailed(err);
    }
  };
  try {
    await q('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The cursor's query takes bound values like any other ($n, extended protocol).
    await q(`DECLARE tickerpulse_export NO SCROLL CURSOR FOR ${plan.sql}`, plan.values);
    for (;;) {
      const r = await q(`FETCH FORWARD ${Math.max(1, Math.trunc(chunkRows))} FROM tickerpulse_export`);
      if (r.rows.length > 0) yield { kind: p.kind, rows: r.rows.map((row) => plan.map(row as never)) } as QueryResult;
      if (r.rows.length < chunkRows) break;
    }
  } finally {
    // A failed statement leaves the transaction aborted: ROLLBACK still ends it. If even that
    // fails the connection is dropped instead of going back to the pool mid-transaction.
    let ended = false;
    try {
      await client.query('ROLLBACK');
      ended = true;
    } catch {
      /* handled below */
    }
    client.release(!ended);
  }
}

function queryFailed(err: unknown): TickerpulseError {
  const e = pgStoreError('query', err);
  return new TickerpulseError('STORE_FAILED', STORE_FAILED_MESSAGE, { cause: err, retryable: e.retryable, ...(e.details ? { details: e.details } : {}) });
}

export async function executePgQuery(pool: pg.Pool, p: QueryParams, now: Date = new Date()): Promise<QueryResult> {
  switch (p.kind) {
    case 'items':
      return { kind: 'items', rows: await pgQueryItems(pool, p) };
    case 'tickers':
      return { kind: 'tickers', rows: await pgQueryTickers(pool, p, now) };
    case 'series':
      return { kind: 'series', rows: await pgQuerySeries(pool, p) };
    case 'alerts':
      return { kind: 'alerts', rows: await pgQueryAlerts(pool, p) };
  }
}
