/**
 * The SQLite store: classified items, per-source polling state and dead letters.
 *
 * One ItemStore = one better-sqlite3 connection. All methods are synchronous (better-sqlite3
 * is), so within one Node thread a commit and a read can never interleave. Every statement is
 * prepared once, in the constructor or on first use of a filter combination.
 */
import { makeDirs } from '../lib/makeDirs.js';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { TickerpulseError, type ErrorCode } from '../lib/errors.js';
import type { Alert, ClassifiedItem, ItemTicker, Label, SourceState, StoredAlert, StoredItem } from '../lib/types.js';
import { isLabel, MAX_FILTER_TEXT, MAX_QUERY_LIMIT, canonicalTime, parseTicker } from './filters.js';
import { APPLICATION_ID, SCHEMA_VERSION, migrations } from './migrations.js';
import { RollupBatch, bucketStarts } from './rollups.js';
import { DEFAULT_TICKER_INDEX_LAG, INDEX_BATCH_SQL, TICKER_INDEX_STEP, TICKER_INDEX_STEP_PER_ITEM, TICKER_INDEX_THROUGH, TICKER_VIAS, tickerRowsSql } from './tickerIndex.js';

type Db = Database.Database;
type Stmt = Database.Statement;

export interface OpenOptions {
  /** Open without write access (the query CLI). The file must exist and be fully migrated. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * WAL size (pages) at which a commit checkpoints on the writer's own thread (SQLite's
   * wal_autocheckpoint; default 1000). The daemon raises it, since its checkpoint thread
   * (checkpointer.ts) does that work, and keeps it as the backstop.
   */
  autoCheckpointPages?: number;
  /** SQLite page cache of the connection in MiB (default 64; config `limits.dbCacheMb`). */
  cacheMb?: number;
  /**
   * Items whose tickers may wait for the index by ticker (src/store/tickerIndex.ts): a commit
   * that finds at least this many indexes them in one sorted batch (default 4096; config
   * `limits.tickerIndexLag`). Readers see them either way.
   */
  tickerIndexLag?: number;
}

export interface ItemFilter {
  source?: string;
  label?: Label;
  /** Only items with published_at >= since. */
  since?: Date;
  /** Case-insensitive (ASCII) substring of title or summary. */
  search?: string;
  /** Only items naming this ticker (any accepted spelling: `AAPL`, `brk-b`). */
  ticker?: string;
  /** Default 100, at most MAX_QUERY_LIMIT. */
  limit?: number;
}

export interface PollError {
  code: string;
  message: string;
}

export interface DeadLetterInput {
  guid: string | null;
  /** Anything JSON-serializable (the raw item, the worker's input…). */
  payload: unknown;
  code: string;
  message: string;
  attempts: number;
}

/** The row of `PRAGMA wal_checkpoint(TRUNCATE)`. */
export interface CheckpointResult {
  /** 1 if the checkpoint could not complete because another connection was reading/writing. */
  busy: number;
  /** Pages left in the WAL (0 after a successful TRUNCATE; -1 when not in WAL mode). */
  log: number;
  /** Pages checkpointed (also reported as 0 once the WAL was truncated). */
  checkpointed: number;
}

/** What the story clusterer says about one newly stored item (see commitPoll's `assignStory`). */
export interface StoryAssignment {
  /** The seq of the story's first item. */
  storyId: number;
  novel: boolean;
  /** Distinct sources in the story so far. */
  sourceCount: number;
  /** First item of this story from this source (its source's rollup sentiment counts it). */
  sourceNew: boolean;
}

/** The story clusterer as commitPoll uses it (pipelines/storyCluster.ts through the pipeline). */
export interface CommitStories<M extends { readonly storyId: number | null } = { readonly storyId: number | null }> {
  /**
   * Before an item's insert, with its canonical published_at: the story it would join (null: it
   * starts one, whose id is the item's seq). Must not change the clusterer's state.
   */
  match(item: ClassifiedItem, publishedAt: string): M;
  /** After the insert succeeded (only then: duplicates are never recorded), in seq order. */
  record(match: M, seq: number): StoryAssignment;
}

/** An alert as the alert engine raises it, before it has an id. */
export type NewAlert = Alert;

export interface CommitOptions {
  /** Cluster the new items into stories: items.story_id/novel and the `stories` rows. */
  stories?: CommitStories;
  /**
   * Alert rules over the newly stored items (in seq order), evaluated inside the transaction:
   * the alerts it returns are stored with the items, so a crash can neither lose an alert
   * whose items were stored nor store one twice.
   */
  evaluateAlerts?: (stored: StoredItem[]) => NewAlert[];
  /** Receives the alerts stored by this commit (with their ids), after it committed. */
  onAlerts?: (alerts: StoredAlert[]) => void;
}

/** A stored item as the story clusterer needs it back after a restart (warm-up). */
export interface StoryWarmItem {
  seq: number;
  source: string;
  title: string;
  publishedAt: string;
  storyId: number;
  tickers: string[];
}

/** The columns storyWarmItems selects (SQLite and PostgreSQL alike). */
export interface StoryWarmRow {
  seq: number;
  source: string;
  title: string;
  published_at: string;
  story_id: number;
  tickers: string | null;
}

/** Rows newest first (as selected) → StoryWarmItems oldest first. */
export function storyWarmFromRows(rows: StoryWarmRow[]): StoryWarmItem[] {
  return rows.reverse().map((r) => ({
    seq: r.seq,
    source: r.source,
    title: r.title,
    publishedAt: r.published_at,
    storyId: r.story_id,
    tickers: r.tickers ? (JSON.parse(r.tickers) as ItemTicker[]).map((t) => t.symbol) : [],
  }));
}

export const DEFAULT_QUERY_LIMIT = 100;
/** Guids per `knownGuids` lookup statement. */
const KNOWN_GUIDS_CHUNK = 500;

/** One row of `items`, exactly as SQLite stores it. */
export interface ItemRow {
  seq: number;
  source: string;
  guid: string;
  url: string | null;
  title: string;
  summary: string | null;
  published_at: string;
  fetched_at: string;
  label: Label;
  p_neg: number;
  p_neu: number;
  p_pos: number;
  score: number;
  model: string;
  date_missing: number;
  /** Since schema v2. */
  story_id: number | null;
  novel: number;
  /** JSON array of ItemTicker, NULL when none. */
  tickers: string | null;
}

export interface SourceRow {
  id: string;
  last_poll_at: string | null;
  next_poll_at: string | null;
  etag: string | null;
  last_modified: string | null;
  consecutive_errors: number;
  last_error: string | null;
  cursor: string | null;
  items_total: number;
  errors_total: number;
  updated_at: string;
}

/** SourceState plus the store's own counters. */
export interface StoredSourceState extends SourceState {
  id: string;
  itemsTotal: number;
  errorsTotal: number;
  updatedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Row <-> object mapping: the only place that knows column names.

const NO_TICKERS: ItemTicker[] = [];
const NO_ALERTS: StoredAlert[] = [];

/** A row of `items` (SELECT * FROM items) → the item, with its tickers parsed. */
export function itemFromRow(r: ItemRow): StoredItem {
  return {
    seq: r.seq,
    source: r.source,
    guid: r.guid,
    url: r.url,
    title: r.title,
    summary: r.summary,
    publishedAt: r.published_at,
    fetchedAt: r.fetched_at,
    dateMissing: r.date_missing === 1,
    label: r.label,
    pNeg: r.p_neg,
    pNeu: r.p_neu,
    pPos: r.p_pos,
    score: r.score,
    model: r.model,
    tickers: r.tickers ? (JSON.parse(r.tickers) as ItemTicker[]) : [],
    storyId: r.story_id ?? null,
    novel: r.novel === 1,
  };
}

/** The tickers column: only the stored fields, in a fixed order; NULL when none. */
export function tickersJson(tickers: readonly ItemTicker[]): string | null {
  if (tickers.length === 0) return null;
  let s = '[';
  for (let i = 0; i < tickers.length; i++) {
    const t = tickers[i];
    if (i) s += ',';
    s += `{"symbol":${JSON.stringify(t.symbol)},"via":${JSON.stringify(t.via)},"label":"${t.label}","score":${num(t.score)},"pNeg":${num(t.pNeg)},"pNeu":${num(t.pNeu)},"pPos":${num(t.pPos)}}`;
  }
  return s + ']';
}

/** A finite number as JSON; anything else becomes null so the CHECK/NOT NULL constraints catch it. */
function num(x: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? String(x) : 'null';
}

const VIAS = new Set(TICKER_VIAS);

/** What the ticker index accepts (src/store/tickerIndex.ts): checked at commit, as the row constraints did. */
export function validTicker(t: ItemTicker): boolean {
  return typeof t.symbol === 'string' && t.symbol !== '' && VIAS.has(t.via) && isLabel(t.label) && typeof t.score === 'number' && Number.isFinite(t.score);
}

/** Sorted, distinct symbols as a JSON array (stories.tickers). */
export function symbolsJson(tickers: readonly ItemTicker[]): string {
  if (tickers.length === 0) return '[]';
  if (tickers.length === 1) return `[${JSON.stringify(tickers[0].symbol)}]`;
  return JSON.stringify([...new Set(tickers.map((t) => t.symbol))].sort());
}

/** Accumulated changes to one existing story within a commit (copies of it). */
interface StoryDelta {
  id: number;
  items: number;
  sourceCount: number;
  lastPublishedAt: string;
  symbols: string;
}

export function fromSourceRow(r: SourceRow): StoredSourceState {
  return {
    id: r.id,
    lastPollAt: r.last_poll_at,
    nextPollAt: r.next_poll_at,
    etag: r.etag,
    lastModified: r.last_modified,
    consecutiveErrors: r.consecutive_errors,
    lastError: r.last_error,
    cursor: r.cursor,
    itemsTotal: r.items_total,
    errorsTotal: r.errors_total,
    updatedAt: r.updated_at,
  };
}

/** SourceState field → column, for the partial upsert. */
export const STATE_COLUMNS = {
  lastPollAt: 'last_poll_at',
  nextPollAt: 'next_poll_at',
  etag: 'etag',
  lastModified: 'last_modified',
  consecutiveErrors: 'consecutive_errors',
  lastError: 'last_error',
  cursor: 'cursor',
} as const satisfies Record<keyof SourceState, string>;

export const STATE_KEYS = Object.keys(STATE_COLUMNS) as (keyof SourceState)[];

// ---------------------------------------------------------------------------------------------

const RETRYABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|PROTOCOL)/;

/** Wraps a SQLite error (which carries `.code` like SQLITE_CONSTRAINT_NOTNULL) into our type. */
function storeError(what: string, err: unknown, code: ErrorCode = 'STORE_FAILED'): TickerpulseError {
  if (err instanceof TickerpulseError) return err;
  const sqliteCode = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  const msg = err instanceof Error ? err.message : String(err);
  return new TickerpulseError(code, `${what}: ${msg}`, {
    cause: err,
    retryable: sqliteCode !== undefined && RETRYABLE_SQLITE.test(sqliteCode),
    ...(sqliteCode ? { details: { sqliteCode } } : {}),
  });
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => '\\' + c);
}

export function safeJson(payload: unknown): string {
  try {
    const s = JSON.stringify(payload);
    return s === undefined ? 'null' : s;
  } catch (err) {
    return JSON.stringify({ unserializable: String(payload), error: err instanceof Error ? err.message : String(err) });
  }
}

export class ItemStore {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Db;
  private closed = false;

  private readonly stInsertItem: Stmt;
  private readonly stNextSeq: Stmt;
  private readonly stIndexBatch: Stmt;
  private readonly stGetThrough: Stmt;
  private readonly stSetThrough: Stmt;
  private readonly tickerIndexLag: number;
  private readonly stUpsertRollup: Stmt;
  private readonly stInsertStory: Stmt;
  private readonly stUpdateStory: Stmt;
  private readonly stFixStory: Stmt;
  private readonly stUpsertSource: Stmt;
  private readonly stGetSource: Stmt;
  private readonly stListSources: Stmt;
  private readonly stKnownGuids: Stmt;
  private readonly stInsertDead: Stmt;
  private readonly stLatestSeq: Stmt;
  private readonly stItemsAfter: Stmt;
  private readonly stCount: Stmt;
  private readonly stHealthy: Stmt;
  private readonly queryStatements = new Map<string, Stmt>();
  private stWarm: Stmt | undefined;
  private readonly commitTx: (sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error: PollError | undefined, opts: CommitOptions) => { inserted: StoredItem[]; alerts: StoredAlert[] };
  private readonly stInsertAlert: Stmt;
  private readonly stInsertAlertItem: Stmt;
  private readonly stAlertDelivered: Stmt;
  private readonly stAlertFailed: Stmt;
  private readonly deadTx: (sourceId: string, entries: DeadLetterInput[]) => void;

  /**
   * Opens (creating if needed, unless readonly) and migrates the database.
   * Throws TickerpulseError('STORE_FAILED') when the file cannot be opened, is not a
   * tickerpulse database, or was written by a newer tickerpulse (schema version too high).
   */
  static open(path: string, opts: OpenOptions = {}): ItemStore {
    const file = path === ':memory:' ? path : resolve(path);
    const readonly = opts.readonly === true;
    let db: Db | undefined;
    try {
      if (!readonly && file !== ':memory:') makeDirs(dirname(file));
      try {
        db = new Database(file, { readonly, fileMustExist: readonly });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (readonly && (code === 'SQLITE_CANTOPEN' || (err as Error).message?.includes('does not exist'))) {
          throw new TickerpulseError('STORE_FAILED', `database not found: ${file} (start the daemon once to create it, or pass another path)`, { cause: err });
        }
        throw err;
      }
      configure(db, readonly, opts.busyTimeoutMs ?? 5000, opts.autoCheckpointPages ?? 1000, opts.cacheMb ?? 64);
      migrate(db, file, readonly);
      return new ItemStore(db, file, readonly, Math.max(1, Math.trunc(opts.tickerIndexLag ?? DEFAULT_TICKER_INDEX_LAG)));
    } catch (err) {
      try {
        db?.close();
      } catch {
        /* already failing */
      }
      throw storeError(`cannot open database ${file}`, err);
    }
  }

  private constructor(db: Db, path: string, readonly: boolean, tickerIndexLag: number) {
    this.db = db;
    this.path = path;
    this.readonly = readonly;
    this.tickerIndexLag = tickerIndexLag;

    // ON CONFLICT(source, guid) DO NOTHING rather than INSERT OR IGNORE: OR IGNORE would also
    // silently skip rows violating NOT NULL/CHECK; we want those to abort the transaction.
    // Positional parameters: binding is measurably cheaper than a named-parameter object.
    this.stInsertItem = db.prepare(`
      INSERT INTO items (source, guid, url, title, summary, published_at, fetched_at, label,
                         p_neg, p_neu, p_pos, score, model, date_missing, story_id, novel, tickers)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (source, guid) DO NOTHING`);
    // AUTOINCREMENT: the next seq is one more than the largest ever used (sqlite_sequence) or stored.
    this.stNextSeq = db.prepare(`SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0), coalesce((SELECT max(seq) FROM items), 0)) + 1`).pluck();


    this.stIndexBatch = db.prepare(INDEX_BATCH_SQL);
    this.stGetThrough = db.prepare(`SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${TICKER_INDEX_THROUGH}'`).pluck();
    this.stSetThrough = db.prepare(`INSERT INTO meta (key, value) VALUES ('${TICKER_INDEX_THROUGH}', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);

    // A story row is created by its first item; later copies are summed per commit and applied
    // with one UPDATE per touched story. The clusterer's source count is exact within a run;
    // max() keeps the stored count when a restart's bounded warm-up saw fewer of its sources.
    this.stInsertStory = db.prepare(`
      INSERT INTO stories (id, first_published_at, last_published_at, title, source_count, item_count, tickers)
      VALUES (?, ?, ?, ?, 1, 1, ?)`);
    this.stFixStory = db.prepare('UPDATE items SET story_id = ? WHERE seq = ?');
    this.stUpdateStory = db.prepare(`
      UPDATE stories SET
        source_count      = max(source_count, ?),
        item_count        = item_count + ?,
        last_published_at = max(last_published_at, ?),
        tickers           = CASE WHEN tickers = '[]' THEN ? ELSE tickers END
      WHERE id = ?`);

    this.stUpsertRollup = db.prepare(`
      INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (kind, bucket, start, key) DO UPDATE SET
        items     = rollups.items + excluded.items,
        stories   = rollups.stories + excluded.stories,
        scored    = rollups.scored + excluded.scored,
        sum_score = rollups.sum_score + excluded.sum_score,
        pos       = rollups.pos + excluded.pos,
        neu       = rollups.neu + excluded.neu,
        neg       = rollups.neg + excluded.neg`);

    // One statement for every partial update: has_<col> = 1 means "the caller provided it".
    const sets = STATE_KEYS.map((k) => `${STATE_COLUMNS[k]} = CASE WHEN @has_${k} THEN excluded.${STATE_COLUMNS[k]} ELSE sources.${STATE_COLUMNS[k]} END`);
    this.stUpsertSource = db.prepare(`
      INSERT INTO sources (id, last_poll_at, next_poll_at, etag, last_modified, consecutive_errors,
                           last_error, cursor, items_total, errors_total, updated_at)
      VALUES (@id, @lastPollAt, @nextPollAt, @etag, @lastModified, coalesce(@consecutiveErrors, 0),
              @lastError, @cursor, @itemsAdded, @errorsAdded, @now)
      ON CONFLICT (id) DO UPDATE SET
        ${sets.join(',\n        ')},
        items_total  = sources.items_total + excluded.items_total,
        errors_total = sources.errors_total + excluded.errors_total,
        updated_at   = excluded.updated_at`);
    this.stGetSource = db.prepare('SELECT * FROM sources WHERE id = ?');
    this.stListSources = db.prepare('SELECT * FROM sources ORDER BY id');
    // json_each keeps this one prepared statement for any chunk size; the planner probes the
    // UNIQUE (source, guid) index once per value.
    this.stKnownGuids = db.prepare('SELECT guid FROM items WHERE source = ? AND guid IN (SELECT value FROM json_each(?))').pluck();
    this.stInsertDead = db.prepare(`
      INSERT INTO dead_letters (source, guid, payload, code, message, attempts, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.stInsertAlert = db.prepare(`
      INSERT INTO alerts (rule, kind, ticker, at, direction, message, value, baseline, deviation, created_at, seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.stInsertAlertItem = db.prepare('INSERT INTO alert_items (alert_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING');
    this.stAlertDelivered = db.prepare('UPDATE alerts SET delivered_at = ?, delivery_error = NULL WHERE id = ?');
    this.stAlertFailed = db.prepare('UPDATE alerts SET delivery_error = ? WHERE id = ?');
    this.stLatestSeq = db.prepare('SELECT coalesce(max(seq), 0) FROM items').pluck();
    this.stItemsAfter = db.prepare('SELECT * FROM items WHERE seq > ? ORDER BY seq LIMIT ?');
    this.stCount = db.prepare('SELECT count(*) FROM items').pluck();
    this.stHealthy = db.prepare('SELECT 1').pluck();

    this.commitTx = db.transaction((sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error: PollError | undefined, opts: CommitOptions) => {
      const now = new Date().toISOString();
      const inserted: StoredItem[] = [];
      const rollups = new RollupBatch();
      const stories = opts.stories;
      // With stories, an item's story must be known before its row is written (the row is then
      // written once, with no UPDATE rewriting it): match() says which story it would join, and
      // a novel story's id is the item's own seq, which inside this write transaction is
      // predictable (AUTOINCREMENT: one more than the last seq handed out).
      let nextSeq = stories && items.length > 0 ? (this.stNextSeq.get() as number) : 0;
      const storyDeltas = new Map<number, StoryDelta>();
      let lastFetchedIn: string | undefined;
      let lastFetched = now;
      let lastMinute = '';
      let starts = bucketStarts(now);
      for (const item of items) {
        if (item.source !== undefined && item.source !== sourceId) {
          throw new TickerpulseError('INPUT_INVALID', `item ${JSON.stringify(item.guid)} has source "${item.source}" but was committed for "${sourceId}"`);
        }
        // A poll's items share one fetch time: canonicalized once.
        if (item.fetchedAt !== lastFetchedIn) {
          lastFetchedIn = item.fetchedAt;
          lastFetched = canonicalTime(item.fetchedAt) ?? now;
        }
        const fetchedAt = lastFetched;
        const canonicalPublished = canonicalTime(item.publishedAt);
        const publishedAt = canonicalPublished ?? fetchedAt;
        const dateMissing = canonicalPublished === null || item.dateMissing === true ? 1 : 0;
        const tickers = item.tickers ?? NO_TICKERS;
        const match = stories ? stories.match(item, publishedAt) : null;
        const matchedId = match ? match.storyId : null;
        // Values are passed through untouched, so a broken item (e.g. a null title) fails the
        // NOT NULL / CHECK constraints and aborts the whole poll instead of being stored half-right.
        const info = this.stInsertItem.run(
          sourceId, item.guid, item.url ?? null, item.title, item.summary ?? null, publishedAt, fetchedAt, item.label,
          item.pNeg, item.pNeu, item.pPos, item.score, item.model, dateMissing,
          match ? (matchedId ?? nextSeq) : null, match && matchedId === null ? 1 : 0, item.tickersJson !== undefined ? item.tickersJson : tickersJson(tickers),
        );
        if (info.changes !== 1) continue; // a duplicate (ON CONFLICT): not recorded anywhere
        const seq = Number(info.lastInsertRowid);
        let story: StoryAssignment | null = null;
        if (match && stories) {
          if (matchedId === null && seq !== nextSeq) {
            // Not expected (we hold the write lock), but a wrong story id must never stick.
            this.stFixStory.run(seq, seq);
          }
          nextSeq = seq + 1;
          story = stories.record(match, seq);
          if (story.novel) {
            this.stInsertStory.run(seq, publishedAt, publishedAt, item.title, symbolsJson(tickers));
          } else {
            const d = storyDeltas.get(story.storyId);
            if (d) {
              d.items++;
              d.sourceCount = Math.max(d.sourceCount, story.sourceCount);
              if (publishedAt > d.lastPublishedAt) d.lastPublishedAt = publishedAt;
              if (d.symbols === '[]') d.symbols = symbolsJson(tickers);
            } else {
              storyDeltas.set(story.storyId, { id: story.storyId, items: 1, sourceCount: story.sourceCount, lastPublishedAt: publishedAt, symbols: symbolsJson(tickers) });
            }
          }
        }
        const novel = story ? story.novel : true;
        // Sentiment counts each story once: for a source its first copy from that source, for a
        // ticker the story's first item. Without stories every item is its own story.
        if (publishedAt.slice(0, 16) !== lastMinute) {
          lastMinute = publishedAt.slice(0, 16);
          starts = bucketStarts(publishedAt);
        }
        rollups.add('source', sourceId, starts, novel, story ? story.sourceNew : true, item.score, item.label);
        for (const t of tickers) {
          if (!validTicker(t)) {
            throw new TickerpulseError('INPUT_INVALID', `item ${JSON.stringify(item.guid)} has a malformed ticker entry ${JSON.stringify(t)}`);
          }
          rollups.add('ticker', t.symbol, starts, novel, novel, t.score, t.label);
        }
        // Built field by field (no spread): this runs for every stored item.
        inserted.push({
          seq,
          source: sourceId,
          guid: item.guid,
          url: item.url ?? null,
          title: item.title,
          summary: item.summary ?? null,
          publishedAt,
          fetchedAt,
          dateMissing: dateMissing === 1,
          label: item.label,
          pNeg: item.pNeg,
          pNeu: item.pNeu,
          pPos: item.pPos,
          score: item.score,
          model: item.model,
          tickers,
          storyId: story ? story.storyId : null,
          novel: story ? story.novel : false,
        });
      }
      for (const d of storyDeltas.values()) this.stUpdateStory.run(d.sourceCount, d.items, d.lastPublishedAt, d.symbols, d.id);
      // One UPSERT per touched (kind, key, bucket, start), not per item.
      for (const r of rollups.rows()) this.stUpsertRollup.run(r.kind, r.key, r.bucket, r.start, r.items, r.stories, r.scored, r.sumScore, r.pos, r.neu, r.neg);
      const params: Record<string, unknown> = { id: sourceId, itemsAdded: inserted.length, errorsAdded: error ? 1 : 0, now };
      for (const k of STATE_KEYS) {
        const provided = Object.prototype.hasOwnProperty.call(state, k) && state[k] !== undefined;
        params[`has_${k}`] = provided ? 1 : 0;
        params[k] = provided ? state[k] : null;
      }
      this.stUpsertSource.run(params);
      if (inserted.length > 0) this.indexTickersUpTo(inserted[inserted.length - 1].seq, this.tickerIndexLag, Math.max(TICKER_INDEX_STEP, TICKER_INDEX_STEP_PER_ITEM * inserted.length));
      const alerts = opts.evaluateAlerts && inserted.length > 0 ? this.insertAlerts(opts.evaluateAlerts(inserted), now, inserted[inserted.length - 1].seq) : NO_ALERTS;
      return { inserted, alerts };
    });

    this.deadTx = db.transaction((sourceId: string, entries: DeadLetterInput[]) => {
      const now = new Date().toISOString();
      for (const e of entries) {
        this.stInsertDead.run(sourceId, e.guid ?? null, safeJson(e.payload), String(e.code), String(e.message), Math.max(0, Math.trunc(Number(e.attempts) || 0)), now);
      }
    });
  }

  /**
   * Stores one poll's outcome atomically: every item (deduplicated on (source, guid) against
   * the store and within `items`), the source's state (only the fields present in `state`;
   * items_total += new rows; errors_total += 1 when `error` is given) — all in ONE transaction.
   * Either all of it is durable or none of it (a crash, or a throw here, leaves the previous
   * etag/cursor with the previous items), which is what makes kill -9 safe.
   *
   * In the same transaction: each new item's tickers (`items.tickers`; the index by ticker is
   * filled in sorted batches, see src/store/tickerIndex.ts), its story (`opts.stories`, for new
   * items only, in seq order: `items.story_id`/`novel` and the `stories` row), and the `rollups`
   * increments (per source and per ticker; one UPSERT per touched row).
   *
   * Returns only the rows that were new, with their seq (and tickers, storyId), in increasing seq
   * order — exactly what the server should broadcast.
   * Throws TickerpulseError: INPUT_INVALID when an item's `source` differs from `sourceId`,
   * STORE_FAILED for any SQLite failure (constraint, disk full, busy; `retryable` set for the
   * transient ones).
   */
  commitPoll(sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: PollError, opts: CommitOptions = {}): StoredItem[] {
    this.assertWritable();
    let result: { inserted: StoredItem[]; alerts: StoredAlert[] };
    try {
      result = this.commitTx(sourceId, items, state ?? {}, error, opts);
    } catch (err) {
      throw storeError(`commit of ${items.length} item(s) for source "${sourceId}" failed`, err);
    }
    if (result.alerts.length > 0) opts.onAlerts?.(result.alerts);
    return result.inserted;
  }

  /**
   * Inside a write transaction: once at least `lag` items wait for the ticker index, indexes the
   * oldest of them, `step` items' worth, up to `seq`. The caller's step is 8× its commit (so the
   * backlog cannot grow, and a replay's big commits get big, cheap batches) but at least 512:
   * a 2,048-item batch in a live stream's 10-item commit paused the loop 10–20 ms and raised the
   * fan-out p99 from ~40 to ~60 ms at 1,000 items/s; a 512-item step pauses ~3 ms. The watermark
   * is read here, not cached, so another writer's batch counts.
   */
  private indexTickersUpTo(seq: number, lag: number, step: number): void {
    const through = (this.stGetThrough.get() as number | null | undefined) ?? null;
    // A missing watermark (hand-edited meta): index everything again; ON CONFLICT skips what is there.
    const from = through ?? 0;
    if (through !== null && seq - from < lag) return;
    const to = through === null ? seq : Math.min(seq, from + step);
    this.stIndexBatch.run({ from, to });
    this.stSetThrough.run(String(to));
  }

  /** Indexes every item's tickers now (at shutdown, so the next start reads a short tail). */
  indexTickers(): void {
    this.assertWritable();
    try {
      this.db.transaction(() => this.indexTickersUpTo(this.latestSeq(), 1, Number.MAX_SAFE_INTEGER))();
    } catch (err) {
      throw storeError('cannot index the tickers of the newest items', err);
    }
  }

  /** Inside a transaction: stores alerts with their items; `seq` is the commit's newest item (alerts.seq). */
  private insertAlerts(alerts: NewAlert[], now: string, seq: number): StoredAlert[] {
    if (alerts.length === 0) return NO_ALERTS;
    const out: StoredAlert[] = [];
    for (const a of alerts) {
      const info = this.stInsertAlert.run(a.rule, a.kind, a.ticker, a.at, a.direction, a.message, a.value, a.baseline, a.deviation, now, seq);
      const id = Number(info.lastInsertRowid);
      const seqs = [...new Set(a.seqs)].sort((x, y) => x - y);
      for (const s of seqs) this.stInsertAlertItem.run(id, s);
      out.push({ ...a, id, seqs, createdAt: now, deliveredAt: null, deliveryError: null, seq });
    }
    return out;
  }

  /** The webhook accepted alert `id`. */
  markAlertDelivered(id: number, at: string = new Date().toISOString()): void {
    this.assertWritable();
    try {
      this.stAlertDelivered.run(at, id);
    } catch (err) {
      throw storeError(`cannot mark alert ${id} delivered`, err);
    }
  }

  /** The webhook gave up on alert `id` (rejected, retries exhausted, dropped from a full queue). */
  markAlertFailed(id: number, reason: string): void {
    this.assertWritable();
    try {
      this.stAlertFailed.run(reason.slice(0, 500), id);
    } catch (err) {
      throw storeError(`cannot record the delivery failure of alert ${id}`, err);
    }
  }

  /** Alerts raised at or after `since` (event time), oldest first: restores cooldowns at start. */
  alertsSince(since: string, limit: number): Pick<StoredAlert, 'rule' | 'ticker' | 'at'>[] {
    return this.db.prepare('SELECT rule, ticker, at FROM alerts WHERE at >= ? ORDER BY at LIMIT ?').all(since, limit) as Pick<StoredAlert, 'rule' | 'ticker' | 'at'>[];
  }

  /** Items published at or after `since` that name tickers, oldest first (at most `limit`, the newest): warms the alert engine. */
  tickerItemsSince(since: string, limit: number): StoredItem[] {
    const rows = this.db
      .prepare('SELECT * FROM items WHERE published_at >= ? AND tickers IS NOT NULL ORDER BY published_at DESC, seq DESC LIMIT ?')
      .all(since, limit) as ItemRow[];
    return rows.reverse().map(itemFromRow);
  }

  /** The subset of `guids` already stored for this source. */
  knownGuids(sourceId: string, guids: string[]): Set<string> {
    const found = new Set<string>();
    for (let i = 0; i < guids.length; i += KNOWN_GUIDS_CHUNK) {
      const chunk = guids.slice(i, i + KNOWN_GUIDS_CHUNK);
      for (const g of this.stKnownGuids.all(sourceId, JSON.stringify(chunk)) as string[]) found.add(g);
    }
    return found;
  }

  getSourceState(id: string): StoredSourceState | null {
    const row = this.stGetSource.get(id) as SourceRow | undefined;
    return row ? fromSourceRow(row) : null;
  }

  listSourceStates(): StoredSourceState[] {
    return (this.stListSources.all() as SourceRow[]).map(fromSourceRow);
  }

  /** Records items/payloads that could not be processed, in one transaction. */
  addDeadLetters(sourceId: string, entries: DeadLetterInput[]): void {
    if (entries.length === 0) return;
    this.assertWritable();
    try {
      this.deadTx(sourceId, entries);
    } catch (err) {
      throw storeError(`cannot record ${entries.length} dead letter(s) for source "${sourceId}"`, err);
    }
  }

  /** Highest stored seq, 0 when there are no items. */
  latestSeq(): number {
    return this.stLatestSeq.get() as number;
  }

  /**
   * The newest stored items (at most `limit`, returned oldest first) published at or after
   * `since` and assigned to a story: what a new story clusterer is warmed with after a restart.
   */
  storyWarmItems(since: string, limit: number): StoryWarmItem[] {
    this.stWarm ??= this.db.prepare(`
      SELECT seq, source, title, published_at, story_id, tickers
      FROM items
      WHERE published_at >= ? AND story_id IS NOT NULL
      ORDER BY seq DESC
      LIMIT ?`);
    return storyWarmFromRows(this.stWarm.all(since, limit) as StoryWarmRow[]);
  }

  /** Newest published_at stored (null when empty). */
  latestPublishedAt(): string | null {
    return (this.db.prepare('SELECT max(published_at) FROM items').pluck().get() as string | null) ?? null;
  }

  /** Items with seq > `seq`, ascending, at most `limit`. */
  itemsAfter(seq: number, limit: number): StoredItem[] {
    return (this.stItemsAfter.all(seq, limit) as ItemRow[]).map(itemFromRow);
  }

  countItems(): number {
    return this.stCount.get() as number;
  }

  /**
   * Newest first: ORDER BY published_at DESC, seq DESC (publication time, ties broken by
   * arrival). `since` compares against published_at (for date-less items: their fetch time).
   * `search` is a case-insensitive substring match on title or summary (SQL LIKE with % and _
   * escaped; case folding is ASCII-only, as SQLite's LIKE).
   * Throws TickerpulseError('INPUT_INVALID') for a malformed filter.
   */
  query(filter: ItemFilter = {}): StoredItem[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const key: string[] = [];
    if (filter.source !== undefined) {
      where.push('source = @source');
      params.source = String(filter.source);
      key.push('s');
    }
    if (filter.label !== undefined) {
      if (!isLabel(filter.label)) throw new TickerpulseError('INPUT_INVALID', `unknown label "${String(filter.label)}"`);
      where.push('label = @label');
      params.label = filter.label;
      key.push('l');
    }
    if (filter.since !== undefined) {
      const since = filter.since instanceof Date && Number.isFinite(filter.since.getTime()) ? canonicalTime(filter.since.toISOString()) : null;
      if (since === null) throw new TickerpulseError('INPUT_INVALID', 'since must be a valid Date');
      where.push('published_at >= @since');
      params.since = since;
      key.push('t');
    }
    if (filter.search !== undefined && filter.search !== '') {
      const search = String(filter.search);
      if (search.length > MAX_FILTER_TEXT) throw new TickerpulseError('INPUT_INVALID', `search is longer than ${MAX_FILTER_TEXT} characters`);
      where.push(`(title LIKE @pattern ESCAPE '\\' OR summary LIKE @pattern ESCAPE '\\')`);
      params.pattern = `%${escapeLike(search)}%`;
      key.push('q');
    }
    if (filter.ticker !== undefined) {
      // parseTicker validates and canonicalizes; the value is bound, never spliced into SQL.
      params.ticker = parseTicker(String(filter.ticker));
      where.push(`seq IN (SELECT seq FROM (${tickerRowsSql('@ticker')}))`);
      key.push('k');
    }
    const limit = filter.limit ?? DEFAULT_QUERY_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
      throw new TickerpulseError('INPUT_INVALID', `limit must be an integer between 1 and ${MAX_QUERY_LIMIT}`);
    }
    params.limit = limit;

    const cacheKey = key.join('');
    let st = this.queryStatements.get(cacheKey);
    if (!st) {
      st = this.db.prepare(
        `SELECT * FROM items ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY published_at DESC, seq DESC LIMIT @limit`,
      );
      this.queryStatements.set(cacheKey, st);
    }
    return (st.all(params) as ItemRow[]).map(itemFromRow);
  }

  /**
   * Copies the WAL into the database file and truncates the WAL to 0 bytes. Call it when idle
   * (e.g. hourly and at shutdown); SQLite's automatic checkpoints never shrink the file.
   */
  checkpoint(): CheckpointResult {
    this.assertWritable();
    const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as CheckpointResult[];
    return r;
  }

  /** True when the connection is open and answers a trivial query. */
  healthy(): boolean {
    if (this.closed) return false;
    try {
      return this.stHealthy.get() === 1;
    } catch {
      return false;
    }
  }

  /** The underlying better-sqlite3 connection, for read-only query modules (src/query). */
  get database(): Database.Database {
    return this.db;
  }

  /** Idempotent. The last connection to close also checkpoints and removes the -wal/-shm files. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertWritable(): void {
    if (this.readonly) throw new TickerpulseError('STORE_FAILED', `database ${this.path} is open read-only`);
  }
}

function configure(db: Db, readonly: boolean, busyTimeoutMs: number, autoCheckpointPages: number, cacheMb: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
  if (!readonly) {
    // Pages freed by retention can be given back (PRAGMA incremental_vacuum). Takes effect only
    // on a new database, and only if set before WAL mode; a no-op on an existing one.
    db.pragma('auto_vacuum = INCREMENTAL');
    // WAL: readers (the query CLI, the HTTP API) never block the writer and vice versa.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal' && db.name !== ':memory:') {
      throw new TickerpulseError('STORE_FAILED', `cannot switch ${db.name} to WAL mode (got ${String(mode)})`);
    }
    // synchronous=NORMAL in WAL mode: a commit is appended to the WAL with write(2) before
    // commitPoll returns, and fsync happens at checkpoints. That is durable against a crash
    // of the process (kill -9, OOM kill, uncaught exception) — our requirement — and keeps
    // the database consistent after an OS crash or power loss, which can at worst lose the
    // last few commits (sources then simply re-fetch them). FULL would fsync every commit.
    db.pragma('synchronous = NORMAL');
    // Let the WAL shrink back after checkpoints instead of staying at its high-water size.
    db.pragma('journal_size_limit = 67108864');
    db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.trunc(autoCheckpointPages))}`);
  }
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
  // Page cache of this connection. SQLite's default (2 MiB) is far smaller than the indexes a
  // commit touches (ticker_index, rollups): past it, inserts re-read pages through
  // system calls, measured as ~20 % of the ingest cost.
  db.pragma(`cache_size = -${Math.max(1, Math.trunc(cacheMb)) * 1024}`);
}

function migrate(db: Db, file: string, readonly: boolean): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw new TickerpulseError('STORE_FAILED', `${file} is not a tickerpulse database (application_id ${appId})`);
  }
  if (current > SCHEMA_VERSION) {
    throw new TickerpulseError(
      'STORE_FAILED',
      `${file} has schema version ${current}, newer than this tickerpulse supports (${SCHEMA_VERSION}); upgrade tickerpulse or use another database file`,
      { details: { schemaVersion: current, supported: SCHEMA_VERSION } },
    );
  }
  if (current === SCHEMA_VERSION) return;
  if (current === 0 && appId === 0) {
    const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
    if (tables > 0) throw new TickerpulseError('STORE_FAILED', `${file} is an SQLite database of some other application (it has tables but no tickerpulse schema)`);
  }
  if (readonly) {
    throw new TickerpulseError(
      'STORE_FAILED',
      `${file} has schema version ${current}, older than ${SCHEMA_VERSION}; run the daemon once to migrate it`,
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    // immediate: take the write lock up front so two processes cannot migrate concurrently;
    // the second one re-reads user_version inside its transaction and skips.
    db.transaction(() => {
      const v = db.pragma('user_version', { simple: true }) as number;
      if (v >= m.version) return;
      if (v !== m.version - 1) throw new TickerpulseError('STORE_FAILED', `migration ${m.version} expects schema version ${m.version - 1}, found ${v}`);
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
