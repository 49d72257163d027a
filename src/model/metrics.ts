/** Classification metrics over the three labels (negative, neutral, positive). */
import type { Label } from '../lib/types.js';

export const METRIC_LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

/** confusion[gold][predicted], rows and columns in METRIC_LABELS order. */
export type Confusion = number[][];

export function confusion(gold: readonly Label[], pred: readonly Label[]): Confusion {
  if (gold.length !== pred.length) throw new Error('confusion: gold and pred differ in length');
  const m = METRIC_LABELS.map(() => METRIC_LABELS.map(() => 0));
  for (let i = 0; i < gold.length; i++) {
    const g = METRIC_LABELS.indexOf(gold[i]);
    const p = METRIC_LABELS.indexOf(pred[i]);
    if (g < 0 || p < 0) throw new Error(`confusion: unknown label ${gold[i]} / ${pred[i]}`);
    m[g][p]++;
  }
  return m;
}

export function accuracy(gold: readonly Label[], pred: readonly Label[]): number {
  if (gold.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === pred[i]) ok++;
  return ok / gold.length;
}

/**
 * Macro-averaged F1 over the labels that occur in gold or predictions (a label absent from
 * both is left out rather than counted as F1 = 0, so two-class sets are not penalised).
 */
export function macroF1(gold: readonly Label[], pred: readonly Label[]): number {
  const m = confusion(gold, pred);
  let sum = 0;
  let n = 0;
  for (let c = 0; c < METRIC_LABELS.length; c++) {
    const tp = m[c][c];
    let goldC = 0;
    let predC = 0;
    for (let k = 0; k < METRIC_LABELS.length; k++) {
      goldC += m[c][k];
      predC += m[k][c];
    }
    if (goldC === 0 && predC === 0) continue;
    const f1 = goldC + predC === 0 ? 0 : (2 * tp) / (goldC + predC);
    sum += f1;
    n++;
  }
  return n === 0 ? 0 : sum / n;
}

export interface Scores {
  rows: number;
  accuracy: number;
  macroF1: number;
  confusion: Confusion;
}

export function scores(gold: readonly Label[], pred: readonly Label[]): Scores {
  return { rows: gold.length, accuracy: accuracy(gold, pred), macroF1: macroF1(gold, pred), confusion: confusion(gold, pred) };
}

/** The confusion matrix as aligned text lines (rows = gold, columns = predicted). */
export function formatConfusion(m: Confusion, indent = '    '): string {
  const short = ['neg', 'neu', 'pos'];
  const w = Math.max(5, ...m.flat().map((x) => String(x).length + 1));
  const lines = [indent + 'gold\\pred'.padEnd(10) + short.map((s) => s.padStart(w)).join('')];
  m.forEach((row, i) => lines.push(indent + short[i].padEnd(10) + row.map((x) => String(x).padStart(w)).join('')));
  return lines.join('\n');
}
