/**
 * The SQLite store: classified items, per-source polling state and dead letters.
 *
 * One ItemStore = one better-sqlite3 connection. All methods are synchronous (better-sqlite3
 * is), so within one Node thread a commit and a read can never interleave. Every statement is
 * prepared once, in the constructor or on first use of a filter combination.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { TickerpulseError, type ErrorCode } from '../lib/errors.js';
import type { ClassifiedItem, Label, SourceState, StoredItem } from '../lib/types.js';
import { isLabel, MAX_FILTER_TEXT, MAX_QUERY_LIMIT, canonicalTime } from './filters.js';
import { APPLICATION_ID, SCHEMA_VERSION, migrations } from './migrations.js';

type Db = Database.Database;
type Stmt = Database.Statement;

export interface OpenOptions {
  /** Open without write access (the query CLI). The file must exist and be fully migrated. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
}

export interface ItemFilter {
  source?: string;
  label?: Label;
  /** Only items with published_at >= since. */
  since?: Date;
  /** Case-insensitive (ASCII) substring of title or summary. */
  search?: string;
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

export const DEFAULT_QUERY_LIMIT = 100;
/** Guids per `knownGuids` lookup statement. */
const KNOWN_GUIDS_CHUNK = 500;

/** One row of `items`, exactly as SQLite stores it. */
interface ItemRow {
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
}

interface SourceRow {
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

/**
 * ClassifiedItem → row. Times are canonicalized (see canonicalTime); an item without a usable
 * publishedAt gets its fetch time and date_missing = 1. Values are otherwise passed through
 * untouched, so a broken item (e.g. a null title) fails the NOT NULL / CHECK constraints and
 * aborts the whole poll's transaction instead of being stored half-right.
 */
function toRow(sourceId: string, item: ClassifiedItem, now: string): Omit<ItemRow, 'seq'> {
  const fetchedAt = canonicalTime(item.fetchedAt) ?? now;
  const publishedAt = canonicalTime(item.publishedAt);
  return {
    source: sourceId,
    guid: item.guid,
    url: item.url ?? null,
    title: item.title,
    summary: item.summary ?? null,
    published_at: publishedAt ?? fetchedAt,
    fetched_at: fetchedAt,
    label: item.label,
    p_neg: item.pNeg,
    p_neu: item.pNeu,
    p_pos: item.pPos,
    score: item.score,
    model: item.model,
    date_missing: publishedAt === null || item.dateMissing === true ? 1 : 0,
  };
}

function fromRow(r: ItemRow): StoredItem {
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
  };
}

function fromSourceRow(r: SourceRow): StoredSourceState {
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
const STATE_COLUMNS = {
  lastPollAt: 'last_poll_at',
  nextPollAt: 'next_poll_at',
  etag: 'etag',
  lastModified: 'last_modified',
  consecutiveErrors: 'consecutive_errors',
  lastError: 'last_error',
  cursor: 'cursor',
} as const satisfies Record<keyof SourceState, string>;

const STATE_KEYS = Object.keys(STATE_COLUMNS) as (keyof SourceState)[];

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

function safeJson(payload: unknown): string {
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
  private readonly commitTx: (sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: PollError) => StoredItem[];
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
      if (!readonly && file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      try {
        db = new Database(file, { readonly, fileMustExist: readonly });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (readonly && (code === 'SQLITE_CANTOPEN' || (err as Error).message?.includes('does not exist'))) {
          throw new TickerpulseError('STORE_FAILED', `database not found: ${file} (start the daemon once to create it, or pass another path)`, { cause: err });
        }
        throw err;
      }
      configure(db, readonly, opts.busyTimeoutMs ?? 5000);
      migrate(db, file, readonly);
      return new ItemStore(db, file, readonly);
    } catch (err) {
      try {
        db?.close();
      } catch {
        /* already failing */
      }
      throw storeError(`cannot open database ${file}`, err);
    }
  }

  private constructor(db: Db, path: string, readonly: boolean) {
    this.db = db;
    this.path = path;
    this.readonly = readonly;

    // ON CONFLICT(source, guid) DO NOTHING rather than INSERT OR IGNORE: OR IGNORE would also
    // silently skip rows violating NOT NULL/CHECK; we want those to abort the transaction.
    this.stInsertItem = db.prepare(`
      INSERT INTO items (source, guid, url, title, summary, published_at, fetched_at, label,
                         p_neg, p_neu, p_pos, score, model, date_missing)
      VALUES (@source, @guid, @url, @title, @summary, @published_at, @fetched_at, @label,
              @p_neg, @p_neu, @p_pos, @score, @model, @date_missing)
      ON CONFLICT (source, guid) DO NOTHING`);

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
    this.stLatestSeq = db.prepare('SELECT coalesce(max(seq), 0) FROM items').pluck();
    this.stItemsAfter = db.prepare('SELECT * FROM items WHERE seq > ? ORDER BY seq LIMIT ?');
    this.stCount = db.prepare('SELECT count(*) FROM items').pluck();
    this.stHealthy = db.prepare('SELECT 1').pluck();

    this.commitTx = db.transaction((sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: PollError) => {
      const now = new Date().toISOString();
      const inserted: StoredItem[] = [];
      for (const item of items) {
        if (item.source !== undefined && item.source !== sourceId) {
          throw new TickerpulseError('INPUT_INVALID', `item ${JSON.stringify(item.guid)} has source "${item.source}" but was committed for "${sourceId}"`);
        }
        const row = toRow(sourceId, item, now);
        const info = this.stInsertItem.run(row);
        // Rows are inserted one by one in this order, so seqs come out increasing.
        if (info.changes === 1) inserted.push(fromRow({ ...row, seq: Number(info.lastInsertRowid) }));
      }
      const params: Record<string, unknown> = { id: sourceId, itemsAdded: inserted.length, errorsAdded: error ? 1 : 0, now };
      for (const k of STATE_KEYS) {
        const provided = Object.prototype.hasOwnProperty.call(state, k) && state[k] !== undefined;
        params[`has_${k}`] = provided ? 1 : 0;
        params[k] = provided ? state[k] : null;
      }
      this.stUpsertSource.run(params);
      return inserted;
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
   * Returns only the rows that were new, with their seq, in increasing seq order — exactly what
   * the server should broadcast.
   * Throws TickerpulseError: INPUT_INVALID when an item's `source` differs from `sourceId`,
   * STORE_FAILED for any SQLite failure (constraint, disk full, busy; `retryable` set for the
   * transient ones).
   */
  commitPoll(sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: PollError): StoredItem[] {
    this.assertWritable();
    try {
      return this.commitTx(sourceId, items, state ?? {}, error);
    } catch (err) {
      throw storeError(`commit of ${items.length} item(s) for source "${sourceId}" failed`, err);
    }
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

  /** Items with seq > `seq`, ascending, at most `limit`. */
  itemsAfter(seq: number, limit: number): StoredItem[] {
    return (this.stItemsAfter.all(seq, limit) as ItemRow[]).map(fromRow);
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
    return (st.all(params) as ItemRow[]).map(fromRow);
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

function configure(db: Db, readonly: boolean, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
  if (!readonly) {
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
  }
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
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
