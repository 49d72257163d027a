/**
 * The view's filter: tickers, sources, labels, minimum |score|. One shape, three spellings:
 * the page URL (bookmarkable), the /ws query string (same parameter names) and the `subscribe`
 * message. matches() applies it in the browser too, so a server that does not filter (protocol
 * 1) gives the same view.
 */
import { LABELS, type Item, type Label, type WireFilter } from './types.js';

export interface Filter {
  tickers: string[];
  sources: string[];
  labels: Label[];
  /** 0 = no minimum. */
  minAbsScore: number;
}

export const EMPTY_FILTER: Filter = { tickers: [], sources: [], labels: [], minAbsScore: 0 };

const TICKER_RE = /^[A-Z]{1,6}(\.[A-Z])?$/;
const SOURCE_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The server's limit of tickers (or sources) in one filter. */
const MAX_ENTRIES = 1000;

/** `brk-b`, `BRK/B` → `BRK.B`; null when it is not a symbol. */
export function normalizeTicker(text: string): string | null {
  const t = text.trim().toUpperCase().replace(/[-/]/g, '.');
  return TICKER_RE.test(t) ? t : null;
}

function list(text: string | null): string[] {
  if (!text) return [];
  return text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s.length > 0);
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/** Parses what a user typed or a URL holds; invalid entries are dropped (and reported). */
export function parseFilter(p: URLSearchParams): { filter: Filter; problems: string[] } {
  const problems: string[] = [];
  const tickers: string[] = [];
  for (const t of list(p.get('tickers'))) {
    const n = normalizeTicker(t);
    if (n) tickers.push(n);
    else problems.push(`not a ticker: ${t.slice(0, 20)}`);
  }
  const sources: string[] = [];
  for (const s of list(p.get('sources'))) {
    if (SOURCE_RE.test(s.toLowerCase())) sources.push(s.toLowerCase());
    else problems.push(`not a source id: ${s.slice(0, 20)}`);
  }
  const labels: Label[] = [];
  for (const l of list(p.get('labels'))) {
    const low = l.toLowerCase() as Label;
    if (LABELS.includes(low)) labels.push(low);
    else problems.push(`not a label: ${l.slice(0, 20)}`);
  }
  let minAbsScore = 0;
  const m = p.get('minAbsScore');
  if (m !== null && m.trim() !== '') {
    const v = Number(m);
    if (Number.isFinite(v) && v >= 0 && v <= 1) minAbsScore = v;
    else problems.push('min |score| must be a number from 0 to 1');
  }
  const cap = (xs: string[], what: string) => {
    const u = uniq(xs);
    if (u.length > MAX_ENTRIES) problems.push(`at most ${MAX_ENTRIES} ${what}: the rest are ignored`);
    return u.slice(0, MAX_ENTRIES);
  };
  return { filter: { tickers: cap(tickers, 'tickers'), sources: cap(sources, 'sources'), labels: uniq(labels).sort(), minAbsScore }, problems };
}

export function isEmpty(f: Filter): boolean {
  return f.tickers.length === 0 && f.sources.length === 0 && f.labels.length === 0 && f.minAbsScore === 0;
}

export function sameFilter(a: Filter, b: Filter): boolean {
  return toParams(a).toString() === toParams(b).toString();
}

/** The filter as query parameters (page URL and /ws): only the ones that are set. */
export function toParams(f: Filter): URLSearchParams {
  const p = new URLSearchParams();
  if (f.tickers.length) p.set('tickers', f.tickers.join(','));
  if (f.sources.length) p.set('sources', f.sources.join(','));
  if (f.labels.length) p.set('labels', f.labels.join(','));
  if (f.minAbsScore > 0) p.set('minAbsScore', String(f.minAbsScore));
  return p;
}

/** The `subscribe` message: every field present, so it replaces the whole server-side filter. */
export function toSubscribe(f: Filter): { type: 'subscribe' } & WireFilter {
  return { type: 'subscribe', tickers: f.tickers, sources: f.sources, labels: f.labels, minAbsScore: f.minAbsScore };
}

export function matches(f: Filter, item: Item): boolean {
  if (f.sources.length && !f.sources.includes(item.source)) return false;
  if (f.labels.length && !f.labels.includes(item.label)) return false;
  if (f.minAbsScore > 0 && Math.abs(item.score) < f.minAbsScore) return false;
  if (f.tickers.length && !item.tickers.some((t) => f.tickers.includes(t.symbol))) return false;
  return true;
}

/**
 * /api/items parameters that narrow the backfill without losing matches: the API takes one
 * value per parameter, so a list of several is filtered here instead.
 */
export function apiNarrowing(f: Filter): URLSearchParams {
  const p = new URLSearchParams();
  if (f.tickers.length === 1) p.set('ticker', f.tickers[0]);
  if (f.sources.length === 1) p.set('source', f.sources[0]);
  if (f.labels.length === 1) p.set('label', f.labels[0]);
  return p;
}
