/** The wire shapes the dashboard reads (docs/PROTOCOL.md; src/server/wire.ts is the server's copy). */
export type Label = 'negative' | 'neutral' | 'positive';
export const LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

export interface TickerSentiment {
  symbol: string;
  label: Label;
  score: number;
}

export interface Item {
  seq: number;
  source: string;
  guid: string;
  title: string;
  url: string | null;
  publishedAt: string;
  label: Label;
  score: number;
  pNeg: number;
  pNeu: number;
  pPos: number;
  tickers: TickerSentiment[];
  storyId: number | null;
}

export interface Alert {
  id: number;
  rule: string;
  kind: string;
  ticker: string;
  at: string;
  direction: 'up' | 'down' | null;
  message: string;
  value: number;
  baseline: number | null;
  deviation: number | null;
  seqs: number[];
  createdAt?: string;
  /** Its place in the item stream (the newest item of its commit). */
  seq?: number | null;
  /** Why the webhook gave up on it; null/absent: delivered, pending or no webhook. */
  deliveryError?: string | null;
}

/** The webhook gave up on an alert (`delivery` message). */
export interface DeliveryFailure {
  alertId: number;
  ticker: string;
  delivered: false;
  error: string;
  at: string;
}

/** A bucket of /api/series, or the body of a `rollup` message. */
export interface Bucket {
  start: string;
  items: number;
  stories: number;
  meanScore: number | null;
  pos: number;
  neu: number;
  neg: number;
}

export interface RollupMessage extends Bucket {
  type: 'rollup';
  ticker: string;
  bucket: string;
}

export interface TickerRow {
  symbol: string;
  items: number;
  stories: number;
  meanScore: number | null;
  pos: number;
  neu: number;
  neg: number;
}

export interface SourceState {
  id: string;
  kind: string;
  status: string;
  lastPollAt: string | null;
  nextPollAt: string | null;
  consecutiveErrors: number;
  errors?: number;
  lastError: string | null;
  /** The cause behind lastError (e.g. `… ENOTFOUND www.sec.gov`), when known. */
  lastErrorMessage?: string | null;
  items: number;
  /** While status is 'retrying': its classify batch failed and is tried again. */
  retry?: { error: string; message: string; nextAttemptAt: string; attempt: number; attempts: number; next: 'retry' | 'split'; retries: number } | null;
}

export interface WireFilter {
  tickers?: string[];
  sources?: string[];
  labels?: Label[];
  minAbsScore?: number;
}

export type ServerMessage =
  | { type: 'hello'; seq: number; protocol: number; version: string; filter?: WireFilter }
  | { type: 'item'; item: Item }
  | { type: 'alert'; alert: Alert }
  | RollupMessage
  | { type: 'source'; source: SourceState }
  | { type: 'subscribed'; filter?: WireFilter }
  | { type: 'delivery'; delivery: DeliveryFailure }
  | { type: 'error'; code: string; message: string }
  | { type: 'pong' };
