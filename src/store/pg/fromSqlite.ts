/**
 * `tickerpulse migrate`: copies a single-node SQLite database into the PostgreSQL store.
 *
 * - Items keep their seqs (dashboards' `?since=SEQ` resume points stay valid; story ids and
 *   alert items refer to them unchanged), so SQLite's own gaps are copied too (its AUTOINCREMENT
 *   spends a seq on each duplicate insert); items the cluster stores afterwards continue
 *   gap-free from the highest copied seq.
 * - Resumable: items are copied in batches by seq, each batch in one transaction together with
 *   the resume point (meta `migrate`), under the seq_counter lock (so no writer can interleave).
 *   Running it again continues after the last committed batch.
 * - Idempotent: the other tables (stories, rollups, alerts, sources, dead letters) are small
 *   next to items and copied whole each run with upserts that overwrite by primary key; a run
 *   after a completed one copies nothing new and changes nothing.
 * - Safe: a target holding items that no migrate run put there is refused (it would mix two
 *   stores' seqs), and so is a completed target the cluster has written to since (re-copying the
 *   SQLite stories and rollups would overwrite newer counts).
 */
import type pg from 'pg';
import { TickerpulseError } from '../../lib/errors.js';
import type { ItemStore } from '../itemStore.js';
import { inTransaction, pgStoreError } from './pool.js';
import { migratePg } from './schema.js';
import { pgText } from './writer.js';

export const MIGRATE_META_KEY = 'migrate';
export const DEFAULT_MIGRATE_BATCH = 2_000;

export interface MigrateProgress {
  phase: 'items' | 'stories' | 'rollups' | 'alerts' | 'alert_items' | 'sources' | 'dead_letters';
  done: number;
  total: number;
}

export interface MigrateOptions {
  /** Rows per transaction (items) / per statement (other tables). */
  batch?: number;
  /** Checked between batches: an aborted run stops after its last committed batch (resumable). */
  signal?: AbortSignal;
  onProgress?: (p: MigrateProgress) => void;
}

export interface MigrateResult {
  /** Items in the SQLite file and in PostgreSQL afterwards (equal when complete). */
  sqliteItems: number;
  pgItems: number;
  /** Items copied by this run (0 on a rerun of a completed copy). */
  copiedItems: number;
  /** The run resumed an interrupted one. */
  resumed: boolean;
  /** True when the copy is complete (false: aborted; run again to continue). */
  complete: boolean;
  /** Nothing was done: a completed target the cluster has written to since. */
  alreadyDone: boolean;
  lastSeq: number;
}

interface MetaState {
  from: string;
  lastSeq: number;
  done: boolean;
}

type Row = Record<string, unknown>;

const ITEM_COLS = ['seq', 'source', 'guid', 'url', 'title', 'summary', 'published_at', 'fetched_at', 'label', 'p_neg', 'p_neu', 'p_pos', 'score', 'model', 'date_missing', 'story_id', 'novel', 'tickers'];
const ITEM_TYPES = ['bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'float8', 'float8', 'float8', 'float8', 'text', 'smallint', 'bigint', 'smallint', 'text'];

/** INSERT … SELECT FROM unnest($1::t1[], …): one statement per batch, one array per column. */
function unnestInsert(table: string, cols: string[], types: string[], tail: string, overriding = false): string {
  return `INSERT INTO ${table} (${cols.join(', ')}) ${overriding ? 'OVERRIDING SYSTEM VALUE ' : ''}SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) ${tail}`;
}
/** One array per column; text as the writer stores it (U+0000 → U+FFFD, see pgText). */
const columns = (rows: Row[], cols: string[]) => cols.map((c) => rows.map((r) => (r[c] === undefined ? null : typeof r[c] === 'string' ? pgText(r[c] as string) : r[c])));
const overwrite = (cols: string[], key: string[]) => cols.filter((c) => !key.includes(c)).map((c) => `${c} = excluded.${c}`).join(', ');

export async function migrateSqliteToPg(store: ItemStore, pool: pg.Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const batch = Math.max(1, Math.trunc(opts.batch ?? DEFAULT_MIGRATE_BATCH));
  const lite = store.database;
  const aborted = () => opts.signal?.aborted === true;
  const sqliteItems = store.countItems();
  try {
    await migratePg(pool);
    const meta = await readMeta(pool);
    const pgLast = (await pool.query<{ last_seq: number }>('SELECT last_seq FROM seq_counter')).rows[0].last_seq;
    const pgCount = async () => (await pool.query<{ n: number }>('SELECT count(*) AS n FROM items')).rows[0].n;
    if (!meta && pgLast > 0) {
      throw new TickerpulseError('STORE_FAILED', `the PostgreSQL database already holds items (up to seq ${pgLast}) that tickerpulse migrate did not copy; migrate into an empty database`);
    }
    if (meta?.done && pgLast > meta.lastSeq) {
      return { sqliteItems, pgItems: await pgCount(), copiedItems: 0, resumed: false, complete: true, alreadyDone: true, lastSeq: meta.lastSeq };
    }
    const resumed = meta !== null && !meta.done;
    let lastSeq = meta?.lastSeq ?? 0;
    let copied = 0;

    // ---- items (+ their ticker rows), resumable by seq
    const total = sqliteItems;
    let done = (lite.prepare('SELECT count(*) FROM items WHERE seq <= ?').pluck().get(lastSeq) as number) ?? 0;
    const page = lite.prepare('SELECT * FROM items WHERE seq > ? ORDER BY seq LIMIT ?');
    const tickersOf = lite.prepare('SELECT ticker, seq, via, label, score, published_at FROM item_tickers WHERE seq > ? AND seq <= ?');
    opts.onProgress?.({ phase: 'items', done, total });
    const insertItems = unnestInsert('items', ITEM_COLS, ITEM_TYPES, 'ON CONFLICT DO NOTHING');
    const tickerCols = ['ticker', 'seq', 'via', 'label', 'score', 'published_at'];
    const insertTickers = unnestInsert('item_tickers', tickerCols, ['text', 'bigint', 'text', 'text', 'float8', 'text'], 'ON CONFLICT DO NOTHING');
    for (;;) {
      if (aborted()) return { sqliteItems, pgItems: await pgCount(), copiedItems: copied, resumed, complete: false, alreadyDone: false, lastSeq };
      const rows = page.all(lastSeq, batch) as Row[];
      if (rows.length === 0) break;
      const to = rows[rows.length - 1].seq as number;
      const tickers = tickersOf.all(lastSeq, to) as Row[];
      await inTransaction(pool, async (c) => {
        await c.query('SELECT last_seq FROM seq_counter WHERE one FOR UPDATE');
        await c.query(insertItems, columns(rows, ITEM_COLS));
        if (tickers.length) await c.query(insertTickers, columns(tickers, tickerCols));
        await c.query('UPDATE seq_counter SET last_seq = GREATEST(last_seq, $1) WHERE one', [to]);
        await writeMeta(c, { from: store.path, lastSeq: to, done: false });
      });
      lastSeq = to;
      copied += rows.length;
      done += rows.length;
      opts.onProgress?.({ phase: 'items', done, total });
    }

    // ---- the other tables, whole, keyset-paged, overwriting by primary key
    const tables: { phase: MigrateProgress['phase']; table: string; key: string[]; cols: string[]; types: string[]; identity?: boolean; keepExisting?: boolean }[] = [
      { phase: 'stories', table: 'stories', key: ['id'], cols: ['id', 'first_published_at', 'last_published_at', 'title', 'source_count', 'item_count', 'tickers'], types: ['bigint', 'text', 'text', 'text', 'integer', 'integer', 'text'] },
      {
        phase: 'rollups',
        table: 'rollups',
        key: ['kind', 'bucket', 'start', 'key'],
        cols: ['kind', 'key', 'bucket', 'start', 'items', 'stories', 'scored', 'sum_score', 'pos', 'neu', 'neg'],
        types: ['text', 'text', 'text', 'text', 'integer', 'integer', 'integer', 'float8', 'integer', 'integer', 'integer'],
      },
      {
        phase: 'alerts',
        table: 'alerts',
        key: ['id'],
        cols: ['id', 'rule', 'kind', 'ticker', 'at', 'direction', 'message', 'value', 'baseline', 'deviation', 'created_at', 'delivered_at', 'delivery_error', 'seq'],
        types: ['bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'float8', 'float8', 'float8', 'text', 'text', 'text', 'bigint'],
        identity: true,
      },
      { phase: 'alert_items', table: 'alert_items', key: ['alert_id', 'seq'], cols: ['alert_id', 'seq'], types: ['bigint', 'bigint'], keepExisting: true },
      {
        phase: 'sources',
        table: 'sources',
        key: ['id'],
        cols: ['id', 'last_poll_at', 'next_poll_at', 'etag', 'last_modified', 'consecutive_errors', 'last_error', 'cursor', 'items_total', 'errors_total', 'updated_at'],
        types: ['text', 'text', 'text', 'text', 'text', 'integer', 'text', 'text', 'bigint', 'bigint', 'text'],
      },
      {
        phase: 'dead_letters',
        table: 'dead_letters',
        key: ['id'],
        cols: ['id', 'source', 'guid', 'payload', 'code', 'message', 'attempts', 'created_at'],
        types: ['bigint', 'text', 'text', 'text', 'text', 'text', 'integer', 'text'],
        identity: true,
        keepExisting: true,
      },
    ];
    for (const t of tables) {
      const tableTotal = lite.prepare(`SELECT count(*) FROM ${t.table}`).pluck().get() as number;
      const keyList = t.key.join(', ');
      const first = lite.prepare(`SELECT ${t.cols.join(', ')} FROM ${t.table} ORDER BY ${keyList} LIMIT ?`);
      const next = lite.prepare(`SELECT ${t.cols.join(', ')} FROM ${t.table} WHERE (${keyList}) > (${t.key.map(() => '?').join(', ')}) ORDER BY ${keyList} LIMIT ?`);
      const tail = t.keepExisting ? `ON CONFLICT (${keyList}) DO NOTHING` : `ON CONFLICT (${keyList}) DO UPDATE SET ${overwrite(t.cols, t.key)}`;
      const sql = unnestInsert(t.table, t.cols, t.types, tail, t.identity);
      let n = 0;
      let last: Row | null = null;
      opts.onProgress?.({ phase: t.phase, done: 0, total: tableTotal });
      for (;;) {
        if (aborted()) return { sqliteItems, pgItems: await pgCount(), copiedItems: copied, resumed, complete: false, alreadyDone: false, lastSeq };
        const rows = (last === null ? first.all(batch) : next.all(...t.key.map((k) => (last as Row)[k]), batch)) as Row[];
        if (rows.length === 0) break;
        await pool.query(sql, columns(rows, t.cols));
        last = rows[rows.length - 1];
        n += rows.length;
        opts.onProgress?.({ phase: t.phase, done: n, total: tableTotal });
      }
      // Explicit ids went past the identity's counter: the next alert / dead letter continues after them.
      if (t.identity) await pool.query(`SELECT setval(pg_get_serial_sequence('${t.table}', 'id'), GREATEST((SELECT max(id) FROM ${t.table}), 1))`);
    }

    await inTransaction(pool, async (c) => {
      await c.query('SELECT last_seq FROM seq_counter WHERE one FOR UPDATE');
      // Nothing to do when the file was empty; else lastSeq is SQLite's highest seq.
      await c.query('UPDATE seq_counter SET last_seq = GREATEST(last_seq, $1) WHERE one', [Math.max(lastSeq, 0)]);
      await writeMeta(c, { from: store.path, lastSeq, done: true });
    });
    return { sqliteItems, pgItems: await pgCount(), copiedItems: copied, resumed, complete: true, alreadyDone: false, lastSeq };
  } catch (err) {
    throw pgStoreError(`migrating ${store.path} to PostgreSQL failed (run it again to resume)`, err);
  }
}

async function readMeta(pool: pg.Pool): Promise<MetaState | null> {
  const r = await pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [MIGRATE_META_KEY]);
  if (r.rows.length === 0) return null;
  try {
    const v = JSON.parse(r.rows[0].value) as MetaState;
    if (typeof v.lastSeq === 'number' && typeof v.done === 'boolean') return v;
  } catch {
    /* reported below */
  }
  throw new TickerpulseError('STORE_FAILED', `meta "${MIGRATE_META_KEY}" of the PostgreSQL database is not a tickerpulse migrate resume point: ${r.rows[0].value.slice(0, 200)}`);
}

async function writeMeta(c: pg.PoolClient, m: MetaState): Promise<void> {
  await c.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [MIGRATE_META_KEY, JSON.stringify(m)]);
}
