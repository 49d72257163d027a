/**
 * tokenizer.json in TypeScript against known reference tokenizations (what Hugging Face
 * `tokenizers` produces for the same vocab / merges; the vocabularies are built here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToUnicode, HfTokenizer, TokenizerSpecError } from '../../src/model/hf/tokenizer.js';
import { padBatch, splitWindows } from '../../src/model/hf/windows.js';
import { bertTokenizerJson } from '../../src/model/hf/testModel.js';

const BERT_VOCAB = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', 'una', '##ffa', '##ble', 'cafe', 'hello', 'world', ',', '!', '.', 'q', '##3', '$', '1', '##0',
  'naive', 'shares', 'jump', 're', '##sume', 'don', "'", 't', 'x', 'the', 'un', '##aff', '##able', 'ré', 'café',
];

function bert(overrides: Record<string, unknown> = {}): HfTokenizer {
  const json = bertTokenizerJson(BERT_VOCAB) as Record<string, any>;
  return new HfTokenizer({ ...json, ...overrides });
}

test('WordPiece: greedy longest-match with ## continuations ("unaffable" → una ##ffa ##ble)', () => {
  const t = bert();
  // The vocabulary has both una/##ffa/##ble and un/##aff/##able: longest match first wins.
  assert.deepEqual(t.tokenize('unaffable'), ['una', '##ffa', '##ble']);
  assert.deepEqual(t.tokenize('resume'), ['re', '##sume']);
  assert.deepEqual(t.tokenize('Q3 $10'), ['q', '##3', '$', '1', '##0']);
});

test('WordPiece: lower-casing, accent stripping, punctuation split, [UNK] for unknown words and characters', () => {
  const t = bert();
  assert.deepEqual(t.tokenize('Café'), ['cafe']);
  assert.deepEqual(t.tokenize('NAÏVE'), ['naive']);
  assert.deepEqual(t.tokenize('Hello, World!'), ['hello', ',', 'world', '!']);
  assert.deepEqual(t.tokenize("don't"), ['don', "'", 't']);
  assert.deepEqual(t.tokenize('hello ☃ world'), ['hello', '[UNK]', 'world']);
  // A word with any unmatched piece is one [UNK], not a partial split.
  assert.deepEqual(t.tokenize('unaffablez'), ['[UNK]']);
  // CJK characters are split one by one (handle_chinese_chars), each unknown here.
  assert.deepEqual(t.tokenize('x日本x'), ['x', '[UNK]', '[UNK]', 'x']);
  // clean_text: control / format characters dropped, odd whitespace is whitespace.
  assert.deepEqual(t.tokenize('hel\u200blo\u00a0world\u0000'), ['hello', 'world']);
  assert.deepEqual(t.tokenize('   '), []);
  assert.deepEqual(t.encode('shares jump').ids, [BERT_VOCAB.indexOf('shares'), BERT_VOCAB.indexOf('jump')]);
});

test('WordPiece: lowercase false keeps case and accents; strip_accents true strips them without lower-casing', () => {
  const cased = bert({ normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false } });
  assert.deepEqual(cased.tokenize('café Hello'), ['café', '[UNK]']);
  const strip = bert({ normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: false } });
  assert.deepEqual(strip.tokenize('café'), ['cafe']);
  const seq = bert({ normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }] } });
  assert.deepEqual(seq.tokenize('CAFÉ'), ['cafe']);
});

test('WordPiece: [CLS] / [SEP] from the post_processor, token_type_ids, pad id; BertProcessing works too', () => {
  const t = bert();
  assert.equal(t.specialCount, 2);
  assert.deepEqual(t.wrap([8, 9]), { ids: [2, 8, 9, 3], typeIds: [0, 0, 0, 0] });
  assert.equal(t.padId, 0);
  const bp = bert({ post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] } });
  assert.deepEqual(bp.wrap([7]).ids, [2, 7, 3]);
  assert.equal(bp.maxLength, null);
  assert.equal(bert({ truncation: { max_length: 128, strategy: 'LongestFirst', stride: 0, direction: 'Right' } }).maxLength, 128);
  // Over-long words are [UNK] (max_input_chars_per_word).
  const json = bertTokenizerJson(BERT_VOCAB) as Record<string, any>;
  const short = new HfTokenizer({ ...json, model: { ...json.model, max_input_chars_per_word: 4 } });
  assert.deepEqual(short.tokenize('hello cafe'), ['[UNK]', 'cafe']);
});

// ---- byte-level BPE --------------------------------------------------------------------------

const BYTES = bytesToUnicode();

function bpe(merges: Array<string | [string, string]>, extra: Record<string, unknown> = {}): HfTokenizer {
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (const ch of BYTES) vocab[ch] = Object.keys(vocab).length;
  for (const m of merges) {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  }
  return new HfTokenizer({
    version: '1.0',
    truncation: null,
    padding: { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: null, pad_id: 1, pad_type_id: 0, pad_token: '<pad>' },
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
    ...extra,
  });
}

test('byte-level BPE: the GPT-2 byte table (space → Ġ, newline → Ċ, é → Ã©)', () => {
  assert.equal(BYTES[0x20], 'Ġ');
  assert.equal(BYTES[0x0a], 'Ċ');
  assert.equal(BYTES[0x41], 'A');
  assert.equal(new Set(BYTES).size, 256);
  const t = bpe([]);
  assert.deepEqual(t.tokenize('café'), ['c', 'a', 'f', 'Ã', '©']);
  assert.deepEqual(t.tokenize('a\nb'), ['a', 'Ċ', 'b']);
});

test('byte-level BPE: merges applied by rank, Ġ-prefixed words, "a b" and ["a", "b"] merge forms agree', () => {
  const merges: Array<string | [string, string]> = ['t h', 'th e', 'Ġ the', 'm e', 'Ġ s'];
  const t = bpe(merges);
  assert.deepEqual(t.tokenize('the theme'), ['the', 'Ġthe', 'me']);
  const asPairs = bpe(merges.map((m) => (m as string).split(' ') as [string, string]));
  assert.deepEqual(asPairs.tokenize('the theme'), ['the', 'Ġthe', 'me']);
  assert.deepEqual(asPairs.encode('the theme').ids, t.encode('the theme').ids);
  // Rank order matters: with "h e" ranked before "t h", "the" becomes t + he.
  assert.deepEqual(bpe(['h e', 't h', 'th e']).tokenize('the'), ['t', 'he']);
  // The pre-tokenizer regex: contractions, letters, digits and punctuation runs, with their leading space.
  assert.deepEqual(bpe([]).tokenize("it's 2024!").join('|'), "i|t|'|s|Ġ|2|0|2|4|!");
  const words = ("Shares don't jump, 10%  now".match(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu) ?? []);
  assert.deepEqual(words, ['Shares', ' don', "'t", ' jump', ',', ' 10', '%', ' ', ' now']);
});

test('byte-level BPE: <s> / </s> around the text, pad id from padding, add_prefix_space', () => {
  const t = bpe(['t h', 'th e', 'Ġ the']);
  const ids = t.encode('the').ids;
  assert.deepEqual(t.wrap(ids).ids, [0, ...ids, 2]);
  assert.equal(t.padId, 1);
  const prefixed = bpe(['t h', 'th e', 'Ġ the'], { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } });
  assert.deepEqual(prefixed.tokenize('the'), ['Ġthe']);
});

test('unsupported tokenizers are refused naming the component', () => {
  assert.throws(() => new HfTokenizer({ model: { type: 'Unigram', vocab: [['a', 0]] } }), (e: unknown) => e instanceof TokenizerSpecError && /Unigram/.test((e as Error).message));
  assert.throws(() => bert({ pre_tokenizer: { type: 'Metaspace' } }), /Metaspace/);
  assert.throws(() => bert({ normalizer: { type: 'Precompiled' } }), /Precompiled/);
});

test('windows: overlapping by the stride, clamped, capped; batches padded to the longest row', () => {
  const ids = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(splitWindows(ids, 4, 2), [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]);
  assert.deepEqual(splitWindows(ids, 6, 0), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]);
  assert.deepEqual(splitWindows(ids, 4, 100), [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]);
  assert.deepEqual(splitWindows(ids, 10, 3), [ids]);
  assert.deepEqual(splitWindows([], 4, 2), [[]]);
  assert.equal(splitWindows(Array.from({ length: 1000 }, (_, i) => i), 4, 0, 5).length, 5);
  const pb = padBatch([{ ids: [2, 5, 3], typeIds: [0, 0, 0] }, { ids: [2, 3], typeIds: [0, 1] }], 9);
  assert.equal(pb.length, 3);
  assert.deepEqual([...pb.inputIds], [2n, 5n, 3n, 2n, 3n, 9n]);
  assert.deepEqual([...pb.attentionMask], [1n, 1n, 1n, 1n, 1n, 0n]);
  assert.deepEqual([...pb.tokenTypeIds], [0n, 0n, 0n, 0n, 1n, 0n]);
});
