/**
 * The shapes tickerpulse sends to clients (WebSocket messages, /api/items rows, `query --format
 * json` lines). docs/PROTOCOL.md is the human-readable contract; this file is the code one.
 * Protocol version 2 (see PROTOCOL_VERSION): later versions only add fields and message types.
 */
import type { Label, StoredAlert, StoredItem } from '../lib/types.js';
import type { QueryResult } from '../query/queries.js';
import type { WireFilter } from './subscriptions.js';

/** 2: subscriptions (filters), rollup and source messages, pong ids, access control. */
export const PROTOCOL_VERSION = 2;

/** The item as streamed over the WebSocket. */
export interface WireItem {
  seq: number;
  source: string;
  guid: string;
  title: string;
  url: string | null;
  /** ISO-8601 UTC. */
  publishedAt: string;
  label: Label;
  score: number;
  pNeg: number;
  pNeu: number;
  pPos: number;
  /** Companies the headline names, with the sentiment towards each (empty when none). */
  tickers: WireTicker[];
  /** The story the item belongs to (the same news from several sources shares it); null for items stored before stories existed. */
  storyId: number | null;
}

export interface WireTicker {
  /** Canonical symbol: `AAPL`, `BRK.B`. */
  symbol: string;
  label: Label;
  score: number;
}

/** The item as returned by GET /api/items and `tickerpulse query --format json`. */
export interface ApiItem extends WireItem {
  summary: string | null;
  fetchedAt: string;
  model: string;
  /** True when the feed gave no date: publishedAt is then the fetch time. */
  dateMissing: boolean;
}

export function toWireItem(item: StoredItem): WireItem {
  return {
    seq: item.seq,
    source: item.source,
    guid: item.guid,
    title: item.title,
    url: item.url ?? null,
    publishedAt: item.publishedAt ?? item.fetchedAt,
    label: item.label,
    score: item.score,
    pNeg: item.pNeg,
    pNeu: item.pNeu,
    pPos: item.pPos,
    tickers: item.tickers ? item.tickers.map((t) => ({ symbol: t.symbol, label: t.label, score: t.score })) : [],
    storyId: item.storyId ?? null,
  };
}

export function toApiItem(item: StoredItem): ApiItem {
  return {
    ...toWireItem(item),
    summary: item.summary ?? null,
    fetchedAt: item.fetchedAt,
    model: item.model,
    dateMissing: item.dateMissing === true,
  };
}

/** An alert as pushed over the WebSocket and returned by /api/alerts and `query alerts --format json` (StoredAlert without deliveredAt). */
export type WireAlert = Omit<StoredAlert, 'deliveredAt'>;

export function toWireAlert(a: StoredAlert): WireAlert {
  return {
    id: a.id,
    rule: a.rule,
    kind: a.kind,
    ticker: a.ticker,
    at: a.at,
    direction: a.direction ?? null,
    message: a.message,
    value: a.value,
    baseline: a.baseline ?? null,
    deviation: a.deviation ?? null,
    seqs: [...a.seqs],
    createdAt: a.createdAt,
    seq: a.seq ?? null,
    deliveryError: a.deliveryError ?? null,
  };
}

/** The JSON rows of a query result (/api/<kind>, `tickerpulse query <kind> --format json`). */
export function toApiRows(r: QueryResult): unknown[] {
  switch (r.kind) {
    case 'items':
      return r.rows.map(toApiItem);
    case 'alerts':
      return r.rows.map(toWireAlert);
    case 'tickers':
    case 'series':
      return r.rows;
  }
}

/** Error codes of the HTTP API and WebSocket `error` messages (protocol-level, stable). */
export type ProtocolErrorCode =
  | 'BAD_REQUEST'
  | 'INPUT_INVALID'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'STORE_FAILED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface HelloMessage {
  type: 'hello';
  /** Latest stored seq when the connection was accepted. */
  seq: number;
  protocol: number;
  version: string;
  /** The connection's filter (from the URL), as canonicalized; `{}` = everything. */
  filter: WireFilter;
}
export interface ItemMessage {
  type: 'item';
  item: WireItem;
}
export interface ErrorMessage {
  type: 'error';
  code: ProtocolErrorCode;
  message: string;
}
export interface AlertMessage {
  type: 'alert';
  alert: WireAlert;
}
export interface PongMessage {
  type: 'pong';
  /** The ping's id, when it had one. */
  id?: string | number;
}
/** Answer to subscribe / unsubscribe: the filter now in force. */
export interface SubscribedMessage {
  type: 'subscribed';
  filter: WireFilter;
}
/** A ticker's 1-minute rollup bucket after it changed (to clients whose tickers filter names it). */
export interface RollupMessage {
  type: 'rollup';
  ticker: string;
  bucket: '1m';
  /** Bucket start, ISO-8601 UTC. */
  start: string;
  items: number;
  stories: number;
  meanScore: number | null;
  pos: number;
  neu: number;
  neg: number;
}
/** A source's state after its status or lastError changed (the same object as in /healthz `sources`). */
export interface SourceMessage {
  type: 'source';
  source: WireSource;
}
export interface WireSource {
  id: string;
  kind: string;
  status: string;
  lastPollAt: string | null;
  nextPollAt: string | null;
  consecutiveErrors: number;
  lastError: string | null;
  /** The cause behind lastError (the error's message), when known. */
  lastErrorMessage?: string | null;
  items: number;
  [k: string]: unknown;
}
/** The webhook gave up on an alert (after its retries, or it was dropped from a full queue). */
export interface DeliveryMessage {
  type: 'delivery';
  delivery: {
    alertId: number;
    ticker: string;
    /** False: this message is only sent for failures. */
    delivered: false;
    /** `reason: message`, as stored in alerts.delivery_error. */
    error: string;
    at: string;
  };
}
export type ServerMessage = HelloMessage | ItemMessage | AlertMessage | ErrorMessage | PongMessage | SubscribedMessage | RollupMessage | SourceMessage | DeliveryMessage;

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** Server shutting down. */
  GOING_AWAY: 1001,
  /** A text frame that is not valid UTF-8 (sent by the ws library). */
  INVALID_PAYLOAD: 1007,
  /** Invalid request (e.g. a malformed `since`), or repeated invalid / rate-limited messages. */
  POLICY_VIOLATION: 1008,
  /** Inbound message larger than the limit (sent by the ws library). */
  MESSAGE_TOO_BIG: 1009,
  /** Internal error (e.g. the store failed during a replay). */
  INTERNAL_ERROR: 1011,
  /** Client too slow: outbound buffer over the cap. Reconnect with ?since=<last seq seen>. */
  TOO_SLOW: 4008,
} as const;
