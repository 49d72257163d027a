/**
 * Target-aware featurizer of the entity model: (text, target mention, other mentions) →
 * hashed features. Shared by training (train.ts) and serving (entityModel.ts), so it imports
 * only ../tokenizer.js (runtime-safe) and no devDependency.
 *
 * Blocks (each block has its own norm, `weight / √count`):
 *   global   the headline featurizer (src/model/tokenizer.ts: n-grams, negation, direction,
 *            lexicon and register features) run on the text with the target replaced by a
 *            placeholder word and every other mention by another one, so "⟨T⟩ surges" and
 *            "⟨O⟩ surges" are different bigrams and the company names themselves are no features;
 *   window   the tokens 1 … `exact` places left / right of the target (exact position) and a bag
 *            of the tokens within `window` places, stopped at a clause boundary and at the
 *            nearest other mention ("other-entity masking");
 *   clause   the unigrams / bigrams of the target's clause (clauses end at , ; : . ! ? | — and at
 *            "while", "but", "as", "after", "amid", "despite", … ), and the clause's up / down
 *            direction words and lexicon polarity sign (negation-aware);
 *   owner    every token is owned by the nearest mention (token distance + a penalty per clause
 *            boundary crossed; mentions joined by "and" / "," / "&" count as one group): tokens
 *            of the target's group, of other groups and shared ones form three bags, plus their
 *            lexicon polarity levels and up/down direction words (negation-aware);
 *   relation the nearest other mention: side, distance bucket, first boundary in between, the
 *            words in between (side-tagged: "⟨T⟩ beats ⟨O⟩" ≠ "⟨O⟩ beats ⟨T⟩"), comparatives;
 *            and the structure: number of mentions, target first / middle / last, at the start;
 *   name     the words of the target mention itself (a prior on the kind of entity).
 */
import {
  DEFAULT_FEATURE_CONFIG,
  decodeBuckets,
  decodeLexicon,
  fnv1a,
  hashFeatures,
  hashPair,
  lexiconKey,
  type FeatureConfig,
  type Lexicon,
} from '../tokenizer.js';
import { rowTable } from '../sharedRows.js';

/** Offsets of a mention in the text (UTF-16, end exclusive). */
export interface Span {
  start: number;
  end: number;
}

/** What the entity featurizer needs to know about one target. */
export interface TargetInput extends Span {
  text: string;
  others?: Span[];
}

export interface EntityFeatureConfig {
  /** Feature hashes are taken modulo 2^hashBits before the bucket → row lookup. */
  hashBits: number;
  /** Headline features of the masked text (0 = block off). */
  globalWeight: number;
  /** Replace the mentions with placeholder words in the global block (else the raw text). */
  mask: boolean;
  /** Window block weight (0 = off), bag width and how many exact positions each side. */
  windowWeight: number;
  window: number;
  exact: number;
  /** The window bag ends at a clause boundary (after its exact-position features) instead of tagging what lies beyond. */
  windowStop: boolean;
  /** Clause block weight (0 = off); with bigrams inside the clause. */
  clauseWeight: number;
  clauseBigrams: boolean;
  /** Up/down direction words and lexicon polarity sign of the target's clause (negation-aware). */
  clauseDirection: boolean;
  /** Owner block weight (0 = off); emitted only when the text names another entity when ownerMultiOnly. */
  ownerWeight: number;
  ownerMultiOnly: boolean;
  /** Extra token distance per clause boundary crossed, for the owner assignment. */
  boundaryPenalty: number;
  /** Relation + structure block weight (0 = off). */
  relationWeight: number;
  /** Words of the target mention itself ("bank", "fund", a regulator's name) as a block (0 = off). */
  nameWeight: number;
  /** Emit every local (non-global) feature twice: plain and crossed with single / multi-entity. */
  crossMulti: boolean;
  /** Negation scope (tokens after a cue) inside the local blocks. */
  negationWindow: number;
}

export const DEFAULT_ENTITY_CONFIG: EntityFeatureConfig = {
  hashBits: 20,
  globalWeight: 1,
  mask: true,
  windowWeight: 0.7,
  window: 4,
  exact: 2,
  windowStop: true,
  clauseWeight: 0.7,
  clauseBigrams: true,
  clauseDirection: true,
  ownerWeight: 0.7,
  ownerMultiOnly: false,
  boundaryPenalty: 2,
  relationWeight: 0.5,
  nameWeight: 0,
  crossMulti: false,
  negationWindow: 3,
};

/** What entity-tokenizer.json holds next to entity.onnx. */
export interface EntitySpec {
  format: 'tickerpulse-entity-features';
  version: 1;
  labels: readonly string[];
  /** Feature config of the global block (the headline featurizer's). */
  headline: FeatureConfig;
  entity: EntityFeatureConfig;
  /** Model rows including the zero padding row 0. */
  rows: number;
  /** Sorted buckets that own a row (bucket[i] ↔ row i+1); see encodeBuckets in ../tokenizer.ts. */
  buckets: string;
  /** Hashed word-polarity lexicons (same encoding as tokenizer.json). */
  lexicons?: { name: string; source: string; licence: string; data: string }[];
}

/** Placeholder words standing for the mentions in the global block (capitalized like names). */
export const TARGET_WORD = 'Qtargetq';
export const OTHER_WORD = 'Qotherq';

/** Only this many characters of a text are read (as in the headline model). */
export const MAX_TEXT_CHARS = 4000;

// ───────────────────────────── local scanner ─────────────────────────────

const enum TK {
  Word,
  Num,
  Break,
  Target,
  Other,
}

interface Tok {
  kind: TK;
  /** Feature text (lower-cased; negated words carry `not_`). */
  text: string;
  /** Base word without the negation prefix. */
  base: string;
  neg: boolean;
  /** Clause-boundary token (a Break, or a boundary word). */
  boundary: boolean;
  /** Index of the mention (into the sorted mention list) for Target / Other tokens. */
  mention: number;
}

const BOUNDARY_WORDS = new Set([
  'while', 'but', 'whereas', 'as', 'after', 'amid', 'amidst', 'despite', 'though', 'although', 'however', 'yet',
  'even', 'because', 'since', 'when', 'following', 'before', 'ahead', 'unlike', 'though', 'meanwhile', 'whilst',
]);
/** Words that join two mentions into one group ("Acme and Globex rise"). */
const COORD = new Set(['and', '&', ',', '/', 'or']);
const COMPARATIVES = new Set([
  'beats', 'beat', 'outperforms', 'outperform', 'outperformed', 'overtakes', 'overtake', 'overtook', 'tops', 'topped',
  'than', 'over', 'vs', 'versus', 'against', 'ahead', 'behind', 'trails', 'trail', 'lags', 'lag', 'underperforms',
  'underperform', 'underperformed', 'replaces', 'replace', 'replaced', 'pips', 'edges', 'surpasses', 'surpassed',
]);
const NEGATORS = new Set(['not', 'no', 'never', 'nor', 'without', 'cannot', 'neither', 'none', 'nothing', 'lack', 'lacks', 'fails', 'failed', 'fail', 'unable']);
const UP = new Set([
  'rise', 'rises', 'rose', 'rising', 'risen', 'gain', 'gains', 'gained', 'jump', 'jumps', 'jumped', 'surge', 'surges', 'surged',
  'soar', 'soars', 'soared', 'climb', 'climbs', 'climbed', 'rally', 'rallies', 'rallied', 'up', 'higher', 'high', 'highs',
  'advance', 'advances', 'advanced', 'rebound', 'rebounds', 'rebounded', 'zoom', 'zooms', 'zoomed', 'spurt', 'spurts',
  'spurted', 'upgrade', 'upgrades', 'upgraded', 'beat', 'beats', 'outperform', 'outperforms', 'top', 'tops', 'boost',
  'boosts', 'boosted', 'lift', 'lifts', 'lifted', 'strong', 'stronger', 'buy', 'bullish', 'positive', 'outperforms',
  'grow', 'grows', 'grew', 'improve', 'improves', 'improved', 'recover', 'recovers', 'recovered', 'hike', 'hikes',
]);
const DOWN = new Set([
  'fall', 'falls', 'fell', 'falling', 'fallen', 'drop', 'drops', 'dropped', 'decline', 'declines', 'declined', 'slip',
  'slips', 'slipped', 'slide', 'slides', 'slid', 'plunge', 'plunges', 'plunged', 'slump', 'slumps', 'slumped', 'tumble',
  'tumbles', 'tumbled', 'tank', 'tanks', 'tanked', 'crash', 'crashes', 'crashed', 'sink', 'sinks', 'sank', 'dip', 'dips',
  'dipped', 'down', 'lower', 'low', 'lows', 'lose', 'loses', 'lost', 'shed', 'sheds', 'plummet',
  'plummets', 'plummeted', 'downgrade', 'downgrades', 'downgraded', 'miss', 'misses', 'missed', 'weak', 'weaker',
  'cut', 'cuts', 'slash', 'slashes', 'slashed', 'sell', 'bearish', 'negative', 'warns', 'warned', 'drag',
  'drags', 'dragged', 'hit', 'hits', 'crack', 'cracks', 'cracked', 'skid', 'skids', 'lag', 'lags', 'underperform', 'underperforms',
]);

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlnum(c: number): boolean {
  return isLetter(c) || isDigit(c);
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 0xa0 || c === 0x2009 || c === 0x202f;
}

interface Mention extends Span {
  target: boolean;
}

/**
 * Clamp and order the mentions of one target: offsets truncated to integers inside the text,
 * empty spans dropped, others overlapping the target or an earlier other dropped.
 */
export function mentionsOf(t: TargetInput, len: number): Mention[] {
  const clamp = (x: number) => Math.max(0, Math.min(len, Math.trunc(Number.isFinite(x) ? x : 0)));
  const out: Mention[] = [];
  const ts = clamp(t.start);
  const te = clamp(t.end);
  if (te > ts) out.push({ start: ts, end: te, target: true });
  const others = (t.others ?? [])
    .map((o) => ({ start: clamp(o.start), end: clamp(o.end), target: false }))
    .filter((o) => o.end > o.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  for (const o of others) {
    if (out.some((m) => o.start < m.end && m.start < o.end)) continue;
    out.push(o);
  }
  out.sort((a, b) => a.start - b.start);
  return out;
}

const PCT_WORDS = ['percent', 'per cent', 'pct'];

/** Text → local tokens, each mention collapsed into one Target / Other token. */
function scanLocal(text: string, mentions: Mention[], negationWindow: number): Tok[] {
  const toks: Tok[] = [];
  const n = text.length;
  let mi = 0;
  let scope = 0;
  const push = (kind: TK, t: string, boundary = false, mention = -1): void => {
    let neg = false;
    if (kind === TK.Word) {
      if (scope > 0) {
        if (t === 'but' || t === 'however' || t === 'although') scope = 0;
        else {
          neg = true;
          scope--;
        }
      }
      if (NEGATORS.has(t) || t.endsWith("n't")) scope = negationWindow;
    } else if (kind === TK.Break || kind === TK.Target || kind === TK.Other) scope = 0;
    toks.push({ kind, text: neg ? 'not_' + t : t, base: t, neg, boundary: boundary || (kind === TK.Word && BOUNDARY_WORDS.has(t)), mention });
  };
  let i = 0;
  while (i < n) {
    const limit = mi < mentions.length ? mentions[mi].start : n;
    if (i >= limit && mi < mentions.length) {
      const m = mentions[mi];
      push(m.target ? TK.Target : TK.Other, m.target ? '<tgt>' : '<oth>', false, mi);
      i = Math.max(i, m.end);
      mi++;
      // possessive after a mention ("Acme's") belongs to it
      if (i + 1 < n && (text.charCodeAt(i) === 39 || text.charCodeAt(i) === 0x2019) && (text.charCodeAt(i + 1) | 32) === 115 && !(i + 2 < n && isAlnum(text.charCodeAt(i + 2)))) i += 2;
      continue;
    }
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (isLetter(c)) {
      let j = i + 1;
      while (j < limit) {
        const d = text.charCodeAt(j);
        if (isAlnum(d)) j++;
        else if ((d === 39 || d === 0x2019 || d === 45 || d === 38) && j + 1 < limit && isAlnum(text.charCodeAt(j + 1))) j += 2;
        else break;
      }
      push(TK.Word, text.slice(i, j).toLowerCase().replace(/\u2019/g, "'"));
      i = j;
      continue;
    }
    if (isDigit(c) || ((c === 43 || c === 45) && i + 1 < limit && isDigit(text.charCodeAt(i + 1)) && (i === 0 || isSpace(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === 40))) {
      const sign = isDigit(c) ? '' : c === 43 ? '_up' : '_down';
      let j = isDigit(c) ? i : i + 1;
      while (j < limit && (isDigit(text.charCodeAt(j)) || ((text.charCodeAt(j) === 46 || text.charCodeAt(j) === 44) && j + 1 < limit && isDigit(text.charCodeAt(j + 1))))) j++;
      let k = j;
      if (k < limit && text.charCodeAt(k) === 32) k++;
      let shape = '<num' + sign + '>';
      if (k < limit && text.charCodeAt(k) === 37) {
        shape = '<pct' + sign + '>';
        j = k + 1;
      } else {
        for (const w of PCT_WORDS) {
          if (text.startsWith(w, k) || text.slice(k, k + w.length).toLowerCase() === w) {
            shape = '<pct' + sign + '>';
            j = k + w.length;
            break;
          }
        }
        if (shape.startsWith('<num') && j < limit && isLetter(text.charCodeAt(j))) {
          // glued letters: "Q3" is a word; "5x", "2-fold", "10th" keep a shape
          let e = j;
          while (e < limit && isAlnum(text.charCodeAt(e))) e++;
          shape = '<num' + text.slice(j, e).toLowerCase().replace(/[0-9]+/g, '#') + '>';
          j = e;
        }
      }
      push(TK.Num, shape);
      i = j;
      continue;
    }
    if (c === 36 || c === 0x20ac || c === 0xa3 || c === 0x20b9 || c === 0xa5) {
      push(TK.Word, '<cur>');
      i++;
      continue;
    }
    if (c === 44 || c === 59 || c === 58 || c === 46 || c === 33 || c === 63 || c === 124 || c === 0x2014 || c === 0x2013 || c === 0x2026) {
      push(TK.Break, String.fromCharCode(c === 0x2014 || c === 0x2013 ? 45 : c === 0x2026 ? 46 : c), c !== 46 || !(i + 1 < n && isDigit(text.charCodeAt(i + 1))));
      i++;
      continue;
    }
    if (c === 45 && i > 0 && isSpace(text.charCodeAt(i - 1))) {
      push(TK.Break, '-', true);
      i++;
      continue;
    }
    if (c === 38) {
      push(TK.Word, '&');
      i++;
      continue;
    }
    if (c === 40 || c === 41) {
      push(TK.Break, c === 40 ? '(' : ')', false);
      i++;
      continue;
    }
    i++;
  }
  return toks;
}

// ───────────────────────────── hashing ─────────────────────────────

const NS = {
  tok: 0x61c88647,
  exactL: 0x0b4f2a11,
  exactR: 0x1d2c7e53,
  winL: 0x2e9a6b07,
  winR: 0x3f1d8c95,
  winLx: 0x4a7c15f3,
  winRx: 0x5b3e9d21,
  clause: 0x6c8e4b17,
  clauseBi: 0x7d1f3a89,
  own: 0x8e2b6c45,
  oth: 0x9f4d1e73,
  shared: 0xa05c8f31,
  name: 0x4af8d57d,
  ownLex: 0xb16e2a9f,
  othLex: 0xc27f4b0d,
  ownDir: 0xd3815c7b,
  othDir: 0xe4926de9,
  rel: 0xf5a37e57,
  btwL: 0x06b48fc5,
  btwR: 0x17c5a133,
  multi: 0x28d6b2a1,
  single: 0x39e7c40f,
} as const;

function tokHash(t: string): number {
  return fnv1a(t, NS.tok);
}
const relHash = (name: string): number => hashPair(NS.rel, tokHash(name));

/** Hashed features (32-bit, before the bucket lookup) and their values. */
export interface HashedEntityFeatures {
  hashes: number[];
  values: number[];
}

/** The text the global block reads: mentions replaced by placeholder words. */
export function maskedText(text: string, mentions: readonly Mention[]): string {
  if (mentions.length === 0) return text;
  let out = '';
  let at = 0;
  for (const m of mentions) {
    out += text.slice(at, m.start);
    const before = m.start > 0 ? text.charCodeAt(m.start - 1) : 32;
    const after = m.end < text.length ? text.charCodeAt(m.end) : 32;
    out += (isAlnum(before) ? ' ' : '') + (m.target ? TARGET_WORD : OTHER_WORD) + (isAlnum(after) ? ' ' : '');
    at = m.end;
  }
  return out + text.slice(at);
}

/** Lexicon levels of a word (one per lexicon; 0 when absent). */
function lexLevels(word: string, lexicons: readonly Lexicon[]): number[] {
  const key = lexiconKey(word);
  const out = new Array<number>(lexicons.length);
  for (let l = 0; l < lexicons.length; l++) out[l] = lexicons[l].get(key) ?? 0;
  return out;
}

function distBucket(d: number): string {
  return d <= 1 ? '1' : d <= 3 ? '2-3' : d <= 6 ? '4-6' : '7+';
}

class Block {
  readonly hashes: number[] = [];
  add(h: number): void {
    this.hashes.push(h >>> 0);
  }
}

/**
 * All features of one target. `headlineCfg` is the global block's feature config; `lexicons`
 * the hashed lexicons (used by the global block when its config says so and by the owner block).
 */
export function hashEntityFeatures(t: TargetInput, cfg: EntityFeatureConfig, headlineCfg: FeatureConfig, lexicons: readonly Lexicon[]): HashedEntityFeatures {
  const raw = typeof t.text === 'string' ? t.text : String(t.text ?? '');
  const text = raw.length > MAX_TEXT_CHARS ? raw.slice(0, MAX_TEXT_CHARS) : raw;
  const mentions = mentionsOf(t, text.length);
  const hashes: number[] = [];
  const values: number[] = [];
  const emit = (hs: readonly number[], weight: number, scaleBy = hs.length): void => {
    if (hs.length === 0 || weight <= 0) return;
    const v = weight / Math.sqrt(scaleBy);
    for (const h of hs) {
      hashes.push(h);
      values.push(v);
    }
  };

  if (cfg.globalWeight > 0) {
    const g = hashFeatures(cfg.mask ? maskedText(text, mentions) : text, headlineCfg, lexicons);
    for (let i = 0; i < g.hashes.length; i++) {
      hashes.push(g.hashes[i]);
      values.push(g.values[i] * cfg.globalWeight);
    }
  }

  const toks = scanLocal(text, mentions, cfg.negationWindow);
  const n = toks.length;
  let ti = -1;
  for (let i = 0; i < n; i++) if (toks[i].kind === TK.Target) ti = i;
  if (ti < 0) return { hashes, values };
  const multi = mentions.length > 1;
  const th = toks.map((k) => tokHash(k.text));

  // clause index of every token
  const clause = new Int32Array(n);
  for (let i = 0, c = 0; i < n; i++) {
    if (toks[i].boundary) c++;
    clause[i] = c;
  }

  const local: { block: Block; weight: number }[] = [];

  if (cfg.windowWeight > 0) {
    const b = new Block();
    for (const dir of [-1, 1]) {
      let crossed = false;
      for (let d = 1; d <= Math.max(cfg.window, cfg.exact); d++) {
        const j = ti + dir * d;
        if (j < 0 || j >= n) break;
        const k = toks[j];
        if (k.kind === TK.Other) {
          b.add(hashPair(dir < 0 ? NS.exactL : NS.exactR, tokHash('<oth>@' + Math.min(d, 3))));
          break;
        }
        if (d <= cfg.exact) b.add(hashPair((dir < 0 ? NS.exactL : NS.exactR) + d, th[j]));
        if (k.boundary) {
          if (cfg.windowStop && d > 1) break;
          crossed = true;
        }
        if (d <= cfg.window && k.kind !== TK.Break) b.add(hashPair(dir < 0 ? (crossed ? NS.winLx : NS.winL) : crossed ? NS.winRx : NS.winR, th[j]));
      }
      if (ti + dir < 0 || ti + dir >= n) b.add(hashPair(dir < 0 ? NS.exactL : NS.exactR, tokHash(dir < 0 ? '<s>' : '</s>')));
    }
    local.push({ block: b, weight: cfg.windowWeight });
  }

  if (cfg.clauseWeight > 0) {
    const b = new Block();
    const c = clause[ti];
    // the target's clause starts at its boundary token (included: "while ⟨T⟩ rises")
    let prev = tokHash('<c>');
    let up = 0;
    let down = 0;
    const lexSum = new Array<number>(lexicons.length).fill(0);
    for (let j = 0; j < n; j++) {
      if (clause[j] !== c || j === ti) continue;
      const k = toks[j];
      if (k.kind === TK.Break) continue;
      if (cfg.clauseDirection && k.kind === TK.Word) {
        let dir = UP.has(k.base) ? 1 : DOWN.has(k.base) ? -1 : 0;
        if (k.neg) dir = -dir;
        if (dir > 0) up++;
        else if (dir < 0) down++;
        const lv = lexLevels(k.base, lexicons);
        for (let l = 0; l < lv.length; l++) lexSum[l] += k.neg ? -lv[l] : lv[l];
      }
      b.add(hashPair(NS.clause, th[j]));
      if (cfg.clauseBigrams) {
        b.add(hashPair(hashPair(NS.clauseBi, prev), th[j]));
        prev = th[j];
      }
    }
    if (cfg.clauseBigrams) b.add(hashPair(hashPair(NS.clauseBi, prev), tokHash('</c>')));
    if (cfg.clauseDirection) {
      const d = up > 0 && down === 0 ? 'up' : down > 0 && up === 0 ? 'down' : up > 0 ? 'mixed' : 'none';
      b.add(relHash('cdir:' + d));
      b.add(relHash('cdir:' + d + (multi ? ':multi' : ':single')));
      for (let l = 0; l < lexSum.length; l++) b.add(relHash(`clex:${l}:${Math.sign(lexSum[l])}`));
    }
    local.push({ block: b, weight: cfg.clauseWeight });
  }

  // groups: mentions joined by coordination words form one group
  const mentionToks: number[] = [];
  for (let i = 0; i < n; i++) if (toks[i].kind === TK.Target || toks[i].kind === TK.Other) mentionToks.push(i);
  const group = new Int32Array(n).fill(-1);
  let gcount = 0;
  for (let m = 0; m < mentionToks.length; m++) {
    const i = mentionToks[m];
    if (m > 0) {
      const p = mentionToks[m - 1];
      let coord = i - p <= 3;
      for (let j = p + 1; j < i && coord; j++) if (!COORD.has(toks[j].base)) coord = false;
      group[i] = coord ? group[p] : gcount++;
    } else group[i] = gcount++;
  }
  const tg = group[ti];
  // boundaries before each token: boundaries strictly after lo and up to hi = bcount[hi + 1] - bcount[lo + 1]
  const bcount = new Int32Array(n + 1);
  for (let q = 0; q < n; q++) bcount[q + 1] = bcount[q] + (toks[q].boundary ? 1 : 0);
  const ownedBy = (j: number): number => {
    // nearest mention group by distance + boundary penalty; -2 = tie between groups
    let best = Infinity;
    let who = -1;
    for (const i of mentionToks) {
      const lo = i < j ? i : j;
      const hi = i < j ? j : i;
      const d = hi - lo + cfg.boundaryPenalty * (bcount[hi + 1] - bcount[lo + 1]);
      if (d < best) {
        best = d;
        who = group[i];
      } else if (d === best && group[i] !== who) who = -2;
    }
    return who;
  };

  if (cfg.ownerWeight > 0 && (multi || !cfg.ownerMultiOnly)) {
    const b = new Block();
    let ownUp = 0;
    let ownDown = 0;
    let othUp = 0;
    let othDown = 0;
    for (let j = 0; j < n; j++) {
      const k = toks[j];
      if (k.kind === TK.Target || k.kind === TK.Other || k.kind === TK.Break) continue;
      const who = ownedBy(j);
      const mine = who === tg;
      const ns = mine ? NS.own : who === -2 ? NS.shared : NS.oth;
      b.add(hashPair(ns, th[j]));
      if (k.kind !== TK.Word) continue;
      if (who === -2) continue;
      const lv = lexLevels(k.base, lexicons);
      for (let l = 0; l < lv.length; l++) {
        if (lv[l] !== 0) b.add(hashPair(mine ? NS.ownLex : NS.othLex, tokHash(`${l}:${lv[l]}:${k.neg ? 'n' : 'p'}`)));
      }
      let dir = UP.has(k.base) ? 1 : DOWN.has(k.base) ? -1 : 0;
      if (k.neg) dir = -dir;
      if (dir > 0) mine ? ownUp++ : othUp++;
      else if (dir < 0) mine ? ownDown++ : othDown++;
    }
    const dirName = (u: number, d: number) => (u > 0 && d === 0 ? 'up' : d > 0 && u === 0 ? 'down' : u > 0 && d > 0 ? 'mixed' : 'none');
    b.add(hashPair(NS.ownDir, tokHash(dirName(ownUp, ownDown))));
    if (multi) {
      b.add(hashPair(NS.othDir, tokHash(dirName(othUp, othDown))));
      b.add(hashPair(NS.othDir, tokHash(dirName(ownUp, ownDown) + '|' + dirName(othUp, othDown))));
    }
    local.push({ block: b, weight: cfg.ownerWeight });
  }

  if (cfg.relationWeight > 0) {
    const b = new Block();
    const idx = mentionToks.indexOf(ti);
    const nm = mentionToks.length;
    b.add(relHash('nm:' + Math.min(nm, 4)));
    let first = 0;
    while (first < n && toks[first].kind === TK.Break) first++;
    if (first === ti) b.add(relHash('start'));
    if (nm > 1) {
      b.add(relHash(idx === 0 ? 'first' : idx === nm - 1 ? 'last' : 'middle'));
      // nearest other mention not in the target's group (else the nearest other)
      let best = -1;
      for (const i of mentionToks) {
        if (i === ti) continue;
        if (best < 0) best = i;
        const cand = group[i] !== tg;
        const bestIsOut = group[best] !== tg;
        if ((cand && !bestIsOut) || (cand === bestIsOut && Math.abs(i - ti) < Math.abs(best - ti))) best = i;
      }
      if (best >= 0) {
        const right = best > ti;
        const side = right ? 'R' : 'L';
        const lo = Math.min(best, ti);
        const hi = Math.max(best, ti);
        const sameGroup = group[best] === tg;
        b.add(relHash(`oth:${side}:${distBucket(hi - lo - 1)}${sameGroup ? ':coord' : ''}`));
        let sep = '';
        for (let q = lo + 1; q < hi; q++) {
          if (toks[q].boundary) {
            sep = toks[q].base;
            break;
          }
        }
        b.add(relHash(`sep:${side}:${sep || 'none'}`));
        if (hi - lo - 1 <= 8) {
          for (let q = lo + 1; q < hi; q++) {
            b.add(hashPair(right ? NS.btwR : NS.btwL, th[q]));
            if (COMPARATIVES.has(toks[q].base)) b.add(relHash(`cmp:${side}:${toks[q].text}`));
          }
        }
      }
    }
    local.push({ block: b, weight: cfg.relationWeight });
  }

  if (cfg.nameWeight > 0) {
    const m = mentions[toks[ti].mention];
    const b = new Block();
    const words = text.slice(m.start, m.end).toLowerCase().match(/[a-z0-9&]+/g) ?? [];
    for (const w of words) b.add(hashPair(NS.name, tokHash(w)));
    local.push({ block: b, weight: cfg.nameWeight });
  }

  for (const { block, weight } of local) {
    if (block.hashes.length === 0) continue;
    if (cfg.crossMulti) {
      const ns = multi ? NS.multi : NS.single;
      const both = block.hashes.concat(block.hashes.map((h) => hashPair(ns, h)));
      emit(both, weight);
    } else emit(block.hashes, weight);
  }
  return { hashes, values };
}

/** Bucket (hash modulo 2^hashBits) of a feature hash. */
export function bucketOf(h: number, hashBits: number): number {
  return hashBits >= 32 ? h >>> 0 : (h & ((1 << hashBits) - 1)) >>> 0;
}

/**
 * Serving-side featurizer built from entity-tokenizer.json: target → model row ids (≥ 1;
 * buckets without a row are dropped) and values.
 */
export class EntityFeaturizer {
  readonly spec: EntitySpec;
  readonly config: EntityFeatureConfig;
  readonly headline: FeatureConfig;
  readonly rows: number;
  private readonly rowOf: Int32Array;
  private readonly mask: number;
  private readonly lexicons: Lexicon[];

  constructor(spec: EntitySpec) {
    if (spec.format !== 'tickerpulse-entity-features' || spec.version !== 1) throw new Error('unsupported entity-tokenizer.json format');
    this.spec = spec;
    this.config = { ...DEFAULT_ENTITY_CONFIG, ...spec.entity };
    this.headline = { ...DEFAULT_FEATURE_CONFIG, ...spec.headline };
    const bits = this.config.hashBits;
    if (!(bits >= 8 && bits <= 26)) throw new Error(`hashBits ${bits} out of range`);
    this.mask = (1 << bits) - 1;
    const buckets = decodeBuckets(spec.buckets);
    if (buckets.length + 1 !== spec.rows) throw new Error(`entity-tokenizer.json: ${buckets.length} buckets but rows = ${spec.rows}`);
    for (let i = 0; i < buckets.length; i++) if (buckets[i] > this.mask) throw new Error('entity-tokenizer.json: bucket out of range');
    // shared between the threads that load the same spec (../sharedRows.ts)
    this.rowOf = rowTable(bits, spec.buckets, (rowOf) => {
      for (let i = 0; i < buckets.length; i++) rowOf[buckets[i]] = i + 1;
    });
    this.rows = spec.rows;
    this.lexicons = (spec.lexicons ?? []).map((l) => decodeLexicon(l.data));
  }

  /** Row ids and values of one target (ids ≥ 1; features without a row are left out). */
  featurize(t: TargetInput): { ids: number[]; values: number[] } {
    const { hashes, values: hv } = hashEntityFeatures(t, this.config, this.headline, this.lexicons);
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
}
