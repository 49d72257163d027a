/**
 * Builds data/tickers/dictionary.json from the SEC's public company ticker lists in
 * ../shared/data/tickers (sec_company_tickers_exchange.json + sec_company_tickers.json).
 *
 *   npm run tickers      (= npm run build && node dist/src/tickers/buildDictionary.js)
 *
 * One entry per company (SEC CIK): the primary listing (NYSE/Nasdaq/Cboe before unknown before
 * OTC, then the SEC's own order, which puts GOOGL before GOOG and BRK-B before BRK-A) is the
 * symbol; the company's other tickers become `otherSymbols`. Symbols are canonical (`BRK.B`).
 * Aliases come from the legal name (suffixes such as Inc./Corp./Holdings/plc/N.V. and /DE/
 * dropped, all-caps names title-cased), plus the hand-kept nicknames of src/tickers/aliases.ts.
 * See docs/TICKERS.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dataDir, sharedDir } from '../lib/paths.js';
import { aliasKey, canonicalSymbol, tokenize, type AliasRule, type TickerDictionary, type TickerEntry } from '../../workers/tickerLinker.js';
import { COMMON_WORDS, DROP_ALIASES, EXTRA_SYMBOLS, GEO_WORDS, HAND_ALIASES } from './aliases.js';

export const DICTIONARY_PATH = join(dataDir, 'tickers', 'dictionary.json');

/** Words dropped from the end (and "The" from the start) of a legal name. */
const LEGAL_SUFFIXES = new Set(
  (
    'inc incorporated corp corporation co company cos companies holdings holding group plc p l c ltd limited ' +
    'nv n v sa s a ag se llc l p lp trust the sab de cv s a b c v spa s p a asa a s ab oyj adr ads public ' +
    'new del bermuda'
  ).split(' '),
);

/** Descriptor words that may follow a distinctive name ("Palantir Technologies" → "Palantir"). */
const GENERIC_TAIL = new Set(
  (
    'technologies technology systems wholesale communications pharmaceuticals pharmaceutical therapeutics ' +
    'platforms networks software semiconductor semiconductors entertainment brands international ' +
    'industries enterprises labs laboratories biosciences biotherapeutics biopharma energy resources ' +
    'financial bancorp bancshares motors motor airlines automotive interactive worldwide global ' +
    'com mobil healthcare health medical devices scientific electronics products services solutions ' +
    'markets capital partners properties realty'
  ).split(' '),
);

const MAIN_EXCHANGES = new Set(['NYSE', 'Nasdaq', 'CBOE']);

interface SecRow {
  cik: number;
  name: string;
  ticker: string;
  exchange: string | null;
}

function readSec(dir: string): SecRow[] {
  const ex = JSON.parse(readFileSync(join(dir, 'sec_company_tickers_exchange.json'), 'utf8')) as { fields: string[]; data: unknown[][] };
  const f = ex.fields;
  const rows: SecRow[] = ex.data.map((r) => ({
    cik: Number(r[f.indexOf('cik')]),
    name: String(r[f.indexOf('name')]),
    ticker: String(r[f.indexOf('ticker')]),
    exchange: (r[f.indexOf('exchange')] as string | null) ?? null,
  }));
  const seen = new Set(rows.map((r) => r.ticker));
  const plainPath = join(dir, 'sec_company_tickers.json');
  if (existsSync(plainPath)) {
    const plain = JSON.parse(readFileSync(plainPath, 'utf8')) as Record<string, { cik_str: number; ticker: string; title: string }>;
    for (const v of Object.values(plain)) {
      if (!seen.has(v.ticker)) rows.push({ cik: v.cik_str, name: v.title, ticker: v.ticker, exchange: null });
    }
  }
  return rows;
}

/** "COSTCO WHOLESALE CORP /NEW" → "Costco Wholesale"; "JPMORGAN CHASE & CO" → "Jpmorgan Chase". */
export function cleanLegalName(legal: string, isCommonWord: (w: string) => boolean = () => false): string {
  let s = legal
    .replace(/\s*\/[A-Za-z .]{0,12}\/?\s*$/, '') // /DE/, /NEW, /MN, / DE
    .replace(/\s*\/\s*$/, '')
    .replace(/\(.*?\)/g, ' ')
    .replace(/\bClass [A-Z]\b.*$/i, '')
    .replace(/\s+/g, ' ')
    .trim();
  // drop legal suffixes (and a dangling "&" / ",") from the end, "The" from the start
  for (;;) {
    const m = /[\s,]*(?:&\s*)?([A-Za-z.]+)\.?\s*$/.exec(s);
    if (!m) break;
    const word = m[1].toLowerCase().replace(/\./g, ' ').trim().replace(/\s+/g, ' ');
    const before = s.slice(0, m.index).trim();
    if (before.length === 0) break;
    if (!LEGAL_SUFFIXES.has(word) && !LEGAL_SUFFIXES.has(word.replace(/ /g, ''))) break;
    const next = before.replace(/[\s,&]+$/, '');
    // "Northern Trust" stays: "Northern" alone is an ordinary word
    if (!/\s/.test(next) && isCommonWord(next.toLowerCase())) break;
    s = next;
  }
  if (/\s/.test(s.replace(/^the\s+/i, '')) || !isCommonWord(s.replace(/^the\s+/i, '').toLowerCase())) s = s.replace(/^the\s+/i, '');
  s = s.replace(/,\s*$/, '').trim();
  const letters = s.replace(/[^A-Za-z]/g, '');
  const upper = letters.replace(/[^A-Z]/g, '').length;
  if (letters.length > 0 && upper / letters.length > 0.7) {
    s = s
      .split(' ')
      .map((w, i) => {
        if (i > 0 && /^(OF|AND|THE|FOR|DE|DU|LA|DI|DEL|DA)$/.test(w)) return w.toLowerCase();
        if (!/^[A-Z][A-Z'&.\-]*$/.test(w)) return w;
        const core = w.replace(/[^A-Za-z]/g, '');
        if (core.length <= 3 || !/[AEIOUY]/.test(core) || w.includes('&')) return w; // IBM, HSBC, AT&T
        return w.charAt(0) + w.slice(1).toLowerCase();
      })
      .join(' ');
  }
  return s;
}

/** Words written in lower case more often than capitalized in the labelled corpora. */
function corpusCommonWords(): Set<string> {
  const lower = new Map<string, number>();
  const cap = new Map<string, number>();
  const dir = join(sharedDir, 'data', 'sentiment');
  for (const f of ['fpb-train.jsonl', 'tfns-train.jsonl', 'sentfin-train.jsonl', 'semeval17-headlines-train.jsonl', 'fiqa18-train.jsonl']) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      if (!line) continue;
      let text: string;
      try {
        text = String((JSON.parse(line) as { text?: unknown }).text ?? '');
      } catch {
        continue;
      }
      const toks = tokenize(text);
      for (let i = 1; i < toks.length; i++) {
        const r = toks[i].raw;
        if (!/^\p{L}+$/u.test(r)) continue;
        const m = /^\p{Ll}/u.test(r) ? lower : /^\p{Lu}\p{Ll}/u.test(r) ? cap : null;
        if (m) m.set(toks[i].key, (m.get(toks[i].key) ?? 0) + 1);
      }
    }
  }
  const out = new Set<string>();
  for (const [w, n] of lower) if (n * 3 >= (cap.get(w) ?? 0)) out.add(w);
  return out;
}

export function buildDictionary(secDir = join(sharedDir, 'data', 'tickers')): { dictionary: TickerDictionary; warnings: string[] } {
  const warnings: string[] = [];
  const rows = readSec(secDir);
  const byCik = new Map<number, SecRow[]>();
  for (const r of rows) {
    const list = byCik.get(r.cik);
    if (list) list.push(r);
    else byCik.set(r.cik, [r]);
  }
  const rank = (r: SecRow): number => (r.exchange && MAIN_EXCHANGES.has(r.exchange) ? 0 : r.exchange === null ? 1 : 2) * 2 + (/-P[A-Z]?$|-W[ST]?$|-U$|-R$/.test(r.ticker) ? 1 : 0);
  interface Draft {
    entry: TickerEntry;
    rank: number;
    order: number;
    legal: string;
  }
  const drafts: Draft[] = [];
  let order = 0;
  for (const list of byCik.values()) {
    const sorted = list.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i);
    const primary = sorted[0].r;
    const symbol = canonicalSymbol(primary.ticker);
    const others = [...new Set(sorted.slice(1).map((x) => canonicalSymbol(x.r.ticker)))].filter((s) => s !== symbol);
    const entry: TickerEntry = { symbol, exchange: primary.exchange ?? 'unknown', name: cleanLegalName(primary.name) || primary.name, aliases: [] };
    if (others.length) entry.otherSymbols = others;
    drafts.push({ entry, rank: Math.floor(rank(primary) / 2), order: order++, legal: primary.name });
  }
  drafts.sort((a, b) => a.rank - b.rank || a.order - b.order);

  const common = corpusCommonWords();
  for (const w of COMMON_WORDS) common.add(w);
  const rules: Record<string, AliasRule> = {};
  const claimed = new Map<string, string>(); // alias key → symbol

  // hand-kept nicknames first
  const handName = new Map<string, string>();
  const bySymbol = new Map(drafts.map((d) => [d.entry.symbol, d] as const));
  for (const h of HAND_ALIASES) {
    const d = bySymbol.get(canonicalSymbol(h.symbol));
    if (!d) {
      warnings.push(`hand alias ${h.aliases.join('/')}: symbol ${h.symbol} is not in the SEC list (skipped)`);
      continue;
    }
    const legalKey = aliasKey(cleanLegalName(d.legal));
    for (const a of h.aliases) {
      const key = aliasKey(a);
      if (claimed.has(key)) continue;
      claimed.set(key, d.entry.symbol);
      handName.set(d.entry.symbol, handName.get(d.entry.symbol) ?? a);
      // the company's own name or its leading words ("Costco" of "Costco Wholesale") link as `name`
      if (legalKey === key || legalKey.startsWith(key + ' ')) d.entry.aliases.push(a);
      else (d.entry.nicknames ??= []).push(a);
      const rule: AliasRule = {};
      if (h.mode) rule.mode = h.mode;
      if (h.context?.length) rule.context = h.context;
      if (h.notBefore?.length) rule.notBefore = h.notBefore.map(aliasKey);
      if (h.notAfter?.length) rule.notAfter = h.notAfter.map(aliasKey);
      // a hand-kept one-word alias without a mode is plain (derived one-word names are `common`)
      if (!rule.mode && key.split(' ').length === 1) rule.mode = 'plain';
      if (Object.keys(rule).length) rules[key] = rule;
    }
  }
  const allSymbols = new Set(drafts.flatMap((d) => [d.entry.symbol, ...(d.entry.otherSymbols ?? [])]));
  for (const [sym, target] of Object.entries(EXTRA_SYMBOLS)) {
    const d = bySymbol.get(target);
    if (!d || allSymbols.has(sym)) warnings.push(`extra symbol ${sym} → ${target}: skipped`);
    else (d.entry.otherSymbols ??= []).push(sym);
  }
  // the display name of a company with a hand-kept alias is its first one ("Apple", "Coca-Cola")
  for (const d of drafts) {
    const n = handName.get(d.entry.symbol);
    if (n && !/^[A-Z&]{1,4}$/.test(n)) d.entry.name = n;
  }

  const isCommonWord = (w: string): boolean => common.has(w) || GEO_WORDS.has(w) || DROP_ALIASES.has(w);
  const isCommon = (key: string): boolean => key.split(' ').every((w) => isCommonWord(w) || w === '&' || /^\d+$/.test(w));
  const claim = (d: Draft, alias: string): void => {
    const key = aliasKey(alias);
    if (!key || key.length < 2 || !/[a-z]/.test(key) || claimed.has(key)) return;
    const toks = key.split(' ');
    if (toks.length === 1 && (isCommonWord(key) || key.length < 3)) return; // ordinary words: only hand-kept nicknames
    // a one-word acronym of an OTC-only or unlisted company ("BTS") is more often something else
    if (toks.length === 1 && d.rank > 0 && /^[A-Z0-9&]+$/.test(alias)) return;
    if (DROP_ALIASES.has(key) || toks.every((t) => DROP_ALIASES.has(t) || t === '&')) return;
    claimed.set(key, d.entry.symbol);
    d.entry.aliases.push(alias);
    // single-word derived aliases are `common` in the linker anyway; two-word ones made only of ordinary words too
    if (!rules[key] && toks.length === 2 && isCommon(key)) rules[key] = { mode: 'common' };
  };

  // full cleaned names first (all companies), then the shortened ones, so a full name always wins
  const shortForms: Array<[Draft, string]> = [];
  for (const d of drafts) {
    const plain = cleanLegalName(d.legal);
    // "Apple Inc." stays "Apple Inc." for an ordinary word, unless a hand-kept alias already claims "Apple"
    const clean = claimed.get(aliasKey(plain)) === d.entry.symbol ? plain : cleanLegalName(d.legal, isCommonWord);
    if (!clean) continue;
    claim(d, clean);
    const words = clean.split(' ');
    let n = words.length;
    while (n > 1 && GENERIC_TAIL.has(words[n - 1].toLowerCase().replace(/[^a-z]/g, ''))) n--;
    if (n < words.length) {
      const short = words.slice(0, n).join(' ').replace(/[\s,&]+$/, '');
      const key = aliasKey(short);
      if (short.replace(/[^A-Za-z]/g, '').length >= 4 && !(key.split(' ').length === 1 && (isCommonWord(key) || key.length < 5))) shortForms.push([d, short]);
    }
  }
  // a shortened form that starts several companies' names ("Omega" of Omega Therapeutics and Omega
  // Healthcare Investors) belongs to none of them
  const nameKeys = drafts.map((d) => aliasKey(cleanLegalName(d.legal)));
  const startsNames = (short: string): number => {
    let n = 0;
    for (const k of nameKeys) if (k === short || k.startsWith(short + ' ')) n++;
    return n;
  };
  for (const [d, s] of shortForms) if (d.rank === 0 && startsNames(aliasKey(s)) === 1) claim(d, s);

  const dictionary: TickerDictionary = {
    header: {
      what: 'US-listed company tickers: canonical symbol, exchange, display name, aliases (tickerpulse ticker linker)',
      source: "SEC company ticker lists (company_tickers.json, company_tickers_exchange.json), US government public data, as of late 2025",
      note: 'Names, tickers and exchanges are public facts. Nicknames and false-positive rules are hand-kept in src/tickers/aliases.ts.',
      symbolForm: 'upper case, share class after a dot (BRK.B); SEC "-" classes and "/" are converted',
      primaryListing: 'one entry per SEC CIK: NYSE/Nasdaq/Cboe before unknown before OTC, then SEC order (GOOGL before GOOG); other tickers in otherSymbols',
      built: 'npm run tickers (src/tickers/buildDictionary.ts)',
      companies: drafts.length,
    },
    companies: drafts.map((d) => d.entry),
    rules,
  };
  return { dictionary, warnings };
}

/** One company per line: small diffs when the SEC lists are refreshed. */
export function serializeDictionary(d: TickerDictionary): string {
  const lines = d.companies.map((c) => JSON.stringify(c));
  const ruleLines = Object.keys(d.rules)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(d.rules[k])}`);
  return `{"header":${JSON.stringify(d.header, null, 1)},\n"companies":[\n${lines.join(',\n')}\n],\n"rules":{\n${ruleLines.join(',\n')}\n}}\n`;
}

function main(): void {
  const { dictionary, warnings } = buildDictionary();
  for (const w of warnings) console.warn(`warning: ${w}`);
  mkdirSync(join(dataDir, 'tickers'), { recursive: true });
  const text = serializeDictionary(dictionary);
  writeFileSync(DICTIONARY_PATH, text);
  const aliases = dictionary.companies.reduce((n, c) => n + c.aliases.length + (c.nicknames?.length ?? 0), 0);
  console.log(`wrote ${DICTIONARY_PATH}: ${dictionary.companies.length} companies, ${aliases} aliases, ${Object.keys(dictionary.rules).length} rules, ${(text.length / 1024).toFixed(0)} KiB`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
