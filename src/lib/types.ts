/** Shapes shared by sources, workers, pipelines, store and server (data flows one way through them). */

export type Label = 'negative' | 'neutral' | 'positive';

export interface Prediction {
  label: Label;
  pNeg: number;
  pNeu: number;
  pPos: number;
  /** pPos − pNeg, in [-1, 1]. */
  score: number;
}

/** An item as a source produced it, normalized but not yet classified. */
export interface RawItem {
  /** Stable identity within its source: guid → canonical link → hash(title + date). */
  guid: string;
  url: string | null;
  title: string;
  summary: string | null;
  /** ISO-8601; the fetch time when the document gave none (then dateMissing is true). */
  publishedAt: string | null;
  dateMissing?: boolean;
}

/** Per-source polling state, persisted in the same transaction as the items a poll produced. */
export interface SourceState {
  lastPollAt: string | null;
  nextPollAt: string | null;
  etag: string | null;
  lastModified: string | null;
  consecutiveErrors: number;
  lastError: string | null;
  /** Source-specific resume point (e.g. a JSONL byte offset). */
  cursor: string | null;
}

/** One unit of work from a source: what one poll (or one chunk of a file) produced. */
export interface PollResult {
  sourceId: string;
  items: RawItem[];
  /** Fields to persist with the items; omitted fields keep their stored values. */
  state: Partial<SourceState>;
  /**
   * Set when the poll failed (items is then empty) or partly failed (e.g. a JSONL chunk with
   * some invalid lines: its good items are still stored). Counted as an error either way.
   */
  error?: { code: string; message: string };
  /**
   * The source knows none of these items can be stored already (they come after its committed
   * cursor, or it has never stored anything): the pipeline skips the known-guid lookup. Only a
   * hint for speed — the store's ON CONFLICT still drops any repeat.
   */
  newSinceCursor?: boolean;
}

/** A company an item names (ticker linker) with the sentiment towards it. */
export interface ItemTicker {
  /** Canonical symbol (`AAPL`, `BRK.B`). */
  symbol: string;
  /** The linker's evidence: cashtag | exchange | name | alias. */
  via: string;
  /**
   * The sentiment towards this company: the entity model's when the headline names several
   * companies, else the headline's own prediction.
   */
  label: Label;
  score: number;
  pNeg: number;
  pNeu: number;
  pPos: number;
}

export interface ClassifiedItem extends RawItem, Prediction {
  source: string;
  fetchedAt: string;
  /** Id of the model that produced the label (content hash). */
  model: string;
  /** Tickers the headline names; absent or empty when none. */
  tickers?: ItemTicker[];
  /**
   * The story (near-identical headlines across sources) the item belongs to: the seq of the
   * story's first item. Null/absent for items stored before story clustering.
   */
  storyId?: number | null;
  /** True when the item started its story. */
  novel?: boolean;
  /**
   * `tickers` as the JSON the items.tickers column stores, when the source's worker built it
   * (null: none); the store builds it from `tickers` otherwise. Must describe the same tickers.
   */
  tickersJson?: string | null;
  /** MinHash signature of the title, computed on the source's worker (workers/storySignature.ts); not stored. */
  storySig?: Uint32Array;
}

export interface StoredItem extends ClassifiedItem {
  /** SQLite rowid: monotonic, the resume point for WebSocket clients. */
  seq: number;
}

/** An alert as the alert engine (pipelines/alerts.ts) raises it. */
export interface Alert {
  rule: string;
  kind: 'shift' | 'volume' | 'threshold';
  ticker: string;
  /** ISO event time of the item that triggered it. */
  at: string;
  direction: 'up' | 'down' | null;
  /** Human-readable, e.g. "AAPL sentiment fell to -0.72 (1h mean of 6 stories) from +0.02 ± 0.10 (7d): 7.4 sd". */
  message: string;
  /** Observed value: recent mean score (shift), stories in the recent window (volume), the ticker's score (threshold). */
  value: number;
  /** Trailing mean score (shift), trailing stories per recent window (volume), null (threshold). */
  baseline: number | null;
  /** |z| (shift: in trailing sd; volume: Poisson-ish), null (threshold). */
  deviation: number | null;
  /** Seqs of the stories in the recent window (the newest MAX_ALERT_SEQS), or the one item (threshold). Ascending. */
  seqs: number[];
}

/** An alert as stored (alerts + alert_items tables). */
export interface StoredAlert extends Alert {
  id: number;
  /** Wall clock when the alert was stored. */
  createdAt: string;
  /** When a webhook accepted it; null when there is no webhook, or delivery is pending or failed. */
  deliveredAt: string | null;
  /** Why the webhook gave up on it (`reason: message`); null when delivered, pending or without webhook. */
  deliveryError: string | null;
  /**
   * Its place in the item stream: the seq of the newest item stored in the same commit (null for
   * an alert without items stored before schema version 4). /ws sends it after that item.
   */
  seq: number | null;
}
