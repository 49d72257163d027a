/**
 * Query timings on a synthetic database (not a test; run by hand):
 *   node dist/test/query/bench.js [ITEMS=200000] [DAYS=30]
 * Items spread evenly over DAYS, ~1.3 tickers each from 800 symbols (Zipf-like), 25 sources,
 * 70 % novel, plus 20k alerts. Prints the median of several runs of each query, and compares the tickers ranking
 * from rollups (what src/query uses) with an exact one from item_tickers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ItemStore } from '../../src/store/itemStore.js';
import { executeQuery } from '../../src/query/queries.js';
import { validateParams, type ParamInput, type QueryKind } from '../../src/query/params.js';
import type { Label } from '../../src/lib/types.js';
import { insertAlerts, insertItems, type FixtureItem } from './fixtures.js';

const N = Number(process.argv[2] ?? 200_000);
const DAYS = Number(process.argv[3] ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'tickerpulse-qbench-'));
// BENCH_KEEP=FILE: keep the database in FILE (for EXPLAIN QUERY PLAN experiments).
const file = process.env.BENCH_KEEP ?? join(dir, 'bench.db');
const store = ItemStore.open(file);
const db = store.database;
const now = new Date();

let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const LABELS: Label[] = ['negative', 'neutral', 'positive'];
const symbols = Array.from({ length: 800 }, (_, i) => 'T' + i.toString(36).toUpperCase().padStart(3, 'A').replace(/[0-9]/g, (d) => 'QRSTUVWXYZ'[Number(d)]));
const zipf = () => symbols[Math.min(symbols.length - 1, Math.floor(Math.exp(rnd() * Math.log(symbols.length + 1)) - 1))];

let t0 = Date.now();
const span = DAYS * 86_400_000;
for (let done = 0; done < N; ) {
  const batch: FixtureItem[] = [];
  for (let i = 0; i < 5000 && done < N; i++, done++) {
    const label = LABELS[Math.floor(rnd() * 3)];
    const score = label === 'positive' ? rnd() : label === 'negative' ? -rnd() : rnd() * 0.2 - 0.1;
    const nt = rnd() < 0.35 ? 0 : rnd() < 0.75 ? 1 : 2;
    const tickers = [...new Set(Array.from({ length: nt }, zipf))].map((symbol) => ({ symbol }));
    batch.push({ source: 'src' + Math.floor(rnd() * 25), title: `Headline ${done} about ${tickers.map((t) => t.symbol).join(' ')}`, publishedAt: new Date(now.getTime() - span + (done / N) * span).toISOString(), label, score, tickers, novel: rnd() < 0.7 });
  }
  insertItems(db, batch);
}
const count = (sql: string) => db.prepare(sql).pluck().get() as number;
console.log(`inserted ${N} items in ${Date.now() - t0} ms: ${count('SELECT count(*) FROM item_tickers')} item_tickers rows, ${count('SELECT count(*) FROM rollups')} rollups rows (${count("SELECT count(*) FROM rollups WHERE kind = 'ticker' AND bucket = '1m'")} ticker/1m)`);
db.pragma('optimize');

function time(label: string, fn: () => unknown, runs = 15): number {
  fn(); // warm (prepares)
  const ms: number[] = [];
  let n = 0;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    n = Array.isArray(r) ? r.length : 0;
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)];
  console.log(`${label.padEnd(64)} ${med.toFixed(2).padStart(8)} ms  (${n} rows)`);
  return med;
}
const q = (kind: QueryKind, params: ParamInput) => {
  const p = validateParams(kind, params, { channel: 'http', now });
  return () => executeQuery(store, p, now).rows;
};

const top = symbols[0];
time('items (default: newest 100)', q('items', {}));
time('items limit=1000', q('items', { limit: '1000' }));
time('items since=24h sort=score', q('items', { since: '24h', sort: 'score' }));
time(`items ticker=${top} (most mentioned)`, q('items', { ticker: top }));
time(`items ticker=${symbols[700]} (rare)`, q('items', { ticker: symbols[700] }));
time('items search=zzz (no match, full scan)', q('items', { search: 'zzz' }));
time('items source=src3 label=negative since=7d', q('items', { source: 'src3', label: 'negative', since: '7d' }));
for (const since of ['1h', '24h', '48h', '7d', '30d']) time(`tickers since=${since} (rollups)`, q('tickers', { since }));
time('tickers since=24h sort=score', q('tickers', { since: '24h', sort: 'score' }));
time('tickers since=7d sort=symbol', q('tickers', { since: '7d', sort: 'symbol' }));
for (const since of ['24h', '7d', '30d']) {
  const from = new Date(now.getTime() - (since === '24h' ? 1 : since === '7d' ? 7 : 30) * 86_400_000).toISOString();
  const exact = db.prepare(`SELECT ticker AS symbol, count(*) AS items, sum(novel) AS stories, avg(CASE WHEN novel = 1 THEN score END) AS mean_score
    FROM item_tickers WHERE published_at >= ? GROUP BY ticker ORDER BY items DESC, stories DESC, symbol LIMIT 50`);
  time(`tickers since=${since} (exact, item_tickers scan)`, () => exact.all(from));
}
time(`series ticker=${top} bucket=1m (6h)`, q('series', { ticker: top, bucket: '1m' }));
time(`series ticker=${top} bucket=1h (7d)`, q('series', { ticker: top, bucket: '1h' }));
time(`series ticker=${top} bucket=1d (90d)`, q('series', { ticker: top, bucket: '1d' }));
time('series source=src3 bucket=1m since=7d', q('series', { source: 'src3', bucket: '1m', since: '7d' }));
const kinds = ['shift', 'volume', 'threshold'] as const;
insertAlerts(db, Array.from({ length: 20_000 }, (_, i) => ({ rule: 'rule' + (i % 20), kind: kinds[i % 3], ticker: zipf(), at: new Date(now.getTime() - span + (i / 20_000) * span).toISOString(), message: `alert ${i}`, value: rnd(), seqs: [1 + i * 3, 2 + i * 3, 3 + i * 3] })));
time('alerts since=24h (20k alerts over DAYS, 3 seqs each)', q('alerts', {}));
time('alerts since=30d limit=1000', q('alerts', { since: '30d', limit: '1000' }));
time(`alerts since=30d ticker=${top}`, q('alerts', { since: '30d', ticker: top }));
time('alerts since=30d sort=value', q('alerts', { since: '30d', sort: 'value' }));

// Agreement of the rollup ranking with the exact one (24h and 7d windows).
for (const [since, days] of [['24h', 1], ['7d', 7]] as const) {
  const from = new Date(now.getTime() - days * 86_400_000).toISOString();
  const exact = db.prepare(`SELECT ticker, count(*) AS items FROM item_tickers WHERE published_at >= ? GROUP BY ticker`).all(from) as { ticker: string; items: number }[];
  const ranked = executeQuery(store, validateParams('tickers', { since, limit: '1000' }, { channel: 'http', now }), now);
  const byRollup = new Map(ranked.kind === 'tickers' ? ranked.rows.map((r) => [r.symbol, r.items]) : []);
  let diff = 0;
  for (const e of exact) diff += Math.abs((byRollup.get(e.ticker) ?? 0) - e.items);
  console.log(`tickers since=${since}: rollups vs exact item counts differ by ${diff} in total over ${exact.length} tickers (${exact.reduce((a, e) => a + e.items, 0)} mentions)`);
}
t0 = Date.now();
store.close();
rmSync(dir, { recursive: true, force: true });
