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
    name: 'market intelligence: tickers, stories, rollups, alerts',
    sql: `
      -- Written in each poll's transaction (ItemStore.commitPoll), never by rescanning items.
      ALTER TABLE items ADD COLUMN story_id INTEGER;            -- stories.id; NULL for items stored before v2
      ALTER TABLE items ADD COLUMN novel INTEGER NOT NULL DEFAULT 0 CHECK (novel IN (0, 1)); -- 1: first item of its story
      -- The item's tickers as a JSON array [{"symbol","via","label","score","pNeg","pNeu","pPos"}]
      -- (NULL when none): reads get an item's tickers without a join; item_tickers is the
      -- index by ticker.
      ALTER TABLE items ADD COLUMN tickers TEXT;
      -- Copies only (a novel item's story_id is its own seq): the members of story X are
      -- seq = X OR (novel = 0 AND story_id = X). Keeps the common case (novel) index-free.
      CREATE INDEX idx_items_story_copies ON items (story_id) WHERE novel = 0;
      -- Every index costs each insert; these two served no query: by source, queries sort by
      -- time (idx_items_source_published); by label (a third of the rows each), the time range
      -- (idx_items_published_at) is the better access path.
      DROP INDEX idx_items_source_seq;
      DROP INDEX idx_items_label_published;

      -- One row per (ticker, item): the index of items by company, with the sentiment towards
      -- that company (the entity model's when the headline names several, else the headline's).
      -- Narrow on purpose: a commit inserts at one place per ticker, and row width is what those
      -- scattered inserts cost; the class probabilities are in items.tickers.
      CREATE TABLE item_tickers (
        ticker       TEXT    NOT NULL,            -- canonical symbol: AAPL, BRK.B
        seq          INTEGER NOT NULL,            -- items.seq
        via          TEXT    NOT NULL CHECK (via IN ('cashtag', 'exchange', 'name', 'alias')),
        label        TEXT    NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
        score        REAL    NOT NULL,
        published_at TEXT    NOT NULL,            -- copy of items.published_at
        PRIMARY KEY (ticker, seq)
      ) WITHOUT ROWID;

      -- commitPoll inserts item_tickers rows itself (measured: half the cost of an AFTER INSERT
      -- trigger with json_each); these keep them in step when items.tickers is rewritten
      -- (tickerpulse reclassify) or an item is deleted.
      CREATE TRIGGER items_tickers_update AFTER UPDATE OF tickers, published_at ON items BEGIN
        DELETE FROM item_tickers WHERE seq = old.seq AND ticker IN (SELECT j.value ->> 'symbol' FROM json_each(coalesce(old.tickers, '[]')) AS j);
        INSERT INTO item_tickers (ticker, seq, via, label, score, published_at)
          SELECT j.value ->> 'symbol', new.seq, j.value ->> 'via', j.value ->> 'label', j.value ->> 'score', new.published_at
          FROM json_each(coalesce(new.tickers, '[]')) AS j WHERE true
          ON CONFLICT (ticker, seq) DO NOTHING;
      END;
      CREATE TRIGGER items_tickers_delete AFTER DELETE ON items WHEN old.tickers IS NOT NULL BEGIN
        DELETE FROM item_tickers WHERE seq = old.seq AND ticker IN (SELECT j.value ->> 'symbol' FROM json_each(old.tickers) AS j);
      END;

      CREATE TABLE stories (
        id                 INTEGER PRIMARY KEY,   -- seq of the item that started it
        first_published_at TEXT    NOT NULL,
        last_published_at  TEXT    NOT NULL,
        title              TEXT    NOT NULL,      -- the first item's title
        source_count       INTEGER NOT NULL,      -- distinct sources that carried it
        item_count         INTEGER NOT NULL,
        tickers            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tickers)) -- JSON array of symbols
      );

      -- items: every stored item; stories: novel items only. The sentiment columns count each
      -- story once: for a ticker, the story's first item; for a source, the first item of the
      -- story from that source.
      CREATE TABLE rollups (
        kind      TEXT    NOT NULL CHECK (kind IN ('ticker', 'source')),
        key       TEXT    NOT NULL,               -- ticker symbol or source id
        bucket    TEXT    NOT NULL CHECK (bucket IN ('1m', '1h', '1d')),
        start     TEXT    NOT NULL,               -- bucket start (of published_at), ISO-8601 UTC
        items     INTEGER NOT NULL,
        stories   INTEGER NOT NULL,
        scored    INTEGER NOT NULL,               -- items counted in sum_score / pos / neu / neg
        sum_score REAL    NOT NULL,
        pos       INTEGER NOT NULL,
        neu       INTEGER NOT NULL,
        neg       INTEGER NOT NULL,
        -- Time first: one commit's upserts (many tickers, the same few minutes) land on the same
        -- few pages; keyed by ticker first they scattered over one page per ticker and cost 2.5x.
        -- A series of one key scans its time range across keys (few per bucket in practice).
        PRIMARY KEY (kind, bucket, start, key)
      ) WITHOUT ROWID;

      CREATE VIEW rollup_means AS
        SELECT kind, key, bucket, start, items, stories, scored,
               CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg
        FROM rollups;

      CREATE TABLE alerts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        rule         TEXT    NOT NULL,            -- rule id from the config
        kind         TEXT    NOT NULL CHECK (kind IN ('shift', 'volume', 'threshold')),
        ticker       TEXT    NOT NULL,
        at           TEXT    NOT NULL,            -- event time (published_at of the triggering item)
        direction    TEXT    CHECK (direction IN ('up', 'down')),
        message      TEXT    NOT NULL,
        value        REAL    NOT NULL,
        baseline     REAL,
        deviation    REAL,
        created_at   TEXT    NOT NULL,            -- wall clock
        delivered_at TEXT,                        -- webhook accepted it (NULL: no webhook, pending or failed)
        delivery_error TEXT
      );
      CREATE INDEX idx_alerts_at ON alerts (at);
      CREATE INDEX idx_alerts_ticker_at ON alerts (ticker, at);
      CREATE TABLE alert_items (
        alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (alert_id, seq)
      ) WITHOUT ROWID;

      -- Small key/value state, e.g. the resume point of \`tickerpulse reclassify\`.
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'ticker index built in batches; item_tickers becomes a view',
    sql: `
      -- Indexing every item's tickers in its own commit inserted each row at another place of
      -- the (ticker, seq) tree, the costliest part of a commit. The index is now filled from
      -- items.tickers in batches sorted by ticker (ItemStore, src/store/tickerIndex.ts), and
      -- meta.ticker_index_through says how far; item_tickers joins it with the newest items
      -- not indexed yet, so readers see every row at once.
      DROP TRIGGER items_tickers_update;
      DROP TRIGGER items_tickers_delete;
      ALTER TABLE item_tickers RENAME TO ticker_index;
      INSERT INTO meta (key, value) VALUES ('ticker_index_through', (SELECT coalesce(max(seq), 0) FROM items))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;

      -- A rewrite of an indexed item's tickers (tickerpulse reclassify) or its deletion keeps the
      -- index in step; items after the watermark are read from items.tickers anyway.
      CREATE TRIGGER items_tickers_update AFTER UPDATE OF tickers, published_at ON items
      WHEN old.seq <= CAST((SELECT value FROM meta WHERE key = 'ticker_index_through') AS INTEGER) BEGIN
        DELETE FROM ticker_index WHERE seq = old.seq AND ticker IN (SELECT j.value ->> 'symbol' FROM json_each(coalesce(old.tickers, '[]')) AS j);
        INSERT INTO ticker_index (ticker, seq, via, label, score, published_at)
          SELECT j.value ->> 'symbol', new.seq, j.value ->> 'via', j.value ->> 'label', j.value ->> 'score', new.published_at
          FROM json_each(coalesce(new.tickers, '[]')) AS j WHERE true
          ON CONFLICT (ticker, seq) DO NOTHING;
      END;
      CREATE TRIGGER items_tickers_delete AFTER DELETE ON items WHEN old.tickers IS NOT NULL BEGIN
        DELETE FROM ticker_index WHERE seq = old.seq AND ticker IN (SELECT j.value ->> 'symbol' FROM json_each(old.tickers) AS j);
      END;

      -- One row per (ticker, item), as before: the indexed rows, then the rows of the items
      -- after the watermark (well-formed entries of their tickers column).
      CREATE VIEW item_tickers (ticker, seq, via, label, score, published_at) AS
        SELECT ticker, seq, via, label, score, published_at FROM ticker_index
        UNION ALL
        SELECT j.value ->> 'symbol', i.seq, j.value ->> 'via', j.value ->> 'label', j.value ->> 'score', i.published_at
        FROM items AS i, json_each(i.tickers) AS j
        WHERE i.seq > CAST((SELECT value FROM meta WHERE key = 'ticker_index_through') AS INTEGER)
          AND i.tickers IS NOT NULL AND json_valid(i.tickers)
          AND typeof(j.value ->> 'symbol') = 'text' AND j.value ->> 'via' IN ('cashtag', 'exchange', 'name', 'alias')
          AND j.value ->> 'label' IN ('negative', 'neutral', 'positive') AND typeof(j.value ->> 'score') IN ('real', 'integer');
    `,
  },
  {
    version: 4,
    name: 'alerts.seq: an alert\'s place in the item stream',
    sql: `
      -- The seq of the newest item stored in the commit that raised the alert: live clients get
      -- an alert right after that commit's items, and a ?since replay sends it at the same place
      -- (WHERE seq > since ORDER BY seq, id). Alerts stored before this column existed get the
      -- newest of their items, which is the item that triggered them.
      ALTER TABLE alerts ADD COLUMN seq INTEGER;
      UPDATE alerts SET seq = (SELECT max(ai.seq) FROM alert_items AS ai WHERE ai.alert_id = alerts.id);
      CREATE INDEX idx_alerts_seq ON alerts (seq);
    `,
  },
];

export const SCHEMA_VERSION = migrations.length;
