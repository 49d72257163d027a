/**
 * Parsing of query filters shared by the HTTP API (/api/items) and the `tickerpulse query` CLI,
 * so both accept exactly the same spellings. Every function throws
 * TickerpulseError('INPUT_INVALID') with a message fit to show to the user.
 */
import { TickerpulseError } from '../lib/errors.js';
import type { Label } from '../lib/types.js';

export const LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

/** Upper bound for ItemStore.query's limit (the HTTP API has its own, lower one). */
export const MAX_QUERY_LIMIT = 100_000;
/** Longest accepted search text / source id, to keep queries and logs sane. */
export const MAX_FILTER_TEXT = 200;

export function isLabel(x: unknown): x is Label {
  return typeof x === 'string' && (LABELS as readonly string[]).includes(x);
}

export function parseLabel(text: string): Label {
  const t = text.trim().toLowerCase();
  if (!isLabel(t)) throw new TickerpulseError('INPUT_INVALID', `label must be one of ${LABELS.join(', ')} (got "${text}")`);
  return t;
}

const RELATIVE = /^(\d{1,6})\s*(s|m|h|d|w)$/i;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `since` as the user writes it: a duration back from `now` (`30m`, `24h`, `7d`, also `s` and
 * `w`) or an absolute ISO-8601 date/time (`2024-05-01`, `2024-05-01T09:30:00Z`; a date/time
 * without zone is read as UTC, like everything stored).
 */
export function parseSince(text: string, now: Date = new Date()): Date {
  const t = text.trim();
  const rel = RELATIVE.exec(t);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2].toLowerCase()]);
  // Only ISO-like strings: Date.parse also accepts things like "1" or "May 1", which are
  // more likely typos than intent.
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(t)) {
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(t) && t.length > 10;
    const iso = t.length > 10 && !hasZone ? t.replace(' ', 'T') + 'Z' : t.replace(' ', 'T');
    const ms = Date.parse(iso);
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new TickerpulseError('INPUT_INVALID', `since must be a duration like 30m, 24h, 7d or an ISO-8601 time (got "${text}")`);
}

/** A positive integer no larger than `max`. */
export function parseLimit(text: string, max: number = MAX_QUERY_LIMIT): number {
  const t = text.trim();
  if (!/^\d{1,9}$/.test(t)) throw new TickerpulseError('INPUT_INVALID', `limit must be a positive integer (got "${text}")`);
  const n = Number(t);
  if (n < 1 || n > max) throw new TickerpulseError('INPUT_INVALID', `limit must be between 1 and ${max} (got ${n})`);
  return n;
}

export function parseFilterText(name: string, text: string): string {
  if (text.length === 0) throw new TickerpulseError('INPUT_INVALID', `${name} must not be empty`);
  if (text.length > MAX_FILTER_TEXT) throw new TickerpulseError('INPUT_INVALID', `${name} is longer than ${MAX_FILTER_TEXT} characters`);
  return text;
}

const TICKER_RE = /^[A-Za-z]{1,6}(?:[./-][A-Za-z]{1,2})?$/;

/**
 * A ticker symbol as the user writes it (`AAPL`, `aapl`, `BRK.B`, `brk-b`, `BRK/B`) → the stored,
 * canonical form (`AAPL`, `BRK.B`). Anything else is refused (the text is not echoed beyond 20 chars).
 */
export function parseTicker(text: string): string {
  const t = text.trim();
  if (!TICKER_RE.test(t)) {
    const shown = t.length > 20 ? t.slice(0, 20) + '…' : t;
    throw new TickerpulseError('INPUT_INVALID', `ticker must be a symbol of 1-6 letters with an optional share class, like AAPL or BRK.B (got ${JSON.stringify(shown)})`);
  }
  return t.toUpperCase().replace(/[-/]/g, '.');
}

const CANONICAL_RE = /^[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Canonical stored time: `Date#toISOString()` (UTC, milliseconds, `Z`), so that text order is
 * time order in SQL. Returns null for anything unparseable or outside years 1000–9999 (whose
 * ISO form would not sort as text).
 */
export function canonicalTime(value: string | null | undefined): string | null {
  // Hot path (every stored item): times from our own sources are already canonical.
  if (typeof value === 'string' && CANONICAL_RE.test(value) && Number.isFinite(Date.parse(value))) return value;
  if (value === null || value === undefined || value === '') return null;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (y < 1000 || y > 9999) return null;
  return d.toISOString();
}
