/**
 * Ticker linking: finds the US-listed companies a headline (or any short text) names, as ticker
 * symbols. Pure and synchronous; runs on a source's worker thread. The dictionary is built by
 * `src/tickers/buildDictionary.ts` into `data/tickers/dictionary.json` (docs/TICKERS.md); the
 * linker reads it compiled into a flat table (tickerTable.ts), which the daemon builds once and
 * shares with every source's thread (`linkerFromTable`); `createLinker` compiles a private copy.
 *
 * Canonical symbol form: upper case, share class after a dot (`BRK.B`); the SEC lists write
 * `BRK-B`, feeds write `BRK.B`, `BRK-B` or `BRK/B`: all three are accepted everywhere and stored
 * as `BRK.B`. A company's other listed symbols (`GOOG` for Alphabet, `BRK.A`) link to its
 * primary symbol (`GOOGL`, `BRK.B`), so one company is one symbol.
 *
 * Evidence, strongest first (`via`):
 * - `cashtag`: `$AAPL`, `$BRK.B`, `$aapl` (a known symbol in any case). A cashtag of a symbol that
 *   is not in the dictionary (nor the watchlist) is kept only when it is written in capitals and
 *   looks like a ticker: 1–5 letters, optionally `.X` / `-X` (1–2 letters), e.g. `$XYZ`, not `$5`,
 *   `$hello` or `$ABCDEFG`.
 * - `exchange`: `NASDAQ:AAPL`, `(NYSE: KO)`, `NYSE:BRK.B`, `(Nasdaq: MSFT)`, also NYSE American,
 *   NYSE Arca, Cboe, OTC(QX/QB); the symbol must be in capitals. Unknown symbols are kept (the
 *   exchange tag is explicit evidence).
 * - `name`: an alias derived from the SEC legal name (`Exxon Mobil`, `Costco Wholesale`, and its
 *   distinctive first word, `Costco`).
 * - `alias`: a hand-kept or caller-supplied nickname (`Google`, `Facebook`, `JP Morgan`, `Coke`).
 * A bare ticker symbol in prose (`COST`, `IT`, `ALL`) is never a match.
 *
 * Names: token sequences (letters/digits; `&` is a token; `'s` may be dropped), longest match
 * first, on token boundaries. The first letter must be a capital (or the alias's exact casing,
 * e.g. `eBay`; an all-capitals alias such as `IBM` must be written in capitals). Aliases that are
 * ordinary words or phrases (dictionary `rules`) need more:
 * - mode `common` (Apple, Target, Block, Visa, Gap, Meta, Shell, …, and every one-word alias derived
 *   from a legal name, such as `Nokia` or `Pinterest`): finance context within ±10
 *   tokens (shares, stock, earnings, revenue, profit, CEO, quarter, …, or the alias's own context
 *   words such as `iPhone` for Apple), or a company verb right after the name ("Meta unveils",
 *   "Target cuts", "Shell to sell") or a legal-form word ("Gap Inc."), or capitalization that is not explained by the position: a
 *   token of the name capitalized mid-sentence in a sentence-case text. A title-case or all-caps
 *   headline capitalizes everything, so there only context counts.
 * - mode `context` (Ford, Berkshire, Coke, …): finance context or a company verb only.
 * - `notBefore` / `notAfter` phrases veto a name match outright ("share to Facebook",
 *   "Apple pie", "Amazon rainforest", "price Target").
 */

import { aliasKey, canonicalSymbol, tokenize, type Tok } from './tickerTokens.js';
import { buildTickerTable, CAND_FIELDS, C_EXACT, C_FLAGS, C_KEYS, C_NKEYS, C_NOT_AFTER, C_NOT_BEFORE, C_N_CONTEXT, C_N_NOT_AFTER, C_N_NOT_BEFORE, C_CONTEXT, C_SYMBOL, F_ALIAS, F_HAS_RULE, MODE_COMMON, MODE_CONTEXT, MODE_PLAIN, MODE_SHIFT, TickerTableView } from './tickerTable.js';

export type LinkVia = 'cashtag' | 'exchange' | 'name' | 'alias';

export interface TickerLink {
  symbol: string;
  via: LinkVia;
  /** UTF-16 offsets of the mention in the text (end exclusive). */
  start: number;
  end: number;
  mention: string;
}

export interface TickerEntry {
  /** Canonical primary symbol (`BRK.B`). */
  symbol: string;
  exchange: string;
  /** Display name. */
  name: string;
  /** Aliases derived from the legal name (`via: 'name'`). */
  aliases: string[];
  /** Hand-kept nicknames (`via: 'alias'`). */
  nicknames?: string[];
  /** Other symbols of the same company (share classes, OTC lines), canonical form. */
  otherSymbols?: string[];
}

export interface AliasRule {
  /** `plain`: the name alone is enough (hand-checked names such as Barclays); default for derived one-word names: `common`. */
  mode?: 'plain' | 'common' | 'context';
  /** Extra context words (lower case) that count as evidence for this alias. */
  context?: string[];
  /** Phrases (lower case, space-separated tokens) that veto a match when they end right before it. */
  notBefore?: string[];
  /** Phrases that veto a match when they start right after it. */
  notAfter?: string[];
}

export interface TickerDictionary {
  header: Record<string, unknown>;
  companies: TickerEntry[];
  /** Keyed by the alias's lower-case tokens joined by one space (`aliasKey`). */
  rules: Record<string, AliasRule>;
}

export interface LinkerOptions {
  /** Extra nicknames: alias → symbol (linked `via: 'alias'`, plain rules). */
  extraAliases?: Record<string, string>;
  /** Symbols accepted as cashtags / exchange tags even when the dictionary lacks them. */
  watchlist?: string[];
}

export interface TickerLinker {
  link(text: string): TickerLink[];
  /** Canonical primary symbol for `AAPL`, `brk-b`, `GOOG`, …; null when unknown. */
  resolve(symbol: string): string | null;
  /** The symbol whose alias or nickname is exactly `name` (token-wise, any case); null when none. */
  lookupName(name: string): string | null;
  readonly size: number;
}

export { aliasKey, canonicalSymbol, tokenize, type Tok } from './tickerTokens.js';

const FINANCE_CONTEXT = new Set(
  (
    'shares stock stocks earnings revenue revenues profit profits ceo cfo chairman quarter quarterly q1 q2 q3 q4 ' +
    'dividend dividends investors investor analysts analyst ipo buyback buybacks valuation guidance eps ' +
    'downgrade downgrades downgraded upgrade upgrades upgraded shareholders shareholder stake nasdaq nyse ' +
    'acquisition acquire acquires acquired merger takeover fiscal results outlook forecast forecasts ' +
    'layoffs jobs workers employees lawsuit antitrust regulators sec ftc market cap billion nasdaq100 ' +
    'sp500 premarket stockholders bonds bond debt offering company companys firm retailer automaker ' +
    'bank lender insurer chipmaker carmaker startup loss losses deal deals bid bids offer board chief ' +
    'executive executives assets sale stake writedown charge charges dividend payout margin margins ' +
    'percent pct bn mln mn ftse dax profitability turnover ebitda operating'
  ).split(' '),
);

const COMPANY_VERBS = new Set(
  (
    'unveils unveiled launches launched announces announced reports reported posts posted beats beat misses ' +
    'missed cuts cut raises raised hires hired acquires acquired buys bought sells sold sues sued settles ' +
    'settled recalls recalled plans planned agrees agreed files filed says said warns warned invests invested ' +
    'partners expands expanded opens opened closes closed lays fires fired names named appoints appointed ' +
    'delays delayed faces wins won loses lost slashes boosts tops lifts lowers trims ' +
    'rolls debuts introduces introduced releases released reveals revealed confirms confirmed denies ' +
    'signs signed inks ships shipped reaches reached considers explores seeks sought pulls pulled ' +
    'halts halted pauses paused suspends suspended rejects rejected jumps surges soars falls drops slides ' +
    'tumbles climbs gains rises sinks plunges rallies slumps dips jumped surged soared fell dropped slid ' +
    'tumbled climbed gained rose sank plunged rallied slumped dipped beats tops sheds swings sees blames ' +
    'backs expects promotes moves discloses poaches lags flops approves stays joins agrees nears eyes ' +
    'targets weighs mulls bets taps hikes books wins'
  ).split(' '),
);

/** A legal-form word right after a name is evidence: "Gap Inc.", "Carnival Corporation". */
const LEGAL_FOLLOW = new Set(['inc', 'corp', 'corporation', 'plc', 'ltd', 'co', 'holdings', 'sa', 'ag', 'nv', 'se', 'llc']);

/** Auxiliaries allowed between a name and its verb: "Meta to cut", "Apple will launch". */
const AUX = new Set(['to', 'will', 'has', 'have', 'is', 'was', 'could', 'may', 'would', 'set', 'reportedly', 'also']);

const VIA_RANK: Record<LinkVia, number> = { cashtag: 4, exchange: 3, name: 2, alias: 1 };

const CASHTAG_RE = /(?<![\p{L}\p{N}_$])\$([A-Za-z]{1,6}(?:[.\-/][A-Za-z]{1,2})?)(?![\p{L}\p{N}_])/gu;
const EXCHANGE_RE =
  /\b(NYSE(?:\s?(?:American|Arca|MKT))?|NASDAQ(?:GS|GM|CM)?|Nasdaq(?:GS|GM|CM)?|Nyse|AMEX|Amex|Cboe|CBOE|BATS|OTC(?:QX|QB|MKTS)?|OTC Markets)\s*:\s*\$?([A-Za-z]{1,6}(?:[.\-/][A-Za-z]{1,2})?)(?![\p{L}\p{N}_])/gu;
const LOOKS_LIKE_TICKER = /^[A-Z]{1,5}(?:[.\-/][A-Z]{1,2})?$/;

/** A linker over its own copy of the dictionary (tools, tests): the table in a plain ArrayBuffer. */
export function createLinker(dictionary: TickerDictionary, opts: LinkerOptions = {}): TickerLinker {
  return linkerFromTable(buildTickerTable(dictionary, opts, { shared: false }));
}

/**
 * A linker over a built table (tickerTable.ts), e.g. the SharedArrayBuffer a source's worker gets
 * in workerData: it keeps no per-entry objects of its own.
 */
export function linkerFromTable(buffer: SharedArrayBuffer | ArrayBuffer): TickerLinker {
  const t = new TickerTableView(buffer);
  const { symTarget, nameTarget, candStart, candEnd, cands } = t;

  function resolve(sym: string): string | null {
    const id = t.id(canonicalSymbol(sym));
    return id >= 0 && symTarget[id] >= 0 ? t.str(symTarget[id]) : null;
  }

  function link(text: string): TickerLink[] {
    const found = new Map<string, TickerLink>();
    /** [start, end) of cashtags and exchange tags: no name matching inside them. */
    const spans: number[] = [];
    const add = (l: TickerLink): void => {
      const prev = found.get(l.symbol);
      if (!prev || VIA_RANK[l.via] > VIA_RANK[prev.via]) found.set(l.symbol, l);
    };

    if (text.includes('$')) {
      CASHTAG_RE.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = CASHTAG_RE.exec(text)) !== null) {
        const known = resolve(m[1]);
        const sym = known ?? (LOOKS_LIKE_TICKER.test(m[1]) ? canonicalSymbol(m[1]) : null);
        spans.push(m.index, m.index + m[0].length);
        if (sym) add({ symbol: sym, via: 'cashtag', start: m.index, end: m.index + m[0].length, mention: m[0] });
      }
    }
    if (text.includes(':')) {
      EXCHANGE_RE.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = EXCHANGE_RE.exec(text)) !== null) {
        if (!LOOKS_LIKE_TICKER.test(m[2])) continue;
        const sym = resolve(m[2]) ?? canonicalSymbol(m[2]);
        spans.push(m.index, m.index + m[0].length);
        add({ symbol: sym, via: 'exchange', start: m.index, end: m.index + m[0].length, mention: m[0] });
      }
    }

    const toks = tokenize(text);
    if (toks.length === 0) return [...found.values()];
    // every comparison with the dictionary is by string id: one hash lookup per token
    const keyIds = new Int32Array(toks.length);
    const altIds = new Int32Array(toks.length);
    for (let i = 0; i < toks.length; i++) {
      keyIds[i] = t.id(toks[i].key);
      altIds[i] = toks[i].alt !== null ? t.id(toks[i].alt!) : -1;
    }
    const tt: TableToks = { toks, keyIds, altIds };
    let style: TextStyle | null = null;
    for (let i = 0; i < toks.length; i++) {
      let first = keyIds[i] >= 0 ? candStart[keyIds[i]] : 0;
      let last = keyIds[i] >= 0 ? candEnd[keyIds[i]] : 0;
      if (first === last && altIds[i] >= 0) {
        first = candStart[altIds[i]];
        last = candEnd[altIds[i]];
      }
      for (let c = first; c < last; c++) {
        const base = c * CAND_FIELDS;
        const n = cands[base + C_NKEYS];
        if (i + n > toks.length) continue;
        if (!matchesAt(t, text, tt, i, base)) continue;
        if (vetoed(t, tt, i, n, base)) continue;
        if (spans.length > 0 && insideSpan(spans, toks[i].start)) continue;
        const flags = cands[base + C_FLAGS];
        const via = flags & F_ALIAS ? 'alias' : 'name';
        const stored = (flags >> MODE_SHIFT) & 3;
        const ruleMode = stored !== 0 ? stored : via === 'name' && n === 1 ? MODE_COMMON : MODE_PLAIN;
        if (ruleMode !== MODE_PLAIN) {
          style ??= textStyle(text, toks);
          if (!hasEvidence(t, text, tt, i, n, base, ruleMode === MODE_CONTEXT ? 'context' : 'common', style)) continue;
        }
        const start = toks[i].start;
        const end = toks[i + n - 1].end;
        add({ symbol: t.str(cands[base + C_SYMBOL]), via, start, end, mention: text.slice(start, end) });
        i += n - 1;
        break;
      }
    }
    return [...found.values()].sort((a, b) => a.start - b.start);
  }

  function lookupName(name: string): string | null {
    const id = t.id(aliasKey(name));
    return id >= 0 && nameTarget[id] >= 0 ? t.str(nameTarget[id]) : null;
  }

  return { link, resolve, lookupName, size: t.size };
}

/** A text's tokens with their string ids in the table (-1: not in it). */
interface TableToks {
  toks: Tok[];
  keyIds: Int32Array;
  altIds: Int32Array;
}

function insideSpan(spans: number[], pos: number): boolean {
  for (let k = 0; k < spans.length; k += 2) if (pos >= spans[k] && pos < spans[k + 1]) return true;
  return false;
}

function matchesAt(t: TickerTableView, text: string, tt: TableToks, i: number, base: number): boolean {
  const { cands, pool } = t;
  const { toks, keyIds, altIds } = tt;
  const n = cands[base + C_NKEYS];
  const keys = cands[base + C_KEYS];
  for (let k = 0; k < n; k++) {
    const want = pool[keys + k];
    // only the last token may carry a possessive: "Coca-Cola's", "Apple's"
    if (keyIds[i + k] !== want && !(k === n - 1 && altIds[i + k] === want)) return false;
    // tokens must be adjacent (whitespace, hyphen, dot or apostrophe between them; not a comma)
    if (k > 0 && !/^[\s\-.’']*$/.test(text.slice(toks[i + k - 1].end, toks[i + k].start))) return false;
  }
  const exact = cands[base + C_EXACT];
  if (exact >= 0) {
    for (let k = 0; k < n; k++) {
      const raw = toks[i + k].raw;
      const want = pool[exact + k];
      if (!t.eq(want, raw) && !t.eq(want, raw.replace(/['’]s$/, ''))) return false;
    }
    return true;
  }
  return /^[\p{Lu}\p{N}]/u.test(toks[i].raw);
}

/** Whether one of `count` phrases stored at `at` (each: length, then token ids) sits at token `from` (before: ends at it). */
function phraseAt(pool: Int32Array, at: number, count: number, keyIds: Int32Array, edge: number, before: boolean): boolean {
  for (let q = 0, p = at; q < count; q++) {
    const len = pool[p];
    const from = before ? edge - len : edge;
    let ok = from >= 0 && from + len <= keyIds.length;
    for (let k = 0; ok && k < len; k++) if (keyIds[from + k] !== pool[p + 1 + k]) ok = false;
    if (ok) return true;
    p += 1 + len;
  }
  return false;
}

function vetoed(t: TickerTableView, tt: TableToks, i: number, n: number, base: number): boolean {
  const { cands, pool } = t;
  return phraseAt(pool, cands[base + C_NOT_BEFORE], cands[base + C_N_NOT_BEFORE], tt.keyIds, i, true) || phraseAt(pool, cands[base + C_NOT_AFTER], cands[base + C_N_NOT_AFTER], tt.keyIds, i + n, false);
}

function contextHas(t: TickerTableView, base: number, id: number): boolean {
  if (id < 0) return false;
  const at = t.cands[base + C_CONTEXT];
  const n = t.cands[base + C_N_CONTEXT];
  for (let k = 0; k < n; k++) if (t.pool[at + k] === id) return true;
  return false;
}

interface TextStyle {
  /** Title case or all capitals: capitalization carries no evidence. */
  capsEverywhere: boolean;
}

const SMALL_WORDS = new Set(['a', 'an', 'the', 'and', 'or', 'of', 'to', 'in', 'on', 'at', 'for', 'by', 'with', 'from', 'as', 'vs', 'is', 'its']);

function textStyle(text: string, toks: Tok[]): TextStyle {
  const letters = text.replace(/[^\p{L}]/gu, '');
  const upper = letters.replace(/[^\p{Lu}]/gu, '').length;
  if (letters.length >= 8 && upper / letters.length > 0.7) return { capsEverywhere: true };
  let words = 0;
  let caps = 0;
  for (let i = 1; i < toks.length; i++) {
    const r = toks[i].raw;
    if (SMALL_WORDS.has(toks[i].key) || !/^\p{L}/u.test(r)) continue;
    words++;
    if (/^\p{Lu}/u.test(r)) caps++;
  }
  return { capsEverywhere: words >= 2 && caps / words >= 0.6 };
}

function sentenceInitial(text: string, start: number): boolean {
  let j = start - 1;
  while (j >= 0 && /[\s"'“‘(\[]/.test(text[j])) j--;
  if (j < 0) return true;
  const c = text[j];
  if ('.!?:;|•–—\n'.includes(c)) return true;
  return c === '-' && j + 1 < start && /\s/.test(text[j + 1]);
}

function hasEvidence(t: TickerTableView, text: string, tt: TableToks, i: number, n: number, base: number, mode: 'common' | 'context', style: TextStyle): boolean {
  const { toks, keyIds, altIds } = tt;
  const hasContext = t.cands[base + C_N_CONTEXT] > 0;
  // finance context (or the alias's own context words) nearby
  const lo = Math.max(0, i - 10);
  const hi = Math.min(toks.length, i + n + 10);
  for (let k = lo; k < hi; k++) {
    if (k >= i && k < i + n) continue;
    const key = toks[k].key;
    if (FINANCE_CONTEXT.has(key) || (hasContext && (contextHas(t, base, keyIds[k]) || contextHas(t, base, altIds[k])))) return true;
  }
  // a company verb right after the name ("Meta unveils", "Target to cut")
  let k = i + n;
  if (k < toks.length && (COMPANY_VERBS.has(toks[k].key) || LEGAL_FOLLOW.has(toks[k].key))) return true;
  // a name derived from a legal name followed by a headline verb ("Bunzl backs", "Pearson expects"):
  // a lower-case word ending in -s (not -ss). Hand-kept common words (Apple trees, Visa holders) do not get this.
  const flags = t.cands[base + C_FLAGS];
  if ((flags & F_ALIAS) === 0 && (flags & F_HAS_RULE) === 0 && k < toks.length && /^\p{Ll}{3,}s$/u.test(toks[k].raw) && !toks[k].raw.endsWith('ss')) return true;
  for (let hops = 0; hops < 2 && k < toks.length && AUX.has(toks[k].key); hops++) k++;
  if (k > i + n && k < toks.length && (COMPANY_VERBS.has(toks[k].key) || COMPANY_VERBS.has(toks[k].key + 's') || COMPANY_VERBS.has(toks[k].key + 'es'))) return true;
  if (mode === 'context' || style.capsEverywhere) return false;
  // capitalization mid-sentence in a sentence-case text
  for (let q = i; q < i + n; q++) {
    const t = toks[q];
    if (!/^\p{Lu}/u.test(t.raw)) continue;
    if (q > i || !sentenceInitial(text, t.start)) return true;
  }
  return false;
}
