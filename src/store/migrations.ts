/**
 * Versioned schema migrations, applied in order by ItemStore.open().
 *
 * The schema version lives in SQLite's `PRAGMA user_version` (0 = empty database). Migration N
 * takes the database from version N-1 to N; each runs in its own transaction together with the
 * `user_version` bump, so a crash mid-migration leaves the previous version intact.
 *
 * Rules for adding one: append (never edit or reorder a released entry), bump nothing else —
 * SCHEMA_VERSION follows the array — and describe the change in docs/SCHEMA.md.
 */

export interface Migration {
  /** The user_version this migration produces (1-based, consecutive). */
  readonly version: number;
  readonly name: string;
  /** SQL run inside the migration's transaction (may hold several statements). */
  readonly sql: string;
}

/** `PRAGMA application_id` of a tickerpulse database ("TkPl"), so a foreign SQLite file is refused. */
export const APPLICATION_ID = 0x546b506c;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema: items, sources, dead_letters',
    sql: `
      -- AUTOINCREMENT: a seq is never reused, even after the newest rows are deleted, so a
      -- client's resume point (ws ?since=SEQ) can never come to mean a different item.
      CREATE TABLE items (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        source       TEXT    NOT NULL,
        guid         TEXT    NOT NULL,
        url          TEXT,
        title        TEXT    NOT NULL,
        summary      TEXT,
        published_at TEXT    NOT NULL,            -- ISO-8601 UTC, e.g. 2024-05-01T13:45:00.000Z
        fetched_at   TEXT    NOT NULL,            -- ISO-8601 UTC
        label        TEXT    NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
        p_neg        REAL    NOT NULL,
        p_neu        REAL    NOT NULL,
        p_pos        REAL    NOT NULL,
        score        REAL    NOT NULL,            -- p_pos - p_neg, in [-1, 1]
        model        TEXT    NOT NULL,
        date_missing INTEGER NOT NULL DEFAULT 0 CHECK (date_missing IN (0, 1)),
        UNIQUE (source, guid)
      );
      CREATE INDEX idx_items_published_at     ON items (published_at);
      CREATE INDEX idx_items_source_seq       ON items (source, seq);
      CREATE INDEX idx_items_source_published ON items (source, published_at);
      CREATE INDEX idx_items_label_published  ON items (label, published_at);

      CREATE TABLE sources (
        id                 TEXT    PRIMARY KEY,
        last_poll_at       TEXT,
        next_poll_at       TEXT,
        etag               TEXT,
        last_modified      TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        cursor             TEXT,
        items_total        INTEGER NOT NULL DEFAULT 0,
        errors_total       INTEGER NOT NULL DEFAULT 0,
        updated_at         TEXT    NOT NULL
      );

      CREATE TABLE dead_letters (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        source     TEXT    NOT NULL,
        guid       TEXT,
        payload    TEXT    NOT NULL CHECK (json_valid(payload)),
        code       TEXT    NOT NULL,
        message    TEXT    NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 1,
        created_at TEXT    NOT NULL
      );
      CREATE INDEX idx_dead_letters_source ON dead_letters (source, id);

      PRAGMA application_id = ${APPLICATION_ID};
    `,
  },
  {
    version: 2,
    name: 'item_tickers: the companies each item names',
    sql: `
      -- One row per (item, ticker). Sentiment columns are per ticker; for now they repeat the
      -- headline's prediction (a per-entity model comes later). Written in the poll's transaction.
      CREATE TABLE item_tickers (
        seq    INTEGER NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
        ticker TEXT    NOT NULL,                  -- canonical symbol: AAPL, BRK.B
        via    TEXT    NOT NULL,                  -- cashtag | exchange | name | alias
        label  TEXT    NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
        score  REAL    NOT NULL,
        p_neg  REAL    NOT NULL,
        p_neu  REAL    NOT NULL,
        p_pos  REAL    NOT NULL,
        PRIMARY KEY (seq, ticker)
      ) WITHOUT ROWID;
      CREATE INDEX idx_item_tickers_ticker_seq ON item_tickers (ticker, seq);
    `,
  },
  {
    version: 3,
    name: 'stories: near-identical headlines across sources',
    sql: `
      -- Set in the poll's transaction from the daemon's story clusterer (pipelines/storyCluster.ts).
      ALTER TABLE items ADD COLUMN story_id TEXT;                 -- NULL for items stored before v3
      ALTER TABLE items ADD COLUMN novel INTEGER NOT NULL DEFAULT 0 CHECK (novel IN (0, 1)); -- 1: the item started its story
      CREATE INDEX idx_items_story ON items (story_id, seq);

      CREATE TABLE stories (
        id                 TEXT    PRIMARY KEY,   -- 's' || seq of the item that started it
        first_seq          INTEGER NOT NULL,
        first_published_at TEXT    NOT NULL,
        title              TEXT    NOT NULL,      -- the first item's title
        source_count       INTEGER NOT NULL,      -- distinct sources that carried it
        item_count         INTEGER NOT NULL,
        tickers            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tickers)) -- JSON array of symbols
      );
      CREATE INDEX idx_stories_first_published ON stories (first_published_at);
    `,
  },
  {
    version: 4,
    name: 'rollups: per-ticker and per-source counts and sentiment by minute, hour and day',
    sql: `
      -- Maintained incrementally (UPSERT) in each poll's transaction, never by rescanning items.
      CREATE TABLE rollups (
        kind      TEXT    NOT NULL CHECK (kind IN ('ticker', 'source')),
        key       TEXT    NOT NULL,               -- ticker symbol or source id
        bucket    TEXT    NOT NULL CHECK (bucket IN ('1m', '1h', '1d')),
        start     TEXT    NOT NULL,               -- bucket start (of published_at), ISO-8601 UTC
        items     INTEGER NOT NULL,
        stories   INTEGER NOT NULL,               -- novel items only: a story counts once
        sum_score REAL    NOT NULL,
        pos       INTEGER NOT NULL,
        neu       INTEGER NOT NULL,
        neg       INTEGER NOT NULL,
        PRIMARY KEY (kind, key, bucket, start)
      ) WITHOUT ROWID;

      CREATE VIEW rollup_means AS
        SELECT kind, key, bucket, start, items, stories, sum_score / items AS mean_score, pos, neu, neg
        FROM rollups;
    `,
  },
];

export const SCHEMA_VERSION = migrations.length;
