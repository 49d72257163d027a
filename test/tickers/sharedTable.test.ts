import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { dataDir } from '../../src/lib/paths.js';
import { buildTickerTable } from '../../workers/tickerTable.js';
import { linkerFromTable, type LinkerOptions, type TickerDictionary } from '../../workers/tickerLinker.js';
import { createLinker as referenceLinker } from './referenceLinker.js';

const dictionary = JSON.parse(readFileSync(join(dataDir, 'tickers', 'dictionary.json'), 'utf8')) as TickerDictionary;

/** Headlines written for this test: traps (ordinary words, vetoes, casing), several companies, tags. */
const HEADLINES = [
  'Apple pie sales soar',
  'Apple shares rise after iPhone launch',
  '$BRK.B hits record',
  'Click to share to Facebook',
  'Costco cuts costs',
  'NYSE: KO',
  'Target misses earnings, shares fall',
  'Hit the target',
  'Meta unveils new AI model',
  'Apple Pie Sales Soar In Autumn',
  'APPLE PIE SALES SOAR',
  'Analysts raise their price Target for the index',
  'The gender pay Gap narrows',
  'Harrison Ford stars in a new film',
  'Amazon rainforest fires spread',
  "Coca-Cola's profit rises",
  'Crude stocks rose, API says',
  'tesla',
  'Johnson & Johnson wins appeal',
  'COST IT ALL',
  '$GOOG and $GOOGL both rise as Google beats',
  'Alphabet (NASDAQ:GOOG) shares climb',
  'costs $5 and $hello and $ABCDEFG',
  'Berkshire (NYSE: BRK-B) up; $brk.b and NYSE:BRK/B too',
  'Ford and General Motors trim output as chip shortage bites',
  'Shell to sell Nigerian onshore assets',
  'a Shell company was set up offshore',
  'Visa and Mastercard settle swipe-fee lawsuit',
  'Student visa rules tighten',
  'Block shares jump as Cash App users grow',
  'City council votes to block new tower',
  'Gap Inc. names new chief marketing officer',
  'Microsoft and Nvidia lead tech rally while Intel slumps',
  'Exxon Mobil, Chevron cut spending; BP holds',
  'Goldman Sachs raises price target on Nvidia (NASDAQ: NVDA)',
  'JP Morgan hires bankers for Asia push',
  'Wells Fargo’s profit beats estimates',
  'Oil prices slip as OPEC weighs output increase',
  'Fed holds rates steady as inflation cools',
  'Walmart to hire 50,000 workers; Target to cut 2,000',
  'eBay and Etsy sellers face new fees',
  'EBAY rises',
  'Morgan Stanley, Bank of America and Citigroup report on Tuesday',
  'Netflix subscribers jump; Disney streaming loss narrows',
  'Boeing (NYSE: BA) delays 777X again',
  'Is Meta a buy? Analysts weigh in',
  'The Home Depot beats; Lowe’s misses',
  'Pfizer and Moderna vaccine sales fall',
  '  ',
  '',
  'Uber, Lyft drivers strike in three cities',
  'Starbucks CEO steps down',
  'Intel’s foundry unit wins Microsoft order',
  'AMD: new chips ship in March',
  '“Apple” is not always a company',
  'General Electric splits into three companies',
  'Kraft Heinz and Mondelez raise prices',
  'American Airlines and Delta cut fares',
  'United Airlines — bookings surge',
  'Comcast - NBC owner - posts higher profit',
  // title case: only context counts, and here the context word carries a possessive
  'Berkshire Cheers Buffett’s Letter',
  'Delta Praises Bastian’s Plan',
  'Ford Hails Farley’s Plan',
];

/** Every alias, nickname and symbol of the dictionary in a few settings, so each candidate list is walked. */
function dictionaryHeadlines(): string[] {
  const out: string[] = [];
  dictionary.companies.forEach((c, k) => {
    for (const a of [...c.aliases, ...(c.nicknames ?? [])]) {
      switch (k % 4) {
        case 0:
          out.push(`${a} shares rise after earnings`, `we spoke about ${a.toLowerCase()} yesterday`);
          break;
        case 1:
          out.push(`Report: ${a} to cut jobs`, `${a.toUpperCase()} NEWS TODAY`);
          break;
        case 2:
          out.push(`The ${a} pie and the ${a}'s outlook`, `Why ${a} Could Be A Winner`);
          break;
        default:
          out.push(`${a}, ${a} and $${c.symbol} (NYSE: ${c.symbol})`, `share to ${a} now`);
      }
    }
  });
  return out;
}

function assertSameLinks(opts: LinkerOptions, texts: string[]): void {
  const old = referenceLinker(dictionary, opts);
  const neu = linkerFromTable(buildTickerTable(dictionary, opts, { shared: true }));
  assert.equal(neu.size, old.size);
  for (const t of texts) assert.deepEqual(neu.link(t), old.link(t), t);
}

test('the shared table links the written headlines exactly as the object-based linker', () => {
  assertSameLinks({}, HEADLINES);
});

test('the shared table links every dictionary name in several settings exactly as before', () => {
  const texts = dictionaryHeadlines();
  assert.ok(texts.length > 15_000);
  assertSameLinks({}, texts);
});

test('resolve and lookupName agree with the object-based linker', () => {
  const opts: LinkerOptions = { extraAliases: { 'Fruit Company': 'AAPL', 'Widget Works': 'wdgt' }, watchlist: ['ZZZT', 'brk-b'] };
  const old = referenceLinker(dictionary, opts);
  const neu = linkerFromTable(buildTickerTable(dictionary, opts));
  const symbols = dictionary.companies.flatMap((c) => [c.symbol, ...(c.otherSymbols ?? []), c.symbol.toLowerCase().replace('.', '-')]);
  for (const s of [...symbols, 'ZZZT', 'zzzt', 'WDGT', 'NOPEX', '', 'BRK/B']) assert.equal(neu.resolve(s), old.resolve(s), s);
  const names = dictionary.companies.flatMap((c) => [...c.aliases, ...(c.nicknames ?? []), c.name]);
  for (const n of [...names, 'Fruit Company', 'widget works', 'No Such Company']) assert.equal(neu.lookupName(n), old.lookupName(n), n);
});

test('extraAliases and watchlist link as before', () => {
  const opts: LinkerOptions = { extraAliases: { 'Fruit Company': 'AAPL', Acme: 'ACME' }, watchlist: ['ZZZT'] };
  assertSameLinks(opts, [...HEADLINES, 'Fruit Company tops estimates', '(NYSE: ZZZT) lists', 'Acme shares jump', '$zzzt and $ACME rally']);
});

test('a worker thread links through the SharedArrayBuffer it was given, without copying it', async () => {
  const buffer = buildTickerTable(dictionary, {});
  assert.ok(buffer instanceof SharedArrayBuffer);
  const url = new URL('../../workers/tickerLinker.js', import.meta.url).href;
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(${JSON.stringify(url)}).then(({ linkerFromTable }) => {
       const l = linkerFromTable(workerData.table);
       parentPort.postMessage({ shared: workerData.table instanceof SharedArrayBuffer, links: workerData.texts.map((t) => l.link(t)) });
     });`,
    { eval: true, workerData: { table: buffer, texts: HEADLINES } },
  );
  try {
    const reply = await new Promise<{ shared: boolean; links: unknown[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(reply.shared, true);
    const old = referenceLinker(dictionary, {});
    assert.deepEqual(reply.links, HEADLINES.map((t) => old.link(t)));
  } finally {
    await worker.terminate();
  }
});

test('a buffer that is not a ticker table is refused with a typed error', () => {
  assert.throws(() => linkerFromTable(new ArrayBuffer(64)), { code: 'INPUT_INVALID' });
});
