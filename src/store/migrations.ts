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
];

export const SCHEMA_VERSION = migrations.length;
