/**
 * Field mapping of the JSON sources (`json`, `websocket`): dot paths into untrusted JSON and the
 * normalization of what they point at into RawItems. Pure functions, no I/O: the source's worker
 * thread runs them (workers/source.ts `parseJson` / `parseJsonMessages`), and sources/ imports
 * the same module for its types and for the in-process fallback of direct callers.
 *
 * Dot paths: `data.articles`, `data.items.0.title`. A segment is an object key (own properties
 * only: `__proto__`, `constructor`… never reach the prototype), or, on an array, a decimal index
 * (`0`, `12`; `-1` is the last element). Keys containing dots cannot be addressed. The empty
 * path (or `$`) is the value itself.
 */
import { TickerpulseError } from '../src/lib/errors.js';
import type { RawItem } from '../src/lib/types.js';
import { canonicalizeUrl, cleanText, MAX_FUTURE_SKEW_MS, parseFeedDate, stableGuid, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, truncate } from './feedParser.js';

/** Where each RawItem field is read from, as dot paths relative to one item. */
export interface JsonFieldMap {
  title: string;
  url: string;
  publishedAt: string;
  id: string;
  summary: string;
}

export interface JsonMapping {
  /**
   * Path to the array of items. `null`: the document root (json: must be an array; websocket:
   * a message that is an array holds several items, an object is one item).
   */
  items: string | null;
  fields: JsonFieldMap;
}

/** The field paths used when the config names none: the same shape as a JSONL line. */
export const DEFAULT_FIELDS: Readonly<JsonFieldMap> = Object.freeze({ title: 'title', url: 'url', publishedAt: 'publishedAt', id: 'id', summary: 'summary' });

export function makeMapping(items: string | null | undefined, fields: Partial<JsonFieldMap> | undefined): JsonMapping {
  return { items: items ?? null, fields: { ...DEFAULT_FIELDS, ...stripUndefined(fields ?? {}) } };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface MapMeta {
  /** Base URL for relative item links (the final API URL; for websocket the http(s) form of the stream URL). */
  url: string | null;
  /** ISO-8601 read time: the date of items without a usable one (then `dateMissing: true`). */
  fetchedAt: string;
}

/** What mapping one JSON document produced. */
export interface JsonDocumentResult {
  items: RawItem[];
  /** Elements of the items array that were not objects or had no title (skipped). */
  skipped: number;
  /** Why the first skipped element was skipped (`item 3: no title at "headline"`), else null. */
  firstSkipped: string | null;
}

/** What mapping a batch of stream messages produced. */
export interface JsonMessagesResult {
  items: RawItem[];
  /** Item candidates without a title (or not objects): skipped, counted. Control messages (acks, heartbeats) land here. */
  skipped: number;
  /** Messages where `items` was set and its path led nowhere: not item messages (ignored, counted). */
  ignored: number;
  /** Messages that are not valid JSON, or whose items path led to a non-array, non-object value. */
  invalid: number;
  /** The first invalid message's code and reason; null when there was none. */
  firstInvalid: { code: 'JSON_PARSE_FAILED' | 'JSON_MAPPING_FAILED'; message: string } | null;
}

const INDEX = /^(?:0|[1-9]\d{0,9}|-[1-9]\d{0,9})$/;
/** Longest path and most segments accepted (config validation uses the same limits). */
export const MAX_PATH_CHARS = 256;
export const MAX_PATH_SEGMENTS = 32;

/** `"data.items.0"` → `["data", "items", "0"]`; `""` / `"$"` → `[]`. */
export function splitPath(path: string): string[] {
  const p = path.trim();
  if (p === '' || p === '$') return [];
  return p.split('.');
}

/** The value at `path` inside `value`, or undefined when any step is missing. */
export function getPath(value: unknown, path: string | readonly string[]): unknown {
  const segments = typeof path === 'string' ? splitPath(path) : path;
  let cur: unknown = value;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!INDEX.test(seg)) return undefined;
      const i = Number(seg);
      cur = cur[i < 0 ? cur.length + i : i];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/** A short description of a JSON value's type for error messages. */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing (the path does not exist)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A string field: strings as they are, finite numbers as text; anything else is absent. */
function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return '';
}

/**
 * A date value → ISO-8601 UTC, or null when absent/unusable. Accepts ISO-8601 and RFC 822
 * strings (sources/feedParser `parseFeedDate`), and epoch numbers — as numbers or numeric
 * strings, fractions allowed: a magnitude below 1e11 is seconds, otherwise milliseconds.
 */
export function coerceDate(v: unknown): string | null {
  let ms: number | null = null;
  if (typeof v === 'number') ms = Number.isFinite(v) ? v : null;
  else if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d{9,14}(?:\.\d+)?$/.test(s)) ms = Number(s);
    else return parseFeedDate(s);
  } else return null;
  if (ms === null || ms <= 0) return null;
  if (ms < 1e11) ms *= 1000;
  const d = new Date(Math.round(ms));
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** One item candidate → RawItem, or the reason it is skipped. */
export function mapItem(value: unknown, fields: JsonFieldMap, meta: MapMeta): RawItem | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${describeJson(value)}, not an object`;
  const title = truncate(cleanText(textOf(getPath(value, fields.title))), TITLE_MAX_CHARS);
  if (!title) return `no title at "${fields.title}"`;
  const url = canonicalizeUrl(textOf(getPath(value, fields.url)), meta.url);
  let publishedAt = coerceDate(getPath(value, fields.publishedAt));
  // Like the feed parser: a date more than a day ahead of the read time is not believed.
  if (publishedAt && Date.parse(publishedAt) > Date.parse(meta.fetchedAt) + MAX_FUTURE_SKEW_MS) publishedAt = null;
  const summary = truncate(cleanText(textOf(getPath(value, fields.summary))), SUMMARY_MAX_CHARS) || null;
  const guid = stableGuid(textOf(getPath(value, fields.id)), url, title, publishedAt);
  const item: RawItem = { guid, url, title, summary, publishedAt: publishedAt ?? meta.fetchedAt };
  if (!publishedAt) item.dateMissing = true;
  return item;
}

function decode(body: Uint8Array | string): string {
  let text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TickerpulseError('JSON_PARSE_FAILED', `${what} is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

/**
 * A whole JSON document (the `json` source) → items. Throws TickerpulseError:
 * FEED_EMPTY (zero bytes or whitespace), JSON_PARSE_FAILED (malformed JSON),
 * JSON_MAPPING_FAILED (the items path — or the root, without one — is not an array; the message
 * names the path and what was found there; `details.path`).
 * Elements that are not objects or have no title are skipped and counted. Exact guid
 * duplicates within the document are dropped (the first one is kept).
 */
export function mapJsonDocument(body: Uint8Array | string, mapping: JsonMapping, meta: MapMeta): JsonDocumentResult {
  const text = decode(body);
  if (text.trim() === '') throw new TickerpulseError('FEED_EMPTY', `empty JSON body from ${meta.url ?? 'the source'}`, { retryable: true });
  const doc = parse(text, 'the response');
  const list = mapping.items === null ? doc : getPath(doc, mapping.items);
  if (!Array.isArray(list)) {
    const where = mapping.items === null ? 'the document root' : `items path "${mapping.items}"`;
    const hint = mapping.items === null ? ' (set `items:` to the path of the array, e.g. data.articles)' : '';
    throw new TickerpulseError('JSON_MAPPING_FAILED', `${where} leads to ${describeJson(list)}, not an array${hint}`, { details: { path: mapping.items ?? '' } });
  }
  const items: RawItem[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  let firstSkipped: string | null = null;
  list.forEach((el, i) => {
    const r = mapItem(el, mapping.fields, meta);
    if (typeof r === 'string') {
      skipped++;
      firstSkipped ??= `item ${i}: ${r}`;
    } else if (!seen.has(r.guid)) {
      seen.add(r.guid);
      items.push(r);
    }
  });
  return { items, skipped, firstSkipped };
}

/**
 * Stream messages (the `websocket` source), each a JSON text → items, in order. Per message:
 * with `items` set, an array at that path holds the items, an object there is one item, a
 * missing path means a control message (ignored); without it, an array message holds items and
 * an object message is one item. Never throws for bad input: invalid messages are counted
 * (the first one described) and the rest of the batch goes on.
 * Repeated guids are kept: a stream resent after a reconnect can land in the same micro-batch as
 * its first copies, and the pipeline (pipelines/dedupe.ts) drops *and counts* the repeats — dropped
 * here they would vanish from the source's duplicatesSkipped.
 */
export function mapJsonMessages(messages: readonly (Uint8Array | string)[], mapping: JsonMapping, meta: MapMeta): JsonMessagesResult {
  const out: JsonMessagesResult = { items: [], skipped: 0, ignored: 0, invalid: 0, firstInvalid: null };
  messages.forEach((m, n) => {
    let msg: unknown;
    try {
      msg = parse(decode(m), `message ${n + 1} of the batch`);
    } catch (err) {
      out.invalid++;
      out.firstInvalid ??= { code: 'JSON_PARSE_FAILED', message: (err as Error).message };
      return;
    }
    let candidates: unknown[];
    const at = mapping.items === null ? msg : getPath(msg, mapping.items);
    if (Array.isArray(at)) candidates = at;
    else if (at !== null && typeof at === 'object') candidates = [at];
    else if (at === undefined && mapping.items !== null) {
      out.ignored++;
      return;
    } else {
      out.invalid++;
      const where = mapping.items === null ? 'the message' : `items path "${mapping.items}"`;
      out.firstInvalid ??= { code: 'JSON_MAPPING_FAILED', message: `message ${n + 1} of the batch: ${where} is ${describeJson(at)}, not an item or an array of items` };
      return;
    }
    for (const c of candidates) {
      const r = mapItem(c, mapping.fields, meta);
      if (typeof r === 'string') out.skipped++;
      else out.items.push(r);
    }
  });
  return out;
}
