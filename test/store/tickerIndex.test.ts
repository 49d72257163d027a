/**
 * The index by ticker is filled in batches (src/store/tickerIndex.ts): whatever the batch
 * boundary, every reader (the item_tickers view, ItemStore.query, src/query, reclassify's
 * rollup rebuild) sees each (ticker, item) row exactly once.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ItemStore } from '../../src/store/itemStore.js';
import { migrations } from '../../src/store/migrations.js';
import { queryItems } from '../../src/query/queries.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import type { ClassifiedItem, ItemTicker, Label } from '../../src/lib/types.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-tickerindex-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const dbPath = () => join(dir, `t${++n}.db`);

const tk = (symbol: string, label: Label = 'positive', score = 0.5): ItemTicker => ({ symbol, via: 'name', label, score, pNeg: 0.1, pNeu: 0.2, pPos: 0.7 });

let guid = 0;
function item(tickers: ItemTicker[], minute: number): ClassifiedItem {
  const g = `g${++guid}`;
  return {
    source: 'a',
    guid: g,
    url: null,
    title: `Headline ${g}`,
    summary: null,
    publishedAt: new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString(),
    fetchedAt: '2026-06-01T00:00:00.000Z',
    label: 'neutral',
    pNeg: 0.2,
    pNeu: 0.6,
    pPos: 0.2,
    score: 0,
    model: 'm1',
    tickers: tickers.length ? tickers : undefined,
  };
}

function rows(file: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}
const through = (file: string) => Number(rows(file, "SELECT value FROM meta WHERE key = 'ticker_index_through'")[0].value);
const indexed = (file: string) => rows(file, 'SELECT ticker, seq FROM ticker_index ORDER BY ticker, seq').map((r) => `${r.ticker}:${r.seq}`);
const viewRows = (file: string) => rows(file, 'SELECT ticker, seq, via, label, score, published_at FROM item_tickers ORDER BY ticker, seq');
const params = (ticker: string, over: Partial<Parameters<typeof queryItems>[1]> = {}) =>
  ({ kind: 'items', format: 'json', ticker, limit: 100, sort: 'seq', order: 'desc', ...over }) as Parameters<typeof queryItems>[1];

describe('ticker index built in batches', () => {
  test('items wait for the index until a batch; the view, query() and src/query see every row once either way', () => {
    const file = dbPath();
    const s = ItemStore.open(file, { tickerIndexLag: 5 });
    const a = s.commitPoll('a', [item([tk('AAPL'), tk('MSFT', 'negative', -0.4)], 0), item([tk('AAPL')], 1), item([], 2)], {});
    // 3 items < lag 5: nothing indexed yet, all of it visible
    assert.equal(through(file), 0);
    assert.deepEqual(indexed(file), []);
    assert.deepEqual(viewRows(file).map((r) => `${r.ticker}:${r.seq}`), [`AAPL:${a[0].seq}`, `AAPL:${a[1].seq}`, `MSFT:${a[0].seq}`]);
    assert.deepEqual(viewRows(file)[2], { ticker: 'MSFT', seq: a[0].seq, via: 'name', label: 'negative', score: -0.4, published_at: a[0].publishedAt });
    assert.deepEqual(s.query({ ticker: 'AAPL' }).map((i) => i.seq), [a[1].seq, a[0].seq]);
    assert.deepEqual(queryItems(s, params('AAPL')).map((i) => i.seq), [a[1].seq, a[0].seq]);

    // the commit that makes 5 waiting items indexes all of them, in its own transaction
    const b = s.commitPoll('a', [item([tk('AAPL')], 3), item([tk('KO')], 4)], {});
    assert.equal(through(file), b[1].seq);
    assert.deepEqual(indexed(file), [`AAPL:${a[0].seq}`, `AAPL:${a[1].seq}`, `AAPL:${b[0].seq}`, `KO:${b[1].seq}`, `MSFT:${a[0].seq}`]);
    // … and one more waits again: readers merge both parts, newest first, no duplicates
    const c = s.commitPoll('a', [item([tk('AAPL'), tk('KO')], 5)], {});
    assert.equal(through(file), b[1].seq);
    assert.equal(viewRows(file).length, 7);
    const aapl = [c[0].seq, b[0].seq, a[1].seq, a[0].seq];
    assert.deepEqual(s.query({ ticker: 'AAPL' }).map((i) => i.seq), aapl);
    assert.deepEqual(queryItems(s, params('AAPL')).map((i) => i.seq), aapl);
    assert.deepEqual(queryItems(s, params('AAPL', { limit: 2 })).map((i) => i.seq), aapl.slice(0, 2));
    assert.deepEqual(queryItems(s, params('AAPL', { order: 'asc', limit: 3 })).map((i) => i.seq), aapl.slice().reverse().slice(0, 3));
    assert.deepEqual(queryItems(s, params('AAPL', { sort: 'published', since: new Date(b[0].publishedAt!) })).map((i) => i.seq), aapl.slice(0, 2));
    // the general path (another filter alongside the ticker)
    assert.deepEqual(queryItems(s, params('KO', { source: 'a' })).map((i) => i.seq), [c[0].seq, b[1].seq]);
    assert.deepEqual(queryItems(s, params('TSLA')), []);

    // at shutdown the daemon indexes the rest
    s.indexTickers();
    assert.equal(through(file), c[0].seq);
    assert.equal(indexed(file).length, 7);
    assert.equal(viewRows(file).length, 7);
    s.close();
  });

  test('a malformed ticker entry aborts its commit (nothing stored); a hand-broken tickers value never blocks later batches', () => {
    const file = dbPath();
    const s = ItemStore.open(file, { tickerIndexLag: 2 });
    const bad = [{ ...tk('AAPL'), score: Number.NaN }, { ...tk('AAPL'), via: 'guess' }, { ...tk('AAPL'), symbol: '' }] as ItemTicker[];
    for (const t of bad) {
      assert.throws(
        () => s.commitPoll('a', [item([tk('KO')], 0), item([t], 1)], { cursor: 'x' }),
        (err: unknown) => err instanceof TickerpulseError && err.code === 'INPUT_INVALID' && /malformed ticker/.test(err.message),
      );
    }
    assert.equal(s.countItems(), 0);
    assert.equal(s.getSourceState('a'), null);

    const [first] = s.commitPoll('a', [item([tk('KO')], 0)], {});
    const db = new Database(file);
    db.prepare('UPDATE items SET tickers = ? WHERE seq = ?').run('{not json', first.seq);
    db.close();
    // the broken row is skipped by readers and by the batch; the commit and its batch go through
    const next = s.commitPoll('a', [item([tk('KO')], 1), item([tk('KO')], 2)], {});
    assert.equal(through(file), next[1].seq);
    assert.deepEqual(indexed(file), [`KO:${next[0].seq}`, `KO:${next[1].seq}`]);
    assert.deepEqual(s.query({ ticker: 'KO' }).map((i) => i.seq), [next[1].seq, next[0].seq]);
    s.close();
  });

  test('rewriting an item’s tickers (reclassify) keeps indexed and waiting items consistent', () => {
    const file = dbPath();
    const s = ItemStore.open(file, { tickerIndexLag: 2 });
    const [x, y] = s.commitPoll('a', [item([tk('AAPL')], 0), item([tk('AAPL')], 1)], {}); // indexed
    const [z] = s.commitPoll('a', [item([tk('AAPL')], 2)], {}); // waiting
    assert.equal(through(file), y.seq);
    const db = new Database(file);
    const rewrite = db.prepare('UPDATE items SET tickers = ? WHERE seq = ?');
    rewrite.run(JSON.stringify([tk('MSFT', 'negative', -0.7)]), x.seq);
    rewrite.run(JSON.stringify([tk('MSFT', 'negative', -0.7)]), z.seq);
    db.prepare('DELETE FROM items WHERE seq = ?').run(y.seq);
    db.close();
    assert.deepEqual(indexed(file), [`MSFT:${x.seq}`]);
    assert.deepEqual(viewRows(file).map((r) => `${r.ticker}:${r.seq}:${r.label}`), [`MSFT:${x.seq}:negative`, `MSFT:${z.seq}:negative`]);
    assert.deepEqual(s.query({ ticker: 'AAPL' }), []);
    s.indexTickers();
    assert.deepEqual(indexed(file), [`MSFT:${x.seq}`, `MSFT:${z.seq}`]);
    assert.equal(viewRows(file).length, 2);
    s.close();
  });

  test('a version-2 database (ticker rows in the item_tickers table) is migrated: its rows count as indexed, nothing twice', () => {
    const file = dbPath();
    const raw = new Database(file);
    raw.exec(migrations[0].sql);
    raw.exec(migrations[1].sql);
    raw.pragma('user_version = 2');
    const tickers = JSON.stringify([tk('AAPL'), tk('KO', 'negative', -0.3)]);
    const info = raw
      .prepare(`INSERT INTO items (source, guid, title, published_at, fetched_at, label, p_neg, p_neu, p_pos, score, model, tickers)
                VALUES ('a', 'old', 'Old', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'neutral', 0.1, 0.8, 0.1, 0, 'm', ?)`)
      .run(tickers);
    const old = Number(info.lastInsertRowid);
    const put = raw.prepare("INSERT INTO item_tickers (ticker, seq, via, label, score, published_at) VALUES (?, ?, 'name', ?, ?, '2026-01-01T00:00:00.000Z')");
    put.run('AAPL', old, 'positive', 0.5);
    put.run('KO', old, 'negative', -0.3);
    raw.close();

    const s = ItemStore.open(file, { tickerIndexLag: 100 });
    assert.equal(through(file), old);
    assert.deepEqual(indexed(file), [`AAPL:${old}`, `KO:${old}`]);
    const [fresh] = s.commitPoll('a', [item([tk('AAPL')], 1)], {});
    assert.deepEqual(viewRows(file).map((r) => `${r.ticker}:${r.seq}`), [`AAPL:${old}`, `AAPL:${fresh.seq}`, `KO:${old}`]);
    assert.deepEqual(s.query({ ticker: 'AAPL' }).map((i) => i.seq), [fresh.seq, old]);
    // the triggers were recreated on the index: rewriting the migrated item's tickers moves its rows
    s.close();
    const db = new Database(file);
    db.prepare('UPDATE items SET tickers = ? WHERE seq = ?').run(JSON.stringify([tk('MSFT')]), old);
    db.close();
    assert.deepEqual(indexed(file), [`MSFT:${old}`]);
  });
});
