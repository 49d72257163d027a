import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../../src/lib/paths.js';
import { canonicalSymbol, createLinker, type TickerDictionary, type TickerLink } from '../../workers/tickerLinker.js';

const dictionary = JSON.parse(readFileSync(join(dataDir, 'tickers', 'dictionary.json'), 'utf8')) as TickerDictionary;
const linker = createLinker(dictionary);
const syms = (text: string): string[] => linker.link(text).map((l) => l.symbol);
const one = (text: string): TickerLink => {
  const links = linker.link(text);
  assert.equal(links.length, 1, `${text} → ${JSON.stringify(links)}`);
  return links[0];
};

test('the committed dictionary has a header and one entry per company', () => {
  assert.match(String(dictionary.header.source), /SEC/);
  assert.ok(dictionary.companies.length > 5000);
  const symbols = dictionary.companies.map((c) => c.symbol);
  assert.equal(new Set(symbols).size, symbols.length);
  assert.ok(!symbols.includes('GOOG'), 'GOOG is an otherSymbol of GOOGL');
  assert.ok(symbols.includes('BRK.B') && !symbols.includes('BRK-B'));
});

test('canonical symbols', () => {
  assert.equal(canonicalSymbol('brk-b'), 'BRK.B');
  assert.equal(canonicalSymbol('BRK/B'), 'BRK.B');
  assert.equal(linker.resolve('BRK-B'), 'BRK.B');
  assert.equal(linker.resolve('GOOG'), 'GOOGL');
  assert.equal(linker.resolve('NOPEX'), null);
});

test('the traps of the issue', () => {
  assert.deepEqual(syms('Apple pie sales soar'), []);
  assert.deepEqual(one('Apple shares rise after iPhone launch'), { symbol: 'AAPL', via: 'name', start: 0, end: 5, mention: 'Apple' });
  assert.deepEqual(one('$BRK.B hits record'), { symbol: 'BRK.B', via: 'cashtag', start: 0, end: 6, mention: '$BRK.B' });
  assert.deepEqual(syms('Click to share to Facebook'), []);
  const costco = one('Costco cuts costs');
  assert.equal(costco.symbol, 'COST');
  assert.equal(costco.mention, 'Costco');
  assert.equal(costco.via, 'name');
  assert.equal(one('NYSE: KO').symbol, 'KO');
  assert.equal(one('NYSE: KO').via, 'exchange');
  assert.deepEqual(syms('Target misses earnings, shares fall'), ['TGT']);
  assert.deepEqual(syms('Hit the target'), []);
  assert.deepEqual(syms('Meta unveils new AI model'), ['META']);
});

test('nicknames link via alias', () => {
  assert.deepEqual(linker.link('Google parent beats on cloud').map((l) => [l.symbol, l.via]), [['GOOGL', 'alias']]);
  assert.deepEqual(linker.link('JP Morgan hires bankers').map((l) => [l.symbol, l.via]), [['JPM', 'alias']]);
});

test('GOOGL and GOOG are one company', () => {
  assert.deepEqual(syms('$GOOG and $GOOGL both rise as Google beats'), ['GOOGL']);
  assert.deepEqual(one('Alphabet (NASDAQ:GOOG) shares climb').via, 'exchange');
});

test('cashtags and exchange tags in their accepted forms', () => {
  for (const t of ['$BRK.B up', '$BRK-B up', '$brk.b up', 'NYSE:BRK.B up', 'Berkshire (NYSE: BRK-B) up', '(NYSE: BRK/B)']) assert.deepEqual(syms(t), ['BRK.B'], t);
  assert.deepEqual(syms('Microsoft (Nasdaq: MSFT) beats'), ['MSFT']);
  assert.equal(one('Microsoft (Nasdaq: MSFT) beats').via, 'exchange');
  assert.deepEqual(syms('NASDAQ:AAPL'), ['AAPL']);
  // unknown cashtags: kept only when they look like a ticker
  assert.deepEqual(syms('$QWXZ squeezes'), ['QWXZ']);
  assert.deepEqual(syms('costs $5 and $hello and $ABCDEFG'), []);
  // a symbol alone in prose is not a match
  assert.deepEqual(syms('COST IT ALL'), []);
  assert.deepEqual(syms('It is ALL about the COST of IT'), []);
});

test('deduplicated per symbol with the strongest evidence', () => {
  const links = linker.link('Apple earnings: $AAPL up, Apple says iPhone demand strong');
  assert.equal(links.length, 1);
  assert.equal(links[0].via, 'cashtag');
});

test('common-word names need evidence', () => {
  assert.deepEqual(syms('We ate an apple and shopped at Target yesterday'), ['TGT']); // capitalized mid-sentence
  assert.deepEqual(syms('Apple Pie Sales Soar In Autumn'), []); // title case: capitals are no evidence
  assert.deepEqual(syms('Apple Shares Rise After Earnings Beat'), ['AAPL']);
  assert.deepEqual(syms('APPLE PIE SALES SOAR'), []);
  assert.deepEqual(syms('Analysts raise their price Target for the index'), []);
  assert.deepEqual(syms('The gender pay Gap narrows'), []);
  assert.deepEqual(syms('Visa applications rise'), []);
  assert.deepEqual(syms('Harrison Ford stars in a new film'), []);
  assert.deepEqual(syms('Ford recalls 100,000 trucks'), ['F']);
  assert.deepEqual(syms('Amazon rainforest fires spread'), []);
  assert.deepEqual(syms('Apple trees bloom early'), []);
  assert.deepEqual(syms('Gap Inc. Names New Chief Marketing Officer'), ['GAP']);
  assert.deepEqual(syms('Visa rules tighten for students'), []);
  assert.deepEqual(syms('Amazon to hire 250,000 workers'), ['AMZN']);
  assert.deepEqual(syms('Follow us on Facebook'), []);
  assert.deepEqual(syms('Facebook parent sees ad revenue jump'), ['META']);
});

test('names: longest match, token boundaries, possessives, several companies', () => {
  assert.deepEqual(syms('Goldman Sachs and Morgan Stanley lead bank rally; JPMorgan lags'), ['GS', 'MS', 'JPM']);
  assert.deepEqual(syms("Coca-Cola's profit rises"), ['KO']);
  assert.deepEqual(syms('Exxon Mobil and Chevron cut spending'), ['XOM', 'CVX']);
  assert.deepEqual(syms('Nvidiaphile forums buzz'), []);
  assert.deepEqual(syms('Crude stocks rose, API says'), []); // APi Group keeps its casing
  assert.deepEqual(syms('tesla'), []); // lower case is not a name
  assert.equal(one('Johnson & Johnson wins appeal').symbol, 'JNJ');
});

test('extraAliases and watchlist', () => {
  const l = createLinker(dictionary, { extraAliases: { 'Fruit Company': 'AAPL' }, watchlist: ['ZZZT'] });
  assert.deepEqual(l.link('Fruit Company tops estimates').map((x) => [x.symbol, x.via]), [['AAPL', 'alias']]);
  assert.deepEqual(l.link('(NYSE: ZZZT) lists').map((x) => x.symbol), ['ZZZT']);
  assert.equal(l.resolve('zzzt'), 'ZZZT');
});

test('links a headline in a few microseconds', () => {
  const heads = [
    'Apple shares rise after iPhone launch',
    'Target misses earnings, shares fall',
    'Fed holds rates steady as inflation cools',
    'Goldman Sachs raises price target on Nvidia (NASDAQ: NVDA)',
    'Oil prices slip as OPEC weighs output increase',
  ];
  for (let i = 0; i < 2000; i++) linker.link(heads[i % heads.length]);
  const n = 50_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) linker.link(heads[i % heads.length]);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`# link: ${us.toFixed(2)} µs/headline`);
  assert.ok(us < 100, `${us} µs per headline`);
});
