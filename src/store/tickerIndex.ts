/**
 * The index of items by ticker, built in batches.
 *
 * An item's tickers are stored with the item (`items.tickers`, JSON) in its commit. The index
 * by ticker (`ticker_index`, primary key (ticker, seq)) is filled from that column in batches
 * sorted by ticker, inside later items commits, once `tickerIndexLag` items wait (the oldest
 * 8× the commit's own items per commit, at least TICKER_INDEX_STEP): one row per ticker inserted
 * at a different place of the tree cost ~13 µs an item when every commit did it (a commit of
 * 500 items touched a page per ticker), while a batch sorted by ticker lands each ticker's rows
 * on one page (~4–5 µs an item; measured through ItemStore.commitPoll on 100,000 demo items). `meta.ticker_index_through` is the
 * last seq the index covers; it moves in the same transaction as the batch, so a crash can
 * leave nothing half-indexed, and what is not indexed yet is read from `items.tickers`.
 *
 * Readers therefore see every row at once: the view `item_tickers` (docs/SCHEMA.md) and the
 * statements below join the index with the not-yet-indexed newest items.
 */

/** The linker's kinds of evidence (ticker_index.via's CHECK). */
export const TICKER_VIAS: readonly string[] = ['cashtag', 'exchange', 'name', 'alias'];

/** meta key: the highest items.seq whose tickers are in ticker_index. */
export const TICKER_INDEX_THROUGH = 'ticker_index_through';

/** Items that may wait by default: the newest items readers scan from items.tickers stay about this many. */
export const DEFAULT_TICKER_INDEX_LAG = 4096;

/** Fewest items indexed per step once the lag is reached (else 8× the commit's own): bounds a small commit's pause. */
export const TICKER_INDEX_STEP = 512;

/**
 * Items indexed per step for each item the commit adds: a replay's 500-item commits get 4,000-item
 * batches (one commit in eight pays ~20 ms), measured 10 % cheaper a commit than 2,000-item ones.
 */
export const TICKER_INDEX_STEP_PER_ITEM = 8;

/** The watermark as an SQL expression (NULL when the meta row is missing: then the tail is empty). */
export const THROUGH_SQL = `CAST((SELECT value FROM meta WHERE key = '${TICKER_INDEX_THROUGH}') AS INTEGER)`;

/**
 * The rows jsonb_each yields that are well formed: commitPoll validates what it writes, this
 * keeps a hand-edited or foreign `tickers` value from breaking every later commit's batch.
 */
const VALID_ROW = `typeof(j.value ->> 'symbol') = 'text' AND j.value ->> 'via' IN (${TICKER_VIAS.map((v) => `'${v}'`).join(', ')})
      AND j.value ->> 'label' IN ('negative', 'neutral', 'positive') AND typeof(j.value ->> 'score') IN ('real', 'integer')`;

/**
 * The entries of item `i`'s tickers column. jsonb_each hands each entry on as JSONB, so the nine
 * `->>` lookups below walk a binary object instead of parsing its text again each time: the
 * batch's SELECT measured 4.5 → 2.9 µs an item (same rows). The column itself stays JSON text.
 */
const EACH_TICKER = 'jsonb_each(i.tickers)';

/** One jsonb_each entry of items.tickers (`j`) of item `i` as a row of the index. */
const ROW_COLUMNS = `j.value ->> 'symbol' AS ticker, i.seq AS seq, j.value ->> 'via' AS via, j.value ->> 'label' AS label,
           j.value ->> 'score' AS score, i.published_at AS published_at`;

/**
 * Rows (ticker, seq, via, label, score, published_at) of the items after the watermark, from
 * their tickers column. `symbolParam`: a bound parameter (e.g. `@ticker`) to keep only that
 * ticker's rows; the instr() test skips items not naming it before their JSON is parsed
 * (tickerpulse writes the column as `[{"symbol":"AAPL",...}]`, see ItemStore).
 */
export function unindexedTickerRowsSql(symbolParam?: string): string {
  // Cheap tests first: SQLite checks a loop's terms in the order written.
  const named = symbolParam ? `\n      AND instr(i.tickers, '"symbol":' || json_quote(${symbolParam})) > 0` : '';
  const symbol = symbolParam ? ` AND j.value ->> 'symbol' = ${symbolParam}` : '';
  return `
    SELECT ${ROW_COLUMNS}
    FROM items AS i, ${EACH_TICKER} AS j
    WHERE i.seq > ${THROUGH_SQL} AND i.tickers IS NOT NULL${named} AND json_valid(i.tickers)
      AND ${VALID_ROW}${symbol}`;
}

/** All rows of one ticker (bound as `symbolParam`), indexed or not: (ticker, seq, via, label, score, published_at). */
export function tickerRowsSql(symbolParam: string): string {
  return `
    SELECT ticker, seq, via, label, score, published_at FROM ticker_index WHERE ticker = ${symbolParam}
    UNION ALL${unindexedTickerRowsSql(symbolParam)}`;
}

/** Indexes the items with from < seq <= to (run inside a write transaction, then move the watermark). */
export const INDEX_BATCH_SQL = `
  INSERT INTO ticker_index (ticker, seq, via, label, score, published_at)
  SELECT ${ROW_COLUMNS}
  FROM items AS i, ${EACH_TICKER} AS j
  WHERE i.seq > @from AND i.seq <= @to AND i.tickers IS NOT NULL AND json_valid(i.tickers) AND ${VALID_ROW}
  ORDER BY 1, 2
  ON CONFLICT (ticker, seq) DO NOTHING`;
