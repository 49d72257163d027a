/**
 * The ticker dictionary compiled into one flat buffer: a string table (UTF-16 code units) with
 * an open-addressing hash index, per-string attributes (the symbol a symbol string resolves
 * to, the symbol an alias key names, the alias candidates that start with a token), fixed-width
 * candidate records and one pool of string ids for their tokens, veto phrases and context words.
 *
 * Why: every source's worker thread used to parse the 0.8 MB dictionary and build ~20 MB of
 * Maps, Sets and arrays of its own. Built once on the main thread into a SharedArrayBuffer and
 * passed in workerData, the dictionary exists once per process and a worker holds no JS object
 * per entry; a lookup is a hash of the token and integer compares. The buffer is never written
 * after `buildTickerTable` returns.
 *
 * The build mirrors the linker's compile rules exactly (first claim of a name wins, primary
 * nicknames before extra aliases before derived names, candidates longest first with ties in
 * build order), so linking against the table gives what the object-based linker gave
 * (test/tickers/sharedTable.test.ts holds the proof on its headlines).
 */
import { TickerpulseError } from '../src/lib/errors.js';
import { aliasKey, canonicalSymbol, tokenize } from './tickerTokens.js';
import type { AliasRule, LinkerOptions, TickerDictionary } from './tickerLinker.js';

const MAGIC = 0x7470_6b74; // "tpkt"
const VERSION = 1;
const HEADER_INTS = 8;

/** Fields of one candidate record (Int32). */
export const CAND_FIELDS = 11;
export const C_SYMBOL = 0;
export const C_FLAGS = 1;
export const C_KEYS = 2;
export const C_NKEYS = 3;
/** Pool offset of the alias's tokens as written (-1: any casing). */
export const C_EXACT = 4;
export const C_NOT_BEFORE = 5;
export const C_N_NOT_BEFORE = 6;
export const C_NOT_AFTER = 7;
export const C_N_NOT_AFTER = 8;
export const C_CONTEXT = 9;
export const C_N_CONTEXT = 10;

/** C_FLAGS bits: via alias (else name); a rule exists for the alias; rule mode in bits 2–3. */
export const F_ALIAS = 1;
export const F_HAS_RULE = 2;
export const MODE_SHIFT = 2;
/** Rule modes as stored: 0 = the rule (if any) names no mode. */
export const MODE_PLAIN = 1;
export const MODE_COMMON = 2;
export const MODE_CONTEXT = 3;
const MODE_CODE: Record<NonNullable<AliasRule['mode']>, number> = { plain: MODE_PLAIN, common: MODE_COMMON, context: MODE_CONTEXT };

interface BuildCand {
  keys: string[];
  symbol: string;
  flags: number;
  exact: string[] | null;
  notBefore: string[][];
  notAfter: string[][];
  context: string[];
}

/** FNV-1a over UTF-16 code units: the same function on both sides of the buffer. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Compiles the dictionary plus the config's `tickers` options. `shared: false` gives a plain
 * ArrayBuffer (tools and tests that link on one thread).
 */
export function buildTickerTable(dictionary: TickerDictionary, opts: LinkerOptions = {}, { shared = true }: { shared?: boolean } = {}): SharedArrayBuffer | ArrayBuffer {
  if (!dictionary || !Array.isArray(dictionary.companies)) throw new TickerpulseError('INPUT_INVALID', 'ticker dictionary has no companies array');
  const symbols = new Map<string, string>();
  for (const c of dictionary.companies) symbols.set(c.symbol, c.symbol);
  for (const c of dictionary.companies) for (const o of c.otherSymbols ?? []) if (!symbols.has(o)) symbols.set(o, c.symbol);
  for (const w of opts.watchlist ?? []) {
    const s = canonicalSymbol(w);
    if (!symbols.has(s)) symbols.set(s, s);
  }

  const index = new Map<string, BuildCand[]>();
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
    const cand: BuildCand = {
      keys,
      symbol,
      flags: (via === 'alias' ? F_ALIAS : 0) | (rule !== undefined ? F_HAS_RULE : 0) | ((rule?.mode ? MODE_CODE[rule.mode] : 0) << MODE_SHIFT),
      exact: allCaps || oddCase ? toks.map((t) => t.raw) : null,
      notBefore: (rule?.notBefore ?? []).map((p) => p.split(' ')),
      notAfter: (rule?.notAfter ?? []).map((p) => p.split(' ')),
      context: rule?.context?.length ? [...new Set(rule.context)] : [],
    };
    const list = index.get(keys[0]);
    if (list) list.push(cand);
    else index.set(keys[0], [cand]);
  };
  const rules = dictionary.rules ?? {};
  for (const c of dictionary.companies) for (const a of c.nicknames ?? []) compile(a, c.symbol, 'alias', rules[aliasKey(a)]);
  for (const [alias, sym] of Object.entries(opts.extraAliases ?? {})) {
    const s = canonicalSymbol(sym);
    compile(alias, symbols.get(s) ?? s, 'alias', undefined);
  }
  for (const c of dictionary.companies) for (const a of c.aliases) compile(a, c.symbol, 'name', rules[aliasKey(a)]);
  for (const list of index.values()) list.sort((a, b) => b.keys.length - a.keys.length);

  // intern every string the linker compares or returns
  const ids = new Map<string, number>();
  const strs: string[] = [];
  const intern = (s: string): number => {
    let id = ids.get(s);
    if (id === undefined) {
      id = strs.length;
      ids.set(s, id);
      strs.push(s);
    }
    return id;
  };
  for (const [k, v] of symbols) intern(k), intern(v);
  for (const [k, v] of nameToSymbol) intern(k), intern(v);
  const pool: number[] = [];
  const cands: number[] = [];
  const ranges: [number, number, number][] = [];
  const putPhrases = (ps: string[][]): number => {
    const at = pool.length;
    for (const p of ps) pool.push(p.length, ...p.map(intern));
    return at;
  };
  for (const [first, list] of index) {
    const start = cands.length / CAND_FIELDS;
    for (const c of list) {
      const keysAt = pool.length;
      pool.push(...c.keys.map(intern));
      const exactAt = c.exact ? pool.length : -1;
      if (c.exact) pool.push(...c.exact.map(intern));
      const nbAt = putPhrases(c.notBefore);
      const naAt = putPhrases(c.notAfter);
      const ctxAt = pool.length;
      pool.push(...c.context.map(intern));
      cands.push(intern(c.symbol), c.flags, keysAt, c.keys.length, exactAt, nbAt, c.notBefore.length, naAt, c.notAfter.length, ctxAt, c.context.length);
    }
    ranges.push([intern(first), start, cands.length / CAND_FIELDS]);
  }

  const nStrings = strs.length;
  let hashSize = 1;
  while (hashSize < nStrings * 2) hashSize <<= 1;
  let charsLen = 0;
  for (const s of strs) charsLen += s.length;
  const nCands = cands.length / CAND_FIELDS;
  const ints = HEADER_INTS + (nStrings + 1) + hashSize + 4 * nStrings + cands.length + pool.length;
  const bytes = ints * 4 + charsLen * 2;
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const v = sections(buf, [MAGIC, VERSION, nStrings, hashSize, nCands, pool.length, charsLen, dictionary.companies.length]);
  let off = 0;
  for (let i = 0; i < nStrings; i++) {
    const s = strs[i];
    v.strOff[i] = off;
    for (let k = 0; k < s.length; k++) v.chars[off + k] = s.charCodeAt(k);
    off += s.length;
    let slot = hashOf(s) & (hashSize - 1);
    while (v.hash[slot] !== 0) slot = (slot + 1) & (hashSize - 1);
    v.hash[slot] = i + 1;
  }
  v.strOff[nStrings] = off;
  v.symTarget.fill(-1);
  v.nameTarget.fill(-1);
  for (const [k, t] of symbols) v.symTarget[ids.get(k)!] = ids.get(t)!;
  for (const [k, t] of nameToSymbol) v.nameTarget[ids.get(k)!] = ids.get(t)!;
  for (const [id, s, e] of ranges) {
    v.candStart[id] = s;
    v.candEnd[id] = e;
  }
  v.cands.set(cands);
  v.pool.set(pool);
  return buf;
}

interface Sections {
  header: Int32Array;
  strOff: Int32Array;
  hash: Int32Array;
  symTarget: Int32Array;
  nameTarget: Int32Array;
  candStart: Int32Array;
  candEnd: Int32Array;
  cands: Int32Array;
  pool: Int32Array;
  chars: Uint16Array;
}

/** Views over the buffer; `init` writes the header first (build), otherwise it is read and checked. */
function sections(buf: SharedArrayBuffer | ArrayBuffer, init?: number[]): Sections {
  const header = new Int32Array(buf, 0, HEADER_INTS);
  if (init) header.set(init);
  else if (buf.byteLength < HEADER_INTS * 4 || header[0] !== MAGIC || header[1] !== VERSION) {
    throw new TickerpulseError('INPUT_INVALID', 'not a ticker table of this version (rebuild it with buildTickerTable)');
  }
  const [, , nStrings, hashSize, nCands, poolLen, charsLen] = header;
  let at = HEADER_INTS * 4;
  const ints = (n: number): Int32Array => {
    const a = new Int32Array(buf, at, n);
    at += n * 4;
    return a;
  };
  const s = {
    header,
    strOff: ints(nStrings + 1),
    hash: ints(hashSize),
    symTarget: ints(nStrings),
    nameTarget: ints(nStrings),
    candStart: ints(nStrings),
    candEnd: ints(nStrings),
    cands: ints(nCands * CAND_FIELDS),
    pool: ints(poolLen),
  };
  return { ...s, chars: new Uint16Array(buf, at, charsLen) };
}

/** Read access to a built table; holds only typed-array views of the (shared) buffer. */
export class TickerTableView {
  readonly size: number;
  readonly symTarget: Int32Array;
  readonly nameTarget: Int32Array;
  readonly candStart: Int32Array;
  readonly candEnd: Int32Array;
  readonly cands: Int32Array;
  readonly pool: Int32Array;
  private readonly strOff: Int32Array;
  private readonly hash: Int32Array;
  private readonly mask: number;
  private readonly chars: Uint16Array;

  constructor(buf: SharedArrayBuffer | ArrayBuffer) {
    const v = sections(buf);
    this.size = v.header[7];
    this.strOff = v.strOff;
    this.hash = v.hash;
    this.mask = v.hash.length - 1;
    this.symTarget = v.symTarget;
    this.nameTarget = v.nameTarget;
    this.candStart = v.candStart;
    this.candEnd = v.candEnd;
    this.cands = v.cands;
    this.pool = v.pool;
    this.chars = v.chars;
  }

  /** The id of string `s`, -1 when the table does not hold it. */
  id(s: string): number {
    let slot = hashOf(s) & this.mask;
    for (;;) {
      const e = this.hash[slot];
      if (e === 0) return -1;
      if (this.eq(e - 1, s)) return e - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Whether string `id` is `s`. */
  eq(id: number, s: string): boolean {
    const a = this.strOff[id];
    const n = this.strOff[id + 1] - a;
    if (n !== s.length) return false;
    const c = this.chars;
    for (let k = 0; k < n; k++) if (c[a + k] !== s.charCodeAt(k)) return false;
    return true;
  }

  str(id: number): string {
    let out = '';
    for (let k = this.strOff[id], e = this.strOff[id + 1]; k < e; k++) out += String.fromCharCode(this.chars[k]);
    return out;
  }
}
