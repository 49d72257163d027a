/**
 * The shapes tickerpulse sends to clients (WebSocket messages, /api/items rows, `query --format
 * json` lines). docs/PROTOCOL.md is the human-readable contract; this file is the code one.
 * Protocol version 1: later versions only add fields and message types.
 */
import type { Label, StoredItem } from '../lib/types.js';

export const PROTOCOL_VERSION = 1;

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

/** Error codes of the HTTP API and WebSocket `error` messages (protocol-level, stable). */
export type ProtocolErrorCode = 'BAD_REQUEST' | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'STORE_FAILED' | 'UNAVAILABLE' | 'INTERNAL';

export interface HelloMessage {
  type: 'hello';
  /** Latest stored seq when the connection was accepted. */
  seq: number;
  protocol: number;
  version: string;
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
export interface PongMessage {
  type: 'pong';
}
export type ServerMessage = HelloMessage | ItemMessage | ErrorMessage | PongMessage;

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** Server shutting down. */
  GOING_AWAY: 1001,
  /** Invalid request (e.g. a malformed `since`). */
  POLICY_VIOLATION: 1008,
  /** Inbound message larger than the limit (sent by the ws library). */
  MESSAGE_TOO_BIG: 1009,
  /** Internal error (e.g. the store failed during a replay). */
  INTERNAL_ERROR: 1011,
  /** Client too slow: outbound buffer over the cap. Reconnect with ?since=<last seq seen>. */
  TOO_SLOW: 4008,
} as const;
