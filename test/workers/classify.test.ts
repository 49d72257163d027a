import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassifierPool } from '../../src/pool/classifierPool.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { defaultModelDir } from '../../src/lib/paths.js';

test('the classify worker returns well-formed results for a batch', async () => {
  const pool = new ClassifierPool({ threads: 1 });
  try {
    const texts = ['Company X beats estimates and raises its dividend', 'Company Y files for bankruptcy protection', 'Company Z to hold annual meeting on May 4', ''];
    const { model, predictions } = await pool.classify(texts);
    assert.match(model, /\S/);
    assert.equal(predictions.length, texts.length);
    for (const p of predictions) {
      assert.ok(['negative', 'neutral', 'positive'].includes(p.label));
      for (const v of [p.pNeg, p.pNeu, p.pPos]) assert.ok(v >= 0 && v <= 1);
      assert.ok(Math.abs(p.pNeg + p.pNeu + p.pPos - 1) < 1e-5);
      assert.ok(Math.abs(p.score - (p.pPos - p.pNeg)) < 1e-6);
      const best = Math.max(p.pNeg, p.pNeu, p.pPos);
      assert.equal(p.label, best === p.pNeg ? 'negative' : best === p.pPos ? 'positive' : 'neutral');
    }
  } finally {
    await pool.close();
  }
});

test('a bad model path gives MODEL_LOAD_FAILED across the thread boundary, naming the path', async () => {
  const pool = new ClassifierPool({ threads: 1, modelDir: '/no/such/model' });
  try {
    await assert.rejects(pool.classify(['x']), (err: unknown) => err instanceof TickerpulseError && err.code === 'MODEL_LOAD_FAILED' && err.message.includes('/no/such/model'));
  } finally {
    await pool.close();
  }
});

test('a corrupt model file gives MODEL_LOAD_FAILED', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-badmodel-'));
  copyFileSync(join(defaultModelDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'sentiment.onnx'), Buffer.from('this is not an onnx graph'));
  const pool = new ClassifierPool({ threads: 1, modelDir: dir });
  try {
    await assert.rejects(pool.classify(['x']), (err: unknown) => err instanceof TickerpulseError && err.code === 'MODEL_LOAD_FAILED' && err.message.includes(dir));
  } finally {
    await pool.close();
  }
});

test('link: tickers with per-company sentiment; one company keeps the headline prediction, several get the entity model', async () => {
  const pool = new ClassifierPool({ threads: 1, link: true });
  try {
    const texts = [
      'Apple shares surge while Microsoft slumps on weak cloud sales',
      'Microsoft slumps on weak cloud sales while Apple shares surge',
      'Apple shares rise after iPhone launch',
      'Apple pie sales soar',
    ];
    const { predictions, tickers } = await pool.classify(texts);
    assert.ok(tickers);
    const parsed = tickers.map((t) => (t === null ? null : (JSON.parse(t) as Array<{ symbol: string; via: string; label: string; score: number; pNeg: number; pNeu: number; pPos: number }>)));
    for (const order of [parsed[0]!, parsed[1]!]) {
      const by = Object.fromEntries(order.map((t) => [t.symbol, t]));
      assert.deepEqual(Object.keys(by).sort(), ['AAPL', 'MSFT']);
      assert.equal(by.AAPL.label, 'positive', JSON.stringify(order));
      assert.equal(by.MSFT.label, 'negative', JSON.stringify(order));
      assert.ok(by.AAPL.score > 0.3 && by.MSFT.score < -0.3);
      for (const t of order) assert.ok(Math.abs(t.score - (t.pPos - t.pNeg)) < 1e-6);
    }
    // a single-company headline: the ticker's sentiment is the headline's, exactly
    const [one] = parsed[2]!;
    assert.equal(one.symbol, 'AAPL');
    assert.deepEqual([one.label, one.score, one.pNeg, one.pNeu, one.pPos], [predictions[2].label, predictions[2].score, predictions[2].pNeg, predictions[2].pNeu, predictions[2].pPos]);
    assert.equal(parsed[3], null);
  } finally {
    await pool.close();
  }
});
