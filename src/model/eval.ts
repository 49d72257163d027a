/**
 * npm run eval -- [--model DIR] [--json] [--threshold 0.1] FILE.jsonl ...
 *   --model DIR: the built-in model's folder or a Hugging Face export (model.onnx +
 *   tokenizer.json + config.json), detected from its files; repeat it to compare models on
 *   the same rows (e.g. --model data/model --model models/finbert-onnx).
 * npm run eval -- [--model DIR] [--json] --split holdout [--data DIR]
 *
 * Per set: rows, accuracy, macro-F1, confusion matrix, polarity accuracy and headlines/s of the
 * model (through SentimentModel, one thread, batches of 64), and the same for the AFINN and
 * VADER lexicon baselines on the same rows.
 *
 * Files: JSON Lines with `text` and `label` (negative/neutral/positive), or `score` in [-1, 1]
 * (|score| ≥ threshold → sign; rows below the threshold are not scored), or `entities`
 * (SEntFiN-style; the majority label, ties skipped).
 * `--split holdout`: the held-out 20 % of each shared set — the split train.ts never trains on.
 */
import { join } from 'node:path';
import { TickerpulseError } from '../lib/errors.js';
import { defaultModelDir, sharedDir } from '../lib/paths.js';
import { holdoutSplit, loadJsonl, loadSharedSets, SCORE_THRESHOLD, type Row } from './data.js';
import { evaluateSet, formatResults, type SetResult } from './evaluate.js';
import type { SentimentModel } from './sentimentModel.js';
import { loadClassifier } from './hf/loadClassifier.js';

const USAGE = `usage: npm run eval -- [--model DIR]... [--json] [--threshold T] FILE.jsonl ...
       npm run eval -- [--model DIR]... [--json] --split holdout [--data DIR]
(--model: built-in or Hugging Face export folder, detected; repeat to compare models)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const modelDirs: string[] = [];
  let dataDir = join(sharedDir, 'data', 'sentiment');
  let json = false;
  let split: string | null = null;
  let threshold = SCORE_THRESHOLD;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--model') {
      const dir = args[++i];
      if (!dir) throw new TickerpulseError('INPUT_INVALID', `--model needs a folder\n${USAGE}`);
      modelDirs.push(dir);
    } else if (a === '--data') dataDir = args[++i];
    else if (a === '--json') json = true;
    else if (a === '--split') split = args[++i];
    else if (a === '--threshold') threshold = Number(args[++i]);
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return;
    } else if (a.startsWith('--')) throw new TickerpulseError('INPUT_INVALID', `unknown option ${a}\n${USAGE}`);
    else files.push(a);
  }
  if (split !== null && split !== 'holdout') throw new TickerpulseError('INPUT_INVALID', `--split must be "holdout"\n${USAGE}`);
  if (split === null && files.length === 0) throw new TickerpulseError('INPUT_INVALID', USAGE);
  const sets = new Map<string, Row[]>();
  if (split === 'holdout') {
    for (const [id, rows] of holdoutSplit(loadSharedSets(dataDir)).holdout) sets.set(id, rows);
  }
  for (const f of files) sets.set(f, loadJsonl(f, undefined, threshold));
  if (modelDirs.length === 0) modelDirs.push(defaultModelDir);
  const runs: Array<{ model: string; path: string; results: SetResult[] }> = [];
  for (const modelDir of modelDirs) {
    const model = await loadClassifier({ path: modelDir });
    const results: SetResult[] = [];
    // evaluateSet only calls classify(), which both model kinds implement.
    for (const [id, rows] of sets) results.push(await evaluateSet(model as unknown as SentimentModel, id, rows, { threshold }));
    await model.release();
    runs.push({ model: model.id, path: modelDir, results });
  }
  if (json) {
    if (runs.length === 1) console.log(JSON.stringify({ model: runs[0].model, threshold, results: runs[0].results }, null, 2));
    else console.log(JSON.stringify({ threshold, models: runs }, null, 2));
  } else {
    for (const r of runs) {
      console.log(`model ${r.model} (${r.path})${split ? ' — held-out 20 % of each shared set' : ''}`);
      console.log(formatResults(r.results));
    }
  }
}

main().catch((err) => {
  const code = err instanceof TickerpulseError ? err.code : 'INTERNAL';
  console.error(`eval failed [${code}]: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
