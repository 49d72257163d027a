/**
 * Parameter specs of the four query kinds (items, tickers, series, alerts), shared by the HTTP
 * API (`/api/<kind>?…`, from URLSearchParams) and `tickerpulse query [<kind>] --…` (parsed argv).
 * Both hand over the same plain record, so both accept exactly the same spellings and refuse
 * the same mistakes with the same messages.
 *
 * Every failure is TickerpulseError('INPUT_INVALID') with a one-line message that names the
 * parameter and what is allowed. User text is echoed at most 20 characters long (JSON-quoted),
 * never in full, so a hostile value cannot flood a log or a terminal.
 */
import { TickerpulseError } from '../lib/errors.js';
import type { Label } from '../lib/types.js';
import { LABELS, MAX_FILTER_TEXT, parseSince, parseTicker } from '../store/filters.js';

/** What the CLI (parsed argv) and HTTP (URLSearchParams) both produce. */
export type ParamInput = Record<string, string | string[] | undefined>;

export const QUERY_KINDS = ['items', 'tickers', 'series', 'alerts'] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

/** The CLI also renders tables; HTTP answers JSON or CSV. */
export type Channel = 'http' | 'cli';
export type Format = 'json' | 'csv' | 'table';
export const FORMATS: Readonly<Record<Channel, readonly Format[]>> = { http: ['json', 'csv'], cli: ['table', 'json', 'csv'] };

export type Order = 'asc' | 'desc';
export const ORDERS: readonly Order[] = ['asc', 'desc'];

export const BUCKETS = ['1m', '1h', '1d'] as const;
export type Bucket = (typeof BUCKETS)[number];
export const BUCKET_MS: Readonly<Record<Bucket, number>> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

export const ALERT_KINDS = ['shift', 'volume', 'threshold'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** `limit` is always 1..MAX_LIMIT. */
export const MAX_LIMIT = 1000;
/** Longest accepted value of any parameter (longer → INPUT_INVALID before any other check). */
export const MAX_PARAM_LENGTH = MAX_FILTER_TEXT;
/** A series may span at most this many buckets (1m ≈ 13.9 days, 1h ≈ 2.3 years, 1d ≈ 54 years). */
export const MAX_SERIES_BUCKETS = 20_000;

/** Sort fields per kind: the public name. The SQL for each lives in queries.ts (allowlist map). */
export const ITEM_SORTS = ['published', 'seq', 'score'] as const;
export type ItemSort = (typeof ITEM_SORTS)[number];
export const TICKER_SORTS = ['items', 'stories', 'score', 'symbol'] as const;
export type TickerSort = (typeof TICKER_SORTS)[number];
export const ALERT_SORTS = ['at', 'value'] as const;
export type AlertSort = (typeof ALERT_SORTS)[number];

export interface ItemsParams {
  kind: 'items';
  format: Format;
  source?: string;
  label?: Label;
  /** Only items with published_at >= since. */
  since?: Date;
  /** Case-insensitive (ASCII) substring of title or summary; `%`/`_` are literal. */
  search?: string;
  /** Canonical symbol (`BRK.B`). */
  ticker?: string;
  /** Keyset cursor: only items with seq < before (exclusive). Forces sort=seq. */
  before?: number;
  /** Keyset cursor: only items with seq > after (exclusive). Forces sort=seq. */
  after?: number;
  /** 0 = every matching row (CLI `--all` / `--limit 0`, streamed; never from HTTP). */
  limit: number;
  sort: ItemSort;
  order: Order;
}

export interface TickersParams {
  kind: 'tickers';
  format: Format;
  since: Date;
  /** 0 = every ticker (CLI `--all`). */
  limit: number;
  sort: TickerSort;
  order: Order;
}

export interface SeriesParams {
  kind: 'series';
  format: Format;
  /** Exactly one of ticker / source. */
  ticker?: string;
  source?: string;
  bucket: Bucket;
  since: Date;
}

export interface AlertsParams {
  kind: 'alerts';
  format: Format;
  since: Date;
  ticker?: string;
  rule?: string;
  alertKind?: AlertKind;
  /** 0 = every matching alert (CLI `--all`, streamed). */
  limit: number;
  sort: AlertSort;
  order: Order;
}

export type QueryParams = ItemsParams | TickersParams | SeriesParams | AlertsParams;
export interface ParamsOf {
  items: ItemsParams;
  tickers: TickersParams;
  series: SeriesParams;
  alerts: AlertsParams;
}

export interface ValidateOptions {
  channel: Channel;
  /** The clock for relative `since` values (tests pin it). Default: now. */
  now?: Date;
  /** Default `limit` of items (CLI 50, HTTP 100 unless the server's limits say otherwise). */
  itemsDefaultLimit?: number;
  /** Lowers MAX_LIMIT (the server's `apiMaxLimit`). */
  maxLimit?: number;
  /**
   * Accept `limit=0` = no limit (the CLI, which then streams the rows: cli/queryExport.ts).
   * Never set for HTTP: an unbounded answer there would be built in memory.
   */
  allowUnlimited?: boolean;
}

const DEFAULT_LIMIT: Readonly<Record<QueryKind, Record<Channel, number>>> = {
  items: { cli: 50, http: 100 },
  tickers: { cli: 50, http: 50 },
  series: { cli: 0, http: 0 },
  alerts: { cli: 100, http: 100 },
};

/** `since` when not given (series: per bucket). */
const DEFAULT_SINCE_MS = { tickers: 24 * 3_600_000, alerts: 24 * 3_600_000 } as const;
export const SERIES_DEFAULT_SINCE: Readonly<Record<Bucket, string>> = { '1m': '6h', '1h': '7d', '1d': '90d' };

/** Default order per sort field: newest / largest first, except symbols (A→Z). */
const DEFAULT_ORDER: Readonly<Record<string, Order>> = { symbol: 'asc' };

/** The parameters each kind accepts (anything else is an unknown parameter). */
export const PARAM_NAMES: Readonly<Record<QueryKind, readonly string[]>> = {
  items: ['source', 'label', 'since', 'search', 'ticker', 'before', 'after', 'limit', 'sort', 'order', 'format'],
  tickers: ['since', 'limit', 'sort', 'order', 'format'],
  series: ['ticker', 'source', 'bucket', 'since', 'format'],
  alerts: ['since', 'ticker', 'rule', 'kind', 'limit', 'sort', 'order', 'format'],
};

const RULE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

function invalid(message: string): TickerpulseError {
  return new TickerpulseError('INPUT_INVALID', message);
}

/** User text for a message: JSON-quoted, at most 20 characters. */
export function shown(text: string): string {
  return JSON.stringify(text.length > 20 ? text.slice(0, 20) + '…' : text);
}

function oneOf<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  const t = text.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(t)) throw invalid(`${name} must be one of ${allowed.join(', ')} (got ${shown(text)})`);
  return t as T;
}

function parseLimitParam(text: string, max: number, allowUnlimited: boolean): number {
  const t = text.trim();
  const allowed = allowUnlimited ? `0 (no limit) or an integer from 1 to ${max}` : `an integer from 1 to ${max}`;
  if (!/^\d{1,9}$/.test(t)) throw invalid(`limit must be ${allowed} (got ${shown(text)})`);
  const n = Number(t);
  if (n === 0 && allowUnlimited) return 0;
  if (n < 1 || n > max) throw invalid(`limit must be ${allowed} (got ${n})`);
  return n;
}

/** Largest accepted cursor: seqs are SQLite rowids / PostgreSQL bigints, kept exact in a JS number. */
export const MAX_CURSOR = Number.MAX_SAFE_INTEGER;

/** `before` / `after`: an item seq, a non-negative integer (exclusive bound). */
function parseCursor(name: string, text: string): number {
  const t = text.trim();
  const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CURSOR) throw invalid(`${name} must be an item seq, an integer from 0 to ${MAX_CURSOR} (got ${shown(text)})`);
  return n;
}

function parseText(name: string, text: string): string {
  if (text.length === 0) throw invalid(`${name} must not be empty`);
  return text;
}

/** parseSince (shared with the rest of the store), with the user's text shortened in the message. */
function sinceParam(text: string, now: Date): Date {
  try {
    return parseSince(text, now);
  } catch {
    throw invalid(`since must be a duration like 30m, 24h, 7d (s, m, h, d, w) or an ISO-8601 time like 2024-05-01T09:30Z (got ${shown(text)})`);
  }
}

/**
 * Validates the raw parameters of one query kind. Throws TickerpulseError('INPUT_INVALID') for:
 * an unknown parameter, a parameter given more than once, a value longer than MAX_PARAM_LENGTH,
 * and any value its parameter does not accept.
 */
export function validateParams<K extends QueryKind>(kind: K, input: ParamInput, opts: ValidateOptions): ParamsOf[K] {
  if (!(QUERY_KINDS as readonly string[]).includes(kind)) throw invalid(`unknown query ${shown(String(kind))} (allowed: ${QUERY_KINDS.join(', ')})`);
  const now = opts.now ?? new Date();
  const maxLimit = Math.max(1, Math.min(MAX_LIMIT, Math.trunc(opts.maxLimit ?? MAX_LIMIT)));
  const names = PARAM_NAMES[kind];
  const v: Record<string, string> = {};
  for (const [name, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    if (!names.includes(name)) {
      const dash = opts.channel === 'cli' ? '--' : '';
      throw invalid(`unknown ${dash ? 'option' : 'parameter'} ${shown(dash + name)} for ${kind} (allowed: ${names.map((n) => dash + n).join(', ')})`);
    }
    const values = Array.isArray(raw) ? raw : [raw];
    if (values.length === 0) continue;
    if (values.length > 1) throw invalid(`${name} given more than once`);
    const value = values[0];
    if (typeof value !== 'string') throw invalid(`${name} must be text`);
    if (value.length > MAX_PARAM_LENGTH) throw invalid(`${name} is longer than ${MAX_PARAM_LENGTH} characters`);
    v[name] = value;
  }

  const format = v.format === undefined ? FORMATS[opts.channel][0] : oneOf('format', v.format, FORMATS[opts.channel]);
  const limit = (): number => (v.limit === undefined ? Math.min(maxLimit, kind === 'items' && opts.itemsDefaultLimit !== undefined ? opts.itemsDefaultLimit : DEFAULT_LIMIT[kind][opts.channel]) : parseLimitParam(v.limit, maxLimit, opts.allowUnlimited === true));
  const sortOrder = <S extends string>(allowed: readonly S[]): { sort: S; order: Order } => {
    const sort = v.sort === undefined ? allowed[0] : oneOf('sort', v.sort, allowed);
    const order = v.order === undefined ? (DEFAULT_ORDER[sort] ?? 'desc') : oneOf('order', v.order, ORDERS);
    return { sort, order };
  };
  const since = (defaultMs: number): Date => (v.since === undefined ? new Date(now.getTime() - defaultMs) : sinceParam(v.since, now));

  switch (kind) {
    case 'items': {
      const before = v.before === undefined ? undefined : parseCursor('before', v.before);
      const after = v.after === undefined ? undefined : parseCursor('after', v.after);
      const cursor = before !== undefined || after !== undefined;
      // A cursor is a seq, so its pages are in seq order: other sorts would skip or repeat items.
      if (cursor && v.sort !== undefined && oneOf('sort', v.sort, ITEM_SORTS) !== 'seq') throw invalid('before and after page by seq: sort must be seq (or left out)');
      const { sort, order } = sortOrder(ITEM_SORTS);
      const p: ItemsParams = {
        kind: 'items',
        format,
        limit: limit(),
        sort: cursor ? 'seq' : sort,
        // after= alone walks forward (oldest first); before= (or both) walks back, newest first.
        order: v.order !== undefined || !cursor ? order : before === undefined ? 'asc' : 'desc',
      };
      if (before !== undefined) p.before = before;
      if (after !== undefined) p.after = after;
      if (v.source !== undefined) p.source = parseText('source', v.source);
      if (v.label !== undefined) p.label = oneOf('label', v.label, LABELS);
      if (v.since !== undefined) p.since = sinceParam(v.since, now);
      if (v.search !== undefined && v.search !== '') p.search = v.search;
      if (v.ticker !== undefined) p.ticker = parseTicker(v.ticker);
      return p as ParamsOf[K];
    }
    case 'tickers': {
      const p: TickersParams = { kind: 'tickers', format, since: since(DEFAULT_SINCE_MS.tickers), limit: limit(), ...sortOrder(TICKER_SORTS) };
      return p as ParamsOf[K];
    }
    case 'series': {
      if (v.bucket === undefined) throw invalid(`bucket is required (one of ${BUCKETS.join(', ')})`);
      const bucket = oneOf('bucket', v.bucket, BUCKETS);
      if ((v.ticker === undefined) === (v.source === undefined)) throw invalid('series needs exactly one of ticker or source');
      const p: SeriesParams = { kind: 'series', format, bucket, since: sinceParam(v.since ?? SERIES_DEFAULT_SINCE[bucket], now) };
      if (v.ticker !== undefined) p.ticker = parseTicker(v.ticker);
      if (v.source !== undefined) p.source = parseText('source', v.source);
      const buckets = (now.getTime() - floorTo(p.since, bucket).getTime()) / BUCKET_MS[bucket];
      if (buckets > MAX_SERIES_BUCKETS) {
        const span = (MAX_SERIES_BUCKETS * BUCKET_MS[bucket]) / 86_400_000;
        throw invalid(`since is too far back for bucket ${bucket}: a series spans at most ${MAX_SERIES_BUCKETS} buckets (${span < 100 ? span.toFixed(1) : Math.floor(span)} days); use a larger bucket`);
      }
      return p as ParamsOf[K];
    }
    case 'alerts': {
      const p: AlertsParams = { kind: 'alerts', format, since: since(DEFAULT_SINCE_MS.alerts), limit: limit(), ...sortOrder(ALERT_SORTS) };
      if (v.ticker !== undefined) p.ticker = parseTicker(v.ticker);
      if (v.rule !== undefined) {
        if (!RULE_RE.test(v.rule)) throw invalid(`rule must be a rule id of 1-64 letters, digits, "_", ".", ":" or "-" (got ${shown(v.rule)})`);
        p.rule = v.rule;
      }
      if (v.kind !== undefined) p.alertKind = oneOf('kind', v.kind, ALERT_KINDS);
      return p as ParamsOf[K];
    }
  }
  throw invalid(`unknown query ${shown(String(kind))}`);
}

/** Start of the bucket containing `d` (UTC). */
export function floorTo(d: Date, bucket: Bucket): Date {
  const ms = BUCKET_MS[bucket];
  return new Date(Math.floor(d.getTime() / ms) * ms);
}

/** Start of the first bucket at or after `d` (UTC). */
export function ceilTo(d: Date, bucket: Bucket): Date {
  const ms = BUCKET_MS[bucket];
  return new Date(Math.ceil(d.getTime() / ms) * ms);
}

/** URLSearchParams → ParamInput (a repeated name becomes an array, so validation can refuse it). */
export function fromSearchParams(sp: URLSearchParams): ParamInput {
  const out: ParamInput = {};
  for (const name of new Set(sp.keys())) {
    const all = sp.getAll(name);
    out[name] = all.length === 1 ? all[0] : all;
  }
  return out;
}

export { LABELS };
