/**
 * npm run train [-- --data DIR] [--out DIR]
 *
 * Reads the labelled JSONL sets (default ../shared/data/sentiment), holds out 20 % of each set
 * (stratified, seeded, grouped by text), trains the linear model on the rest with the recipe
 * in pipeline.ts, and writes to --out (default data/model):
 *   sentiment.onnx   the graph (weights as float16)
 *   tokenizer.json   feature spec + bucket → row table + hashed lexicons (no raw text)
 *   MODEL_CARD.md    data, method, held-out metrics vs. lexicon baselines, size, speed
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TickerpulseError } from '../lib/errors.js';
import { defaultModelDir, packageRoot, sharedDir } from '../lib/paths.js';
import { MACRO_EVAL_FILE, MACRO_EVAL_SET, evalRows, holdoutSplit, loadJsonl, loadSharedSets, type Row } from './data.js';
import { evaluateSet, measureSpeed, type SetResult } from './evaluate.js';
import { forward } from './linear.js';
import { MACRO_SYNTH_SET, macroSynthRows } from './macroSynth.js';
import { renderModelCard } from './modelCard.js';
import { effectiveModel, exportOnnx } from './onnxExport.js';
import { DEFAULT_RECIPE, fit, trainingExamples } from './pipeline.js';
import { MODEL_FILE, SentimentModel, TOKENIZER_FILE } from './sentimentModel.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let outDir = defaultModelDir;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--data') dataDir = args[++i];
    else if (a === '--out') outDir = args[++i];
    else throw new TickerpulseError('INPUT_INVALID', `unknown argument ${a}; usage: npm run train -- [--data DIR] [--out DIR]`);
  }
  const t0 = Date.now();
  const recipe = DEFAULT_RECIPE;
  const sets = loadSharedSets(dataDir);
  const { train, holdout } = holdoutSplit(sets);
  const counts: { set: string; total: number; train: number; holdout: number; holdoutScored: number }[] = [];
  for (const [id, rows] of sets) {
    counts.push({ set: id, total: rows.length, train: train.get(id)!.length, holdout: holdout.get(id)!.length, holdoutScored: evalRows(holdout.get(id)!).length });
    console.log(`${id.padEnd(8)} ${rows.length} rows: train ${train.get(id)!.length}, held out ${holdout.get(id)!.length}`);
  }
  // synthetic macro rows are training-only: the macro evaluation set is separate and hand-written
  const synth = macroSynthRows();
  train.set(MACRO_SYNTH_SET, synth);
  counts.push({ set: MACRO_SYNTH_SET, total: synth.length, train: synth.length, holdout: 0, holdoutScored: 0 });
  console.log(`${MACRO_SYNTH_SET} ${synth.length} synthetic rows: train ${synth.length}`);
  const examples = trainingExamples(train, recipe);
  console.log(`training on ${examples.length} examples (L-BFGS, l2 ${recipe.l2}; one epoch = one pass over the data)`);
  const tFit = Date.now();
  const fitted = fit(examples, recipe, (epoch, loss, gnorm) => {
    if (epoch <= 5 || epoch % 10 === 0) console.log(`epoch ${String(epoch).padStart(3)}  loss ${loss.toFixed(5)}  |grad| ${gnorm.toExponential(2)}`);
  });
  const fitSec = (Date.now() - tFit) / 1000;
  console.log(`trained in ${fitSec.toFixed(1)} s: ${fitted.model.dim - 1} feature rows`);

  mkdirSync(outDir, { recursive: true });
  const onnxBytes = exportOnnx(fitted.model, { float16: true, metadata: { rows: String(fitted.model.dim) } });
  writeFileSync(join(outDir, MODEL_FILE), onnxBytes);
  writeFileSync(join(outDir, TOKENIZER_FILE), JSON.stringify(fitted.spec) + '\n');

  // The served graph must agree with the trainer's forward pass (float16-rounded weights).
  const model = await SentimentModel.load(outDir, { intraOpNumThreads: 1 });
  const eff = effectiveModel(fitted.model, true);
  const probeTexts = [...holdout.values()].flat().slice(0, 256).map((r) => r.text);
  const served = await model.classify(probeTexts);
  let maxDiff = 0;
  probeTexts.forEach((t, i) => {
    const { ids, values } = fitted.featurizer.featurize(t);
    const p = forward(eff, ids, values);
    maxDiff = Math.max(maxDiff, Math.abs(p[0] - served[i].pNeg), Math.abs(p[1] - served[i].pNeu), Math.abs(p[2] - served[i].pPos));
  });
  console.log(`ONNX vs TypeScript forward pass: max |Δp| = ${maxDiff.toExponential(2)} on ${probeTexts.length} texts`);
  if (maxDiff > 1e-4) throw new TickerpulseError('INTERNAL', `exported graph disagrees with the trainer (max |Δp| ${maxDiff})`);

  const results: SetResult[] = [];
  for (const [id, rows] of holdout) results.push(await evaluateSet(model, id, rows));
  // the hand-written macro set: never trained on, scored beside the held-out sets
  results.push(await evaluateSet(model, MACRO_EVAL_SET, loadJsonl(join(packageRoot, MACRO_EVAL_FILE), MACRO_EVAL_SET)));
  for (const r of results) {
    const b = Object.entries(r.baselines).map(([n, s]) => `${n.split('-')[0]} ${(s.accuracy * 100).toFixed(1)}`).join(', ');
    console.log(`${r.set === MACRO_EVAL_SET ? 'eval    ' : 'held-out'} ${r.set.padEnd(8)} acc ${(r.model.accuracy * 100).toFixed(1)}  macro-F1 ${(r.model.macroF1 * 100).toFixed(1)}  polarity ${(r.model.polarity * 100).toFixed(1)}  (baselines: ${b})`);
  }
  const speedTexts = [...holdout.values()].flat().map((r: Row) => r.text);
  const speed = await measureSpeed(model, speedTexts, 64, 30000);
  console.log(`speed: ${Math.round(speed).toLocaleString('en-US')} headlines/s (SentimentModel, 1 thread, batches of 64)`);
  await model.release();

  const card = renderModelCard({
    modelId: model.id,
    recipe,
    rows: fitted.model.dim,
    onnxBytes: onnxBytes.length,
    tokenizerBytes: statSync(join(outDir, TOKENIZER_FILE)).size,
    examples: examples.length,
    counts,
    results,
    speed,
    fitSeconds: fitSec,
    totalSeconds: (Date.now() - t0) / 1000,
    maxDiff,
    dataDir: relative(packageRoot, dataDir) || dataDir,
    domains: fitted.domains,
  });
  writeFileSync(join(outDir, 'MODEL_CARD.md'), card);
  console.log(`wrote ${join(outDir, MODEL_FILE)} (${(onnxBytes.length / 1e6).toFixed(2)} MB), ${TOKENIZER_FILE}, MODEL_CARD.md in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  const code = err instanceof TickerpulseError ? err.code : 'INTERNAL';
  console.error(`train failed [${code}]: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
