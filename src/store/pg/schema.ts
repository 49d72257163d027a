/**
 * The PostgreSQL schema (cluster mode, docs/CLUSTER.md), equivalent to the SQLite one
 * (src/store/migrations.ts, docs/SCHEMA.md): the same tables, columns and value formats, so
 * the readers map rows the same way and `tickerpulse migrate` copies values unchanged.
 *
 * Differences, each on purpose:
 * - `items.seq` is assigned by the writer from the one-row `seq_counter`, updated in the commit's
 *   transaction (which also holds its row lock from the first statement): seqs are gap-free and
 *   increase in commit order across every writer. A SEQUENCE would leave gaps (rolled-back
 *   transactions, cached values) and would not order concurrent commits.
 * - `item_tickers` is a plain table written in each commit; SQLite's batched `ticker_index`
 *   exists to avoid scattered B-tree inserts on the writer's thread, which PostgreSQL's
 *   heap + index handles well enough (and there is no watermark to keep).
 * - Times stay ISO-8601 UTC text (`2024-05-01T13:45:00.000Z`) so text order is time order
 *   and the rollup bucket starts are the same strings as in SQLite. Compared and sorted text
 *   columns are COLLATE "C" (bytewise, as SQLite compares): the database's locale cannot change
 *   an order or a range, and the indexes serve range scans.
 *
 * Migrations are applied in order, each in its own transaction under a transaction-scoped
 * advisory lock, so concurrent starts (a writer and its standby) apply each exactly once.
 */
import type pg from 'pg';
import { TickerpulseError } from '../../lib/errors.js';

export interface PgMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Key of the advisory lock taken while migrating ("TkPl" as in SQLite's application_id, + 1). */
export const MIGRATION_LOCK_KEY = 0x546b506c01;

export const pgMigrations: readonly PgMigration[] = [
  {
    version: 1,
    name: 'items, item_tickers, stories, rollups, alerts, sources, dead letters, meta, seq counter',
    sql: `
      CREATE TABLE seq_counter (
        one      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        last_seq BIGINT  NOT NULL CHECK (last_seq >= 0)
      );
      INSERT INTO seq_counter (one, last_seq) VALUES (TRUE, 0);

      CREATE TABLE items (
        seq          BIGINT           PRIMARY KEY,
        source       TEXT COLLATE "C" NOT NULL,
        guid         TEXT             NOT NULL,
        url          TEXT,
        title        TEXT             NOT NULL,
        summary      TEXT,
        published_at TEXT COLLATE "C" NOT NULL,
        fetched_at   TEXT COLLATE "C" NOT NULL,
        label        TEXT             NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
        p_neg        DOUBLE PRECISION NOT NULL,
        p_neu        DOUBLE PRECISION NOT NULL,
        p_pos        DOUBLE PRECISION NOT NULL,
        score        DOUBLE PRECISION NOT NULL,
        model        TEXT             NOT NULL,
        date_missing SMALLINT         NOT NULL DEFAULT 0 CHECK (date_missing IN (0, 1)),
        story_id     BIGINT,
        novel        SMALLINT         NOT NULL DEFAULT 0 CHECK (novel IN (0, 1)),
        tickers      TEXT,
        UNIQUE (source, guid)
      );
      CREATE INDEX idx_items_published_at     ON items (published_at);
      CREATE INDEX idx_items_source_published ON items (source, published_at);
      CREATE INDEX idx_items_story_copies     ON items (story_id) WHERE novel = 0;

      CREATE TABLE item_tickers (
        ticker       TEXT COLLATE "C" NOT NULL,
        seq          BIGINT           NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
        via          TEXT             NOT NULL CHECK (via IN ('cashtag', 'exchange', 'name', 'alias')),
        label        TEXT             NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
        score        DOUBLE PRECISION NOT NULL,
        published_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (ticker, seq)
      );
      CREATE INDEX idx_item_tickers_ticker_published ON item_tickers (ticker, published_at, seq);

      CREATE TABLE stories (
        id                 BIGINT  PRIMARY KEY,
        first_published_at TEXT COLLATE "C" NOT NULL,
        last_published_at  TEXT COLLATE "C" NOT NULL,
        title              TEXT    NOT NULL,
        source_count       INTEGER NOT NULL,
        item_count         INTEGER NOT NULL,
        tickers            TEXT    NOT NULL DEFAULT '[]'
      );

      CREATE TABLE rollups (
        kind      TEXT             NOT NULL CHECK (kind IN ('ticker', 'source')),
        key       TEXT COLLATE "C" NOT NULL,
        bucket    TEXT             NOT NULL CHECK (bucket IN ('1m', '1h', '1d')),
        start     TEXT COLLATE "C" NOT NULL,
        items     INTEGER          NOT NULL,
        stories   INTEGER          NOT NULL,
        scored    INTEGER          NOT NULL,
        sum_score DOUBLE PRECISION NOT NULL,
        pos       INTEGER          NOT NULL,
        neu       INTEGER          NOT NULL,
        neg       INTEGER          NOT NULL,
        PRIMARY KEY (kind, bucket, start, key)
      );
      CREATE VIEW rollup_means AS
        SELECT kind, key, bucket, start, items, stories, scored,
               CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg
        FROM rollups;

      -- Alert ids may have gaps (an identity column): nothing resumes from them.
      CREATE TABLE alerts (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        rule           TEXT COLLATE "C" NOT NULL,
        kind           TEXT             NOT NULL CHECK (kind IN ('shift', 'volume', 'threshold')),
        ticker         TEXT COLLATE "C" NOT NULL,
        at             TEXT COLLATE "C" NOT NULL,
        direction      TEXT             CHECK (direction IN ('up', 'down')),
        message        TEXT             NOT NULL,
        value          DOUBLE PRECISION NOT NULL,
        baseline       DOUBLE PRECISION,
        deviation      DOUBLE PRECISION,
        created_at     TEXT             NOT NULL,
        delivered_at   TEXT,
        delivery_error TEXT,
        seq            BIGINT            -- the newest item of the commit that raised it: its place in the stream
      );
      CREATE INDEX idx_alerts_at        ON alerts (at);
      CREATE INDEX idx_alerts_ticker_at ON alerts (ticker, at);
      CREATE INDEX idx_alerts_seq       ON alerts (seq);
      CREATE TABLE alert_items (
        alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        seq      BIGINT NOT NULL,
        PRIMARY KEY (alert_id, seq)
      );

      CREATE TABLE sources (
        id                 TEXT COLLATE "C" PRIMARY KEY,
        last_poll_at       TEXT,
        next_poll_at       TEXT,
        etag               TEXT,
        last_modified      TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        cursor             TEXT,
        items_total        BIGINT  NOT NULL DEFAULT 0,
        errors_total       BIGINT  NOT NULL DEFAULT 0,
        updated_at         TEXT    NOT NULL
      );

      CREATE TABLE dead_letters (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source     TEXT    NOT NULL,
        guid       TEXT,
        payload    TEXT    NOT NULL,
        code       TEXT    NOT NULL,
        message    TEXT    NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 1,
        created_at TEXT    NOT NULL
      );
      CREATE INDEX idx_dead_letters_source ON dead_letters (source, id);

      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];

export const PG_SCHEMA_VERSION = pgMigrations.length;

/**
 * Creates or upgrades the schema (idempotent; safe from several processes at once).
 * STORE_FAILED when the database holds a newer schema than this tickerpulse knows.
 */
export async function migratePg(pool: pg.Pool): Promise<number> {
  const c = await pool.connect();
  try {
    for (;;) {
      await c.query('BEGIN');
      try {
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        await c.query('CREATE TABLE IF NOT EXISTS tickerpulse_schema (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), version INTEGER NOT NULL)');
        const r = await c.query<{ version: number }>('SELECT version FROM tickerpulse_schema');
        const current = r.rows.length ? r.rows[0].version : 0;
        if (current > PG_SCHEMA_VERSION) {
          throw new TickerpulseError('STORE_FAILED', `the PostgreSQL database has tickerpulse schema version ${current}, newer than this tickerpulse supports (${PG_SCHEMA_VERSION}); upgrade tickerpulse`, {
            details: { schemaVersion: current, supported: PG_SCHEMA_VERSION },
          });
        }
        const next = pgMigrations.find((m) => m.version === current + 1);
        if (!next) {
          await c.query('COMMIT');
          return current;
        }
        await c.query(next.sql);
        await c.query('INSERT INTO tickerpulse_schema (one, version) VALUES (TRUE, $1) ON CONFLICT (one) DO UPDATE SET version = excluded.version', [next.version]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  } finally {
    c.release();
  }
}

/** The schema version of the database (0: empty), without changing anything. */
export async function pgSchemaVersion(pool: pg.Pool): Promise<number> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('tickerpulse_schema')::text AS t`);
  if (exists.rows[0]?.t == null) return 0;
  const r = await pool.query<{ version: number }>('SELECT version FROM tickerpulse_schema');
  return r.rows[0]?.version ?? 0;
}
