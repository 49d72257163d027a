/**
 * Cross-validated model selection for the entity model, inside the training side only (the
 * held-out headlines are never read here):
 *
 *   node dist/src/model/entity/select.js [--folds 3] [--data DIR] --try '{}' --try '{"features":{"windowWeight":0}}'
 *
 * Each --try is a JSON patch of DEFAULT_ENTITY_RECIPE (objects merged one level deep). Prints
 * entity-level accuracy / macro-F1 on SEntFiN validation folds: all, single-entity,
 * multi-entity, mixed-label and opposite-label headlines.
 */
import { join } from 'node:path';
import { TickerpulseError } from '../../lib/errors.js';
import { sharedDir } from '../../lib/paths.js';
import type { Label } from '../../lib/types.js';
import { scores } from '../metrics.js';
import { contrastPairs, cvFold, entitySplit, examplesOf, type EntityExample } from './entityData.js';
import { argmax3, DEFAULT_ENTITY_RECIPE, fitEntity, predictEntityProbs, type EntityRecipe } from './recipe.js';

export function patchRecipe(base: EntityRecipe, patch: Record<string, unknown>): EntityRecipe {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? { ...(cur as object), ...(v as object) } : v;
  }
  return out as unknown as EntityRecipe;
}

export const SLICES: { name: string; keep: (e: EntityExample) => boolean }[] = [
  { name: 'all', keep: (e) => e.set === 'sentfin' },
  { name: 'single', keep: (e) => e.set === 'sentfin' && e.mentions === 1 },
  { name: 'multi', keep: (e) => e.set === 'sentfin' && e.mentions > 1 },
  { name: 'mixed', keep: (e) => e.set === 'sentfin' && e.mixed },
  { name: 'opposite', keep: (e) => e.set === 'sentfin' && e.opposite },
  /** SemEval + FiQA targets (polar gold only: a neutral prediction is wrong). */
  { name: 'west', keep: (e) => e.set !== 'sentfin' },
  { name: 'west-multi', keep: (e) => e.set !== 'sentfin' && e.mentions > 1 },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let folds = 3;
  const tries: Record<string, unknown>[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data') dataDir = args[++i];
    else if (args[i] === '--folds') folds = Number(args[++i]);
    else if (args[i] === '--try') tries.push(JSON.parse(args[++i]) as Record<string, unknown>);
    else throw new TickerpulseError('INPUT_INVALID', `unknown argument ${args[i]}`);
  }
  if (tries.length === 0) tries.push({});
  const split = entitySplit(dataDir);
  for (const t of tries) {
    const recipe = patchRecipe(DEFAULT_ENTITY_RECIPE, t);
    const gold: Label[] = [];
    const pred: Label[] = [];
    const valid: EntityExample[] = [];
    let sec = 0;
    let rows = 0;
    for (let f = 0; f < folds; f++) {
      const trainH = split.train.filter((h) => cvFold(h.key, folds) !== f);
      const validH = split.train.filter((h) => cvFold(h.key, folds) === f);
      const extraT = split.extraTrain.filter((h) => cvFold(h.key, folds) !== f);
      const extraV = split.extraTrain.filter((h) => cvFold(h.key, folds) === f);
      const trainEx = [...examplesOf(trainH), ...examplesOf(extraT, recipe.scoreNeutral), ...examplesOf(contrastPairs(trainH, recipe.synthetic))];
      const fitted = fitEntity(trainEx, recipe);
      sec += fitted.seconds;
      rows = Math.max(rows, fitted.model.dim);
      const v = [...examplesOf(validH), ...examplesOf(extraV)];
      const probs = predictEntityProbs(fitted, v);
      v.forEach((e, i) => {
        valid.push(e);
        gold.push(e.label);
        pred.push(argmax3(probs[i]));
      });
    }
    const parts = SLICES.map((s) => {
      const idx = valid.map((e, i) => (s.keep(e) ? i : -1)).filter((i) => i >= 0);
      const sc = scores(idx.map((i) => gold[i]), idx.map((i) => pred[i]));
      return `${s.name} ${(sc.accuracy * 100).toFixed(1)}/${(sc.macroF1 * 100).toFixed(1)} (${sc.rows})`;
    });
    console.log(`${JSON.stringify(t)}  ${parts.join('  ')}  [${rows} rows, ${sec.toFixed(0)} s]`);
  }
}

main().catch((err) => {
  console.error(`select failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
