/**
 * The executors of the four query kinds. Each takes validated params (params.ts) and returns
 * typed rows.
 *
 * - Every value is bound as an SQL parameter; the only text spliced into SQL is chosen from
 *   the fixed maps below (sort columns, which optional filters are present), never from input.
 * - Statements are prepared once per (database connection, statement shape) and cached.
 * - Any SQLite failure becomes TickerpulseError('STORE_FAILED') with a generic message (the
 *   SQLite error is its `cause`, its code in `details.sqliteCode`): callers log the cause and
 *   show the message, so no SQL text reaches a client.
 */
import type Database from 'better-sqlite3';
import { TickerpulseError } from '../lib/errors.js';
import type { StoredAlert, StoredItem } from '../lib/types.js';
import { itemFromRow, type ItemRow } from '../store/itemStore.js';
import { tickerRowsSql, unindexedTickerRowsSql } from '../store/tickerIndex.js';
import {
  ceilTo,
  floorTo,
  type AlertSort,
  type AlertsParams,
  type Bucket,
  type ItemSort,
  type ItemsParams,
  type Order,
  type QueryParams,
  type SeriesParams,
  type TickerSort,
  type TickersParams,
} from './params.js';

/** What the executors need: ItemStore satisfies it (`store.database`). */
export interface QuerySource {
  readonly database: Database.Database;
}

/** One ticker of `query tickers` / `/api/tickers`. */
export interface TickerRow {
  symbol: string;
  /** Items naming the ticker in the window. */
  items: number;
  /** Stories that started in the window and name the ticker. */
  stories: number;
  /** Mean of the per-ticker score over the scored items (rollups' sum_score / scored); null when none. */
  meanScore: number | null;
  pos: number;
  neu: number;
  neg: number;
}

/** One bucket of `query series` / `/api/series`. */
export interface SeriesRow {
  /** Bucket start, ISO-8601 UTC. */
  start: string;
  items: number;
  stories: number;
  meanScore: number | null;
  pos: number;
  neu: number;
  neg: number;
}

export type QueryResult =
  | { kind: 'items'; rows: StoredItem[] }
  | { kind: 'tickers'; rows: TickerRow[] }
  | { kind: 'series'; rows: SeriesRow[] }
  | { kind: 'alerts'; rows: StoredAlert[] };

/** Windows up to this long use 1m rollups at their start (exact to the minute), longer ones 1h (exact to the hour). */
export const FINE_WINDOW_MS = 48 * 3_600_000;

// ------------------------------------------------------------------------------ allowlists

export const ITEM_ORDER: Readonly<Record<ItemSort, Readonly<Record<Order, string>>>> = {
  published: { desc: 'published_at DESC, seq DESC', asc: 'published_at ASC, seq ASC' },
  seq: { desc: 'seq DESC', asc: 'seq ASC' },
  score: { desc: 'score DESC, seq DESC', asc: 'score ASC, seq DESC' },
};

export const TICKER_ORDER: Readonly<Record<TickerSort, Readonly<Record<Order, string>>>> = {
  items: { desc: 'items DESC, stories DESC, symbol ASC', asc: 'items ASC, stories ASC, symbol ASC' },
  stories: { desc: 'stories DESC, items DESC, symbol ASC', asc: 'stories ASC, items ASC, symbol ASC' },
  score: { desc: 'mean_score DESC NULLS LAST, items DESC, symbol ASC', asc: 'mean_score ASC NULLS LAST, items DESC, symbol ASC' },
  symbol: { desc: 'symbol DESC', asc: 'symbol ASC' },
};

export const ALERT_ORDER: Readonly<Record<AlertSort, Readonly<Record<Order, string>>>> = {
  at: { desc: 'a.at DESC, a.id DESC', asc: 'a.at ASC, a.id ASC' },
  value: { desc: 'a.value DESC, a.at DESC, a.id DESC', asc: 'a.value ASC, a.at DESC, a.id DESC' },
};

// ------------------------------------------------------------------------------ plumbing

const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The cached statement `key` of this connection, prepared by `sql()` on first use. */
function statement(db: Database.Database, key: string, sql: () => string): Database.Statement {
  let m = cache.get(db);
  if (!m) cache.set(db, (m = new Map()));
  let st = m.get(key);
  if (!st) m.set(key, (st = db.prepare(sql())));
  return st;
}

const RETRYABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|PROTOCOL)/;

/** Generic message for every store failure of a query: the detail stays in `cause` (for logs). */
export const STORE_FAILED_MESSAGE = 'the database could not answer the query';

function storeFailed(err: unknown): TickerpulseError {
  if (err instanceof TickerpulseError) return err;
  const sqliteCode = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  return new TickerpulseError('STORE_FAILED', STORE_FAILED_MESSAGE, {
    cause: err,
    retryable: sqliteCode !== undefined && RETRYABLE_SQLITE.test(sqliteCode),
    ...(sqliteCode ? { details: { sqliteCode } } : {}),
  });
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw storeFailed(err);
  }
}

/** A Date as stored text (canonical ISO), clamped to years 1000–9999 so text order stays time order. */
export function sqlTime(d: Date): string {
  const ms = d.getTime();
  if (!Number.isFinite(ms) || ms < Date.UTC(1000, 0, 1)) return '1000-01-01T00:00:00.000Z';
  if (ms > Date.UTC(9999, 11, 31, 23, 59, 59, 999)) return '9999-12-31T23:59:59.999Z';
  return d.toISOString();
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => '\\' + c);
}

// ------------------------------------------------------------------------------ items

/**
 * A query ready to run: the cached statement, its bound values and the row mapping. The same
 * plan is read whole (`.all`, the limited queries) or row by row (`.iterate`, `--all` exports).
 */
interface Plan<T> {
  st: Database.Statement;
  bind: Record<string, string | number>;
  map: (row: never) => T;
}

function runPlan<T>(plan: () => Plan<T>): T[] {
  return guarded(() => {
    const { st, bind, map } = plan();
    return (st.all(bind) as never[]).map(map);
  });
}

/** SQLite's LIMIT: a negative value is no limit, so limit 0 (= all) reuses the same statements. */
const sqlLimit = (limit: number): number => (limit === 0 ? -1 : limit);

/** The seq bounds of a cursor (before / after) as SQL terms on a `seq` column, and their key letters. */
function seqBounds(p: ItemsParams, bind: Record<string, string | number>): { terms: string[]; key: string } {
  const terms: string[] = [];
  let key = '';
  if (p.before !== undefined) {
    terms.push('seq < @before');
    bind.before = p.before;
    key += 'b';
  }
  if (p.after !== undefined) {
    terms.push('seq > @after');
    bind.after = p.after;
    key += 'a';
  }
  return { terms, key };
}

export function queryItems(src: QuerySource, p: ItemsParams): StoredItem[] {
  return runPlan(() => itemsPlan(src, p));
}

function itemsPlan(src: QuerySource, p: ItemsParams): Plan<StoredItem> {
  const bind: Record<string, string | number> = { limit: sqlLimit(p.limit) };
  if (p.since !== undefined) bind.since = sqlTime(p.since);
  if (p.ticker !== undefined) bind.ticker = p.ticker;
  const order = ITEM_ORDER[p.sort][p.order];
  const bounds = seqBounds(p, bind);

  // One ticker, newest/oldest first, no filter on other item columns: the ticker index has the
  // published_at and seq to sort on, so the page is picked there (primary key range of the
  // ticker) and only its rows are read from items — 5 ms instead of 60 for a ticker named by
  // 20k items (measured, test/query/bench.ts). The newest items, not indexed yet, are read from
  // their tickers column (src/store/tickerIndex.ts) and merged in.
  if (p.ticker !== undefined && p.source === undefined && p.label === undefined && p.search === undefined && p.sort !== 'score') {
    const key = `items:ticker:${p.since !== undefined ? 't' : ''}${bounds.key}:${p.sort}:${p.order}`;
    const since = (p.since !== undefined ? 'AND published_at >= @since ' : '') + bounds.terms.map((t) => `AND ${t} `).join('');
    const st = statement(src.database, key, () => `
        SELECT * FROM items WHERE seq IN (
          SELECT seq FROM (
            SELECT seq, published_at FROM (
              SELECT seq, published_at FROM ticker_index WHERE ticker = @ticker ${since} ORDER BY ${order} LIMIT @limit)
            UNION ALL
            SELECT seq, published_at FROM (${unindexedTickerRowsSql('@ticker')}) WHERE true ${since})
          ORDER BY ${order} LIMIT @limit)
        ORDER BY ${order}`);
    return { st, bind, map: itemFromRow as (row: never) => StoredItem };
  }

  const where: string[] = [];
  let key = 'items:';
  if (p.source !== undefined) {
    where.push('source = @source');
    bind.source = p.source;
    key += 's';
  }
  if (p.label !== undefined) {
    where.push('label = @label');
    bind.label = p.label;
    key += 'l';
  }
  if (p.since !== undefined) {
    where.push('published_at >= @since');
    key += 't';
  }
  if (p.search !== undefined) {
    where.push(`(title LIKE @pattern ESCAPE '\\' OR summary LIKE @pattern ESCAPE '\\')`);
    bind.pattern = `%${escapeLike(p.search)}%`;
    key += 'q';
  }
  if (p.ticker !== undefined) {
    // The ticker index's primary key (ticker, seq) finds the items; the value is bound, never spliced.
    where.push(`seq IN (SELECT seq FROM (${tickerRowsSql('@ticker')}))`);
    key += 'k';
  }
  where.push(...bounds.terms);
  key += `${bounds.key}:${p.sort}:${p.order}`;
  const st = statement(src.database, key, () => `SELECT * FROM items ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order} LIMIT @limit`);
  return { st, bind, map: itemFromRow as (row: never) => StoredItem };
}

// ------------------------------------------------------------------------------ tickers

/** The aggregate columns every rollup read selects (tickers, series, the live `rollup` message). */
export interface RollupAggregate {
  items: number;
  stories: number;
  mean_score: number | null;
  pos: number;
  neu: number;
  neg: number;
}

export interface AggRow extends RollupAggregate {
  symbol: string;
}

/**
 * The rollup ranges that cover [since, ∞) exactly to one fine bucket: fine buckets from the
 * one containing `since` up to the next coarse boundary, coarse buckets from there on. Every
 * item is counted in all three buckets of the rollups, so the two disjoint ranges add up.
 */
export function windowRanges(since: Date, now: Date): { fine: Bucket; coarse: Bucket; fineFrom: string; coarseFrom: string } {
  const short = now.getTime() - since.getTime() <= FINE_WINDOW_MS;
  const fine: Bucket = short ? '1m' : '1h';
  const coarse: Bucket = short ? '1h' : '1d';
  return { fine, coarse, fineFrom: sqlTime(floorTo(since, fine)), coarseFrom: sqlTime(ceilTo(since, coarse)) };
}

export function queryTickers(src: QuerySource, p: TickersParams, now: Date = new Date()): TickerRow[] {
  return runPlan(() => tickersPlan(src, p, now));
}

export const tickerFromAgg = (x: AggRow): TickerRow => ({ symbol: x.symbol, items: x.items, stories: x.stories, meanScore: x.mean_score, pos: x.pos, neu: x.neu, neg: x.neg });

function tickersPlan(src: QuerySource, p: TickersParams, now: Date): Plan<TickerRow> {
  const r = windowRanges(p.since, now);
  const order = TICKER_ORDER[p.sort][p.order];
  const st = statement(src.database, `tickers:${p.sort}:${p.order}`, () => `
    SELECT key AS symbol, sum(items) AS items, sum(stories) AS stories,
           CASE WHEN sum(scored) > 0 THEN sum(sum_score) / sum(scored) END AS mean_score,
           sum(pos) AS pos, sum(neu) AS neu, sum(neg) AS neg
    FROM (
      SELECT key, items, stories, scored, sum_score, pos, neu, neg FROM rollups
      WHERE kind = 'ticker' AND bucket = @fine AND start >= @fineFrom AND start < @coarseFrom
      UNION ALL
      SELECT key, items, stories, scored, sum_score, pos, neu, neg FROM rollups
      WHERE kind = 'ticker' AND bucket = @coarse AND start >= @coarseFrom
    )
    GROUP BY key
    ORDER BY ${order}
    LIMIT @limit`);
  return { st, bind: { ...r, limit: sqlLimit(p.limit) }, map: tickerFromAgg as (row: never) => TickerRow };
}

// ------------------------------------------------------------------------------ series

export interface SeriesDbRow extends RollupAggregate {
  start: string;
}

/** Buckets that have items, ascending; the first is the one containing `since`. */
export function querySeries(src: QuerySource, p: SeriesParams): SeriesRow[] {
  return runPlan(() => seriesPlan(src, p));
}

export const seriesFromDb = (x: SeriesDbRow): SeriesRow => ({ start: x.start, items: x.items, stories: x.stories, meanScore: x.mean_score, pos: x.pos, neu: x.neu, neg: x.neg });

function seriesPlan(src: QuerySource, p: SeriesParams): Plan<SeriesRow> {
  const kind = p.ticker !== undefined ? 'ticker' : 'source';
  const key = (p.ticker ?? p.source) as string;
  const st = statement(src.database, 'series', () => `
    SELECT start, items, stories, CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg
    FROM rollups
    WHERE kind = @kind AND key = @key AND bucket = @bucket AND start >= @from
    ORDER BY start`);
  return { st, bind: { kind, key, bucket: p.bucket, from: sqlTime(floorTo(p.since, p.bucket)) }, map: seriesFromDb as (row: never) => SeriesRow };
}

// ------------------------------------------------------------------------------ alerts

export interface AlertDbRow {
  id: number;
  rule: string;
  kind: StoredAlert['kind'];
  ticker: string;
  at: string;
  direction: 'up' | 'down' | null;
  message: string;
  value: number;
  baseline: number | null;
  deviation: number | null;
  created_at: string;
  delivered_at: string | null;
  delivery_error: string | null;
  seq: number | null;
  seqs: string;
}

export function alertFromRow(r: AlertDbRow): StoredAlert {
  return {
    id: r.id,
    rule: r.rule,
    kind: r.kind,
    ticker: r.ticker,
    at: r.at,
    direction: r.direction ?? null,
    message: r.message,
    value: r.value,
    baseline: r.baseline ?? null,
    deviation: r.deviation ?? null,
    seqs: JSON.parse(r.seqs) as number[],
    createdAt: r.created_at,
    deliveredAt: r.delivered_at ?? null,
    deliveryError: r.delivery_error ?? null,
    seq: r.seq ?? null,
  };
}

/**
 * Alerts placed after items seq (after, through] (alerts.seq), in stream order (seq, then id):
 * what a `/ws ?since` replay sends next to the items of that range.
 */
export function alertsInSeqRange(src: QuerySource, after: number, through: number): StoredAlert[] {
  return guarded(() => {
    const st = statement(src.database, 'alerts:seq-range', () => `
      SELECT ${ALERT_COLUMNS}
      FROM alerts a
      WHERE a.seq > @after AND a.seq <= @through
      ORDER BY a.seq, a.id`);
    return (st.all({ after, through }) as AlertDbRow[]).map(alertFromRow);
  });
}

const ALERT_COLUMNS = `a.id, a.rule, a.kind, a.ticker, a.at, a.direction, a.message, a.value, a.baseline, a.deviation,
             a.created_at, a.delivered_at, a.delivery_error, a.seq,
             (SELECT json_group_array(seq) FROM (SELECT seq FROM alert_items WHERE alert_id = a.id ORDER BY seq)) AS seqs`;

export function queryAlerts(src: QuerySource, p: AlertsParams): StoredAlert[] {
  return runPlan(() => alertsPlan(src, p));
}

function alertsPlan(src: QuerySource, p: AlertsParams): Plan<StoredAlert> {
  const where = ['a.at >= @since'];
  const bind: Record<string, string | number> = { since: sqlTime(p.since), limit: sqlLimit(p.limit) };
  let key = 'alerts:';
  if (p.ticker !== undefined) {
    where.push('a.ticker = @ticker');
    bind.ticker = p.ticker;
    key += 'k';
  }
  if (p.rule !== undefined) {
    where.push('a.rule = @rule');
    bind.rule = p.rule;
    key += 'r';
  }
  if (p.alertKind !== undefined) {
    where.push('a.kind = @kind');
    bind.kind = p.alertKind;
    key += 'i';
  }
  const order = ALERT_ORDER[p.sort][p.order];
  key += `:${p.sort}:${p.order}`;
  const st = statement(src.database, key, () => `
      SELECT ${ALERT_COLUMNS}
      FROM alerts a
      WHERE ${where.join(' AND ')}
      ORDER BY ${order}
      LIMIT @limit`);
  return { st, bind, map: alertFromRow as (row: never) => StoredAlert };
}

// ------------------------------------------------------------------------------ dispatch

/**
 * Every row of a validated query (limit 0 = no limit), read row by row from one statement and
 * handed out in chunks of at most `chunkRows` as QueryResults, so memory does not grow with the
 * row count. The statement holds one read snapshot until the iteration ends (a consistent
 * export; in WAL mode the writer keeps going, checkpoints cannot pass the snapshot meanwhile).
 * Stopping early (`break`, `return()`) resets the statement; until then the (cached) statement
 * is busy, so the same query shape cannot run on this connection meanwhile.
 */
export function* iterateQuery(src: QuerySource, p: QueryParams, now: Date = new Date(), chunkRows = 500): Generator<QueryResult, void, undefined> {
  const plan: Plan<unknown> = guarded(() => (p.kind === 'items' ? itemsPlan(src, p) : p.kind === 'tickers' ? tickersPlan(src, p, now) : p.kind === 'series' ? seriesPlan(src, p) : alertsPlan(src, p)));
  const rows = guarded(() => plan.st.iterate(plan.bind) as IterableIterator<never>);
  try {
    for (;;) {
      const chunk: unknown[] = [];
      for (;;) {
        const next = guarded(() => rows.next());
        if (next.done) break;
        chunk.push(plan.map(next.value));
        if (chunk.length >= chunkRows) break;
      }
      if (chunk.length > 0) yield { kind: p.kind, rows: chunk } as QueryResult;
      if (chunk.length < chunkRows) return;
    }
  } finally {
    rows.return?.();
  }
}

/** Runs any validated query. Throws TickerpulseError('STORE_FAILED') (generic message) when SQLite fails. */
export function executeQuery(src: QuerySource, p: QueryParams, now: Date = new Date()): QueryResult {
  switch (p.kind) {
    case 'items':
      return { kind: 'items', rows: queryItems(src, p) };
    case 'tickers':
      return { kind: 'tickers', rows: queryTickers(src, p, now) };
    case 'series':
      return { kind: 'series', rows: querySeries(src, p) };
    case 'alerts':
      return { kind: 'alerts', rows: queryAlerts(src, p) };
  }
}

