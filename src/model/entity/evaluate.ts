/**
 * Entity-level evaluation shared by train.ts (model card) and eval.ts (`npm run eval:entity`):
 * the served entity model (EntitySentimentModel, the real ONNX path) against the baseline
 * "every entity gets the headline model's label" (SentimentModel on the headline text), on
 * slices of the held-out entities.
 */
import type { Label, Prediction } from '../../lib/types.js';
import { formatConfusion, scores, type Scores } from '../metrics.js';
import type { EntityExample } from './entityData.js';
import type { EntityTarget } from './entityModel.js';

export interface EntityClassifier {
  classify(targets: EntityTarget[]): Promise<Prediction[]>;
}
export interface HeadlineClassifier {
  classify(texts: string[]): Promise<Prediction[]>;
}

export interface Slice {
  name: string;
  description: string;
  keep: (e: EntityExample) => boolean;
}

/** Slices of SEntFiN held-out entities reported in the model card. */
export const SENTFIN_SLICES: Slice[] = [
  { name: 'overall', description: 'every held-out entity', keep: () => true },
  { name: 'single-entity', description: 'entities of headlines naming one entity', keep: (e) => e.mentions === 1 },
  { name: 'multi-entity', description: 'entities of headlines naming ≥ 2 entities', keep: (e) => e.mentions > 1 },
  { name: 'multi, mixed labels', description: 'multi-entity headlines whose entities do not all share one label', keep: (e) => e.mentions > 1 && e.mixed },
  { name: 'multi, opposite labels', description: 'multi-entity headlines with both a positive and a negative entity', keep: (e) => e.mentions > 1 && e.opposite },
];

/** SemEval / FiQA held-out targets (gold positive / negative only: a neutral call is wrong). */
export const WEST_SLICES: Slice[] = [
  { name: 'SemEval + FiQA targets', description: 'scored targets (|score| ≥ 0.1) of the held-out SemEval-2017 / FiQA-2018 headlines and posts', keep: () => true },
  { name: 'SemEval + FiQA, multi-target', description: 'of which texts with ≥ 2 located targets', keep: (e) => e.mentions > 1 },
];

export interface SliceResult {
  name: string;
  description: string;
  entities: number;
  headlines: number;
  model: Scores;
  baseline: Scores;
  /** On gold positive / negative entities: share where the sign of pPos − pNeg is right. */
  modelPolarity: number;
  baselinePolarity: number;
}

export interface EntityEvalResult {
  slices: SliceResult[];
  /** Served predictions, aligned with the examples. */
  model: Prediction[];
  baseline: Prediction[];
}

/** Entity model on every target (batches of `batchSize`) and the headline model on every distinct headline. */
export async function evaluateEntities(entity: EntityClassifier, headline: HeadlineClassifier, examples: readonly EntityExample[], slices: readonly Slice[], batchSize = 64): Promise<EntityEvalResult> {
  const model: Prediction[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    model.push(...(await entity.classify(examples.slice(i, i + batchSize).map((e) => ({ text: e.text, start: e.start, end: e.end, others: e.others })))));
  }
  const texts = [...new Set(examples.map((e) => e.text))];
  const byText = new Map<string, Prediction>();
  for (let i = 0; i < texts.length; i += batchSize) {
    const chunk = texts.slice(i, i + batchSize);
    const p = await headline.classify(chunk);
    chunk.forEach((t, k) => byText.set(t, p[k]));
  }
  const baseline = examples.map((e) => byText.get(e.text)!);
  const out: SliceResult[] = [];
  for (const s of slices) {
    const idx: number[] = [];
    examples.forEach((e, i) => s.keep(e) && idx.push(i));
    const gold: Label[] = idx.map((i) => examples[i].label);
    out.push({
      name: s.name,
      description: s.description,
      entities: idx.length,
      headlines: new Set(idx.map((i) => examples[i].key)).size,
      model: scores(gold, idx.map((i) => model[i].label)),
      baseline: scores(gold, idx.map((i) => baseline[i].label)),
      modelPolarity: polarity(gold, idx.map((i) => model[i].score)),
      baselinePolarity: polarity(gold, idx.map((i) => baseline[i].score)),
    });
  }
  return { slices: out, model, baseline };
}

function polarity(gold: readonly Label[], score: readonly number[]): number {
  let ok = 0;
  let n = 0;
  gold.forEach((g, i) => {
    if (g === 'neutral') return;
    n++;
    if ((g === 'positive' && score[i] > 0) || (g === 'negative' && score[i] < 0)) ok++;
  });
  return n > 0 ? ok / n : 0;
}

/**
 * Targets/s through `classify` in one thread, batches of `batchSize`, over `targets` repeated to
 * ≥ minRows: the best of `repeats` passes (the machine may be shared).
 */
export async function measureEntitySpeed(entity: EntityClassifier, targets: EntityTarget[], batchSize = 64, minRows = 30000, repeats = 3): Promise<number> {
  if (targets.length === 0) return 0;
  const pool: EntityTarget[] = [];
  while (pool.length < minRows) pool.push(...targets);
  for (let i = 0; i < Math.min(pool.length, 2000); i += batchSize) await entity.classify(pool.slice(i, i + batchSize));
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pool.length; i += batchSize) await entity.classify(pool.slice(i, i + batchSize));
    best = Math.max(best, pool.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return best;
}

const pct = (x: number) => (x * 100).toFixed(1);

/** Plain-text table of slice results (what eval.ts prints). */
export function formatEntityResults(title: string, r: EntityEvalResult, confusions = false): string {
  const L = [title];
  L.push(`  ${'slice'.padEnd(30)} ${'entities'.padStart(8)} ${'headlines'.padStart(9)}   entity acc / F1 / polarity   headline-model acc / F1 / polarity`);
  for (const s of r.slices) {
    L.push(`  ${s.name.padEnd(30)} ${String(s.entities).padStart(8)} ${String(s.headlines).padStart(9)}   ${pct(s.model.accuracy).padStart(5)} / ${pct(s.model.macroF1).padStart(5)} / ${pct(s.modelPolarity).padStart(5)}     ${pct(s.baseline.accuracy).padStart(5)} / ${pct(s.baseline.macroF1).padStart(5)} / ${pct(s.baselinePolarity).padStart(5)}`);
    if (confusions) {
      L.push('    entity model:');
      L.push(formatConfusion(s.model.confusion, '      '));
      L.push('    headline-model baseline:');
      L.push(formatConfusion(s.baseline.confusion, '      '));
    }
  }
  return L.join('\n');
}
