import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { defaultModelDir } from '../../src/lib/paths.js';
import { forward } from '../../src/model/linear.js';
import { effectiveModel, exportOnnx, readOnnxWeights } from '../../src/model/onnxExport.js';
import { DEFAULT_RECIPE, fit, type Example, type Recipe } from '../../src/model/pipeline.js';
import { SentimentModel } from '../../src/model/sentimentModel.js';
import { Featurizer, type TokenizerSpec } from '../../src/model/tokenizer.js';

// Hand-written toy data (not from any data set).
const TOY: [string, number, string][] = [
  ['Acme profit jumps, raises full-year outlook', 2, 'news'],
  ['Widget maker beats estimates as sales climb 12%', 2, 'news'],
  ['Bank upgrades Foo Corp to buy on strong demand', 2, 'news'],
  ['Acme swings to a loss, cuts dividend', 0, 'news'],
  ['Widget maker misses estimates; shares slump', 0, 'news'],
  ['Regulator fines Foo Corp over reporting failures', 0, 'news'],
  ['Acme to hold annual meeting on Tuesday', 1, 'news'],
  ['Foo Corp names new finance chief', 1, 'news'],
  ['$ACME breaking out, loving this rally 🚀 https://x.co/a', 2, 'tweets'],
  ['$FOO crushed after guidance cut https://x.co/b', 0, 'tweets'],
  ['$BAR conference call transcript https://x.co/c', 1, 'tweets'],
  ['$BAZ downgraded to sell, target lowered', 0, 'tweets'],
];

const PROBES = [
  'Acme profit jumps after strong demand',
  '$FOO downgraded, shares slump https://x.co/z',
  'Foo Corp to hold a meeting',
  'completely unseen words xyzzy',
  '',
];

function examples(): Example[] {
  return TOY.map(([text, y, origin]) => ({ text, y, weight: 1, origin }));
}

async function runOnnx(bytes: Uint8Array, featurizer: Featurizer, texts: string[]): Promise<Float32Array> {
  const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const b = featurizer.batch(texts);
    const out = await session.run({ ids: new Tensor('int64', b.ids, [b.batch, b.width]), values: new Tensor('float32', b.values, [b.batch, b.width]) });
    return out.probabilities.data as Float32Array;
  } finally {
    await session.release();
  }
}

function tiny(recipe: Partial<Recipe>): Recipe {
  return { ...DEFAULT_RECIPE, maxIter: 60, l2: 1e-3, ...recipe, features: { ...DEFAULT_RECIPE.features, hashBits: 16, ...(recipe.features ?? {}) } };
}

describe('ONNX export', () => {
  const variants: [string, Recipe][] = [
    ['plain softmax regression', tiny({ gate: null })],
    ['gated mixture of experts', tiny({ gate: { domains: { news: 'news', tweets: 'tweets' }, l2: 1e-3, headL2: 1, crossFit: 0, maxIter: 40 } })],
  ];
  for (const [name, recipe] of variants) {
    for (const float16 of [false, true]) {
      it(`${name} (${float16 ? 'float16' : 'float32'} weights): onnxruntime output equals the trainer's forward pass`, async () => {
        const fitted = fit(examples(), recipe);
        assert.equal(fitted.model.heads, recipe.gate ? 3 : 1);
        const bytes = exportOnnx(fitted.model, { float16 });
        const eff = effectiveModel(fitted.model, float16);
        const probs = await runOnnx(bytes, fitted.featurizer, PROBES);
        PROBES.forEach((t, i) => {
          const { ids, values } = fitted.featurizer.featurize(t);
          const p = forward(eff, ids, values);
          for (let c = 0; c < 3; c++) assert.ok(Math.abs(p[c] - probs[i * 3 + c]) < 1e-5, `${JSON.stringify(t)} class ${c}: ts ${p[c]} vs onnx ${probs[i * 3 + c]}`);
        });
        // the weights can be read back from the graph
        const back = readOnnxWeights(bytes);
        assert.equal(back.heads, fitted.model.heads);
        assert.deepEqual(Array.from(back.W), Array.from(eff.W));
        // the toy model learned something
        const first = fitted.featurizer.featurize(TOY[0][0]);
        const p0 = forward(fitted.model, first.ids, first.values);
        assert.ok(p0[2] > p0[0], 'positive training sentence scores positive');
      });
    }
  }
});

describe('shipped model data/model/sentiment.onnx', { skip: !existsSync(join(defaultModelDir, 'sentiment.onnx')) && 'no shipped model' }, () => {
  it('agrees with a TypeScript forward pass over its own weights', async () => {
    const bytes = readFileSync(join(defaultModelDir, 'sentiment.onnx'));
    const spec = JSON.parse(readFileSync(join(defaultModelDir, 'tokenizer.json'), 'utf8')) as TokenizerSpec;
    const featurizer = new Featurizer(spec);
    const weights = readOnnxWeights(bytes);
    assert.equal(weights.dim, spec.rows);
    const model = await SentimentModel.load(defaultModelDir);
    try {
      const preds = await model.classify(PROBES);
      PROBES.forEach((t, i) => {
        const { ids, values } = featurizer.featurize(t);
        const p = forward(weights, ids, values);
        assert.ok(Math.abs(p[0] - preds[i].pNeg) < 1e-5 && Math.abs(p[1] - preds[i].pNeu) < 1e-5 && Math.abs(p[2] - preds[i].pPos) < 1e-5, `${JSON.stringify(t)}: ts ${p} vs onnx ${JSON.stringify(preds[i])}`);
      });
    } finally {
      await model.release();
    }
  });
});

describe('exported files load through SentimentModel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-model-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('a freshly trained toy model round-trips', async () => {
    const fitted = fit(examples(), tiny({ gate: null }));
    writeFileSync(join(dir, 'sentiment.onnx'), exportOnnx(fitted.model));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(fitted.spec));
    const m = await SentimentModel.load(dir);
    try {
      const [p] = await m.classify([TOY[3][0]]);
      assert.equal(p.label, 'negative');
      assert.match(m.id, /^builtin-[0-9a-f]{12}$/);
    } finally {
      await m.release();
    }
  });
});
