/**
 * The two lexicons used as baselines in eval.ts and (hashed) as word-polarity features:
 * AFINN-165 with financial-market-news additions (MIT) and VADER (lexicon MIT, JS port
 * Apache-2.0). Both are devDependencies: only training and evaluation import this module;
 * serving reads the hashed copy stored in tokenizer.json.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function afinnLexicon(): Record<string, number> {
  const mod = require('afinn-165-financialmarketnews') as { afinn165FinancialMarketNews: Record<string, number> };
  return mod.afinn165FinancialMarketNews;
}

/** VADER lexicon: word → mean valence (−4 … 4). */
export function vaderLexicon(): Record<string, number> {
  const pkg = require.resolve('vader-sentiment/package.json');
  const text = readFileSync(join(dirname(pkg), 'vader_lexicon.txt'), 'utf8');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [word, mean] = line.split('\t');
    if (word && mean !== undefined && Number.isFinite(Number(mean))) out[word] = Number(mean);
  }
  return out;
}

interface VaderModule {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): { neg: number; neu: number; pos: number; compound: number } };
}

export function vaderCompound(text: string): number {
  const v = require('vader-sentiment') as VaderModule;
  return v.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}

/** Single-word entries as (word, integer level) for the hashed feature lexicons. */
export function featureLexicons(): { name: string; source: string; licence: string; entries: [string, number][] }[] {
  const single = (o: Record<string, number>, scale: (x: number) => number): [string, number][] =>
    Object.entries(o)
      .filter(([w]) => /^[a-z][a-z'-]*$/.test(w))
      .map(([w, x]) => [w, scale(x)] as [string, number])
      .filter(([, l]) => l !== 0);
  return [
    { name: 'afinn', source: 'afinn-165-financialmarketnews 3.0', licence: 'MIT', entries: single(afinnLexicon(), (x) => Math.round(x)) },
    { name: 'vader', source: 'vader-sentiment 1.1 (VADER lexicon, Hutto & Gilbert 2014)', licence: 'MIT (lexicon) / Apache-2.0 (JS port)', entries: single(vaderLexicon(), (x) => Math.round(x)) },
  ];
}
