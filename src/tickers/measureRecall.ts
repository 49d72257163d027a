/**
 * Linking recall of workers/tickerLinker.ts on the company/target fields of the labelled sets in
 * ../shared/data/sentiment (SemEval-2017 task 5 headlines: `company`; FiQA 2018: `target`).
 *
 *   npm run build && node dist/src/tickers/measureRecall.js
 *
 * A row counts when its company/target is a company the dictionary knows (decided by the
 * dictionary itself: a symbol or `$symbol` it resolves, or a name equal to one of its aliases
 * after the legal suffixes are dropped); recall = the share of those rows whose text the linker
 * links to that company. Coverage = the share of rows (and of distinct targets) the dictionary
 * knows at all. Prints figures only: no text of the data sets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sharedDir } from '../lib/paths.js';
import { createLinker, type TickerDictionary, type TickerLinker } from '../../workers/tickerLinker.js';
import { DICTIONARY_PATH, cleanLegalName } from './buildDictionary.js';

export interface RecallFigures {
  set: string;
  rows: number;
  distinctTargets: number;
  knownRows: number;
  knownDistinct: number;
  /** Known rows whose company is listed on NYSE/Nasdaq/Cboe (not OTC-only). */
  mainListedRows: number;
  linked: number;
  mainListedLinked: number;
  /** Known rows where the linker also linked some other symbol. */
  withOtherSymbols: number;
}

/**
 * `symbols`: also accept a bare ticker as the target (FiQA posts name cashtag targets `AAPL`);
 * SemEval names companies ("IAG" there is International Airlines Group, not the SEC's IAG).
 */
export function targetSymbol(linker: TickerLinker, target: string, symbols = true): string | null {
  const t = target.trim();
  if (symbols && /^\$?[A-Za-z]{1,5}(?:[.\-/][A-Za-z]{1,2})?$/.test(t) && (t.startsWith('$') || t === t.toUpperCase())) {
    const s = linker.resolve(t.replace(/^\$/, ''));
    if (s) return s;
  }
  return linker.lookupName(t) ?? linker.lookupName(cleanLegalName(t)) ?? null;
}

export function measure(linker: TickerLinker, dictionary: TickerDictionary, set: string, rows: Array<{ text: string; target: string }>, symbols = true): RecallFigures {
  const exchangeOf = new Map(dictionary.companies.map((c) => [c.symbol, c.exchange] as const));
  const main = (s: string): boolean => ['NYSE', 'Nasdaq', 'CBOE'].includes(exchangeOf.get(s) ?? '');
  const f: RecallFigures = { set, rows: rows.length, distinctTargets: 0, knownRows: 0, knownDistinct: 0, mainListedRows: 0, linked: 0, mainListedLinked: 0, withOtherSymbols: 0 };
  const targets = new Set<string>();
  const known = new Set<string>();
  for (const r of rows) {
    targets.add(r.target);
    const sym = targetSymbol(linker, r.target, symbols);
    if (!sym) continue;
    known.add(r.target);
    f.knownRows++;
    const links = linker.link(r.text).map((l) => l.symbol);
    const hit = links.includes(sym);
    if (hit) f.linked++;
    if (links.some((s) => s !== sym)) f.withOtherSymbols++;
    if (main(sym)) {
      f.mainListedRows++;
      if (hit) f.mainListedLinked++;
    }
  }
  f.distinctTargets = targets.size;
  f.knownDistinct = known.size;
  return f;
}

function readRows(file: string, field: string): Array<{ text: string; target: string }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((o) => ({ text: String(o.text ?? ''), target: String(o[field] ?? '') }));
}

const pct = (a: number, b: number): string => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(1)} %`);

function main(): void {
  const dictionary = JSON.parse(readFileSync(DICTIONARY_PATH, 'utf8')) as TickerDictionary;
  const linker = createLinker(dictionary);
  const dir = join(sharedDir, 'data', 'sentiment');
  const sets: Array<[string, string, string, boolean]> = [
    ['SemEval-2017 headlines', 'semeval17-headlines-train.jsonl', 'company', false],
    ['FiQA 2018', 'fiqa18-train.jsonl', 'target', true],
  ];
  console.log('| set | rows | coverage (rows) | coverage (distinct targets) | known rows on NYSE/Nasdaq | recall (all known) | recall (NYSE/Nasdaq) | rows with another symbol too |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, file, field, symbols] of sets) {
    const p = join(dir, file);
    if (!existsSync(p)) {
      console.log(`| ${name} | (absent: ${p}) |`);
      continue;
    }
    const f = measure(linker, dictionary, name, readRows(p, field), symbols);
    console.log(
      `| ${name} | ${f.rows} | ${f.knownRows} (${pct(f.knownRows, f.rows)}) | ${f.knownDistinct} of ${f.distinctTargets} (${pct(f.knownDistinct, f.distinctTargets)}) | ${f.mainListedRows} | ${f.linked} of ${f.knownRows} (${pct(f.linked, f.knownRows)}) | ${f.mainListedLinked} of ${f.mainListedRows} (${pct(f.mainListedLinked, f.mainListedRows)}) | ${pct(f.withOtherSymbols, f.knownRows)} |`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
