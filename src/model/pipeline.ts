/**
 * The training recipe: which rows, with which weights, which features, how much L2; and the
 * steps shared by train.ts (final model) and select.ts (cross-validated model selection).
 */
import type { Label } from '../lib/types.js';
import { LABEL_INDEX, LABEL_NAMES, SCORE_THRESHOLD, evalRows, type Row } from './data.js';
import { featureLexicons } from './lexicons.js';
import { buildDataset, forward, softmaxInPlace, trainSoftmax, type Dataset, type LinearModel } from './linear.js';
import { scores, type Scores } from './metrics.js';
import {
  DEFAULT_FEATURE_CONFIG,
  Featurizer,
  LABELS,
  bucketsOf,
  encodeBuckets,
  hashFeatures,
  fnv1a,
  decodeLexicon,
  encodeLexicon,
  type FeatureConfig,
  type TokenizerSpec,
} from './tokenizer.js';

export interface Recipe {
  features: FeatureConfig;
  l2: number;
  /** Multiplier on every row of a set (0 leaves the set out of training). */
  setWeight: Record<string, number>;
  /** Scale each set so that its total weight is (rows)^balancePower (1 = as is, 0 = all sets equal). */
  balancePower: number;
  /** FPB rows weighted by annotator agreement (100/75/66/50 %). */
  agreeWeight: Record<string, number>;
  /** Score-labelled rows with |score| < threshold train as neutral (else they are left out). */
  scoreNeutral: boolean;
  /** SEntFiN headlines naming several entities train with their majority label (ties left out). */
  sentfinMulti: boolean;
  /** Buckets must occur in at least this many training texts to get a model row. */
  minCount: number;
  maxIter: number;
  /**
   * Naive-Bayes-informed regularisation: a feature whose weighted class log-count ratio is
   * strong gets a weaker L2 (l2 / (1 + nbStrength · r)^2); 0 = plain L2.
   */
  nbStrength: number;
  /**
   * Gated mixture of experts: a domain gate (softmax regression on the same features, trained
   * to tell the training domains apart from the text alone) weights one expert head per domain
   * on top of a shared head. null = one plain softmax regression.
   */
  gate: GateRecipe | null;
}

export interface GateRecipe {
  /** Training domain of each set (key `set` or `set:kind`, e.g. `fiqa:post`). */
  domains: Record<string, string>;
  /** L2 of the gate. */
  l2: number;
  /** L2 multiplier of the domain heads relative to the shared head. */
  headL2: number;
  /** Gate posteriors for training the experts: out-of-fold with this many folds (0 = in-sample). */
  crossFit: number;
  maxIter: number;
}

/**
 * The recipe train.ts uses, chosen by 3/5-fold cross-validation inside the training 80 %
 * (select.ts); see MODEL_CARD.md for what was compared.
 */
export const DEFAULT_RECIPE: Recipe = {
  features: { ...DEFAULT_FEATURE_CONFIG, lexicons: true, registerCrossLex: true, macro: true },
  l2: 3e-6,
  setWeight: { fpb: 1, tfns: 1, semeval: 1, fiqa: 1, sentfin: 1, macrosynth: 0.5 },
  balancePower: 0.5,
  agreeWeight: { '100': 1, '75': 1, '66': 1, '50': 1 },
  scoreNeutral: false,
  sentfinMulti: true,
  minCount: 1,
  maxIter: 300,
  nbStrength: 0.5,
  gate: {
    domains: { fpb: 'news', tfns: 'tweets', 'fiqa:post': 'tweets', 'fiqa:headline': 'west', semeval: 'west', sentfin: 'india', macrosynth: 'macro' },
    l2: 1e-5,
    headL2: 1,
    crossFit: 3,
    maxIter: 150,
  },
};

export interface Example {
  text: string;
  y: number;
  weight: number;
  /** `set` or `set:kind`: what the gate's domain map is keyed by. */
  origin: string;
}

/** Training examples from the (already split) sets under a recipe. */
export function trainingExamples(sets: Map<string, Row[]>, recipe: Recipe): Example[] {
  const out: Example[] = [];
  for (const [set, rows] of sets) {
    const sw = recipe.setWeight[set] ?? 1;
    if (sw <= 0) continue;
    const ex: Example[] = [];
    for (const r of rows) {
      if (r.label === null) continue;
      if (r.source === 'score' && Math.abs(r.score ?? 0) < SCORE_THRESHOLD && !recipe.scoreNeutral) continue;
      if (r.source === 'entities' && (r.entities ?? 1) > 1 && !recipe.sentfinMulti) continue;
      let w = 1;
      if (r.agree !== undefined) w *= recipe.agreeWeight[String(r.agree)] ?? 1;
      ex.push({ text: r.text, y: LABEL_INDEX[r.label], weight: w, origin: r.kind ? `${set}:${r.kind}` : set });
    }
    const total = ex.reduce((s, e) => s + e.weight, 0);
    const scale = total > 0 ? (sw * Math.pow(ex.length, recipe.balancePower)) / total : 0;
    for (const e of ex) out.push({ ...e, weight: e.weight * scale });
  }
  return out;
}

let lexCache: NonNullable<TokenizerSpec['lexicons']> | null = null;

function lexiconSpecs(): NonNullable<TokenizerSpec['lexicons']> {
  if (!lexCache) {
    lexCache = featureLexicons().map((l) => ({ name: l.name, source: l.source, licence: l.licence, data: encodeLexicon(l.entries) }));
  }
  return lexCache;
}

/** Per-row L2 multipliers from smoothed, weighted class log-count ratios. */
function nbPenalty(ds: Dataset, strength: number): Float64Array {
  const cnt = new Float64Array(ds.dim * 3);
  const tot = [0, 0, 0];
  for (let i = 0; i < ds.n; i++) {
    const y = ds.y[i];
    const w = ds.weight[i];
    for (let k = ds.indptr[i]; k < ds.indptr[i + 1]; k++) {
      cnt[ds.idx[k] * 3 + y] += w;
      tot[y] += w;
    }
  }
  const alpha = 1;
  const out = new Float64Array(ds.dim).fill(1);
  for (let j = 1; j < ds.dim; j++) {
    let r = 0;
    for (let c = 0; c < 3; c++) {
      const pc = (cnt[j * 3 + c] + alpha) / (tot[c] + alpha);
      let oc = 0;
      let ot = 0;
      for (let d = 0; d < 3; d++) {
        if (d === c) continue;
        oc += cnt[j * 3 + d];
        ot += tot[d];
      }
      const po = (oc + alpha) / (ot + alpha);
      r = Math.max(r, Math.abs(Math.log(pc / po)));
    }
    out[j] = 1 / ((1 + strength * r) * (1 + strength * r));
  }
  return out;
}

export interface Fitted {
  model: LinearModel;
  /** Gate domain names (column order of the gate), [] without a gate. */
  domains: string[];
  spec: TokenizerSpec;
  featurizer: Featurizer;
}

/** Featurize, build the bucket → row table from the training texts, train. */
export function fit(examples: Example[], recipe: Recipe, onEpoch?: (epoch: number, loss: number, gradNorm: number) => void): Fitted {
  const cfg = recipe.features;
  const lexSpec = cfg.lexicons ? lexiconSpecs() : [];
  const lexicons = lexSpec.map((l) => decodeLexicon(l.data));
  const hashed = examples.map((e) => {
    const h = hashFeatures(e.text, cfg, lexicons);
    return { buckets: bucketsOf(h.hashes, cfg.hashBits), values: h.values };
  });
  // document frequency of each bucket
  const df = new Map<number, number>();
  for (const { buckets } of hashed) {
    const seen = new Set(buckets);
    for (const b of seen) df.set(b, (df.get(b) ?? 0) + 1);
  }
  const kept = [...df.entries()].filter(([, c]) => c >= recipe.minCount).map(([b]) => b);
  kept.sort((a, b) => a - b);
  const rowOf = new Map<number, number>();
  kept.forEach((b, i) => rowOf.set(b, i + 1));
  const rows = hashed.map(({ buckets, values: hv }) => {
    const ids: number[] = [];
    const values: number[] = [];
    for (let k = 0; k < buckets.length; k++) {
      const r = rowOf.get(buckets[k]);
      if (r !== undefined) {
        ids.push(r);
        values.push(hv[k]);
      }
    }
    return { ids, values };
  });
  const ds = buildDataset(
    rows,
    examples.map((e) => e.y),
    examples.map((e) => e.weight),
    kept.length + 1,
  );
  let domainNames: string[] = [];
  const l2Row = recipe.nbStrength > 0 ? nbPenalty(ds, recipe.nbStrength) : undefined;
  let model: LinearModel;
  if (!recipe.gate) {
    const w = trainSoftmax(ds, { classes: 3, l2: recipe.l2, l2Row, maxIter: recipe.maxIter, onEpoch });
    model = { dim: ds.dim, heads: 1, W: w.W, b: w.b };
  } else {
    const gr = recipe.gate;
    const domainOf = (e: Example): string => gr.domains[e.origin] ?? gr.domains[e.origin.split(':')[0]] ?? 'other';
    const domains = [...new Set(examples.map(domainOf))].sort();
    const K = domains.length;
    const dsGate: Dataset = { ...ds, y: Uint8Array.from(examples.map((e) => domains.indexOf(domainOf(e)))) };
    const gate = trainSoftmax(dsGate, { classes: K, l2: gr.l2, maxIter: gr.maxIter });
    const gamma = new Float64Array(ds.n * (K + 1));
    const posteriors = (w: { W: Float32Array; b: Float32Array }, i: number): number[] => {
      const g = Array.from(w.b);
      for (let k = ds.indptr[i]; k < ds.indptr[i + 1]; k++) {
        const r = ds.idx[k] * K;
        for (let d = 0; d < K; d++) g[d] += ds.val[k] * w.W[r + d];
      }
      softmaxInPlace(g);
      return g;
    };
    if (gr.crossFit > 1) {
      // out-of-fold posteriors: the experts see the gate as it behaves on unseen text
      const fold = examples.map((e) => fnv1a(e.text, 0x2545f491) % gr.crossFit);
      for (let f = 0; f < gr.crossFit; f++) {
        const w = dsGate.weight.map((x, i) => (fold[i] === f ? 0 : x));
        const gf = trainSoftmax({ ...dsGate, weight: w }, { classes: K, l2: gr.l2, maxIter: gr.maxIter });
        for (let i = 0; i < ds.n; i++) if (fold[i] === f) posteriors(gf, i).forEach((p, d) => (gamma[i * (K + 1) + 1 + d] = p));
      }
    } else {
      for (let i = 0; i < ds.n; i++) posteriors(gate, i).forEach((p, d) => (gamma[i * (K + 1) + 1 + d] = p));
    }
    for (let i = 0; i < ds.n; i++) gamma[i * (K + 1)] = 1;
    const l2Head = [1, ...domains.map(() => gr.headL2)];
    const w = trainSoftmax(ds, { classes: 3, heads: K + 1, gamma, l2: recipe.l2, l2Head, l2Row, maxIter: recipe.maxIter, onEpoch });
    model = { dim: ds.dim, heads: K + 1, W: w.W, b: w.b, gateW: gate.W, gateB: gate.b };
    domainNames = domains;
  }
  const spec: TokenizerSpec = {
    format: 'tickerpulse-features',
    version: 1,
    labels: [...LABELS],
    config: cfg,
    rows: kept.length + 1,
    buckets: encodeBuckets(kept),
  };
  if (lexSpec.length > 0) spec.lexicons = lexSpec;
  return { model, spec, featurizer: new Featurizer(spec), domains: domainNames };
}

/** The TypeScript forward pass over texts (what the ONNX graph computes). */
export function predictProbs(f: { model: LinearModel; featurizer: Featurizer }, texts: readonly string[]): number[][] {
  return texts.map((t) => {
    const { ids, values } = f.featurizer.featurize(t);
    return forward(f.model, ids, values);
  });
}

export function argmaxLabel(p: ArrayLike<number>): Label {
  let best = 0;
  for (let c = 1; c < 3; c++) if (p[c] > p[best]) best = c;
  return LABEL_NAMES[best];
}

export interface SetScores extends Scores {
  /**
   * Polarity accuracy: on rows whose gold label is positive or negative, the share where the
   * sign of score = pPos − pNeg matches (neutral predictions are not wrong by themselves).
   */
  polarity: number;
  polarityRows: number;
}

/** Scores of probability rows [pNeg, pNeu, pPos] against gold labels. */
export function scoreProbs(gold: readonly Label[], probs: readonly ArrayLike<number>[]): SetScores {
  const s = scores(gold, probs.map(argmaxLabel));
  let ok = 0;
  let n = 0;
  for (let i = 0; i < gold.length; i++) {
    if (gold[i] === 'neutral') continue;
    n++;
    const sc = probs[i][2] - probs[i][0];
    if ((gold[i] === 'positive' && sc > 0) || (gold[i] === 'negative' && sc < 0)) ok++;
  }
  return { ...s, polarity: n > 0 ? ok / n : 0, polarityRows: n };
}

/** Per-set scores of a predictor on the evaluation rows of each set. */
export function evaluateSets(predict: (texts: string[]) => ArrayLike<number>[], sets: Map<string, Row[]>): Map<string, SetScores> {
  const out = new Map<string, SetScores>();
  for (const [id, rows] of sets) {
    const er = evalRows(rows);
    if (er.length === 0) continue;
    out.set(id, scoreProbs(er.map((r) => r.label as Label), predict(er.map((r) => r.text))));
  }
  return out;
}
