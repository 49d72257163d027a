/**
 * A tiny BERT-shaped text classifier, written as a Hugging Face export folder (model.onnx +
 * tokenizer.json + config.json), for tests and the benchmark only: it imports onnx-proto, a
 * devDependency, so serving code must not import this module.
 *
 *   inputs  input_ids, attention_mask, token_type_ids   int64 [batch, sequence]
 *   h = Gather(embeddings, input_ids) + Gather(type_embeddings, token_type_ids)
 *   pooled = Σ_s h·mask / Σ_s mask                      (masked mean)
 *   logits = pooled · W + b                              float32 [batch, labels]
 *
 * `forward()` is the same computation in double precision, for checking outputs by hand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const TINY_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];

/** Words of the tiny vocabulary (after the four special tokens). */
export const TINY_WORDS = [
  'acme', 'beats', 'estimates', 'profit', 'rises', 'falls', 'shares', 'loss', 'warning', 'record',
  'sales', 'bank', 'fined', 'new', 'ceo', 'cuts', 'jobs', 'and', 'the', 'of', 'raises', 'outlook',
  'una', '##ffa', '##ble', 'q', '##3', '1', '##0', '##%', ',', '.', '!', '$', '-', 'cafe', 'jump',
  'plunge', 'after', 'fraud', 'charges', 'strong', 'weak', 'demand', 'quarter', 'dividend',
];

export interface TinyModelOptions {
  /** id2label of config.json (default FinBERT's order: positive, negative, neutral). */
  labels?: string[];
  /** Embedding width (default 8). */
  dim?: number;
  /** config.json max_position_embeddings: the window length (default 16). */
  maxPositions?: number;
  /** Declare token_type_ids (default true). */
  tokenTypes?: boolean;
  /** Declare the id inputs as int32 instead of int64. */
  int32Inputs?: boolean;
  /** Declare an extra input the runtime cannot feed (for the refusal test). */
  extraInput?: string;
  seed?: number;
  /** Extra words for the vocabulary (the benchmark uses a bigger one). */
  extraWords?: string[];
}

export interface TinyModel {
  dir: string;
  vocab: string[];
  dim: number;
  labels: string[];
  emb: Float32Array;
  typeEmb: Float32Array;
  W: Float32Array;
  b: Float32Array;
  /** Logits of one row (ids with special tokens), in double precision from the float32 weights. */
  forward(ids: readonly number[], typeIds?: readonly number[]): number[];
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 0x100000000) * 2 - 1;
  };
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dataType: onnx.TensorProto.DataType.FLOAT, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** The tiny classifier's ONNX graph. */
export function tinyOnnx(m: { vocab: number; dim: number; labels: number; emb: Float32Array; typeEmb: Float32Array; W: Float32Array; b: Float32Array; tokenTypes: boolean; extraInput?: string; int32Inputs?: boolean }): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const INT = onnx.AttributeProto.AttributeType.INT;
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inits: onnxProto.onnx.ITensorProto[] = [
    floatTensor('embeddings', [m.vocab, m.dim], m.emb),
    floatTensor('W', [m.dim, m.labels], m.W),
    floatTensor('b', [m.labels], m.b),
    { name: 'axes_1', dataType: T.INT64, dims: [1], int64Data: [1] },
    { name: 'axes_2', dataType: T.INT64, dims: [1], int64Data: [2] },
  ];
  nodes.push({ opType: 'Gather', input: ['embeddings', 'input_ids'], output: ['tok'], name: 'gather_tok', attribute: [{ name: 'axis', type: INT, i: 0 }] });
  let h = 'tok';
  if (m.tokenTypes) {
    inits.push(floatTensor('type_embeddings', [2, m.dim], m.typeEmb));
    nodes.push({ opType: 'Gather', input: ['type_embeddings', 'token_type_ids'], output: ['typ'], name: 'gather_type', attribute: [{ name: 'axis', type: INT, i: 0 }] });
    nodes.push({ opType: 'Add', input: ['tok', 'typ'], output: ['h'], name: 'add_type' });
    h = 'h';
  }
  nodes.push({ opType: 'Cast', input: ['attention_mask'], output: ['mask_f'], name: 'cast_mask', attribute: [{ name: 'to', type: INT, i: T.FLOAT }] });
  let mask = 'mask_f';
  if (m.extraInput) {
    // Used (as 0 · extra added to the mask), so the optimizer cannot drop the input.
    inits.push({ name: 'zero', dataType: T.FLOAT, dims: [], rawData: new Uint8Array(new Float32Array([0]).buffer) });
    nodes.push({ opType: 'Cast', input: [m.extraInput], output: ['extra_f'], name: 'cast_extra', attribute: [{ name: 'to', type: INT, i: T.FLOAT }] });
    nodes.push({ opType: 'Mul', input: ['extra_f', 'zero'], output: ['extra_0'], name: 'zero_extra' });
    nodes.push({ opType: 'Add', input: ['mask_f', 'extra_0'], output: ['mask_f2'], name: 'add_extra' });
    mask = 'mask_f2';
  }
  nodes.push({ opType: 'Unsqueeze', input: [mask, 'axes_2'], output: ['mask_3d'], name: 'unsqueeze_mask' });
  nodes.push({ opType: 'Mul', input: [h, 'mask_3d'], output: ['masked'], name: 'mul_mask' });
  nodes.push({ opType: 'ReduceSum', input: ['masked', 'axes_1'], output: ['summed'], name: 'sum_tokens', attribute: [{ name: 'keepdims', type: INT, i: 0 }] });
  nodes.push({ opType: 'ReduceSum', input: [mask, 'axes_1'], output: ['count'], name: 'count_tokens', attribute: [{ name: 'keepdims', type: INT, i: 1 }] });
  nodes.push({ opType: 'Div', input: ['summed', 'count'], output: ['pooled'], name: 'mean' });
  nodes.push({ opType: 'MatMul', input: ['pooled', 'W'], output: ['scores'], name: 'head' });
  nodes.push({ opType: 'Add', input: ['scores', 'b'], output: ['logits'], name: 'bias' });
  const idType = m.int32Inputs ? T.INT32 : T.INT64;
  const inputs = [valueInfo('input_ids', idType, ['batch', 'sequence']), valueInfo('attention_mask', idType, ['batch', 'sequence'])];
  if (m.tokenTypes) inputs.push(valueInfo('token_type_ids', idType, ['batch', 'sequence']));
  if (m.extraInput) inputs.push(valueInfo(m.extraInput, T.INT64, ['batch', 'sequence']));
  const graph: onnxProto.onnx.IGraphProto = { name: 'tiny_bert_classifier', node: nodes, initializer: inits, input: inputs, output: [valueInfo('logits', T.FLOAT, ['batch', m.labels])] };
  const model = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'tickerpulse-test', graph });
  return onnx.ModelProto.encode(model).finish();
}

/** BERT-style tokenizer.json for a vocabulary list (index = id). */
export function bertTokenizerJson(vocab: readonly string[], opts: { maxLength?: number } = {}): Record<string, unknown> {
  const id = (t: string) => vocab.indexOf(t);
  return {
    version: '1.0',
    truncation: opts.maxLength ? { direction: 'Right', max_length: opts.maxLength, strategy: 'LongestFirst', stride: 0 } : null,
    padding: null,
    added_tokens: TINY_SPECIALS.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

/** Write a tiny BERT-shaped classifier export to `dir` and return its weights. */
export function writeTinyModel(dir: string, opts: TinyModelOptions = {}): TinyModel {
  const labels = opts.labels ?? ['positive', 'negative', 'neutral'];
  const dim = opts.dim ?? 8;
  const tokenTypes = opts.tokenTypes ?? true;
  const vocab = [...TINY_SPECIALS, ...TINY_WORDS, ...(opts.extraWords ?? [])];
  const r = rng(opts.seed ?? 7);
  const emb = Float32Array.from({ length: vocab.length * dim }, () => r());
  const typeEmb = Float32Array.from({ length: 2 * dim }, () => r() * 0.5);
  const W = Float32Array.from({ length: dim * labels.length }, () => r() * 2);
  const b = Float32Array.from({ length: labels.length }, () => r() * 0.1);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), tinyOnnx({ vocab: vocab.length, dim, labels: labels.length, emb, typeEmb, W, b, tokenTypes, extraInput: opts.extraInput, int32Inputs: opts.int32Inputs }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(vocab)));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      hidden_size: dim,
      max_position_embeddings: opts.maxPositions ?? 16,
      vocab_size: vocab.length,
      pad_token_id: 0,
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    }),
  );
  const forward = (ids: readonly number[], typeIds: readonly number[] = ids.map(() => 0)): number[] => {
    const pooled = new Array<number>(dim).fill(0);
    for (let s = 0; s < ids.length; s++) {
      for (let d = 0; d < dim; d++) pooled[d] += emb[ids[s] * dim + d] + (tokenTypes ? typeEmb[typeIds[s] * dim + d] : 0);
    }
    for (let d = 0; d < dim; d++) pooled[d] /= ids.length;
    return labels.map((_, k) => {
      let z = b[k];
      for (let d = 0; d < dim; d++) z += pooled[d] * W[d * labels.length + k];
      return z;
    });
  };
  return { dir, vocab, dim, labels, emb, typeEmb, W, b, forward };
}

/** Expected {pNeg, pNeu, pPos} of one text from logits of its windows (mean of per-window softmax). */
export function expectedProbs(model: TinyModel, windowLogits: number[][]): { pNeg: number; pNeu: number; pPos: number } {
  const idx = (name: string) => model.labels.findIndex((l) => l.toLowerCase() === name);
  const acc = { pNeg: 0, pNeu: 0, pPos: 0 };
  for (const z of windowLogits) {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    const p = e.map((v) => v / s);
    acc.pNeg += p[idx('negative')];
    acc.pNeu += idx('neutral') >= 0 ? p[idx('neutral')] : 0;
    acc.pPos += p[idx('positive')];
  }
  const n = windowLogits.length;
  return { pNeg: acc.pNeg / n, pNeu: acc.pNeu / n, pPos: acc.pPos / n };
}
