/**
 * Lexicon baselines the model is compared with (eval.ts, MODEL_CARD.md):
 *  - AFINN-165 + financial-market-news words: sum of word scores; > 0 positive, < 0 negative.
 *  - VADER: compound ≥ 0.05 positive, ≤ −0.05 negative (the authors' standard rule).
 */
import type { Label } from '../lib/types.js';
import { afinnLexicon, vaderCompound } from './lexicons.js';

let afinn: Map<string, number> | null = null;

function afinnMap(): Map<string, number> {
  if (!afinn) afinn = new Map(Object.entries(afinnLexicon()));
  return afinn;
}

/** AFINN sum over words, also matching the lexicon's two- and three-word phrases. */
export function afinnScore(text: string): number {
  const lex = afinnMap();
  const words = text.toLowerCase().match(/[a-z][a-z'-]*/g) ?? [];
  let sum = 0;
  for (let i = 0; i < words.length; i++) {
    const tri = i + 2 < words.length ? lex.get(`${words[i]} ${words[i + 1]} ${words[i + 2]}`) : undefined;
    if (tri !== undefined) {
      sum += tri;
      i += 2;
      continue;
    }
    const bi = i + 1 < words.length ? lex.get(`${words[i]} ${words[i + 1]}`) : undefined;
    if (bi !== undefined) {
      sum += bi;
      i += 1;
      continue;
    }
    sum += lex.get(words[i]) ?? 0;
  }
  return sum;
}

export function afinnLabel(text: string): Label {
  const s = afinnScore(text);
  return s > 0 ? 'positive' : s < 0 ? 'negative' : 'neutral';
}

export function vaderLabel(text: string): Label {
  const c = vaderCompound(text);
  return c >= 0.05 ? 'positive' : c <= -0.05 ? 'negative' : 'neutral';
}

export const BASELINES: { name: string; label: (text: string) => Label }[] = [
  { name: 'afinn-165-financialmarketnews', label: afinnLabel },
  { name: 'vader', label: vaderLabel },
];
