/**
 * Evaluation of the served model (through SentimentModel, i.e. the real ONNX path) and the two
 * lexicon baselines on the same rows. Used by eval.ts and by train.ts for the model card.
 */
import type { Label, Prediction } from '../lib/types.js';
import { BASELINES, afinnScore } from './baselines.js';
import { evalRows, type Row } from './data.js';
import { formatConfusion, scores, type Scores } from './metrics.js';
import { vaderCompound } from './lexicons.js';

/** Anything that classifies a batch of texts (SentimentModel, or another model kind). */
export interface BatchClassifier {
  classify(texts: string[]): Promise<Prediction[]>;
}

export interface SystemResult extends Scores {
  /** On gold positive/negative rows: share where the sign of the system's score matches. */
  polarity: number;
  polarityRows: number;
  /** Throughput on these rows (model: SentimentModel.classify in batches, one thread). */
  headlinesPerSec: number;
}

export interface SetResult {
  set: string;
  rows: number;
  model: SystemResult;
  baselines: Record<string, SystemResult>;
}

export function polarityAccuracy(gold: readonly Label[], score: readonly number[]): { polarity: number; polarityRows: number } {
  let ok = 0;
  let n = 0;
  for (let i = 0; i < gold.length; i++) {
    if (gold[i] === 'neutral') continue;
    n++;
    if ((gold[i] === 'positive' && score[i] > 0) || (gold[i] === 'negative' && score[i] < 0)) ok++;
  }
  return { polarity: n ? ok / n : 0, polarityRows: n };
}

/** Evaluate one set's rows (only rows that count: see evalRows). */
export async function evaluateSet(model: BatchClassifier, set: string, allRows: Row[], opts: { batchSize?: number; threshold?: number } = {}): Promise<SetResult> {
  const batchSize = opts.batchSize ?? 64;
  const rows = evalRows(allRows, opts.threshold);
  const texts = rows.map((r) => r.text);
  const gold = rows.map((r) => r.label as Label);
  // warm-up (first runs allocate)
  await model.classify(texts.slice(0, batchSize));
  const t0 = process.hrtime.bigint();
  const preds = [];
  for (let i = 0; i < texts.length; i += batchSize) preds.push(...(await model.classify(texts.slice(i, i + batchSize))));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const modelRes: SystemResult = {
    ...scores(gold, preds.map((p) => p.label)),
    ...polarityAccuracy(gold, preds.map((p) => p.score)),
    headlinesPerSec: texts.length / Math.max(sec, 1e-9),
  };
  const baselines: Record<string, SystemResult> = {};
  for (const b of BASELINES) {
    const s0 = process.hrtime.bigint();
    const labels = texts.map(b.label);
    const bs = Number(process.hrtime.bigint() - s0) / 1e9;
    const sc = b.name === 'vader' ? texts.map(vaderCompound) : texts.map(afinnScore);
    baselines[b.name] = { ...scores(gold, labels), ...polarityAccuracy(gold, sc), headlinesPerSec: texts.length / Math.max(bs, 1e-9) };
  }
  return { set, rows: rows.length, model: modelRes, baselines };
}

/**
 * Model throughput in one thread, batches of `batchSize`, over `texts` repeated to ≥ minRows:
 * the best of `repeats` passes (the machine may be shared; the best pass is the least disturbed).
 */
export async function measureSpeed(model: BatchClassifier, texts: string[], batchSize = 64, minRows = 20000, repeats = 3): Promise<number> {
  if (texts.length === 0) return 0;
  const pool: string[] = [];
  while (pool.length < minRows) pool.push(...texts);
  for (let i = 0; i < Math.min(pool.length, 2000); i += batchSize) await model.classify(pool.slice(i, i + batchSize));
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pool.length; i += batchSize) await model.classify(pool.slice(i, i + batchSize));
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, pool.length / sec);
  }
  return best;
}

const pct = (x: number) => (x * 100).toFixed(1).padStart(5);

export function formatResults(results: SetResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.set}: ${r.rows} rows`);
    const line = (name: string, s: SystemResult) =>
      `  ${name.padEnd(30)} acc ${pct(s.accuracy)}  macro-F1 ${pct(s.macroF1)}  polarity ${pct(s.polarity)} (${s.polarityRows})  ${Math.round(s.headlinesPerSec).toLocaleString('en-US')} headlines/s`;
    out.push(line('model', r.model));
    out.push(formatConfusion(r.model.confusion));
    for (const [name, s] of Object.entries(r.baselines)) {
      out.push(line(name, s));
      out.push(formatConfusion(s.confusion));
    }
  }
  return out.join('\n');
}
