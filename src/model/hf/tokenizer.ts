/**
 * Hugging Face `tokenizer.json` in TypeScript, for the two families text classifiers exported
 * with `optimum-cli export onnx --task text-classification` use:
 *
 *   - BERT WordPiece (BERT, FinBERT, DistilBERT…): BertNormalizer (clean_text,
 *     handle_chinese_chars, strip_accents, lowercase), BertPreTokenizer (whitespace +
 *     punctuation split), greedy longest-match WordPiece with a `##` continuation prefix, [UNK].
 *   - Byte-level BPE (RoBERTa, DistilRoBERTa, GPT-2…): the GPT-2 pre-tokenizer regex, the
 *     byte-to-unicode table (`Ġ` = space), rank-ordered merges ("a b" strings or ["a", "b"] pairs).
 *
 * Special tokens come from the post_processor (TemplateProcessing, BertProcessing,
 * RobertaProcessing). Anything else (Unigram / SentencePiece models, unknown normalizers or
 * pre-tokenizers) is refused at load with a message naming the component.
 *
 * Not implemented: splitting literal added tokens out of the input text (a headline containing
 * "[SEP]" is tokenized as ordinary text), pair inputs, offsets.
 */

export class TokenizerSpecError extends Error {}

/** Token ids of one text, before special tokens. */
export interface Encoded {
  ids: number[];
  tokens: string[];
}

interface Special {
  id: number;
  token: string;
  typeId: number;
}

// ---------------------------------------------------------------------------------------------
// Normalizers

type Normalize = (s: string) => string;

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /^[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}]$/u.test(ch);
}

function isBertWhitespace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const stripAccents: Normalize = (s) => s.normalize('NFD').replace(/\p{Mn}/gu, '');

function bertNormalizer(spec: Record<string, unknown>): Normalize {
  const cleanText = spec.clean_text !== false;
  const chinese = spec.handle_chinese_chars !== false;
  const lowercase = spec.lowercase !== false;
  const strip = typeof spec.strip_accents === 'boolean' ? spec.strip_accents : lowercase;
  return (s) => {
    let out = s;
    if (cleanText || chinese) {
      let buf = '';
      for (const ch of out) {
        const cp = ch.codePointAt(0)!;
        if (cleanText) {
          if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
          if (isBertWhitespace(ch)) {
            buf += ' ';
            continue;
          }
        }
        if (chinese && isChineseChar(cp)) buf += ` ${ch} `;
        else buf += ch;
      }
      out = buf;
    }
    if (strip) out = stripAccents(out);
    if (lowercase) out = out.toLowerCase();
    return out;
  };
}

function makeNormalizer(spec: unknown): Normalize {
  if (spec === null || spec === undefined) return (s) => s;
  const n = spec as Record<string, unknown>;
  switch (n.type) {
    case 'BertNormalizer':
      return bertNormalizer(n);
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'StripAccents':
      return (s) => s.replace(/\p{Mn}/gu, '');
    case 'NFD':
    case 'NFC':
    case 'NFKD':
    case 'NFKC': {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case 'Strip': {
      const left = n.strip_left !== false;
      const right = n.strip_right !== false;
      return (s) => (left && right ? s.trim() : left ? s.trimStart() : right ? s.trimEnd() : s);
    }
    case 'Sequence': {
      const parts = ((n.normalizers as unknown[]) ?? []).map(makeNormalizer);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    default:
      throw new TokenizerSpecError(`normalizer type ${String(n.type)} is not supported (supported: BertNormalizer, Lowercase, StripAccents, NFC/NFD/NFKC/NFKD, Strip, Sequence)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers: text → words

type PreTokenize = (words: string[]) => string[];

function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /^\p{P}$/u.test(ch);
}

/** Split on whitespace, and every punctuation character becomes a word of its own. */
function bertPreTokenize(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of text) {
    if (/^\s$/u.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else if (isBertPunctuation(ch)) {
      if (cur) out.push(cur);
      out.push(ch);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** The GPT-2 / RoBERTa pre-tokenizer pattern. */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte → printable unicode character table (space → Ġ, newline → Ċ…). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table: string[] = new Array(256);
  for (let i = 0; i < bs.length; i++) table[bs[i]] = String.fromCodePoint(cs[i]);
  return table;
}

const BYTE_TABLE = bytesToUnicode();
const utf8 = new TextEncoder();

function byteLevelMap(word: string): string {
  let out = '';
  for (const b of utf8.encode(word)) out += BYTE_TABLE[b];
  return out;
}

function makePreTokenizer(spec: unknown): PreTokenize {
  if (spec === null || spec === undefined) return (words) => words;
  const p = spec as Record<string, unknown>;
  switch (p.type) {
    case 'BertPreTokenizer':
      return (words) => words.flatMap(bertPreTokenize);
    case 'Whitespace':
      return (words) => words.flatMap((w) => w.match(/\w+|[^\w\s]+/gu) ?? []);
    case 'WhitespaceSplit':
      return (words) => words.flatMap((w) => w.split(/\s+/u).filter(Boolean));
    case 'Punctuation':
      return (words) => words.flatMap((w) => w.split(/(\p{P})/u).filter(Boolean));
    case 'ByteLevel': {
      const addPrefixSpace = p.add_prefix_space === true;
      const useRegex = p.use_regex !== false;
      return (words) =>
        words.flatMap((w, i) => {
          const t = addPrefixSpace && i === 0 && !w.startsWith(' ') ? ' ' + w : w;
          const pieces = useRegex ? (t.match(GPT2_PATTERN) ?? []) : [t];
          return pieces.map(byteLevelMap);
        });
    }
    case 'Sequence': {
      const parts = ((p.pretokenizers as unknown[]) ?? []).map(makePreTokenizer);
      return (words) => parts.reduce((acc, f) => f(acc), words);
    }
    default:
      throw new TokenizerSpecError(`pre_tokenizer type ${String(p.type)} is not supported (supported: BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Punctuation, Sequence)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Models: word → token ids

interface TokenModel {
  tokenize(word: string): string[];
}

export class WordPiece implements TokenModel {
  constructor(
    private readonly vocab: Map<string, number>,
    private readonly unk: string,
    private readonly prefix = '##',
    private readonly maxChars = 100,
  ) {}

  tokenize(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unk];
    const out: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | null = null;
      while (start < end) {
        let sub = chars.slice(start, end).join('');
        if (start > 0) sub = this.prefix + sub;
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === null) return [this.unk];
      out.push(found);
      start = end;
    }
    return out;
  }
}

export class BytePairEncoding implements TokenModel {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  constructor(
    private readonly vocab: Map<string, number>,
    merges: Array<string | [string, string]>,
    private readonly unk: string | null = null,
    private readonly prefix = '',
    private readonly suffix = '',
  ) {
    merges.forEach((m, rank) => {
      let a: string;
      let b: string;
      if (Array.isArray(m)) [a, b] = m;
      else {
        const sp = m.indexOf(' ', 1);
        if (sp < 0) throw new TokenizerSpecError(`BPE merge #${rank} "${m}" is not "a b"`);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      }
      const key = a + '\u0000' + b;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  tokenize(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let parts = Array.from(word).map((c, i) => (i > 0 && this.prefix ? this.prefix + c : c));
    if (this.suffix && parts.length) parts[parts.length - 1] += this.suffix;
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = this.ranks.get(parts[i] + '\u0000' + parts[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = parts[best];
      const b = parts[best + 1];
      // Merge every occurrence of this pair, left to right (as the reference implementation does).
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
          next.push(a + (this.prefix && b.startsWith(this.prefix) ? b.slice(this.prefix.length) : b));
          i++;
        } else next.push(parts[i]);
      }
      parts = next;
    }
    const out: string[] = [];
    for (const p of parts) {
      if (this.vocab.has(p)) out.push(p);
      else if (this.unk !== null) out.push(this.unk);
      // else: dropped, as the reference implementation does without an unk token
    }
    if (this.cache.size < 50_000) this.cache.set(word, out);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

export interface HfTokenizerOptions {
  /** Window length in tokens, special tokens included; overrides the file's truncation.max_length. */
  maxLength?: number;
  /** Used when the file names no pad token id. */
  padId?: number;
}

export class HfTokenizer {
  readonly kind: 'wordpiece' | 'bpe';
  readonly vocab: Map<string, number>;
  readonly idToToken: string[];
  /** Special tokens before / after the text (from the post_processor). */
  readonly prefix: Special[];
  readonly suffix: Special[];
  readonly padId: number;
  /** Window length (special tokens included), or null when neither file nor caller says. */
  readonly maxLength: number | null;
  private readonly normalize: Normalize;
  private readonly preTokenize: PreTokenize;
  private readonly model: TokenModel;
  private readonly unkId: number | null;
  readonly sequenceTypeId: number;

  constructor(json: unknown, opts: HfTokenizerOptions = {}) {
    if (json === null || typeof json !== 'object') throw new TokenizerSpecError('tokenizer.json is not a JSON object');
    const spec = json as Record<string, any>;
    const m = spec.model as Record<string, any> | undefined;
    if (!m || typeof m !== 'object') throw new TokenizerSpecError('tokenizer.json has no "model" section');
    const type = m.type ?? (m.merges ? 'BPE' : m.vocab && !Array.isArray(m.vocab) ? 'WordPiece' : undefined);
    if (!m.vocab || typeof m.vocab !== 'object' || Array.isArray(m.vocab)) {
      throw new TokenizerSpecError(`tokenizer.json model type ${String(type)} is not supported: only WordPiece (BERT) and byte-level BPE (RoBERTa) vocabularies are`);
    }
    this.vocab = new Map(Object.entries(m.vocab as Record<string, number>));
    // Added tokens may sit outside the model vocab (e.g. RoBERTa's <mask>).
    for (const t of (spec.added_tokens as Array<{ id: number; content: string }>) ?? []) {
      if (typeof t?.content === 'string' && Number.isInteger(t.id) && !this.vocab.has(t.content)) this.vocab.set(t.content, t.id);
    }
    this.idToToken = [];
    for (const [tok, id] of this.vocab) this.idToToken[id] = tok;
    if (type === 'WordPiece') {
      this.kind = 'wordpiece';
      const unk = typeof m.unk_token === 'string' ? m.unk_token : '[UNK]';
      if (!this.vocab.has(unk)) throw new TokenizerSpecError(`WordPiece unk_token ${unk} is not in the vocabulary`);
      this.model = new WordPiece(this.vocab, unk, m.continuing_subword_prefix ?? '##', m.max_input_chars_per_word ?? 100);
      this.unkId = this.vocab.get(unk)!;
    } else if (type === 'BPE') {
      this.kind = 'bpe';
      if (!Array.isArray(m.merges)) throw new TokenizerSpecError('BPE model has no "merges" list');
      const unk = typeof m.unk_token === 'string' && this.vocab.has(m.unk_token) ? m.unk_token : null;
      this.model = new BytePairEncoding(this.vocab, m.merges, unk, m.continuing_subword_prefix ?? '', m.end_of_word_suffix ?? '');
      this.unkId = unk === null ? null : this.vocab.get(unk)!;
    } else {
      throw new TokenizerSpecError(`tokenizer.json model type ${String(type)} is not supported: only WordPiece (BERT) and byte-level BPE (RoBERTa) are`);
    }
    this.normalize = makeNormalizer(spec.normalizer);
    this.preTokenize = makePreTokenizer(spec.pre_tokenizer);
    const pp = this.postProcessor(spec.post_processor);
    this.prefix = pp.prefix;
    this.suffix = pp.suffix;
    this.sequenceTypeId = pp.typeId;

    const padToken = spec.padding?.pad_token;
    const padFromFile = Number.isInteger(spec.padding?.pad_id)
      ? (spec.padding.pad_id as number)
      : typeof padToken === 'string' && this.vocab.has(padToken)
        ? this.vocab.get(padToken)!
        : (['[PAD]', '<pad>'].map((t) => this.vocab.get(t)).find((x) => x !== undefined) ?? null);
    this.padId = padFromFile ?? opts.padId ?? 0;
    const fileMax = Number.isInteger(spec.truncation?.max_length) ? (spec.truncation.max_length as number) : null;
    this.maxLength = opts.maxLength ?? fileMax;
  }

  private special(token: unknown, id: unknown, typeId = 0): Special {
    if (typeof token !== 'string') throw new TokenizerSpecError(`post_processor names a special token that is not a string: ${JSON.stringify(token)}`);
    const resolved = Number.isInteger(id) ? (id as number) : this.vocab.get(token);
    if (resolved === undefined) throw new TokenizerSpecError(`special token ${token} is not in the vocabulary`);
    return { token, id: resolved, typeId };
  }

  private postProcessor(spec: unknown): { prefix: Special[]; suffix: Special[]; typeId: number } {
    if (spec === null || spec === undefined) return { prefix: [], suffix: [], typeId: 0 };
    const p = spec as Record<string, any>;
    switch (p.type) {
      case 'BertProcessing':
      case 'RobertaProcessing': {
        const [clsTok, clsId] = p.cls ?? [];
        const [sepTok, sepId] = p.sep ?? [];
        return { prefix: [this.special(clsTok, clsId)], suffix: [this.special(sepTok, sepId)], typeId: 0 };
      }
      case 'TemplateProcessing': {
        const prefix: Special[] = [];
        const suffix: Special[] = [];
        let typeId = 0;
        let seenSeq = false;
        for (const piece of (p.single as Array<Record<string, any>>) ?? []) {
          if (piece.Sequence) {
            seenSeq = true;
            typeId = piece.Sequence.type_id ?? 0;
          } else if (piece.SpecialToken) {
            const name = piece.SpecialToken.id as string;
            const def = p.special_tokens?.[name];
            const ids: number[] = def?.ids ?? [this.vocab.get(name)];
            const toks: string[] = def?.tokens ?? [name];
            ids.forEach((id, k) => (seenSeq ? suffix : prefix).push(this.special(toks[k] ?? name, id, piece.SpecialToken.type_id ?? 0)));
          }
        }
        return { prefix, suffix, typeId };
      }
      case 'ByteLevel':
        return { prefix: [], suffix: [], typeId: 0 };
      case 'Sequence': {
        const all = ((p.processors as unknown[]) ?? []).map((x) => this.postProcessor(x));
        const withSpecials = all.find((x) => x.prefix.length || x.suffix.length);
        return withSpecials ?? { prefix: [], suffix: [], typeId: 0 };
      }
      default:
        throw new TokenizerSpecError(`post_processor type ${String(p.type)} is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel)`);
    }
  }

  /** Number of special tokens added around one text. */
  get specialCount(): number {
    return this.prefix.length + this.suffix.length;
  }

  /** Text → tokens and ids, without special tokens and without truncation. */
  encode(text: string): Encoded {
    const words = this.preTokenize([this.normalize(text)]);
    const tokens: string[] = [];
    const ids: number[] = [];
    for (const w of words) {
      for (const t of this.model.tokenize(w)) {
        const id = this.vocab.get(t);
        if (id === undefined) {
          if (this.unkId === null) continue;
          tokens.push(this.idToToken[this.unkId]);
          ids.push(this.unkId);
        } else {
          tokens.push(t);
          ids.push(id);
        }
      }
    }
    return { ids, tokens };
  }

  /** Text → tokens, without special tokens (for tests and diagnostics). */
  tokenize(text: string): string[] {
    return this.encode(text).tokens;
  }

  /** Content ids → ids with the special tokens, and their token type ids. */
  wrap(ids: readonly number[]): { ids: number[]; typeIds: number[] } {
    return {
      ids: [...this.prefix.map((s) => s.id), ...ids, ...this.suffix.map((s) => s.id)],
      typeIds: [...this.prefix.map((s) => s.typeId), ...ids.map(() => this.sequenceTypeId), ...this.suffix.map((s) => s.typeId)],
    };
  }
}
