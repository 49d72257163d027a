/**
 * Model selection by k-fold cross-validation inside the training 80 % (the held-out 20 % is
 * never looked at here). Each `--try JSON` is a partial recipe merged over the default
 * recipe (or over `--base JSON`); the script prints the mean validation accuracy per set.
 *
 *   node dist/src/model/select.js [--data DIR] [--folds 3] [--base JSON] --try '{"l2":1e-5}' --try '{}'
 */
import { join } from 'node:path';
import { sharedDir } from '../lib/paths.js';
import { cvSplit, holdoutSplit, loadSharedSets, SPLIT_SEED } from './data.js';
import { MACRO_SYNTH_SET, macroSynthRows } from './macroSynth.js';
import { DEFAULT_RECIPE, evaluateSets, fit, predictProbs, trainingExamples, type Recipe } from './pipeline.js';

type Patch = Record<string, unknown>;

export function mergeRecipe(base: Recipe, patch: Patch): Recipe {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)) {
      out[k] = { ...(cur as object), ...(v as object) };
    } else {
      out[k] = v;
    }
  }
  return out as unknown as Recipe;
}

const TARGETS = ['fpb', 'tfns', 'semeval'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let folds = 3;
  let base: Recipe = DEFAULT_RECIPE;
  const tries: Patch[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--data') dataDir = args[++i];
    else if (a === '--folds') folds = Number(args[++i]);
    else if (a === '--base') base = mergeRecipe(DEFAULT_RECIPE, JSON.parse(args[++i]) as Patch);
    else if (a === '--try') tries.push(JSON.parse(args[++i]) as Patch);
    else throw new Error(`unknown argument ${a}`);
  }
  if (tries.length === 0) tries.push({});
  const { train } = holdoutSplit(loadSharedSets(dataDir));
  const splits = Array.from({ length: folds }, (_, f) => cvSplit(train, folds, f, SPLIT_SEED));
  // the synthetic macro rows train in every fold (as in train.ts) and are never validated on
  const synth = macroSynthRows();
  for (const s of splits) s.train.set(MACRO_SYNTH_SET, synth);
  for (const patch of tries) {
    const recipe = mergeRecipe(base, patch);
    const t0 = Date.now();
    const acc = new Map<string, number[]>();
    const f1 = new Map<string, number[]>();
    const pol = new Map<string, number[]>();
    for (const { train: tr, valid } of splits) {
      const fitted = fit(trainingExamples(tr, recipe), recipe);
      const res = evaluateSets((texts) => predictProbs(fitted, texts), valid);
      for (const [id, s] of res) {
        acc.set(id, [...(acc.get(id) ?? []), s.accuracy]);
        f1.set(id, [...(f1.get(id) ?? []), s.macroF1]);
        pol.set(id, [...(pol.get(id) ?? []), s.polarity]);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const per = [...acc.entries()].map(([id, xs]) => `${id} ${mean(xs).toFixed(4)}/${mean(f1.get(id)!).toFixed(3)}/p${mean(pol.get(id)!).toFixed(3)}`).join('  ');
    const target = mean(TARGETS.filter((t) => acc.has(t)).map((t) => mean(acc.get(t)!)));
    const all = mean([...acc.values()].map(mean));
    console.log(`target ${target.toFixed(4)} all ${all.toFixed(4)} | ${per} | ${((Date.now() - t0) / 1000).toFixed(1)}s | ${JSON.stringify(patch)}`);
  }
}

if (process.argv[1]?.endsWith("select.js")) main().catch((err) => {
  console.error(err);
  process.exit(1);
});
