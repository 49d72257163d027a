/** Items and batches for the PostgreSQL store's tests: four companies, tickers on most items. */
import { itemBatch, type ItemBatch } from '../../../src/lib/messages.js';
import type { ClassifiedItem, ItemTicker, Label } from '../../../src/lib/types.js';

export const LABELS: Label[] = ['negative', 'neutral', 'positive'];
export const T0 = Date.parse('2026-11-02T09:00:00.000Z');
const COMPANIES = [
  ['Acme Robotics', 'ACME'],
  ['Globex', 'GBX'],
  ['Initech', 'INIT'],
  ['Hooli', 'HOOL'],
] as const;

/** Item `i` of a source; items with the same `i` in different sources are copies of one story. */
export function item(source: string, i: number, over: Partial<ClassifiedItem> = {}): ClassifiedItem {
  const [name, symbol] = COMPANIES[i % COMPANIES.length];
  const label = LABELS[i % 3];
  const score = label === 'positive' ? 0.8 : label === 'negative' ? -0.7 : 0.05;
  const tickers: ItemTicker[] = i % 5 === 4 ? [] : [{ symbol, via: 'name', label, score, pNeg: 0.1, pNeu: 0.2, pPos: 0.7 }];
  return {
    source,
    guid: `g-${i}`,
    url: `https://news.example.test/${source}/${i}`,
    title: `${name} event number ${i} shakes the market ${i * 7919}`,
    summary: null,
    publishedAt: new Date(T0 + i * 45_000).toISOString(),
    fetchedAt: new Date(T0 + 3_600_000).toISOString(),
    label,
    pNeg: 0.1,
    pNeu: 0.2,
    pPos: 0.7,
    score,
    model: 'test-model',
    tickers,
    ...over,
  };
}
export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
export const batch = (source: string, ids: number[], final = true, state = {}): ItemBatch => itemBatch(source, ids.map((i) => item(source, i)), final, final ? state : {});

