/**
 * npm run train:entity [-- --data DIR] [--out DIR] [--headline-model DIR]
 *
 * Trains the entity-level (target-aware) sentiment model on the training side of SEntFiN (plus
 * the SemEval / FiQA targets), with the held-out split of src/model/data.ts, and writes to
 * --out (default data/model/entity):
 *   entity.onnx             the graph (weights as float16; same layout as the headline model's)
 *   entity-tokenizer.json   feature config + bucket → row table + hashed lexicons (no raw text)
 *   MODEL_CARD.md           data, method, held-out figures vs. the headline-model baseline, size, speed
 * Deterministic: the same data gives the same files.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TickerpulseError } from '../../lib/errors.js';
import { defaultModelDir, packageRoot, sharedDir } from '../../lib/paths.js';
import { forward } from '../linear.js';
import { effectiveModel, exportOnnx } from '../onnxExport.js';
import { SentimentModel } from '../sentimentModel.js';
import { renderEntityCard } from './card.js';
import { entitySplit, examplesOf } from './entityData.js';
import { defaultEntityModelDir, ENTITY_MODEL_FILE, ENTITY_TOKENIZER_FILE, EntitySentimentModel } from './entityModel.js';
import { evaluateEntities, measureEntitySpeed, SENTFIN_SLICES, WEST_SLICES, formatEntityResults } from './evaluate.js';
import { DEFAULT_ENTITY_RECIPE, exampleWeight, fitEntity } from './recipe.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let outDir = defaultEntityModelDir;
  let headlineDir = defaultModelDir;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--data') dataDir = args[++i];
    else if (a === '--out') outDir = args[++i];
    else if (a === '--headline-model') headlineDir = args[++i];
    else throw new TickerpulseError('INPUT_INVALID', `unknown argument ${a}; usage: npm run train:entity -- [--data DIR] [--out DIR] [--headline-model DIR]`);
  }
  const t0 = Date.now();
  const recipe = DEFAULT_ENTITY_RECIPE;
  const split = entitySplit(dataDir);
  const trainEx = [...examplesOf(split.train), ...examplesOf(split.extraTrain, recipe.scoreNeutral)];
  const heldEx = examplesOf(split.holdout);
  const westEx = examplesOf(split.extraHoldout);
  console.log(`SEntFiN: ${split.stats.headlines} headlines, ${split.stats.entities} entities (${split.stats.unlocated} not located); train ${split.train.length} headlines, held out ${split.holdout.length} (${heldEx.length} entities)`);
  console.log(`training on ${trainEx.filter((e) => exampleWeight(e, recipe) > 0).length} targets (L-BFGS, l2 ${recipe.l2})`);
  const fitted = fitEntity(trainEx, recipe, (epoch, loss, gnorm) => {
    if (epoch <= 3 || epoch % 25 === 0) console.log(`epoch ${String(epoch).padStart(3)}  loss ${loss.toFixed(5)}  |grad| ${gnorm.toExponential(2)}`);
  });
  console.log(`trained in ${fitted.seconds.toFixed(1)} s: ${fitted.model.dim - 1} feature rows`);

  mkdirSync(outDir, { recursive: true });
  const onnxBytes = exportOnnx(fitted.model, {
    float16: true,
    metadata: { rows: String(fitted.model.dim), kind: 'entity' },
    docString: 'tickerpulse entity-level (target-aware) sentiment: linear softmax over hashed target-aware features (see MODEL_CARD.md)',
  });
  writeFileSync(join(outDir, ENTITY_MODEL_FILE), onnxBytes);
  writeFileSync(join(outDir, ENTITY_TOKENIZER_FILE), JSON.stringify(fitted.spec) + '\n');

  // The served graph must agree with the trainer's forward pass (float16-rounded weights).
  const model = await EntitySentimentModel.load(outDir, { intraOpNumThreads: 1 });
  const eff = effectiveModel(fitted.model, true);
  const probe = heldEx.slice(0, 512);
  const served = await model.classify(probe);
  let maxDiff = 0;
  probe.forEach((t, i) => {
    const { ids, values } = fitted.featurizer.featurize(t);
    const p = forward(eff, ids, values);
    maxDiff = Math.max(maxDiff, Math.abs(p[0] - served[i].pNeg), Math.abs(p[1] - served[i].pNeu), Math.abs(p[2] - served[i].pPos));
  });
  console.log(`ONNX vs TypeScript forward pass: max |Δp| = ${maxDiff.toExponential(2)} on ${probe.length} targets`);
  if (maxDiff > 1e-4) throw new TickerpulseError('INTERNAL', `exported graph disagrees with the trainer (max |Δp| ${maxDiff})`);

  const headline = await SentimentModel.load(headlineDir, { intraOpNumThreads: 1 });
  const sentfin = await evaluateEntities(model, headline, heldEx, SENTFIN_SLICES);
  const west = await evaluateEntities(model, headline, westEx, WEST_SLICES);
  console.log(formatEntityResults(`held-out SEntFiN entities (entity model ${model.id} vs headline model ${headline.id})`, sentfin));
  console.log(formatEntityResults('held-out SemEval / FiQA targets', west));
  const speedTargets = heldEx.filter((e) => e.mentions > 1);
  const speed = await measureEntitySpeed(model, speedTargets, 64, 30000);
  console.log(`speed: ${Math.round(speed).toLocaleString('en-US')} targets/s (EntitySentimentModel, 1 thread, batches of 64)`);
  await headline.release();
  await model.close();

  const count = (ex: typeof heldEx) => ({
    entities: ex.length,
    headlines: new Set(ex.map((e) => e.key)).size,
    single: ex.filter((e) => e.mentions === 1).length,
    multi: ex.filter((e) => e.mentions > 1).length,
    mixed: ex.filter((e) => e.mentions > 1 && e.mixed).length,
    opposite: ex.filter((e) => e.mentions > 1 && e.opposite).length,
  });
  const card = renderEntityCard({
    modelId: model.id,
    headlineModelId: headline.id,
    recipe,
    rows: fitted.model.dim,
    onnxBytes: onnxBytes.length,
    tokenizerBytes: statSync(join(outDir, ENTITY_TOKENIZER_FILE)).size,
    trainCounts: count(examplesOf(split.train)),
    heldCounts: count(heldEx),
    extraTrain: examplesOf(split.extraTrain, recipe.scoreNeutral).length,
    extraHeld: westEx.length,
    unlocated: split.stats.unlocated,
    sentfin: sentfin.slices,
    west: west.slices,
    maxDiff,
    probeTargets: probe.length,
    speed,
    speedTargets: speedTargets.length,
    examples: fitted.examples,
    fitSeconds: fitted.seconds,
    totalSeconds: (Date.now() - t0) / 1000,
    dataDir: relative(packageRoot, dataDir) || dataDir,
  });
  writeFileSync(join(outDir, 'MODEL_CARD.md'), card);
  console.log(`wrote ${join(outDir, ENTITY_MODEL_FILE)} (${(onnxBytes.length / 1e6).toFixed(2)} MB), ${ENTITY_TOKENIZER_FILE}, MODEL_CARD.md in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  const code = err instanceof TickerpulseError ? err.code : 'INTERNAL';
  console.error(`train:entity failed [${code}]: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
