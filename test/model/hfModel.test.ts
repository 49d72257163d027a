/**
 * A Hugging Face–style export (model.onnx + tokenizer.json + config.json) generated here: a tiny
 * BERT-shaped classifier whose outputs are checked against a hand-computed forward pass on the
 * same ids — in process, through the worker pool, through `tickerpulse classify` and `npm run eval`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TickerpulseError } from '../../src/lib/errors.js';
import { packageRoot, defaultModelDir } from '../../src/lib/paths.js';
import type { Prediction } from '../../src/lib/types.js';
import { HfModel } from '../../src/model/hf/hfModel.js';
import { detectModelKind, loadClassifier } from '../../src/model/hf/loadClassifier.js';
import { expectedProbs, writeTinyModel, type TinyModel } from '../../src/model/hf/testModel.js';
import { bytesToUnicode, HfTokenizer } from '../../src/model/hf/tokenizer.js';
import { splitWindows } from '../../src/model/hf/windows.js';
import { ClassifierPool } from '../../src/pool/classifierPool.js';
import { CLI } from '../daemon/harness.js';

const TEXTS = [
  'Acme beats estimates and raises outlook',
  'Bank fined after fraud charges; shares plunge',
  'New CEO',
  '',
  'Café unaffable Q3 ☃',
  // 30+ tokens: longer than the 16-token window, so it is split into overlapping windows.
  'Acme beats estimates, raises outlook and dividend after record sales of the quarter; shares jump. Strong demand, profit rises, the loss falls, new jobs!',
];

function tmp(prefix = 'tp-hf-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The hand-computed prediction of one text: tokenize, window, forward each window, mean of softmax. */
function expected(model: TinyModel, text: string, stride = 64, maxLength = 16): { pNeg: number; pNeu: number; pPos: number; windows: number } {
  const tok = new HfTokenizer(JSON.parse(readFileSync(join(model.dir, 'tokenizer.json'), 'utf8')));
  const windows = splitWindows(tok.encode(text).ids, maxLength - 2, stride);
  const logits = windows.map((w) => {
    const row = tok.wrap(w);
    return model.forward(row.ids, row.typeIds);
  });
  return { ...expectedProbs(model, logits), windows: windows.length };
}

function assertClose(got: Prediction | { pNeg: number; pNeu: number; pPos: number; score?: number }, want: { pNeg: number; pNeu: number; pPos: number }, tol: number, what: string): void {
  for (const k of ['pNeg', 'pNeu', 'pPos'] as const) assert.ok(Math.abs(got[k] - want[k]) <= tol, `${what}: ${k} = ${got[k]}, hand-computed ${want[k]}`);
  if (got.score !== undefined) assert.ok(Math.abs(got.score - (want.pPos - want.pNeg)) <= 2 * tol, `${what}: score`);
}

function labelOf(p: { pNeg: number; pNeu: number; pPos: number }): string {
  const best = Math.max(p.pNeg, p.pNeu, p.pPos);
  return best === p.pNeg ? 'negative' : best === p.pPos ? 'positive' : 'neutral';
}

test('HfModel: outputs equal a hand-computed forward pass (labels from id2label, long texts windowed)', async () => {
  const tiny = writeTinyModel(join(tmp(), 'tiny-finbert'));
  const model = await HfModel.load(tiny.dir);
  try {
    assert.match(model.id, /^hf-tiny-finbert-[0-9a-f]{12}$/);
    assert.equal(model.maxLength, 16);
    assert.deepEqual(model.labels, { pos: 0, neg: 1, neu: 2 });
    const preds = await model.classify(TEXTS);
    assert.equal(preds.length, TEXTS.length);
    TEXTS.forEach((t, i) => {
      const want = expected(tiny, t);
      assertClose(preds[i], want, 1e-5, JSON.stringify(t));
      assert.equal(preds[i].label, labelOf(want));
    });
    assert.ok(expected(tiny, TEXTS[5]).windows >= 3, 'the long text spans several windows');
    // One at a time (no padding) gives the same as in a padded batch.
    for (let i = 0; i < TEXTS.length; i++) assertClose((await model.classify([TEXTS[i]]))[0], preds[i], 1e-6, `alone ${i}`);
  } finally {
    await model.release();
  }
  // The stride is a setting: a different overlap gives different windows and the hand result follows.
  const strided = await HfModel.load(tiny.dir, { stride: 0 });
  try {
    assertClose((await strided.classify([TEXTS[5]]))[0], expected(tiny, TEXTS[5], 0), 1e-5, 'stride 0');
  } finally {
    await strided.release();
  }
});

test('through the worker pool (kind detected, and explicit), the same results; a model without token_type_ids gets none', async () => {
  const tiny = writeTinyModel(join(tmp(), 'tiny'));
  for (const opts of [{ modelPath: tiny.dir }, { modelPath: tiny.dir, modelKind: 'hf' as const }]) {
    const pool = new ClassifierPool({ threads: 1, ...opts });
    try {
      const { model, predictions } = await pool.classify(TEXTS);
      assert.match(model, /^hf-tiny-/);
      TEXTS.forEach((t, i) => assertClose(predictions[i], expected(tiny, t), 1e-5, `pool ${i}`));
    } finally {
      await pool.close();
    }
  }
  const int32 = writeTinyModel(join(tmp(), 'int32'), { int32Inputs: true, seed: 5 });
  const m32 = await loadClassifier({ kind: 'hf', path: int32.dir });
  try {
    const preds = await m32.classify(TEXTS);
    TEXTS.forEach((t, i) => assertClose(preds[i], expected(int32, t), 1e-5, `int32 inputs ${i}`));
  } finally {
    await m32.release();
  }
  const noTypes = writeTinyModel(join(tmp(), 'distil'), { tokenTypes: false, seed: 11 });
  const m = await loadClassifier({ kind: 'hf', path: noTypes.dir });
  try {
    const preds = await m.classify(TEXTS.slice(0, 3));
    TEXTS.slice(0, 3).forEach((t, i) => assertClose(preds[i], expected(noTypes, t), 1e-5, `no token types ${i}`));
  } finally {
    await m.release();
  }
});

test('a 2-label (negative/positive) model is accepted with pNeu = 0; labels match case-insensitively', async () => {
  const tiny = writeTinyModel(join(tmp(), 'binary'), { labels: ['NEGATIVE', 'Positive'] });
  const model = await HfModel.load(tiny.dir);
  try {
    const preds = await model.classify(TEXTS.slice(0, 3));
    for (const [i, p] of preds.entries()) {
      assert.equal(p.pNeu, 0);
      assertClose(p, expected(tiny, TEXTS[i]), 1e-5, `binary ${i}`);
      assert.ok(p.label === 'negative' || p.label === 'positive');
    }
  } finally {
    await model.release();
  }
});

test('unusable folders fail at load with a typed error that says what to fix', async () => {
  const code = (c: string, re: RegExp) => (err: unknown) => {
    assert.ok(err instanceof TickerpulseError, String(err));
    assert.equal(err.code, c, err.message);
    assert.match(err.message, re);
    return true;
  };
  // wrong folder
  await assert.rejects(HfModel.load('/no/such/finbert'), code('MODEL_LOAD_FAILED', /\/no\/such\/finbert.*optimum-cli export onnx/));
  await assert.rejects(loadClassifier({ path: '/no/such/finbert' }), code('MODEL_LOAD_FAILED', /no model folder at \/no\/such\/finbert/));
  const empty = tmp();
  await assert.rejects(loadClassifier({ path: empty }), code('MODEL_LOAD_FAILED', /holds no model.*model\.onnx \+ tokenizer\.json \+ config\.json/));
  // missing file
  const noTok = writeTinyModel(join(tmp(), 'm')).dir;
  rmSync(join(noTok, 'tokenizer.json'));
  await assert.rejects(loadClassifier({ path: noTok }), code('MODEL_LOAD_FAILED', /lacks tokenizer\.json/));
  // labels that are not sentiment
  const topics = writeTinyModel(join(tmp(), 'topics'), { labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] }).dir;
  await assert.rejects(HfModel.load(topics), code('MODEL_UNSUPPORTED', /\[LABEL_0, LABEL_1, LABEL_2\].*rename them in id2label/));
  const four = writeTinyModel(join(tmp(), 'four'), { labels: ['negative', 'neutral', 'positive', 'mixed'] }).dir;
  await assert.rejects(HfModel.load(four), code('MODEL_UNSUPPORTED', /mixed/));
  // inputs the runtime cannot feed
  const extra = writeTinyModel(join(tmp(), 'extra'), { extraInput: 'position_ids' }).dir;
  await assert.rejects(HfModel.load(extra), code('MODEL_UNSUPPORTED', /cannot supply position_ids/));
  // corrupt graph
  const corrupt = writeTinyModel(join(tmp(), 'corrupt')).dir;
  writeFileSync(join(corrupt, 'model.onnx'), 'not a graph');
  await assert.rejects(HfModel.load(corrupt), code('MODEL_LOAD_FAILED', /not a valid ONNX graph/));
  // a tokenizer.json from another (bigger-vocabulary) model
  const mismatch = writeTinyModel(join(tmp(), 'mismatch')).dir;
  copyFileSync(join(writeTinyModel(join(tmp(), 'big'), { extraWords: ['extra1', 'extra2'] }).dir, 'tokenizer.json'), join(mismatch, 'tokenizer.json'));
  await assert.rejects(HfModel.load(mismatch), code('MODEL_UNSUPPORTED', /do not fit together/));
  // the same errors cross the worker boundary
  const pool = new ClassifierPool({ threads: 1, modelPath: topics });
  try {
    await assert.rejects(pool.classify(['x']), code('MODEL_UNSUPPORTED', /LABEL_0/));
  } finally {
    await pool.close();
  }
});

test('kind detection: hf export vs the built-in model folder', () => {
  const tiny = writeTinyModel(join(tmp(), 'd')).dir;
  assert.equal(detectModelKind(tiny), 'hf');
  assert.equal(detectModelKind(defaultModelDir), 'builtin');
  assert.throws(() => detectModelKind(join(tiny, 'model.onnx')), /is a file/);
});

test('`tickerpulse classify --model` and `eval --model` run an hf export; eval compares it with the built-in model in one command', () => {
  const tiny = writeTinyModel(join(tmp(), 'cli-model'));
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, TEXTS.map((t, i) => JSON.stringify({ id: i, text: t })).join('\n') + '\n');
  const r = spawnSync(process.execPath, [CLI, 'classify', '--model', tiny.dir, '--threads', '1', input], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, TEXTS.length);
  out.forEach((o, i) => {
    assert.equal(o.id, i);
    assertClose(o, expected(tiny, TEXTS[i]), 2e-6, `classify ${i}`);
  });

  // Gold labels = the hand-computed labels, one flipped: accuracy must be exactly (n-1)/n.
  const want = TEXTS.map((t) => labelOf(expected(tiny, t)));
  const gold = want.map((l, i) => (i === 0 ? (l === 'negative' ? 'positive' : 'negative') : l));
  const data = join(dir, 'labelled.jsonl');
  writeFileSync(data, TEXTS.map((t, i) => JSON.stringify({ text: t, label: gold[i] })).join('\n') + '\n');
  const evalJs = join(packageRoot, 'dist', 'src', 'model', 'eval.js');
  const e = spawnSync(process.execPath, [evalJs, '--model', tiny.dir, '--json', data], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(e.status, 0, e.stderr);
  const res = JSON.parse(e.stdout);
  assert.match(res.model, /^hf-cli-model-/);
  assert.equal(res.results[0].rows, TEXTS.length);
  assert.ok(Math.abs(res.results[0].model.accuracy - (TEXTS.length - 1) / TEXTS.length) < 1e-12, `accuracy ${res.results[0].model.accuracy}`);

  const both = spawnSync(process.execPath, [evalJs, '--model', defaultModelDir, '--model', tiny.dir, data], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(both.status, 0, both.stderr);
  assert.match(both.stdout, /model builtin-[0-9a-f]{12} /);
  assert.match(both.stdout, /model hf-cli-model-[0-9a-f]{12} /);

  const bad = spawnSync(process.execPath, [evalJs, '--model', '/no/such/finbert', data], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /MODEL_LOAD_FAILED.*\/no\/such\/finbert/);
});

test('a RoBERTa-shaped export (byte-level BPE, <s>/</s>, pad id 1, no token_type_ids, 514-style positions) matches the hand computation', async () => {
  const tiny = writeTinyModel(join(tmp(), 'tiny-roberta'), { tokenTypes: false, extraWords: Array.from({ length: 300 }, (_, i) => `w${i}`), seed: 3 });
  const table = bytesToUnicode();
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (const ch of table) vocab[ch] = Object.keys(vocab).length;
  const merges = [['Ġ', 's'], ['h', 'a'], ['Ġs', 'ha'], ['r', 'e'], ['Ġsha', 're'], ['Ġshare', 's']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  writeFileSync(
    join(tiny.dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: { strategy: 'BatchLongest', pad_id: 1, pad_type_id: 0, pad_token: '<pad>' },
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges: merges.map((m) => m.join(' ')) },
    }),
  );
  const cfg = JSON.parse(readFileSync(join(tiny.dir, 'config.json'), 'utf8'));
  writeFileSync(join(tiny.dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'roberta', max_position_embeddings: 12, pad_token_id: 1 }));
  const model = await HfModel.load(tiny.dir);
  try {
    assert.equal(model.maxLength, 10, '514-style positions: max_position_embeddings − 2');
    assert.equal(model.tokenizer.padId, 1);
    const texts = ['Acme shares jump', 'shares shares shares shares shares, 10% — café', 'x'];
    const preds = await model.classify(texts);
    texts.forEach((t, i) => {
      const windows = splitWindows(model.tokenizer.encode(t).ids, 8, 64);
      const want = expectedProbs(tiny, windows.map((w) => model.tokenizer.wrap(w)).map((r) => tiny.forward(r.ids, r.typeIds)));
      assertClose(preds[i], want, 1e-5, `roberta ${i}`);
    });
    assert.deepEqual(model.tokenizer.tokenize(' shares'), ['Ġshares']);
  } finally {
    await model.release();
  }
});
