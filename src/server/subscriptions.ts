/**
 * WebSocket subscriptions (protocol 2): the per-connection filter, given on the URL
 * (`?tickers=…&sources=…&labels=…&minAbsScore=…`) or by a `subscribe` message, how items and
 * alerts are matched against it, and the parsing of client messages. Pure functions: the
 * server (server.ts) owns the connections. See docs/PROTOCOL.md.
 */
import { TickerpulseError } from '../lib/errors.js';
import type { Label, StoredAlert, StoredItem } from '../lib/types.js';
import { LABELS, parseTicker } from '../store/filters.js';

/** Most tickers (or sources) one filter may name. */
export const MAX_FILTER_ENTRIES = 1000;
const SOURCE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The filter as sent back to the client (`hello.filter`, `subscribed.filter`): only the constraints in force. */
export interface WireFilter {
  tickers?: string[];
  sources?: string[];
  labels?: Label[];
  minAbsScore?: number;
}

/** The filter as matched: sets, and 0 for "any score". */
export interface Filter {
  tickers: ReadonlySet<string> | null;
  sources: ReadonlySet<string> | null;
  labels: ReadonlySet<Label> | null;
  minAbsScore: number;
}

export const EMPTY_FILTER: Filter = Object.freeze({ tickers: null, sources: null, labels: null, minAbsScore: 0 });

export interface FilterInput {
  tickers?: readonly string[] | null;
  sources?: readonly string[] | null;
  labels?: readonly string[] | null;
  minAbsScore?: number | null;
}

const bad = (message: string) => new TickerpulseError('INPUT_INVALID', message);
const shown = (s: string) => JSON.stringify(s.length > 20 ? s.slice(0, 20) + '…' : s);

/** Validates and canonicalizes (tickers as stored: `brk-b` → `BRK.B`; labels lower case; duplicates dropped). Throws INPUT_INVALID. */
export function makeFilter(input: FilterInput): Filter {
  const list = (name: string, v: readonly string[] | null | undefined, each: (s: string) => string): Set<string> | null => {
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) throw bad(`${name} must be an array of strings`);
    if (v.length > MAX_FILTER_ENTRIES) throw bad(`${name} may list at most ${MAX_FILTER_ENTRIES} entries (got ${v.length})`);
    const out = new Set<string>();
    for (const x of v) {
      if (typeof x !== 'string') throw bad(`${name} must be an array of strings`);
      out.add(each(x));
    }
    return out.size > 0 ? out : null;
  };
  const tickers = list('tickers', input.tickers, (s) => {
    try {
      return parseTicker(s);
    } catch {
      throw bad(`tickers: ${shown(s)} is not a symbol of 1-6 letters with an optional share class, like AAPL or BRK.B`);
    }
  });
  const sources = list('sources', input.sources, (s) => {
    if (!SOURCE_ID.test(s)) throw bad(`sources: ${shown(s)} is not a source id (a-z, 0-9, "-")`);
    return s;
  });
  const labels = list('labels', input.labels, (s) => {
    const l = s.trim().toLowerCase();
    if (!(LABELS as readonly string[]).includes(l)) throw bad(`labels: ${shown(s)} is not one of ${LABELS.join(', ')}`);
    return l;
  }) as Set<Label> | null;
  let minAbsScore = 0;
  if (input.minAbsScore !== undefined && input.minAbsScore !== null) {
    const m = input.minAbsScore;
    if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > 1) throw bad('minAbsScore must be a number from 0 to 1');
    minAbsScore = m;
  }
  return { tickers, sources, labels, minAbsScore };
}

/** The URL's filter parameters (each at most once, comma-separated lists). Throws INPUT_INVALID. */
export function filterFromSearch(search: URLSearchParams): Filter {
  const one = (name: string): string | undefined => {
    const all = search.getAll(name);
    if (all.length > 1) throw bad(`${name} may be given at most once`);
    if (all.length === 1 && all[0].trim() === '') throw bad(`${name} must not be empty`);
    return all[0];
  };
  const csv = (name: string) => {
    const v = one(name);
    return v === undefined ? undefined : v.split(',').map((s) => s.trim());
  };
  const min = one('minAbsScore');
  let minAbsScore: number | undefined;
  if (min !== undefined) {
    if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(min)) throw bad(`minAbsScore must be a number from 0 to 1 (got ${shown(min)})`);
    minAbsScore = Number(min);
  }
  return makeFilter({ tickers: csv('tickers'), sources: csv('sources'), labels: csv('labels'), minAbsScore });
}

export function wireFilter(f: Filter): WireFilter {
  const out: WireFilter = {};
  if (f.tickers) out.tickers = [...f.tickers];
  if (f.sources) out.sources = [...f.sources];
  if (f.labels) out.labels = [...f.labels];
  if (f.minAbsScore > 0) out.minAbsScore = f.minAbsScore;
  return out;
}

export function matchesItem(f: Filter, item: StoredItem): boolean {
  if (f.sources && !f.sources.has(item.source)) return false;
  if (f.labels && !f.labels.has(item.label)) return false;
  if (f.minAbsScore > 0 && !(Math.abs(item.score) >= f.minAbsScore)) return false;
  if (f.tickers) {
    const ts = item.tickers;
    if (!ts) return false;
    for (let i = 0; i < ts.length; i++) if (f.tickers.has(ts[i].symbol)) return true;
    return false;
  }
  return true;
}

export function matchesAlert(f: Filter, alert: StoredAlert): boolean {
  return f.tickers === null || f.tickers.has(alert.ticker);
}

// ------------------------------------------------------------------------------ client messages

export type ClientMessage =
  | { type: 'subscribe'; filter: Filter }
  | { type: 'unsubscribe' }
  | { type: 'ping'; id?: string | number };

const SUBSCRIBE_KEYS = new Set(['type', 'tickers', 'sources', 'labels', 'minAbsScore']);

/** One client text message → a message, or TickerpulseError('INPUT_INVALID') with a message for the client. */
export function parseClientMessage(text: string): ClientMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw bad('messages must be JSON objects');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw bad('messages must be JSON objects');
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'ping': {
      const id = m.id;
      if (id === undefined) return { type: 'ping' };
      if ((typeof id === 'string' && id.length <= 200) || (typeof id === 'number' && Number.isFinite(id))) return { type: 'ping', id };
      throw bad('ping id must be a string (at most 200 characters) or a number');
    }
    case 'unsubscribe':
      return { type: 'unsubscribe' };
    case 'subscribe': {
      for (const k of Object.keys(m)) if (!SUBSCRIBE_KEYS.has(k)) throw bad(`subscribe: unknown field ${shown(k)} (fields: tickers, sources, labels, minAbsScore)`);
      return { type: 'subscribe', filter: makeFilter(m as FilterInput) };
    }
    default:
      throw bad(typeof m.type === 'string' ? `unknown message type ${shown(m.type)} (types: subscribe, unsubscribe, ping)` : 'messages need a "type": subscribe, unsubscribe or ping');
  }
}

// ------------------------------------------------------------------------------ abuse limits

/** Token bucket: `rate` per second, up to `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts violations in a sliding window; `add()` is true once there are `max` within `windowMs`. */
export class ViolationWindow {
  private readonly times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}
  add(): boolean {
    const t = this.now();
    while (this.times.length > 0 && this.times[0] <= t - this.windowMs) this.times.shift();
    this.times.push(t);
    return this.times.length >= this.max;
  }
}

/**
 * Two filters with the same key match exactly the same items and alerts: clients sharing a key
 * share one frame buffer per broadcast (server.ts, filter classes).
 */
export function filterKey(f: Filter): string {
  const sorted = (s: ReadonlySet<string> | null) => (s ? [...s].sort() : null);
  return JSON.stringify([sorted(f.tickers), sorted(f.sources), sorted(f.labels), f.minAbsScore]);
}
