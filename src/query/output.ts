/**
 * CSV layouts of the four query kinds, shared by `tickerpulse query --format csv` and
 * `/api/*?format=csv` (JSON shapes are in src/server/wire.ts: they are the protocol's).
 */
import type { ItemTicker, StoredAlert, StoredItem } from '../lib/types.js';
import { csvRows, toCsv, type CsvColumn } from './csv.js';
import type { QueryResult, SeriesRow, TickerRow } from './queries.js';

/** `AAPL+0.81 MSFT-0.40`: each ticker with its score (the items table and CSV column). */
export function formatTickers(tickers: readonly Pick<ItemTicker, 'symbol' | 'score'>[] | undefined): string {
  if (!tickers || tickers.length === 0) return '';
  return tickers.map((t) => t.symbol + (t.score >= 0 ? '+' : '') + t.score.toFixed(2)).join(' ');
}

export const ITEM_CSV: readonly CsvColumn<StoredItem>[] = [
  { header: 'seq', value: (i) => i.seq },
  { header: 'publishedAt', value: (i) => i.publishedAt ?? i.fetchedAt },
  { header: 'source', value: (i) => i.source },
  { header: 'label', value: (i) => i.label },
  { header: 'score', value: (i) => i.score },
  { header: 'pNeg', value: (i) => i.pNeg },
  { header: 'pNeu', value: (i) => i.pNeu },
  { header: 'pPos', value: (i) => i.pPos },
  { header: 'title', value: (i) => i.title },
  { header: 'url', value: (i) => i.url },
  { header: 'guid', value: (i) => i.guid },
  { header: 'summary', value: (i) => i.summary },
  { header: 'fetchedAt', value: (i) => i.fetchedAt },
  { header: 'model', value: (i) => i.model },
  { header: 'dateMissing', value: (i) => i.dateMissing === true },
  { header: 'tickers', value: (i) => formatTickers(i.tickers) },
  { header: 'storyId', value: (i) => i.storyId ?? null },
];

const AGG = <T extends TickerRow | SeriesRow>(): CsvColumn<T>[] => [
  { header: 'items', value: (r) => r.items },
  { header: 'stories', value: (r) => r.stories },
  { header: 'meanScore', value: (r) => r.meanScore },
  { header: 'pos', value: (r) => r.pos },
  { header: 'neu', value: (r) => r.neu },
  { header: 'neg', value: (r) => r.neg },
];

export const TICKER_CSV: readonly CsvColumn<TickerRow>[] = [{ header: 'symbol', value: (r) => r.symbol }, ...AGG<TickerRow>()];
export const SERIES_CSV: readonly CsvColumn<SeriesRow>[] = [{ header: 'start', value: (r) => r.start }, ...AGG<SeriesRow>()];

export const ALERT_CSV: readonly CsvColumn<StoredAlert>[] = [
  { header: 'id', value: (a) => a.id },
  { header: 'at', value: (a) => a.at },
  { header: 'rule', value: (a) => a.rule },
  { header: 'kind', value: (a) => a.kind },
  { header: 'ticker', value: (a) => a.ticker },
  { header: 'direction', value: (a) => a.direction },
  { header: 'value', value: (a) => a.value },
  { header: 'baseline', value: (a) => a.baseline },
  { header: 'deviation', value: (a) => a.deviation },
  { header: 'message', value: (a) => a.message },
  { header: 'seqs', value: (a) => a.seqs.join(' ') },
  { header: 'createdAt', value: (a) => a.createdAt },
  { header: 'deliveredAt', value: (a) => a.deliveredAt },
];

/** `header: false`: the rows only (the chunks after the first of a streamed export). */
export function resultToCsv(r: QueryResult, header = true): string {
  const rows = <T>(columns: readonly CsvColumn<T>[], data: readonly T[]) => (header ? toCsv(columns, data) : csvRows(columns, data));
  switch (r.kind) {
    case 'items':
      return rows(ITEM_CSV, r.rows);
    case 'tickers':
      return rows(TICKER_CSV, r.rows);
    case 'series':
      return rows(SERIES_CSV, r.rows);
    case 'alerts':
      return rows(ALERT_CSV, r.rows);
  }
}
