import { fmix32 } from '../lib/hash.js';
import { rowTable } from './sharedRows.js';
import { MACRO_FEATURE_NAMES, macroFeatures, type MacroFeature } from './macroFeatures.js';
/**
 * The one tokenizer + featurizer shared by training (train.ts) and serving (sentimentModel.ts).
 *
 * text ──normalize──▶ scan (one regex pass) ──▶ shape tokens + negation scope ──▶ string tokens
 *                                                           │
 *                                                           └─▶ hashed feature ids + values
 *
 * Everything here is deterministic and allocation-light: the serving path calls `featurize`
 * for every headline, so it must cost a few microseconds.
 */

export const LABELS = ['negative', 'neutral', 'positive'] as const;

/** How a text is turned into features; stored in tokenizer.json next to the model. */
export interface FeatureConfig {
  /** Feature hashes are taken modulo 2^hashBits before the bucket → row lookup. */
  hashBits: number;
  /** Tokens after a negation cue that get the `not_` prefix. */
  negationWindow: number;
  unigrams: boolean;
  bigrams: boolean;
  /** Word trigrams (hashed). */
  trigrams: boolean;
  /** Pairs of words one apart ("cut … guidance"). */
  skipBigrams: boolean;
  /** Character n-gram lengths taken inside each word (with boundary marks); [] = none. */
  charNgrams: number[];
  /** Financial-direction features (metric × direction, number comparisons). */
  direction: boolean;
  /** Register prior features (tweet-like / news sentence / headline, length bucket). */
  register: boolean;
  /** Also emit every unigram and bigram crossed with the register (per-register weights). */
  registerCross: boolean;
  /** Also emit the cashtag symbol itself (e.g. `$AAPL`) as a unigram. */
  symbols: boolean;
  /** 'l2': every n-gram feature value is 1/sqrt(n) (n = n-gram features of the text); 'none': 1. */
  scaling: 'l2' | 'none';
  /** Fixed value of the direction and register features; 0 = scale them like the n-grams. */
  denseValue: number;
  /** > 0: character n-grams form their own group with norm charWeight; 0 = scaled with the words. */
  charWeight: number;
  /** Emit a polarity-level token per word found in the lexicons stored in tokenizer.json. */
  lexicons: boolean;
  /** Also emit the lexicon and direction features crossed with the register. */
  registerCrossLex: boolean;
  /** Lexicon features take the dense value instead of the n-gram scaling. */
  lexDense: boolean;
  /**
   * Macro-economic direction features (macroFeatures.ts). Off by default so that a tokenizer.json
   * written before they existed (and the entity model's headline block) featurizes as before.
   */
  macro?: boolean;
}

export const DEFAULT_FEATURE_CONFIG: FeatureConfig = {
  hashBits: 20,
  negationWindow: 3,
  unigrams: true,
  bigrams: true,
  trigrams: false,
  skipBigrams: false,
  charNgrams: [],
  direction: true,
  register: true,
  registerCross: false,
  symbols: false,
  scaling: 'l2',
  denseValue: 0,
  charWeight: 0,
  lexicons: false,
  registerCrossLex: false,
  lexDense: false,
  macro: false,
};

// ───────────────────────────────── hashing ─────────────────────────────────

/** FNV-1a 32-bit over UTF-16 code units, seeded; returns an unsigned 32-bit integer. */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export { fmix32 };

/** Combine two 32-bit hashes (order-sensitive). */
export function hashPair(a: number, b: number): number {
  return fmix32((Math.imul(a, 0x9e3779b1) ^ b) + 0x7f4a7c15);
}

// Namespaces keep feature kinds apart in the hash space.
const NS_UNI = 0x1b873593;
const NS_BI = 0x2c1b3c6d;
const NS_TRI = 0x297a2d39;
const NS_CHAR = 0x6b43a9b5;
const NS_DIR = 0x3c6ef372;
const NS_REG = 0x5be0cd19;
const NS_SYM = 0x510e527f;
const NS_CROSS = 0x1f83d9ab;
const NS_SKIP = 0x4a7484aa;

// ───────────────────────────────── tokenizer ─────────────────────────────────

export const SPECIAL = {
  url: '<url>',
  user: '<user>',
  cashtag: '<cashtag>',
  ticker: '<ticker>',
  money: '<money>',
  num: '<num>',
  numUp: '<num_up>',
  numDown: '<num_down>',
  pct: '<pct>',
  pctUp: '<pct_up>',
  pctDown: '<pct_down>',
  year: '<year>',
} as const;

const NEG_PREFIX = 'not_';

const CURRENCY_WORDS = new Set(['eur', 'usd', 'gbp', 'sek', 'nok', 'dkk', 'jpy', 'chf', 'cad', 'aud', 'inr', 'rs', 'rmb', 'cny', 'euro', 'euros', 'dollars', 'pounds', 'yen']);
const MAGNITUDE = new Map<string, number>([
  ['k', 1e3], ['thousand', 1e3], ['m', 1e6], ['mn', 1e6], ['mln', 1e6], ['mio', 1e6], ['million', 1e6], ['millions', 1e6],
  ['b', 1e9], ['bn', 1e9], ['billion', 1e9], ['billions', 1e9], ['tn', 1e12], ['trillion', 1e12],
  ['cr', 1e7], ['crore', 1e7], ['crores', 1e7], ['lakh', 1e5], ['lakhs', 1e5],
]);
const NEGATORS = new Set([
  'not', 'no', 'never', 'nor', 'without', 'cannot', 'neither', 'none', 'nothing', 'lack', 'lacks', 'lacking',
]);
/** "fails to", "failed to", "unable to": the cue is the pair. */
const NEGATOR_BEFORE_TO = new Set(['fail', 'fails', 'failed', 'failing', 'unable']);

/** Kinds of scanned pieces. */
const enum K {
  Word,
  Special,
  Cashtag,
  Break,
  Mark,
}

/** A scanned token with what the featurizer needs beyond its string. */
interface Piece {
  kind: K;
  text: string;
  /** Numeric value for number-shaped tokens (NaN otherwise). */
  value: number;
}

/** Text-level facts used for register features. */
export interface TextFacts {
  hasUrl: boolean;
  hasCashtag: boolean;
  hasUser: boolean;
  hasHashtag: boolean;
  /** Ends with a full stop (possibly followed by quotes/brackets). */
  endsWithStop: boolean;
  /** Word-ish token count. */
  words: number;
  /** Share of alphabetic words that start with a capital letter ("Title Case" headlines). */
  titleCase: number;
}

/**
 * Undo common mojibake so that news from different pipelines looks alike: "â€™" → "'",
 * "Â£" → "£", curly quotes → straight, "−" → "-". ASCII text is returned as is. (Split
 * decimals "0 .12" and glued currency codes "EUR0.12" are handled by the scanner.)
 */
export function normalizeText(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7e || text.charCodeAt(i) === 96) {
      ascii = false;
      break;
    }
  }
  if (ascii) return text;
  let t = text;
  if (/[ÂÃâ]/.test(t)) {
    t = t
      .replace(/â€™|â€˜/g, "'")
      .replace(/â€œ|â€\u009d|â€/g, '"')
      .replace(/Ã‚Â|Â/g, '')
      .replace(/Ã¶/g, 'ö')
      .replace(/Ã¤/g, 'ä')
      .replace(/Ã©|ÃƒÂ©/g, 'é');
  }
  return t.replace(/[’‘`´]/g, "'").replace(/[“”«»]/g, '"').replace(/\u2212/g, '-');
}

function parseNum(s: string): number {
  return Number(s.indexOf(',') >= 0 ? s.replace(/,/g, '') : s);
}

// character classes
function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** ASCII letter or a Latin-1 / Latin Extended-A letter (é, ö, ñ, ő …). */
function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7);
}
function isAlnum(c: number): boolean {
  return isLetter(c) || isDigit(c);
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 0xa0 || c === 0x2009 || c === 0x202f;
}
/** Characters after which a + / − sign starts a signed number: start, space, ( [ / " */
function signContext(text: string, i: number): boolean {
  if (i === 0) return true;
  const p = text.charCodeAt(i - 1);
  return isSpace(p) || p === 40 || p === 91 || p === 47 || p === 34;
}

const CURRENCY_SYMBOLS = new Set([36, 0x20ac, 0xa3, 0xa5, 0x20b9]); // $ € £ ¥ ₹
const URL_TLD = /^[a-z0-9-]+\.(?:com|co|ly|net|org|io|in)\//i;
const EXCHANGE = /^(?:NYSE|NASDAQ|Nasdaq|LSE|TSX|NSE|BSE|OTC|AMEX)?:?\s?[A-Z]{1,5}(?:\.[A-Z])?$/;

interface Scan {
  pieces: Piece[];
  facts: TextFacts;
}

/** Index just past a number starting at i: digits, "," + 3 digits, "." + digits. */
function numberEnd(text: string, i: number): number {
  const n = text.length;
  let j = i;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (isDigit(c)) j++;
    else if (c === 44 && j + 1 < n && isDigit(text.charCodeAt(j + 1)) && j > i) j++;
    else if (c === 46 && j + 1 < n && isDigit(text.charCodeAt(j + 1))) {
      j++;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      break;
    } else break;
  }
  return j;
}

/** Like numberEnd, also joining a decimal split by a space ("0 .12"); returns [end, numeric string]. */
function readNumber(text: string, i: number): [number, string] {
  const e = numberEnd(text, i);
  const n = text.length;
  if (e + 2 < n && text.charCodeAt(e) === 32 && text.charCodeAt(e + 1) === 46 && isDigit(text.charCodeAt(e + 2)) && text.slice(i, e).indexOf('.') < 0) {
    let j = e + 2;
    while (j < n && isDigit(text.charCodeAt(j))) j++;
    return [j, text.slice(i, e) + text.slice(e + 1, j)];
  }
  return [e, text.slice(i, e)];
}

/** Index just past a run of letters starting at i. */
function lettersEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length && isLetter(text.charCodeAt(j))) j++;
  return j;
}

/** Index just past a non-space run starting at i. */
function nonSpaceEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length && !isSpace(text.charCodeAt(j))) j++;
  return j;
}

/** Percent marker at i ("%", " %", "percent", "per cent", "pct"): index just past it, or -1. */
function percentEnd(text: string, i: number): number {
  let j = i;
  if (j < text.length && text.charCodeAt(j) === 32) j++;
  if (j < text.length && text.charCodeAt(j) === 37) return j + 1;
  const c = j < text.length ? text.charCodeAt(j) | 32 : 0;
  if (c !== 112) return -1; // p
  for (const w of ['percent', 'per cent', 'pct']) {
    if (text.length >= j + w.length && text.slice(j, j + w.length).toLowerCase() === w && !(j + w.length < text.length && isLetter(text.charCodeAt(j + w.length)))) {
      return j + w.length;
    }
  }
  return -1;
}

function scan(raw: string): Scan {
  const text = normalizeText(raw);
  const n = text.length;
  const pieces: Piece[] = [];
  const facts: TextFacts = { hasUrl: false, hasCashtag: false, hasUser: false, hasHashtag: false, endsWithStop: false, words: 0, titleCase: 0 };
  let alpha = 0;
  let capital = 0;
  const push = (kind: K, t: string, value = NaN): void => {
    pieces.push({ kind, text: t, value });
  };
  /** A number starting at `i` (sign already consumed: sign = '+', '-' or ''). Returns the end index. */
  const number = (i: number, sign: string): number => {
    const [e, digits] = readNumber(text, i);
    let v = parseNum(digits);
    const pe = percentEnd(text, e);
    facts.words++;
    if (pe >= 0) {
      push(K.Special, sign === '+' ? SPECIAL.pctUp : sign === '-' ? SPECIAL.pctDown : SPECIAL.pct, sign === '-' ? -v : v);
      return pe;
    }
    const le = lettersEnd(text, e);
    if (le > e) {
      // letters glued to the number: a magnitude ("5m", "3bn") or a shape ("2Q19", "3rd", "10x")
      let ae = le;
      while (ae < n && isAlnum(text.charCodeAt(ae))) ae++;
      const glued = text.slice(e, ae).toLowerCase();
      const mag = MAGNITUDE.get(glued);
      if (mag !== undefined) {
        v *= mag;
        push(K.Special, SPECIAL.num, sign === '-' ? -v : v);
      } else {
        push(K.Special, '<num>' + glued.replace(/[0-9]+/g, '#'), v);
      }
      return ae;
    }
    let tok: string;
    if (!sign && digits.length === 4 && (digits.startsWith('19') || digits.startsWith('20'))) tok = SPECIAL.year;
    else tok = sign === '+' ? SPECIAL.numUp : sign === '-' ? SPECIAL.numDown : SPECIAL.num;
    push(K.Special, tok, sign === '-' ? -v : v);
    return e;
  };
  /** Currency amount after a symbol at i (symbol excluded); -1 if no amount follows. */
  const money = (i: number): number => {
    let j = i;
    if (j < n && text.charCodeAt(j) === 32) j++;
    if (!(j < n && isDigit(text.charCodeAt(j)))) return -1;
    const [e, digits] = readNumber(text, j);
    let v = parseNum(digits);
    let end = e;
    let k = e;
    if (k < n && text.charCodeAt(k) === 32) k++;
    const le = lettersEnd(text, k);
    if (le > k) {
      const mag = MAGNITUDE.get(text.slice(k, le).toLowerCase());
      if (mag !== undefined && !(le < n && isDigit(text.charCodeAt(le)))) {
        v *= mag;
        end = le;
      }
    }
    push(K.Special, SPECIAL.money, v);
    facts.words++;
    return end;
  };

  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (isLetter(c)) {
      // links
      if ((c === 104 || c === 72) && (text.startsWith('http://', i) || text.startsWith('https://', i) || text.startsWith('HTTP', i))) {
        facts.hasUrl = true;
        push(K.Special, SPECIAL.url);
        i = nonSpaceEnd(text, i);
        continue;
      }
      if ((c === 119 || c === 87) && text.startsWith('www.', i)) {
        facts.hasUrl = true;
        push(K.Special, SPECIAL.url);
        i = nonSpaceEnd(text, i);
        continue;
      }
      // a word: letters/digits, inner ' - & joining alphanumerics
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (isAlnum(d)) j++;
        else if ((d === 39 || d === 45 || d === 38) && j + 1 < n && isAlnum(text.charCodeAt(j + 1))) j += 2;
        else break;
      }
      if (j < n && text.charCodeAt(j) === 46 && j + 1 < n && isLower(text.charCodeAt(j + 1))) {
        const run = text.slice(i, nonSpaceEnd(text, i));
        if (URL_TLD.test(run)) {
          facts.hasUrl = true;
          push(K.Special, SPECIAL.url);
          i += run.length;
          continue;
        }
      }
      // a currency code glued to an amount ("EUR0.12", "Rs279"): the code is a word, the amount follows
      const le = lettersEnd(text, i);
      if (le < j && isDigit(text.charCodeAt(le)) && CURRENCY_WORDS.has(text.slice(i, le).toLowerCase())) j = le;
      const w = text.slice(i, j);
      alpha++;
      if (isUpper(c)) capital++;
      facts.words++;
      const lw = w.toLowerCase();
      // a magnitude word after an amount scales it ("8.7 mn", "EUR 5 m") and is dropped
      const mag = MAGNITUDE.get(lw);
      const last = pieces.length > 0 ? pieces[pieces.length - 1] : undefined;
      if (mag !== undefined && last !== undefined && last.kind === K.Special && !Number.isNaN(last.value) && last.text !== SPECIAL.year) {
        const prev = pieces.length > 1 ? pieces[pieces.length - 2] : undefined;
        const afterCurrency = last.text === SPECIAL.money || (prev !== undefined && prev.kind === K.Word && CURRENCY_WORDS.has(prev.text));
        if (lw.length > 1 || afterCurrency) {
          last.value *= mag;
          facts.words--;
          i = j;
          continue;
        }
      }
      push(K.Word, lw);
      i = j;
      continue;
    }
    if (isDigit(c)) {
      i = number(i, '');
      continue;
    }
    if ((c === 43 || c === 45) && i + 1 < n && isDigit(text.charCodeAt(i + 1)) && signContext(text, i)) {
      i = number(i + 1, c === 43 ? '+' : '-');
      continue;
    }
    if (c === 36 /* $ */ && i + 1 < n && isLetter(text.charCodeAt(i + 1))) {
      // cashtag: $ + 1–6 letters, optional .X / _X class suffix, not followed by a letter/digit
      let j = i + 1;
      while (j < n && j - i <= 6 && isLetter(text.charCodeAt(j))) j++;
      const d = j < n ? text.charCodeAt(j) : 0;
      if ((d === 46 || d === 95) && j + 1 < n && isLetter(text.charCodeAt(j + 1))) {
        let k = j + 1;
        while (k < n && k - j <= 2 && isLetter(text.charCodeAt(k))) k++;
        if (!(k < n && isAlnum(text.charCodeAt(k)))) j = k;
      }
      if (!(j < n && isAlnum(text.charCodeAt(j)))) {
        facts.hasCashtag = true;
        push(K.Cashtag, text.slice(i, j).toUpperCase());
        i = j;
        continue;
      }
      i = j;
      continue;
    }
    if (CURRENCY_SYMBOLS.has(c)) {
      const e = money(i + 1);
      i = e >= 0 ? e : i + 1;
      continue;
    }
    if (c === 64 /* @ */ && i + 1 < n && (isAlnum(text.charCodeAt(i + 1)) || text.charCodeAt(i + 1) === 95)) {
      facts.hasUser = true;
      push(K.Special, SPECIAL.user);
      let j = i + 1;
      while (j < n && (isAlnum(text.charCodeAt(j)) || text.charCodeAt(j) === 95)) j++;
      i = j;
      continue;
    }
    if (c === 35 /* # */ && i + 1 < n && isLetter(text.charCodeAt(i + 1))) {
      facts.hasHashtag = true;
      let j = i + 1;
      while (j < n && (isAlnum(text.charCodeAt(j)) || text.charCodeAt(j) === 95)) j++;
      push(K.Word, text.slice(i + 1, j).toLowerCase());
      facts.words++;
      i = j;
      continue;
    }
    if (c === 40 /* ( */) {
      const close = text.indexOf(')', i + 1);
      if (close > i + 1 && close - i <= 16 && EXCHANGE.test(text.slice(i + 1, close))) {
        push(K.Special, SPECIAL.ticker);
        i = close + 1;
        continue;
      }
      i++;
      continue;
    }
    if (c === 33 || c === 63) {
      push(K.Mark, c === 33 ? '!' : '?');
      i++;
      continue;
    }
    if (c === 46 || c === 59 || c === 58 || c === 44 || c === 0x2026 || c === 124 || c === 0x2014 || c === 0x2013) {
      push(K.Break, '');
      i++;
      continue;
    }
    if (c === 45 && i > 0 && isSpace(text.charCodeAt(i - 1)) && i + 1 < n && isSpace(text.charCodeAt(i + 1))) {
      push(K.Break, '');
      i++;
      continue;
    }
    // emoji (astral pictographs, dingbats, arrows) are tokens of their own: 🚀 📉 ✅
    if (c >= 0xd83c && c <= 0xd83e && i + 1 < n) {
      push(K.Mark, text.slice(i, i + 2));
      i += 2;
      continue;
    }
    if ((c >= 0x2600 && c <= 0x27bf) || (c >= 0x2190 && c <= 0x21ff) || (c >= 0x2b00 && c <= 0x2bff)) {
      push(K.Mark, text[i]);
      i++;
      continue;
    }
    i++;
  }
  // "EUR 8.7" / "Rs 279": a currency word followed by a number becomes one <money>
  for (let k = 0; k + 1 < pieces.length; k++) {
    const p = pieces[k];
    const q = pieces[k + 1];
    if (p.kind === K.Word && CURRENCY_WORDS.has(p.text) && q.kind === K.Special && (q.text === SPECIAL.num || q.text === SPECIAL.year)) {
      q.text = SPECIAL.money;
      pieces.splice(k, 1);
      facts.words--;
    } else if (q.kind === K.Word && (q.text === 'euros' || q.text === 'dollars' || q.text === 'euro') && p.kind === K.Special && p.text === SPECIAL.num) {
      p.text = SPECIAL.money;
      pieces.splice(k + 1, 1);
      facts.words--;
    }
  }
  let e = n - 1;
  while (e >= 0 && (isSpace(text.charCodeAt(e)) || text.charCodeAt(e) === 34 || text.charCodeAt(e) === 39 || text.charCodeAt(e) === 41 || text.charCodeAt(e) === 93)) e--;
  facts.endsWithStop = e >= 0 && text.charCodeAt(e) === 46;
  facts.titleCase = alpha > 0 ? capital / alpha : 0;
  return { pieces, facts };
}

function isNegator(p: Piece, next: Piece | undefined): boolean {
  if (p.kind !== K.Word) return false;
  const w = p.text;
  if (NEGATORS.has(w) || w.endsWith("n't")) return true;
  return NEGATOR_BEFORE_TO.has(w) && next !== undefined && next.kind === K.Word && next.text === 'to';
}

/** Scanned pieces with the negation scope applied, breakers removed. */
interface Analysis {
  /** Tokens as features see them (negated ones with the `not_` prefix). */
  tokens: string[];
  /** The same tokens without the prefix. */
  base: string[];
  neg: boolean[];
  kinds: K[];
  values: number[];
  facts: TextFacts;
}

function analyze(text: string, negationWindow: number): Analysis {
  const { pieces, facts } = scan(text);
  const tokens: string[] = [];
  const base: string[] = [];
  const neg: boolean[] = [];
  const kinds: K[] = [];
  const values: number[] = [];
  const add = (t: string, kind: K, value: number, negated: boolean): void => {
    base.push(t);
    tokens.push(negated ? NEG_PREFIX + t : t);
    neg.push(negated);
    kinds.push(kind);
    values.push(value);
  };
  let scope = 0;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (p.kind === K.Break) {
      scope = 0;
      continue;
    }
    if (p.kind === K.Mark) {
      scope = 0;
      add(p.text, p.kind, p.value, false);
      continue;
    }
    const t = p.text;
    if (isNegator(p, pieces[i + 1])) {
      add(t, p.kind, p.value, false);
      scope = negationWindow;
      // "fails to": "to" is part of the cue, not of the scope
      if (NEGATOR_BEFORE_TO.has(t)) {
        i++;
        add('to', K.Word, NaN, false);
      }
      continue;
    }
    let negated = false;
    if (scope > 0) {
      if (p.kind === K.Word && (t === 'but' || t === 'however' || t === 'although')) scope = 0;
      else {
        negated = true;
        scope--;
      }
    }
    add(t, p.kind, p.value, negated);
  }
  return { tokens, base, neg, kinds, values, facts };
}

/**
 * Text → tokens. Words are lower-cased; cashtags stay upper-case (`$AAPL`, `$BRK.B`);
 * links become `<url>`, @mentions `<user>`, "(NYSE: ABC)" `<ticker>`; numbers become shape
 * tokens (`<num>`, `<num_up>`/`<num_down>` for explicit signs, `<year>`, `<money>` for
 * currency amounts, `<pct>`/`<pct_up>`/`<pct_down>` for percentages); `!` and `?` are kept;
 * other punctuation only ends a negation scope. The `negationWindow` tokens after a cue
 * ("not", "no", "never", "…n't", "without", "fails to", …) get the prefix `not_`.
 */
export function tokenize(text: string, negationWindow = DEFAULT_FEATURE_CONFIG.negationWindow): string[] {
  return analyze(text, negationWindow).tokens;
}

/** True for a cashtag token as produced by `tokenize` (e.g. `$AAPL`). */
export function isCashtag(token: string): boolean {
  return token.length > 1 && token.charCodeAt(0) === 36 /* $ */;
}

/** Register of a text, derived from the text alone (the data set is unknown at serving time). */
export type Register = 'tweet' | 'sentence' | 'title' | 'headline';

export function registerOf(f: TextFacts): Register {
  if (f.hasCashtag || f.hasUrl || f.hasUser || f.hasHashtag) return 'tweet';
  if (f.endsWithStop && f.words >= 8) return 'sentence';
  if (f.words >= 25) return 'sentence';
  if (f.titleCase > 0.6 && f.words >= 4) return 'title';
  return 'headline';
}

// ─────────────────────────── financial direction lexicon ───────────────────────────

/** Quantities where "up" is good news. */
const GOOD_METRICS = new Set([
  'profit', 'profits', 'sales', 'revenue', 'revenues', 'earnings', 'income', 'ebit', 'ebitda', 'eps', 'margin', 'margins',
  'orders', 'order', 'turnover', 'dividend', 'dividends', 'demand', 'output', 'production', 'share', 'shares', 'stock',
  'stocks', 'price', 'prices', 'value', 'volume', 'volumes', 'traffic', 'deliveries', 'bookings', 'subscribers', 'users',
  'guidance', 'outlook', 'forecast', 'forecasts', 'target', 'rating', 'cash', 'growth', 'result', 'results', 'returns',
  'market', 'markets', 'index', 'sensex', 'nifty', 'valuation', 'payout', 'buyback', 'capacity', 'productivity',
  'occupancy', 'yield', 'gdp', 'exports', 'surplus', 'assets', 'equity', 'nav', 'ratings', 'estimates', 'view',
]);
/** Quantities where "up" is bad news. */
const BAD_METRICS = new Set([
  'loss', 'losses', 'cost', 'costs', 'expenses', 'expense', 'debt', 'debts', 'deficit', 'unemployment', 'layoffs',
  'inventory', 'inventories', 'risk', 'risks', 'provisions', 'impairment', 'impairments', 'writedown', 'writedowns',
  'charges', 'charge', 'liabilities', 'delays', 'claims', 'npa', 'npas', 'defaults', 'default', 'inflation', 'borrowing',
  'leverage', 'outflows', 'burn', 'churn', 'shortfall', 'fine', 'penalty', 'lawsuit', 'redundancies', 'headcount',
]);
const UP_WORDS = new Set([
  'rose', 'rise', 'rises', 'rising', 'risen', 'increase', 'increased', 'increases', 'increasing', 'grew', 'grow', 'grows',
  'growing', 'grown', 'up', 'jumped', 'jump', 'jumps', 'climbed', 'climb', 'climbs', 'surged', 'surge', 'surges', 'soared',
  'soar', 'soars', 'higher', 'improved', 'improve', 'improves', 'improving', 'gained', 'gain', 'gains', 'widened', 'widen',
  'widens', 'raised', 'raise', 'raises', 'raising', 'boost', 'boosted', 'boosts', 'doubled', 'doubles', 'tripled', 'expanded',
  'expands', 'expand', 'hike', 'hiked', 'hikes', 'lifts', 'lifted', 'lift', 'rallies', 'rally', 'rallied', 'advanced',
  'advances', 'spiked', 'spikes', 'upgrade', 'upgraded', 'upgrades', 'beat', 'beats', 'tops', 'topped', 'exceeded',
  'exceeds', 'record', 'strong', 'stronger', 'stronger-than-expected', 'high', 'highs', 'accelerated', 'accelerates',
  'skyrocketed', 'zoomed', 'rebounded', 'rebounds', 'recovered', 'recovers', 'swelled', 'upbeat',
]);
const DOWN_WORDS = new Set([
  'fell', 'fall', 'falls', 'falling', 'fallen', 'decreased', 'decrease', 'decreases', 'decreasing', 'declined', 'decline',
  'declines', 'declining', 'dropped', 'drop', 'drops', 'dropping', 'down', 'lower', 'lowered', 'lowers', 'lowest', 'slid',
  'slide', 'slides', 'sliding', 'plunged', 'plunge', 'plunges', 'narrowed', 'narrow', 'narrows', 'narrowing', 'cut',
  'cuts', 'cutting', 'reduced', 'reduce', 'reduces', 'shrank', 'shrink', 'shrinks', 'slumped', 'slump', 'slumps', 'sank',
  'sink', 'sinks', 'tumbled', 'tumble', 'tumbles', 'downgrade', 'downgraded', 'downgrades', 'miss', 'missed', 'misses',
  'weaker', 'weak', 'slashed', 'slash', 'slashes', 'halved', 'dipped', 'dip', 'dips', 'eased', 'eases', 'slipped', 'slips',
  'contracted', 'contracts', 'plummeted', 'plummets', 'crashed', 'crash', 'sheds', 'shed', 'lost', 'loses', 'lose',
  'low', 'lows', 'weakened', 'weakens', 'softer', 'decelerated', 'trimmed', 'trims', 'trim', 'worse', 'slower', 'slowed',
  'slows', 'erased', 'wiped', 'retreated', 'retreats', 'skid', 'skids', 'tanked', 'tanks', 'collapsed', 'sagged',
]);

const DIR_WINDOW = 4;

// word → bit flags, one Map lookup per token
const F_UP = 1;
const F_DOWN = 2;
const F_GOOD = 4;
const F_BAD = 8;
const F_PROFIT = 16;
const F_LOSS = 32;
const F_FROM = 64;
const F_TO = 128;
const F_CMP = 256;
const F_LESS = 512;
const F_MORE = 1024;
const F_THAN = 2048;
const WORD_FLAGS = new Map<string, number>();
function flag(words: Iterable<string>, f: number): void {
  for (const w of words) WORD_FLAGS.set(w, (WORD_FLAGS.get(w) ?? 0) | f);
}
flag(UP_WORDS, F_UP);
flag(DOWN_WORDS, F_DOWN);
flag(GOOD_METRICS, F_GOOD);
flag(BAD_METRICS, F_BAD);
flag(['profit', 'profits', 'surplus', 'black'], F_PROFIT);
flag(['loss', 'losses', 'deficit', 'red'], F_LOSS);
flag(['from'], F_FROM);
flag(['to'], F_TO);
flag(['compared', 'vs', 'versus', 'against', 'year-ago'], F_CMP);
flag(['less', 'fewer'], F_LESS);
flag(['more', 'better'], F_MORE);
flag(['than'], F_THAN);

// Feature-name hashes for the direction features, computed once.
const H_DIR: Record<string, number> = {};
for (const name of [
  'good_up', 'good_down', 'bad_up', 'bad_down', 'fin_pos', 'fin_neg', 'cmp_up', 'cmp_down', 'cmp_up_bad', 'cmp_down_bad',
  'cmp_pos', 'cmp_neg', 'dir_up', 'dir_down', 'turn_pos', 'turn_neg', 'to_good', 'to_bad', 'less_than', 'more_than',
]) {
  H_DIR[name] = fnv1a(name, NS_DIR);
}

const H_MACRO = {} as Record<MacroFeature, number>;
for (const name of MACRO_FEATURE_NAMES) H_MACRO[name] = fnv1a(name, NS_DIR);

/** The macro features a text has, by name (for tests and for reading a misclassification). */
export function macroFeatureNames(text: string, negationWindow = DEFAULT_FEATURE_CONFIG.negationWindow): MacroFeature[] {
  const a = analyze(text, negationWindow);
  const names: MacroFeature[] = [];
  macroFeatures(a.base, a.neg, numericValues(a), (f) => names.push(f));
  return names;
}

function numericValues(a: Analysis): number[] {
  return a.base.map((t, i) => (a.kinds[i] === K.Special && NUMERIC_TOKENS.has(t) ? a.values[i] : NaN));
}

const NUMERIC_TOKENS = new Set<string>([SPECIAL.money, SPECIAL.num, SPECIAL.numUp, SPECIAL.numDown, SPECIAL.pct, SPECIAL.pctUp, SPECIAL.pctDown]);
const PCT_TOKENS = new Set<string>([SPECIAL.pct, SPECIAL.pctUp, SPECIAL.pctDown]);

/** Emits direction feature hashes into `out` (metric × direction words, number comparisons). */
function directionFeatures(a: Analysis, out: number[]): void {
  const n = a.base.length;
  if (n === 0) return;
  const flags = new Array<number>(n);
  let any = 0;
  for (let i = 0; i < n; i++) {
    const f = a.kinds[i] === K.Word ? WORD_FLAGS.get(a.base[i]) ?? 0 : 0;
    flags[i] = f;
    any |= f;
  }
  if (any === 0) return;
  const hasBad = (any & F_BAD) !== 0;
  let ups = 0;
  let downs = 0;
  if (any & (F_UP | F_DOWN)) {
    for (let i = 0; i < n; i++) {
      const f = flags[i];
      if (!(f & (F_UP | F_DOWN))) continue;
      let dir = f & F_UP ? 1 : -1;
      if (a.neg[i]) dir = -dir;
      if (dir > 0) ups++;
      else downs++;
      // nearest metric word within the window, either side
      let metric = 0;
      for (let d = 1; d <= DIR_WINDOW && metric === 0; d++) {
        const l = i - d >= 0 ? flags[i - d] : 0;
        const r = i + d < n ? flags[i + d] : 0;
        if (l & F_GOOD) metric = 1;
        else if (l & F_BAD) metric = -1;
        else if (r & F_GOOD) metric = 1;
        else if (r & F_BAD) metric = -1;
      }
      if (metric === 0) continue;
      out.push(H_DIR[(metric > 0 ? 'good_' : 'bad_') + (dir > 0 ? 'up' : 'down')]);
      out.push(H_DIR[metric * dir > 0 ? 'fin_pos' : 'fin_neg']);
    }
    if (ups > 0 && downs === 0) out.push(H_DIR.dir_up);
    else if (downs > 0 && ups === 0) out.push(H_DIR.dir_down);
  }
  if (!(any & (F_FROM | F_TO | F_CMP | F_THAN))) return;

  const vals = a.values;
  const isNum = (j: number): boolean => a.kinds[j] === K.Special && !Number.isNaN(vals[j]) && NUMERIC_TOKENS.has(a.base[j]);
  const numberNear = (from: number, to: number): number => {
    for (let j = Math.max(0, from); j <= to && j < n; j++) if (isNum(j)) return j;
    return -1;
  };
  const compare = (before: number, after: number, xi: number, yi: number): void => {
    if (PCT_TOKENS.has(a.base[xi]) !== PCT_TOKENS.has(a.base[yi]) || before === after) return;
    const up = after > before;
    out.push(H_DIR[up ? 'cmp_up' : 'cmp_down']);
    if (hasBad) out.push(H_DIR[up ? 'cmp_up_bad' : 'cmp_down_bad']);
    out.push(H_DIR[up !== hasBad ? 'cmp_pos' : 'cmp_neg']);
  };
  let toMetric = 0;
  let fromMetric = 0;
  for (let i = 0; i < n; i++) {
    const f = flags[i];
    if (f & (F_FROM | F_TO)) {
      const isTo = (f & F_TO) !== 0;
      // "to a net loss", "from a profit": the state a result moved to / from
      for (let j = i + 1; j <= i + 3 && j < n; j++) {
        const c = flags[j] & F_LOSS ? -1 : flags[j] & F_PROFIT ? 1 : 0;
        if (c !== 0) {
          if (isTo) toMetric = c;
          else fromMetric = c;
          break;
        }
      }
      // "from A to B", "to B from A": compare the numbers
      const x = numberNear(i + 1, i + 2);
      if (x < 0) continue;
      const other = isTo ? F_FROM : F_TO;
      let y = -1;
      for (let k = x + 1; k <= x + 4 && k < n; k++) {
        if (flags[k] & other) {
          y = numberNear(k + 1, k + 2);
          break;
        }
      }
      if (y < 0) continue;
      if (isTo) compare(vals[y], vals[x], y, x);
      else compare(vals[x], vals[y], x, y);
      i = y;
    } else if (f & F_CMP) {
      // "A , compared to B", "A vs B": A is the new figure
      const x = numberNear(i - 4, i - 1);
      const y = numberNear(i + 1, i + 4);
      if (x >= 0 && y >= 0) compare(vals[y], vals[x], y, x);
    } else if (f & F_THAN && i > 0) {
      if (flags[i - 1] & F_LESS) out.push(H_DIR.less_than);
      else if (flags[i - 1] & F_MORE) out.push(H_DIR.more_than);
    }
  }
  if (toMetric !== 0) out.push(H_DIR[toMetric > 0 ? 'to_good' : 'to_bad']);
  if (toMetric !== 0 && fromMetric !== 0 && toMetric !== fromMetric) out.push(H_DIR[toMetric > 0 ? 'turn_pos' : 'turn_neg']);
}

// ───────────────────────────────── lexicons ─────────────────────────────────

/**
 * A word-polarity lexicon as stored in tokenizer.json: word hash → integer level (e.g. −5…5).
 * Only hashes are stored, never the words.
 */
export type Lexicon = Map<number, number>;

const NS_LEXWORD = 0x3243f6a8;

export function lexiconKey(word: string): number {
  return fnv1a(word, NS_LEXWORD);
}

/** (word, level) pairs → base64 of sorted (uint32 hash, int8 level) records. Level 0 entries are dropped. */
export function encodeLexicon(entries: Iterable<[string, number]>): string {
  const m = new Map<number, number>();
  for (const [w, level] of entries) {
    const l = Math.max(-127, Math.min(127, Math.round(level)));
    if (l !== 0) m.set(lexiconKey(w), l);
  }
  const keys = [...m.keys()].sort((a, b) => a - b);
  const buf = Buffer.alloc(keys.length * 5);
  keys.forEach((k, i) => {
    buf.writeUInt32LE(k, i * 5);
    buf.writeInt8(m.get(k)!, i * 5 + 4);
  });
  return buf.toString('base64');
}

export function decodeLexicon(b64: string): Lexicon {
  const buf = Buffer.from(b64, 'base64');
  if (buf.length % 5 !== 0) throw new Error('lexicon: bad length');
  const m: Lexicon = new Map();
  for (let i = 0; i < buf.length; i += 5) m.set(buf.readUInt32LE(i), buf.readInt8(i + 4));
  return m;
}

const H_LEX_CACHE = new Map<string, number>();

function lexFeature(lexIndex: number, level: number, negated: boolean): number {
  const name = `lex${lexIndex}:${level}:${negated ? 'n' : 'p'}`;
  let h = H_LEX_CACHE.get(name);
  if (h === undefined) {
    h = fnv1a(name, NS_DIR);
    H_LEX_CACHE.set(name, h);
  }
  return h;
}

// ───────────────────────────────── featurizer ─────────────────────────────────

const H_BOS = fnv1a('<s>', NS_UNI);
const H_EOS = fnv1a('</s>', NS_UNI);
const H_CASHTAG = fnv1a(SPECIAL.cashtag, NS_UNI);
const H_REG: Record<Register, number> = {
  tweet: fnv1a('tweet', NS_REG),
  sentence: fnv1a('sentence', NS_REG),
  title: fnv1a('title', NS_REG),
  headline: fnv1a('headline', NS_REG),
};
const H_LEN = [0, 1, 2, 3, 4].map((b) => fnv1a('len' + b, NS_REG));
const H_Q = fnv1a('question', NS_REG);
const H_TITLE = fnv1a('titlecase', NS_REG);

function lengthBucket(words: number): number {
  return words <= 5 ? 0 : words <= 10 ? 1 : words <= 18 ? 2 : words <= 30 ? 3 : 4;
}

/**
 * Hashed features of a text: 32-bit hashes (before the modulo / bucket lookup) and their values.
 * N-gram features come first and share the value 1/sqrt(count) ('l2' scaling) or 1; the dense
 * features (direction, register) follow with the fixed value `denseValue` (when it is 0 they
 * are scaled with the n-grams).
 */
export interface HashedFeatures {
  hashes: number[];
  values: number[];
}

export function hashFeatures(text: string, cfg: FeatureConfig, lexicons: readonly Lexicon[] = []): HashedFeatures {
  const a = analyze(text, cfg.negationWindow);
  const toks = a.tokens;
  const n = toks.length;
  const out: number[] = [];
  const uni = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    uni[i] = a.kinds[i] === K.Cashtag ? H_CASHTAG : fnv1a(toks[i], NS_UNI);
  }
  const reg = registerOf(a.facts);
  const cross = cfg.registerCross ? H_REG[reg] ^ NS_CROSS : 0;
  if (cfg.unigrams) {
    for (let i = 0; i < n; i++) {
      out.push(uni[i]);
      if (cfg.registerCross) out.push(hashPair(cross, uni[i]));
    }
  }
  if (cfg.symbols) {
    for (let i = 0; i < n; i++) if (a.kinds[i] === K.Cashtag) out.push(fnv1a(toks[i], NS_SYM));
  }
  if (cfg.bigrams) {
    let prev = H_BOS;
    for (let i = 0; i <= n; i++) {
      const cur = i < n ? uni[i] : H_EOS;
      const h = hashPair(prev ^ NS_BI, cur);
      out.push(h);
      if (cfg.registerCross) out.push(hashPair(cross, h));
      prev = cur;
    }
  }
  if (cfg.skipBigrams) {
    for (let i = 0; i + 2 < n; i++) out.push(hashPair(uni[i] ^ NS_SKIP, uni[i + 2]));
  }
  if (cfg.trigrams) {
    // over <s> t0 … tn-1 </s>
    let p2 = H_BOS;
    let p1 = n > 0 ? uni[0] : H_EOS;
    for (let i = 1; i <= n; i++) {
      const cur = i < n ? uni[i] : H_EOS;
      out.push(hashPair(hashPair(p2 ^ NS_TRI, p1), cur));
      p2 = p1;
      p1 = cur;
    }
  }
  const charStart = out.length;
  if (cfg.charNgrams.length > 0) {
    for (let i = 0; i < n; i++) {
      if (a.kinds[i] !== K.Word) continue;
      const neg = a.neg[i];
      const w = '<' + a.base[i] + '>';
      const ns = neg ? NS_CHAR ^ 0x5555 : NS_CHAR;
      for (const g of cfg.charNgrams) {
        if (w.length <= g) continue;
        for (let s = 0; s + g <= w.length; s++) {
          let h = ns >>> 0;
          for (let c = s; c < s + g; c++) {
            h ^= w.charCodeAt(c);
            h = Math.imul(h, 0x01000193);
          }
          out.push(h >>> 0);
        }
      }
    }
  }
  const charEnd = out.length;
  let sparse = out.length;
  if (cfg.lexicons && lexicons.length > 0) {
    for (let i = 0; i < n; i++) {
      if (a.kinds[i] !== K.Word) continue;
      const neg = a.neg[i];
      const key = lexiconKey(a.base[i]);
      for (let l = 0; l < lexicons.length; l++) {
        const level = lexicons[l].get(key);
        if (level !== undefined) {
          const h = lexFeature(l, level, neg);
          out.push(h);
          if (cfg.registerCrossLex) out.push(hashPair(H_REG[reg] ^ NS_CROSS, h));
        }
      }
    }
  }
  if (!cfg.lexDense) sparse = out.length;
  if (cfg.direction) {
    const d0 = out.length;
    directionFeatures(a, out);
    if (cfg.registerCrossLex) {
      const d1 = out.length;
      for (let i = d0; i < d1; i++) out.push(hashPair(H_REG[reg] ^ NS_CROSS, out[i]));
    }
  }
  if (cfg.macro) {
    macroFeatures(a.base, a.neg, numericValues(a), (f) => out.push(H_MACRO[f]));
  }
  if (cfg.register) {
    out.push(H_REG[reg]);
    out.push(H_LEN[lengthBucket(a.facts.words)]);
    if (n > 0 && toks[n - 1] === '?') out.push(H_Q);
    if (a.facts.titleCase > 0.6 && a.facts.words >= 4) out.push(H_TITLE);
  }
  const values = new Array<number>(out.length);
  const dense = cfg.denseValue > 0;
  const charGroup = cfg.charWeight > 0 && charEnd > charStart;
  const nChar = charGroup ? charEnd - charStart : 0;
  const count = (dense ? sparse : out.length) - nChar;
  const v = count <= 0 ? 0 : cfg.scaling === 'l2' ? 1 / Math.sqrt(count) : 1;
  const vc = nChar === 0 ? 0 : cfg.scaling === 'l2' ? cfg.charWeight / Math.sqrt(nChar) : cfg.charWeight;
  for (let i = 0; i < out.length; i++) {
    values[i] = dense && i >= sparse ? cfg.denseValue : charGroup && i >= charStart && i < charEnd ? vc : v;
  }
  return { hashes: out, values };
}

/** Bucket (hash modulo 2^hashBits) of each feature hash. */
export function bucketsOf(hashes: number[], hashBits: number): number[] {
  const mask = hashBits >= 32 ? 0xffffffff : (1 << hashBits) - 1;
  return hashes.map((h) => (h & mask) >>> 0);
}

/** What tokenizer.json holds: the feature config plus the bucket → model row table. */
export interface TokenizerSpec {
  format: 'tickerpulse-features';
  version: 1;
  labels: readonly string[];
  config: FeatureConfig;
  /** Number of model rows (row 0 is the all-zero padding row). */
  rows: number;
  /** Sorted buckets that have a model row: bucket[i] ↔ row i+1. Base64 of delta-encoded LEB128 varints. */
  buckets: string;
  /** Hashed word-polarity lexicons (see encodeLexicon), in feature order, with where they came from. */
  lexicons?: { name: string; source: string; licence: string; data: string }[];
}

export function encodeBuckets(sorted: ArrayLike<number>): string {
  const bytes: number[] = [];
  let prev = 0;
  for (let i = 0; i < sorted.length; i++) {
    let d = sorted[i] - prev;
    if (d < 0 || (i > 0 && d === 0)) throw new Error('encodeBuckets: buckets must be strictly increasing');
    prev = sorted[i];
    while (d >= 0x80) {
      bytes.push((d & 0x7f) | 0x80);
      d = Math.floor(d / 128);
    }
    bytes.push(d);
  }
  return Buffer.from(bytes).toString('base64');
}

export function decodeBuckets(b64: string): Uint32Array {
  const bytes = Buffer.from(b64, 'base64');
  const out: number[] = [];
  let prev = 0;
  let i = 0;
  while (i < bytes.length) {
    let d = 0;
    let mul = 1;
    for (;;) {
      if (i >= bytes.length) throw new Error('decodeBuckets: truncated varint');
      const b = bytes[i++];
      d += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    prev += d;
    out.push(prev);
  }
  return Uint32Array.from(out);
}

/** A featurized batch ready for the ONNX graph: ids/values padded to the longest row. */
export interface FeatureBatch {
  batch: number;
  width: number;
  /** int64 ids as little-endian pairs of int32 (low word = id, high word = 0). */
  ids: BigInt64Array;
  values: Float32Array;
}

/**
 * Serving-side featurizer: text → model row ids (1-based; buckets without a row are
 * dropped) and values. Built from tokenizer.json.
 */
export class Featurizer {
  readonly config: FeatureConfig;
  readonly rows: number;
  private readonly rowOf: Int32Array;
  private readonly mask: number;
  private readonly lexicons: Lexicon[];

  constructor(spec: TokenizerSpec) {
    if (spec.format !== 'tickerpulse-features' || spec.version !== 1) throw new Error('unsupported tokenizer.json format');
    this.config = { ...DEFAULT_FEATURE_CONFIG, ...spec.config };
    const bits = this.config.hashBits;
    if (!(bits >= 8 && bits <= 26)) throw new Error(`hashBits ${bits} out of range`);
    this.mask = (1 << bits) - 1;
    const buckets = decodeBuckets(spec.buckets);
    if (buckets.length + 1 !== spec.rows) throw new Error(`tokenizer.json: ${buckets.length} buckets but rows = ${spec.rows}`);
    for (let i = 0; i < buckets.length; i++) if (buckets[i] > this.mask) throw new Error('tokenizer.json: bucket out of range');
    // shared between the threads that load the same spec (sharedRows.ts)
    this.rowOf = rowTable(bits, spec.buckets, (rowOf) => {
      for (let i = 0; i < buckets.length; i++) rowOf[buckets[i]] = i + 1;
    });
    this.rows = spec.rows;
    this.lexicons = (spec.lexicons ?? []).map((l) => decodeLexicon(l.data));
  }

  /** Row ids (≥ 1) and values of one text; unknown buckets are left out. */
  featurize(text: string): { ids: number[]; values: number[] } {
    const { hashes, values: hv } = hashFeatures(text, this.config, this.lexicons);
    const ids: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < hashes.length; i++) {
      const r = this.rowOf[hashes[i] & this.mask];
      if (r !== 0) {
        ids.push(r);
        values.push(hv[i]);
      }
    }
    return { ids, values };
  }

  /** Featurize a batch into padded int64 ids + float32 values (pad id 0 / value 0). */
  batch(texts: readonly string[]): FeatureBatch {
    const rows: { ids: number[]; values: number[] }[] = new Array(texts.length);
    let width = 1;
    for (let i = 0; i < texts.length; i++) {
      const f = this.featurize(texts[i] ?? '');
      rows[i] = f;
      if (f.ids.length > width) width = f.ids.length;
    }
    const buf = new ArrayBuffer(texts.length * width * 8);
    // little-endian int64: the low 32-bit word carries the (non-negative) id, the high word stays 0
    const lo = new Int32Array(buf);
    const values = new Float32Array(texts.length * width);
    for (let i = 0; i < texts.length; i++) {
      const { ids, values: vs } = rows[i];
      const base = i * width;
      for (let k = 0; k < ids.length; k++) {
        lo[(base + k) * 2] = ids[k];
        values[base + k] = vs[k];
      }
    }
    return { batch: texts.length, width, ids: new BigInt64Array(buf), values };
  }
}
