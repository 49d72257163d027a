/**
 * npm run eval:entity [-- --model DIR] [--headline-model DIR] [--data DIR] [--json] [--confusion]
 *
 * Recomputes the held-out tables of data/model/entity/MODEL_CARD.md from the shipped files:
 * entity-level accuracy / macro-F1 of the entity model (EntitySentimentModel, the ONNX path)
 * and of the baseline "every entity gets the headline model's label" (SentimentModel) on the
 * held-out SEntFiN entities (overall, single-entity, multi-entity, mixed and opposite labels)
 * and on the held-out SemEval / FiQA targets.
 */
import { join } from 'node:path';
import { TickerpulseError } from '../../lib/errors.js';
import { defaultModelDir, sharedDir } from '../../lib/paths.js';
import { SentimentModel } from '../sentimentModel.js';
import { entitySplit, examplesOf } from './entityData.js';
import { defaultEntityModelDir, EntitySentimentModel } from './entityModel.js';
import { evaluateEntities, formatEntityResults, SENTFIN_SLICES, WEST_SLICES } from './evaluate.js';

const USAGE = 'usage: npm run eval:entity -- [--model DIR] [--headline-model DIR] [--data DIR] [--json] [--confusion]';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let modelDir = defaultEntityModelDir;
  let headlineDir = defaultModelDir;
  let json = false;
  let confusion = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--model') modelDir = args[++i];
    else if (a === '--headline-model') headlineDir = args[++i];
    else if (a === '--data') dataDir = args[++i];
    else if (a === '--json') json = true;
    else if (a === '--confusion') confusion = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return;
    } else throw new TickerpulseError('INPUT_INVALID', `unknown argument ${a}\n${USAGE}`);
  }
  const split = entitySplit(dataDir);
  const entity = await EntitySentimentModel.load(modelDir, { intraOpNumThreads: 1 });
  const headline = await SentimentModel.load(headlineDir, { intraOpNumThreads: 1 });
  try {
    const sentfin = await evaluateEntities(entity, headline, examplesOf(split.holdout), SENTFIN_SLICES);
    const west = await evaluateEntities(entity, headline, examplesOf(split.extraHoldout), WEST_SLICES);
    if (json) {
      console.log(JSON.stringify({ model: entity.id, headlineModel: headline.id, sentfin: sentfin.slices, west: west.slices }, null, 2));
    } else {
      console.log(formatEntityResults(`held-out SEntFiN entities — entity model ${entity.id} vs headline model ${headline.id}`, sentfin, confusion));
      console.log(formatEntityResults('held-out SemEval / FiQA targets (gold positive / negative only)', west, confusion));
    }
  } finally {
    await entity.close();
    await headline.release();
  }
}

main().catch((err) => {
  const code = err instanceof TickerpulseError ? err.code : 'INTERNAL';
  console.error(`eval:entity failed [${code}]: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
