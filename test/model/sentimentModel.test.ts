import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TickerpulseError } from '../../src/lib/errors.js';
import { defaultModelDir } from '../../src/lib/paths.js';
import { SentimentModel, toPrediction } from '../../src/model/sentimentModel.js';

const shipped = existsSync(join(defaultModelDir, 'sentiment.onnx')) && existsSync(join(defaultModelDir, 'tokenizer.json'));

// Hand-written headlines (not from any data set).
const POSITIVE = [
  'Acme Corp beats profit estimates and raises full-year guidance',
  'Shares of Widgetco soar after record quarterly revenue',
  'Analysts upgrade Foobar Inc to buy, lifting price target',
  'Operating profit rose to EUR 15.2 mn from EUR 9.8 mn',
];
const NEGATIVE = [
  'Acme Corp misses estimates and cuts full-year guidance',
  'Shares of Widgetco plunge after quarterly loss widens',
  'Foobar Inc downgraded to sell as demand weakens',
  'Operating profit fell to EUR 9.8 mn from EUR 15.2 mn',
];

async function expectLoadFailure(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(SentimentModel.load(dir), (err: unknown) => {
    assert.ok(err instanceof TickerpulseError, 'a TickerpulseError');
    assert.equal(err.code, 'MODEL_LOAD_FAILED');
    assert.match(err.message, pattern);
    assert.match(err.message, /npm run train/);
    return true;
  });
}

describe('SentimentModel load errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-badmodel-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('MODEL_LOAD_FAILED for a missing directory, naming the path', async () => {
    const missing = join(dir, 'does-not-exist');
    await expectLoadFailure(missing, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('MODEL_LOAD_FAILED for a corrupt onnx file', { skip: !shipped && 'no shipped model' }, async () => {
    const bad = join(dir, 'corrupt');
    rmSync(bad, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(bad));
    writeFileSync(join(bad, 'sentiment.onnx'), Buffer.from('this is not an onnx graph \u0000\u0001\u0002 garbage'));
    copyFileSync(join(defaultModelDir, 'tokenizer.json'), join(bad, 'tokenizer.json'));
    await expectLoadFailure(bad, /sentiment\.onnx/);
  });

  it('MODEL_LOAD_FAILED for a corrupt tokenizer.json', { skip: !shipped && 'no shipped model' }, async () => {
    const bad = join(dir, 'badtok');
    await import('node:fs/promises').then((fs) => fs.mkdir(bad, { recursive: true }));
    copyFileSync(join(defaultModelDir, 'sentiment.onnx'), join(bad, 'sentiment.onnx'));
    writeFileSync(join(bad, 'tokenizer.json'), '{"format": "tickerpulse-features", "version": 1, "rows": ');
    await expectLoadFailure(bad, /tokenizer\.json/);
  });
});

describe('toPrediction', () => {
  it('renormalizes and takes the argmax', () => {
    const p = toPrediction(0.2, 0.3, 0.5);
    assert.equal(p.label, 'positive');
    assert.ok(Math.abs(p.score - 0.3) < 1e-12);
    assert.equal(toPrediction(0.6, 0.2, 0.2).label, 'negative');
    assert.equal(toPrediction(1 / 3, 1 / 3, 1 / 3).label, 'neutral');
  });
});

describe('SentimentModel (shipped model)', { skip: !shipped && 'no shipped model' }, () => {
  let model: SentimentModel;
  before(async () => {
    model = await SentimentModel.load(defaultModelDir, { intraOpNumThreads: 1 });
  });
  after(async () => {
    await model?.release();
  });

  it('has a content id', () => {
    assert.match(model.id, /^builtin-[0-9a-f]{12}$/);
  });

  it('returns well-formed predictions for a batch, in order, including empty and odd strings', async () => {
    const texts = [...POSITIVE, ...NEGATIVE, '', '   ', '$$$ 123 %%% !!!', 'x'.repeat(20000), 'Ünïcödé — “quotes” and emoji 📉'];
    const preds = await model.classify(texts);
    assert.equal(preds.length, texts.length);
    for (const p of preds) {
      for (const x of [p.pNeg, p.pNeu, p.pPos]) assert.ok(x >= 0 && x <= 1 && Number.isFinite(x));
      assert.ok(Math.abs(p.pNeg + p.pNeu + p.pPos - 1) < 1e-6);
      assert.ok(Math.abs(p.score - (p.pPos - p.pNeg)) < 1e-12);
      const best = Math.max(p.pNeg, p.pNeu, p.pPos);
      const expected = best === p.pNeu ? 'neutral' : best === p.pNeg ? 'negative' : 'positive';
      assert.equal(p.label, expected);
    }
    // a batch gives the same answers as one-by-one
    const single = await model.classify([texts[0]]);
    assert.ok(Math.abs(single[0].pPos - preds[0].pPos) < 1e-6);
    assert.deepEqual(await model.classify([]), []);
  });

  it('labels clear finance headlines', async () => {
    const pos = await model.classify(POSITIVE);
    const neg = await model.classify(NEGATIVE);
    pos.forEach((p, i) => assert.equal(p.label, 'positive', `${POSITIVE[i]} → ${JSON.stringify(p)}`));
    neg.forEach((p, i) => assert.equal(p.label, 'negative', `${NEGATIVE[i]} → ${JSON.stringify(p)}`));
  });
});
