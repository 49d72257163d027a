/**
 * The entity model's training recipe and the steps shared by train.ts, eval.ts and select.ts:
 * examples → hashed target-aware features → bucket → row table → softmax regression trained
 * with the repository's L-BFGS trainer (src/model/linear.ts). Deterministic: no random state.
 */
import type { Label } from '../../lib/types.js';
import { LABEL_INDEX } from '../data.js';
import { featureLexicons } from '../lexicons.js';
import { buildDataset, forward, softmaxInPlace, trainSoftmax, type Dataset, type LinearModel } from '../linear.js';
import { DEFAULT_RECIPE } from '../pipeline.js';
import { encodeBuckets, encodeLexicon, decodeLexicon, fnv1a, LABELS, type FeatureConfig } from '../tokenizer.js';
import type { EntityExample } from './entityData.js';
import { bucketOf, DEFAULT_ENTITY_CONFIG, EntityFeaturizer, hashEntityFeatures, type EntityFeatureConfig, type EntitySpec, type TargetInput } from './entityFeatures.js';

export interface EntityRecipe {
  features: EntityFeatureConfig;
  /** Config of the global block (the headline featurizer). */
  headline: FeatureConfig;
  l2: number;
  /** NB-informed per-feature L2 (as in the headline recipe): l2 / (1 + s·r)²; 0 = plain. */
  nbStrength: number;
  maxIter: number;
  /** Buckets must occur in at least this many training examples to get a row. */
  minCount: number;
  /** Multiplier of every example of a set (0 = left out). */
  setWeight: Record<string, number>;
  /** Multiplier of examples from headlines naming several entities. */
  multiWeight: number;
  /** Synthetic contrast headlines (entityData.ts contrastPairs) built from the training side; their weight is setWeight.synthetic. */
  synthetic: number;
  /**
   * Gated mixture (as in the headline recipe): a softmax gate on the same features tells the
   * training domains apart from the text alone and weights one expert head per domain on top
   * of a shared head. null = one plain softmax regression.
   */
  gate: { domains: Record<string, string>; l2: number; crossFit: number; maxIter: number } | null;
  /** Score-labelled targets with |score| below the threshold train as neutral (else left out). */
  scoreNeutral: boolean;
}

/** Chosen by cross-validation inside the training side (select.ts); see data/model/entity/MODEL_CARD.md. */
export const DEFAULT_ENTITY_RECIPE: EntityRecipe = {
  features: { ...DEFAULT_ENTITY_CONFIG, nameWeight: 0.5 },
  headline: { ...DEFAULT_RECIPE.features },
  l2: 3e-6,
  nbStrength: 0.5,
  maxIter: 300,
  minCount: 1,
  setWeight: { sentfin: 1, semeval: 2, fiqa: 2, synthetic: 0.3 },
  multiWeight: 1,
  synthetic: 1000,
  gate: { domains: { sentfin: 'india', synthetic: 'india', semeval: 'west', fiqa: 'west' }, l2: 1e-5, crossFit: 3, maxIter: 150 },
  scoreNeutral: false,
};

export interface EntityFitted {
  model: LinearModel;
  spec: EntitySpec;
  featurizer: EntityFeaturizer;
  examples: number;
  seconds: number;
}

let lexCache: NonNullable<EntitySpec['lexicons']> | null = null;
function lexiconSpecs(): NonNullable<EntitySpec['lexicons']> {
  if (!lexCache) lexCache = featureLexicons().map((l) => ({ name: l.name, source: l.source, licence: l.licence, data: encodeLexicon(l.entries) }));
  return lexCache;
}

/** Per-row L2 multipliers from smoothed, weighted class log-count ratios (as in ../pipeline.ts). */
function nbPenalty(ds: Dataset, strength: number): Float64Array {
  const cnt = new Float64Array(ds.dim * 3);
  const tot = [0, 0, 0];
  for (let i = 0; i < ds.n; i++) {
    for (let k = ds.indptr[i]; k < ds.indptr[i + 1]; k++) {
      cnt[ds.idx[k] * 3 + ds.y[i]] += ds.weight[i];
      tot[ds.y[i]] += ds.weight[i];
    }
  }
  const out = new Float64Array(ds.dim).fill(1);
  for (let j = 1; j < ds.dim; j++) {
    let r = 0;
    for (let c = 0; c < 3; c++) {
      const pc = (cnt[j * 3 + c] + 1) / (tot[c] + 1);
      let oc = 0;
      let ot = 0;
      for (let d = 0; d < 3; d++) {
        if (d === c) continue;
        oc += cnt[j * 3 + d];
        ot += tot[d];
      }
      r = Math.max(r, Math.abs(Math.log(pc / ((oc + 1) / (ot + 1)))));
    }
    out[j] = 1 / ((1 + strength * r) * (1 + strength * r));
  }
  return out;
}

/** Weight of each example under the recipe (0 = not trained on). */
export function exampleWeight(e: EntityExample, r: EntityRecipe): number {
  const sw = r.setWeight[e.set] ?? 0;
  return sw * (e.mentions > 1 ? r.multiWeight : 1);
}

/** Featurize, build the bucket → row table from the training examples, train. */
export function fitEntity(all: readonly EntityExample[], recipe: EntityRecipe, onEpoch?: (epoch: number, loss: number, gradNorm: number) => void): EntityFitted {
  const t0 = Date.now();
  const examples = all.filter((e) => exampleWeight(e, recipe) > 0);
  // the local owner block reads the lexicons even when the global block does not
  const lexSpec = lexiconSpecs();
  const lexicons = lexSpec.map((l) => decodeLexicon(l.data));
  const bits = recipe.features.hashBits;
  const hashed = examples.map((e) => {
    const h = hashEntityFeatures(e, recipe.features, recipe.headline, lexicons);
    return { buckets: h.hashes.map((x) => bucketOf(x, bits)), values: h.values };
  });
  const df = new Map<number, number>();
  for (const { buckets } of hashed) for (const b of new Set(buckets)) df.set(b, (df.get(b) ?? 0) + 1);
  const kept = [...df.entries()].filter(([, c]) => c >= recipe.minCount).map(([b]) => b).sort((a, b) => a - b);
  const rowOf = new Map<number, number>();
  kept.forEach((b, i) => rowOf.set(b, i + 1));
  const rows = hashed.map(({ buckets, values }) => {
    const ids: number[] = [];
    const vs: number[] = [];
    for (let k = 0; k < buckets.length; k++) {
      const r = rowOf.get(buckets[k]);
      if (r !== undefined) {
        ids.push(r);
        vs.push(values[k]);
      }
    }
    return { ids, values: vs };
  });
  // each set's examples are weighted as given; the total is normalised by the trainer
  const ds = buildDataset(rows, examples.map((e) => LABEL_INDEX[e.label]), examples.map((e) => exampleWeight(e, recipe)), kept.length + 1);
  const l2Row = recipe.nbStrength > 0 ? nbPenalty(ds, recipe.nbStrength) : undefined;
  let model: LinearModel;
  if (!recipe.gate) {
    const w = trainSoftmax(ds, { classes: 3, l2: recipe.l2, l2Row, maxIter: recipe.maxIter, onEpoch });
    model = { dim: ds.dim, heads: 1, W: w.W, b: w.b };
  } else {
    const gr = recipe.gate;
    const domainOf = (e: EntityExample): string => gr.domains[e.set] ?? 'other';
    const domains = [...new Set(examples.map(domainOf))].sort();
    const K = domains.length;
    const dsGate: Dataset = { ...ds, y: Uint8Array.from(examples.map((e) => domains.indexOf(domainOf(e)))) };
    const gate = trainSoftmax(dsGate, { classes: K, l2: gr.l2, maxIter: gr.maxIter });
    const gamma = new Float64Array(ds.n * (K + 1));
    const post = (g: { W: Float32Array; b: Float32Array }, i: number): number[] => {
      const z = Array.from(g.b);
      for (let k = ds.indptr[i]; k < ds.indptr[i + 1]; k++) for (let d = 0; d < K; d++) z[d] += ds.val[k] * g.W[ds.idx[k] * K + d];
      softmaxInPlace(z);
      return z;
    };
    // out-of-fold posteriors: the experts see the gate as it behaves on unseen text
    const fold = examples.map((e) => fnv1a(e.key, 0x2545f491) % Math.max(1, gr.crossFit));
    for (let f = 0; f < Math.max(1, gr.crossFit); f++) {
      const g = gr.crossFit > 1 ? trainSoftmax({ ...dsGate, weight: dsGate.weight.map((x, i) => (fold[i] === f ? 0 : x)) }, { classes: K, l2: gr.l2, maxIter: gr.maxIter }) : gate;
      for (let i = 0; i < ds.n; i++) if (fold[i] === f) post(g, i).forEach((p, d) => (gamma[i * (K + 1) + 1 + d] = p));
    }
    for (let i = 0; i < ds.n; i++) gamma[i * (K + 1)] = 1;
    const w = trainSoftmax(ds, { classes: 3, heads: K + 1, gamma, l2: recipe.l2, l2Row, maxIter: recipe.maxIter, onEpoch });
    model = { dim: ds.dim, heads: K + 1, W: w.W, b: w.b, gateW: gate.W, gateB: gate.b };
  }
  const spec: EntitySpec = {
    format: 'tickerpulse-entity-features',
    version: 1,
    labels: [...LABELS],
    headline: recipe.headline,
    entity: recipe.features,
    rows: kept.length + 1,
    buckets: encodeBuckets(kept),
    lexicons: lexSpec,
  };
  return { model, spec, featurizer: new EntityFeaturizer(spec), examples: examples.length, seconds: (Date.now() - t0) / 1000 };
}

/** The TypeScript forward pass (what entity.onnx computes) over targets: [pNeg, pNeu, pPos] each. */
export function predictEntityProbs(f: { model: LinearModel; featurizer: EntityFeaturizer }, targets: readonly TargetInput[]): number[][] {
  return targets.map((t) => {
    const { ids, values } = f.featurizer.featurize(t);
    return forward(f.model, ids, values);
  });
}

export function argmax3(p: ArrayLike<number>): Label {
  let best = 0;
  for (let c = 1; c < 3; c++) if (p[c] > p[best]) best = c;
  return (['negative', 'neutral', 'positive'] as const)[best];
}
