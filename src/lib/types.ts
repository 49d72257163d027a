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
}

export interface ClassifiedItem extends RawItem, Prediction {
  source: string;
  fetchedAt: string;
  /** Id of the model that produced the label (content hash). */
  model: string;
}

export interface StoredItem extends ClassifiedItem {
  /** SQLite rowid: monotonic, the resume point for WebSocket clients. */
  seq: number;
}

/** An alert as stored (`alerts` + its `alert_items` seqs); read by src/query, pushed by the server. */
export interface StoredAlert {
  id: number;
  /** Rule id from the config. */
  rule: string;
  kind: 'shift' | 'volume' | 'threshold';
  ticker: string;
  /** Event time: published_at of the triggering item (ISO-8601 UTC). */
  at: string;
  direction: 'up' | 'down' | null;
  message: string;
  value: number;
  baseline: number | null;
  deviation: number | null;
  /** Seqs of the items behind the alert, ascending. */
  seqs: number[];
  /** Wall clock when the alert was stored. */
  createdAt: string;
  /** When a webhook accepted it; null when there is no webhook, or delivery is pending or failed. */
  deliveredAt: string | null;
}
