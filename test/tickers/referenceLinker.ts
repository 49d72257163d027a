/**
 * FROZEN REFERENCE for test/tickers/sharedTable.test.ts: the object-based ticker linker as it was
 * at 6721d86, before the dictionary moved into a shared flat table (workers/tickerTable.ts).
 * The test links the same headlines with both and requires identical results. Do not edit to
 * follow changes of the real linker: the point is to pin the old behaviour.
 */

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

/** `brk-b` / `BRK/B` / `BRK.B` → `BRK.B`. */
export function canonicalSymbol(s: string): string {
  return s.trim().toUpperCase().replace(/[-/]/g, '.');
}

const TOKEN_RE = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|&/gu;

interface Tok {
  raw: string;
  key: string;
  /** Key without a possessive `'s`. */
  alt: string | null;
  start: number;
  end: number;
}

export function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(text)) !== null) {
    const raw = m[0];
    const lower = raw.toLowerCase();
    let key = lower;
    let alt: string | null = null;
    if (lower.includes("'") || lower.includes('’')) {
      key = lower.replace(/['’]/g, '');
      if (/['’]s$/.test(lower)) alt = lower.slice(0, -2).replace(/['’]/g, '');
    }
    out.push({ raw, key, alt, start: m.index, end: m.index + raw.length });
  }
  return out;
}

/** The lower-case token key of an alias: `"Coca-Cola"` → `"coca cola"`. */
export function aliasKey(alias: string): string {
  return tokenize(alias)
    .map((t) => t.key)
    .join(' ');
}

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

interface Candidate {
  keys: string[];
  symbol: string;
  via: 'name' | 'alias';
  rule: AliasRule | undefined;
  /** Alias tokens as written, when the match must keep their exact casing. */
  exact: string[] | null;
  notBefore: string[][];
  notAfter: string[][];
  context: Set<string> | null;
}

const VIA_RANK: Record<LinkVia, number> = { cashtag: 4, exchange: 3, name: 2, alias: 1 };

const CASHTAG_RE = /(?<![\p{L}\p{N}_$])\$([A-Za-z]{1,6}(?:[.\-/][A-Za-z]{1,2})?)(?![\p{L}\p{N}_])/gu;
const EXCHANGE_RE =
  /\b(NYSE(?:\s?(?:American|Arca|MKT))?|NASDAQ(?:GS|GM|CM)?|Nasdaq(?:GS|GM|CM)?|Nyse|AMEX|Amex|Cboe|CBOE|BATS|OTC(?:QX|QB|MKTS)?|OTC Markets)\s*:\s*\$?([A-Za-z]{1,6}(?:[.\-/][A-Za-z]{1,2})?)(?![\p{L}\p{N}_])/gu;
const LOOKS_LIKE_TICKER = /^[A-Z]{1,5}(?:[.\-/][A-Z]{1,2})?$/;

export function createLinker(dictionary: TickerDictionary, opts: LinkerOptions = {}): TickerLinker {
  const symbols = new Map<string, string>();
  for (const c of dictionary.companies) {
    symbols.set(c.symbol, c.symbol);
  }
  for (const c of dictionary.companies) {
    for (const o of c.otherSymbols ?? []) if (!symbols.has(o)) symbols.set(o, c.symbol);
  }
  for (const w of opts.watchlist ?? []) {
    const s = canonicalSymbol(w);
    if (!symbols.has(s)) symbols.set(s, s);
  }

  const index = new Map<string, Candidate[]>();
  const nameToSymbol = new Map<string, string>();
  const compile = (alias: string, symbol: string, via: 'name' | 'alias', rule: AliasRule | undefined): void => {
    const toks = tokenize(alias);
    if (toks.length === 0) return;
    const keys = toks.map((t) => t.key);
    const joined = keys.join(' ');
    if (nameToSymbol.has(joined)) return; // first claim wins (the build orders primary listings first)
    nameToSymbol.set(joined, symbol);
    const letters = alias.replace(/[^\p{L}]/gu, '');
    const allCaps = letters.length > 0 && letters === letters.toUpperCase() && letters.length <= 5;
    // eBay, iRobot; short mixed-case names such as APi must keep their casing (API is not APi)
    const oddCase = /^\p{Ll}/u.test(toks[0].raw) || (toks.length === 1 && letters.length <= 5 && /\p{Lu}/u.test(letters.slice(1)) && /\p{Ll}/u.test(letters));
    const cand: Candidate = {
      keys,
      symbol,
      via,
      rule,
      exact: allCaps || oddCase ? toks.map((t) => t.raw) : null,
      notBefore: (rule?.notBefore ?? []).map((p) => p.split(' ')),
      notAfter: (rule?.notAfter ?? []).map((p) => p.split(' ')),
      context: rule?.context?.length ? new Set(rule.context) : null,
    };
    const list = index.get(keys[0]);
    if (list) list.push(cand);
    else index.set(keys[0], [cand]);
  };
  const rules = dictionary.rules ?? {};
  for (const c of dictionary.companies) {
    for (const a of c.nicknames ?? []) compile(a, c.symbol, 'alias', rules[aliasKey(a)]);
  }
  for (const [alias, sym] of Object.entries(opts.extraAliases ?? {})) {
    const s = canonicalSymbol(sym);
    compile(alias, symbols.get(s) ?? s, 'alias', undefined);
  }
  for (const c of dictionary.companies) {
    for (const a of c.aliases) compile(a, c.symbol, 'name', rules[aliasKey(a)]);
  }
  for (const list of index.values()) list.sort((a, b) => b.keys.length - a.keys.length);

  function resolve(sym: string): string | null {
    return symbols.get(canonicalSymbol(sym)) ?? null;
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
    let style: TextStyle | null = null;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      const list = index.get(t.key) ?? (t.alt !== null ? index.get(t.alt) : undefined);
      if (!list) continue;
      for (const cand of list) {
        const n = cand.keys.length;
        if (i + n > toks.length) continue;
        if (!matchesAt(text, toks, i, cand)) continue;
        if (vetoed(toks, i, n, cand)) continue;
        if (spans.length > 0 && insideSpan(spans, toks[i].start)) continue;
        const ruleMode = cand.rule?.mode ?? (cand.via === 'name' && n === 1 ? 'common' : 'plain');
        if (ruleMode !== 'plain') {
          const mode = ruleMode;
          style ??= textStyle(text, toks);
          if (!hasEvidence(text, toks, i, n, cand, mode, style)) continue;
        }
        const start = toks[i].start;
        const end = toks[i + n - 1].end;
        add({ symbol: cand.symbol, via: cand.via, start, end, mention: text.slice(start, end) });
        i += n - 1;
        break;
      }
    }
    return [...found.values()].sort((a, b) => a.start - b.start);
  }

  function lookupName(name: string): string | null {
    return nameToSymbol.get(aliasKey(name)) ?? null;
  }

  return { link, resolve, lookupName, size: dictionary.companies.length };
}

function insideSpan(spans: number[], pos: number): boolean {
  for (let k = 0; k < spans.length; k += 2) if (pos >= spans[k] && pos < spans[k + 1]) return true;
  return false;
}

function matchesAt(text: string, toks: Tok[], i: number, cand: Candidate): boolean {
  const n = cand.keys.length;
  for (let k = 0; k < n; k++) {
    const t = toks[i + k];
    const want = cand.keys[k];
    // only the last token may carry a possessive: "Coca-Cola's", "Apple's"
    if (t.key !== want && !(k === n - 1 && t.alt === want)) return false;
    // tokens must be adjacent (whitespace, hyphen, dot or apostrophe between them; not a comma)
    if (k > 0 && !/^[\s\-.’']*$/.test(text.slice(toks[i + k - 1].end, t.start))) return false;
  }
  if (cand.exact) {
    for (let k = 0; k < n; k++) {
      const raw = toks[i + k].raw;
      const want = cand.exact[k];
      if (raw !== want && raw.replace(/['’]s$/, '') !== want) return false;
    }
    return true;
  }
  return /^[\p{Lu}\p{N}]/u.test(toks[i].raw);
}

function vetoed(toks: Tok[], i: number, n: number, cand: Candidate): boolean {
  for (const p of cand.notBefore) {
    if (i - p.length < 0) continue;
    let ok = true;
    for (let k = 0; k < p.length; k++) if (toks[i - p.length + k].key !== p[k]) ok = false;
    if (ok) return true;
  }
  for (const p of cand.notAfter) {
    if (i + n + p.length > toks.length) continue;
    let ok = true;
    for (let k = 0; k < p.length; k++) if (toks[i + n + k].key !== p[k]) ok = false;
    if (ok) return true;
  }
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

function hasEvidence(text: string, toks: Tok[], i: number, n: number, cand: Candidate, mode: 'common' | 'context', style: TextStyle): boolean {
  // finance context (or the alias's own context words) nearby
  const lo = Math.max(0, i - 10);
  const hi = Math.min(toks.length, i + n + 10);
  for (let k = lo; k < hi; k++) {
    if (k >= i && k < i + n) continue;
    const key = toks[k].key;
    if (FINANCE_CONTEXT.has(key) || (cand.context !== null && (cand.context.has(key) || (toks[k].alt !== null && cand.context.has(toks[k].alt!))))) return true;
  }
  // a company verb right after the name ("Meta unveils", "Target to cut")
  let k = i + n;
  if (k < toks.length && (COMPANY_VERBS.has(toks[k].key) || LEGAL_FOLLOW.has(toks[k].key))) return true;
  // a name derived from a legal name followed by a headline verb ("Bunzl backs", "Pearson expects"):
  // a lower-case word ending in -s (not -ss). Hand-kept common words (Apple trees, Visa holders) do not get this.
  if (cand.via === 'name' && cand.rule === undefined && k < toks.length && /^\p{Ll}{3,}s$/u.test(toks[k].raw) && !toks[k].raw.endsWith('ss')) return true;
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
