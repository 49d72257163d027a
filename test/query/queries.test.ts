import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TickerpulseError } from '../../src/lib/errors.js';
import { ItemStore } from '../../src/store/itemStore.js';
import { validateParams, type ParamInput, type QueryKind } from '../../src/query/params.js';
import { STORE_FAILED_MESSAGE, executeQuery, queryAlerts, queryItems, querySeries, queryTickers, windowRanges } from '../../src/query/queries.js';
import { ago, insertAlerts, insertItems } from './fixtures.js';

const now = new Date('2024-05-10T12:34:56.789Z');
let dir: string;
let store: ItemStore;
const seq: Record<string, number> = {};

const params = <K extends QueryKind>(kind: K, input: ParamInput) => validateParams(kind, input, { channel: 'http', now });
const items = (input: ParamInput) => queryItems(store, params('items', input));
const guids = (input: ParamInput) => items(input).map((i) => i.guid);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-queries-'));
  store = ItemStore.open(join(dir, 'q.db'));
  const db = store.database;
  // guid: minutes ago. a1..a4 name AAPL; m1 names MSFT and AAPL; copies (novel: false) join stories.
  const ids = insertItems(db, [
    { guid: 'a1', source: 'reuters', title: 'Apple beats estimates', publishedAt: ago(now, 10), label: 'positive', score: 0.8, tickers: [{ symbol: 'AAPL' }] },
    { guid: 'a2', source: 'ft', title: 'Apple beats estimates - FT', publishedAt: ago(now, 9), label: 'positive', score: 0.6, tickers: [{ symbol: 'AAPL' }], novel: false },
    { guid: 'm1', source: 'reuters', title: 'Microsoft and Apple sign a 50% deal', summary: 'under_score', publishedAt: ago(now, 30), label: 'neutral', score: 0.1, tickers: [{ symbol: 'MSFT', score: 0.3, label: 'positive' }, { symbol: 'AAPL', score: -0.4, label: 'negative' }] },
    { guid: 'a3', source: 'reuters', title: 'Apple recalls chargers', publishedAt: ago(now, 3 * 60), label: 'negative', score: -0.7, tickers: [{ symbol: 'AAPL' }] },
    { guid: 'b1', source: 'ft', title: 'Berkshire buys more', publishedAt: ago(now, 5 * 60), label: 'positive', score: 0.5, tickers: [{ symbol: 'BRK.B' }] },
    { guid: 'n1', source: 'ft', title: "Markets flat; it's quiet", publishedAt: ago(now, 20), label: 'neutral', score: 0.0 },
    { guid: 'old', source: 'reuters', title: 'Apple, three days ago', publishedAt: ago(now, 3 * 24 * 60), label: 'negative', score: -0.5, tickers: [{ symbol: 'AAPL' }] },
  ]);
  for (const [i, g] of ['a1', 'a2', 'm1', 'a3', 'b1', 'n1', 'old'].entries()) seq[g] = ids[i];
  // a2 is a copy of a1's story
  db.prepare('UPDATE items SET story_id = ? WHERE seq = ?').run(seq.a1, seq.a2);
  insertAlerts(db, [
    { rule: 'aapl-shift', kind: 'shift', ticker: 'AAPL', at: ago(now, 9), direction: 'up', message: 'AAPL sentiment up', value: 0.7, baseline: 0.1, deviation: 2.5, seqs: [seq.a2, seq.a1] },
    { rule: 'msft-volume', kind: 'volume', ticker: 'MSFT', at: ago(now, 30), message: 'MSFT volume spike', value: 12, seqs: [seq.m1] },
    { rule: 'aapl-shift', kind: 'shift', ticker: 'AAPL', at: ago(now, 2 * 24 * 60), direction: 'down', message: 'old', value: -0.5 },
  ]);
});
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('items', () => {
  test('newest first; filters; tickers and storyId on every item', () => {
    assert.deepEqual(guids({}), ['a2', 'a1', 'n1', 'm1', 'a3', 'b1', 'old']);
    assert.deepEqual(guids({ source: 'ft' }), ['a2', 'n1', 'b1']);
    assert.deepEqual(guids({ label: 'negative' }), ['a3', 'old']);
    assert.deepEqual(guids({ since: '24h' }), ['a2', 'a1', 'n1', 'm1', 'a3', 'b1']);
    assert.deepEqual(guids({ limit: '2' }), ['a2', 'a1']);
    const [m1] = items({ search: 'MICROSOFT' });
    assert.equal(m1.guid, 'm1');
    assert.deepEqual(m1.tickers?.map((t) => [t.symbol, t.label, t.score]), [['MSFT', 'positive', 0.3], ['AAPL', 'negative', -0.4]]);
    assert.equal(m1.storyId, seq.m1);
    assert.equal(items({ search: 'flat' })[0].tickers?.length, 0);
    assert.equal(items({ search: 'FT' })[0].storyId, seq.a1); // the copy carries its story's id
  });

  test('--ticker: every spelling, with and without other filters (both query plans)', () => {
    assert.deepEqual(guids({ ticker: 'aapl' }), ['a2', 'a1', 'm1', 'a3', 'old']);
    assert.deepEqual(guids({ ticker: 'AAPL', since: '24h', limit: '2' }), ['a2', 'a1']);
    assert.deepEqual(guids({ ticker: 'AAPL', sort: 'seq', order: 'asc' }), ['a1', 'a2', 'm1', 'a3', 'old']);
    assert.deepEqual(guids({ ticker: 'AAPL', order: 'asc', limit: '2' }), ['old', 'a3']);
    assert.deepEqual(guids({ ticker: 'AAPL', source: 'reuters' }), ['a1', 'm1', 'a3', 'old']);
    assert.deepEqual(guids({ ticker: 'AAPL', label: 'negative', since: '24h' }), ['a3']);
    assert.deepEqual(guids({ ticker: 'AAPL', sort: 'score' }), ['a1', 'a2', 'm1', 'old', 'a3']);
    assert.deepEqual(guids({ ticker: 'brk/b' }), ['b1']);
    assert.deepEqual(guids({ ticker: 'ZZZZ' }), []);
  });

  test('sort and order', () => {
    assert.deepEqual(guids({ sort: 'score' }), ['a1', 'a2', 'b1', 'm1', 'n1', 'old', 'a3']);
    assert.deepEqual(guids({ sort: 'score', order: 'asc' }), ['a3', 'old', 'n1', 'm1', 'b1', 'a2', 'a1']);
    assert.deepEqual(guids({ sort: 'seq' }), ['old', 'n1', 'b1', 'a3', 'm1', 'a2', 'a1']);
    assert.deepEqual(guids({ order: 'asc' }), ['old', 'b1', 'a3', 'm1', 'n1', 'a1', 'a2']);
  });

  test('hostile text is bound, never SQL: nothing matches, nothing is dropped', () => {
    for (const text of ["x' OR 1=1 --", "' OR '1'='1", '1; DROP TABLE items', '%', '_', '\\']) {
      assert.deepEqual(guids({ source: text }), [], text);
    }
    assert.deepEqual(guids({ search: "x' OR 1=1 --" }), []);
    assert.deepEqual(guids({ search: "'; DROP TABLE items; --" }), []);
    assert.deepEqual(guids({ search: '50%' }), ['m1']); // % and _ are literal
    assert.deepEqual(guids({ search: '_' }), ['m1']);
    assert.deepEqual(guids({ search: "it's" }), ['n1']);
    assert.equal(store.database.prepare('SELECT count(*) FROM items').pluck().get(), 7);
  });
});

describe('tickers', () => {
  const tickers = (input: ParamInput) => queryTickers(store, params('tickers', input), now);

  test('ranked by items (24 h); stories and the sentiment count each story once (its first item)', () => {
    const rows = tickers({});
    assert.deepEqual(rows.map((r) => r.symbol), ['AAPL', 'BRK.B', 'MSFT']);
    const aapl = rows[0];
    // a1 (+0.8, novel), a2 (copy, not scored), m1 (-0.4 towards AAPL), a3 (-0.7); old is outside 24 h
    assert.equal(aapl.items, 4);
    assert.equal(aapl.stories, 3);
    assert.ok(Math.abs((aapl.meanScore ?? NaN) - (0.8 - 0.4 - 0.7) / 3) < 1e-9, String(aapl.meanScore));
    assert.deepEqual([aapl.pos, aapl.neu, aapl.neg], [1, 0, 2]);
    assert.deepEqual(rows[2], { symbol: 'MSFT', items: 1, stories: 1, meanScore: 0.3, pos: 1, neu: 0, neg: 0 });
  });

  test('sort by stories, score, symbol; order; limit; since', () => {
    assert.deepEqual(tickers({ sort: 'score' }).map((r) => r.symbol), ['BRK.B', 'MSFT', 'AAPL']);
    assert.deepEqual(tickers({ sort: 'score', order: 'asc' }).map((r) => r.symbol), ['AAPL', 'MSFT', 'BRK.B']);
    assert.deepEqual(tickers({ sort: 'symbol' }).map((r) => r.symbol), ['AAPL', 'BRK.B', 'MSFT']);
    assert.deepEqual(tickers({ sort: 'symbol', order: 'desc' }).map((r) => r.symbol), ['MSFT', 'BRK.B', 'AAPL']);
    assert.deepEqual(tickers({ sort: 'items', order: 'asc' }).map((r) => r.symbol), ['BRK.B', 'MSFT', 'AAPL']);
    assert.deepEqual(tickers({ limit: '1' }).map((r) => r.symbol), ['AAPL']);
    assert.deepEqual(tickers({ since: '1h' }).map((r) => [r.symbol, r.items]), [['AAPL', 3], ['MSFT', 1]]);
    assert.deepEqual(tickers({ since: '7d' }).map((r) => [r.symbol, r.items]), [['AAPL', 5], ['BRK.B', 1], ['MSFT', 1]]);
    assert.deepEqual(tickers({ since: '2024-05-11' }), []);
  });

  test('windows up to 48 h are exact to the minute, longer ones to the hour', () => {
    // since = now - 15 min = 12:19:56.789: a1 (12:24:56) and a2 (12:25:56) are in; m1 (12:04:56) is not.
    assert.equal(tickers({ since: '15m' })[0].items, 2);
    // the minute that contains `since` counts whole: m1 (12:04:56.789) is 2 s before since (12:04:58.789)
    assert.equal(tickers({ since: '1798s' })[0].items, 3);
    assert.equal(tickers({ since: '1850s' })[0].items, 3);
    assert.equal(tickers({ since: '1730s' })[0].items, 2);
    const r = windowRanges(new Date('2024-05-09T12:19:56.789Z'), now);
    assert.deepEqual(r, { fine: '1m', coarse: '1h', fineFrom: '2024-05-09T12:19:00.000Z', coarseFrom: '2024-05-09T13:00:00.000Z' });
    assert.deepEqual(windowRanges(new Date('2024-05-01T12:19:56.789Z'), now), { fine: '1h', coarse: '1d', fineFrom: '2024-05-01T12:00:00.000Z', coarseFrom: '2024-05-02T00:00:00.000Z' });
    // 3 days back to the minute of `old` (published 2024-05-07T12:34:56.789Z): the hour 12:00 counts whole
    assert.equal(tickers({ since: '2024-05-07T12:50:00Z' }).find((t) => t.symbol === 'AAPL')?.items, 5);
    assert.equal(tickers({ since: '2024-05-07T13:00:00Z' }).find((t) => t.symbol === 'AAPL')?.items, 4);
  });
});

describe('series', () => {
  const series = (input: ParamInput) => querySeries(store, params('series', input));

  test('a ticker by hour, ascending, only buckets with items; the first bucket contains since', () => {
    const rows = series({ ticker: 'AAPL', bucket: '1h', since: '24h' });
    assert.deepEqual(rows.map((r) => [r.start, r.items, r.stories]), [
      ['2024-05-10T09:00:00.000Z', 1, 1],
      ['2024-05-10T12:00:00.000Z', 3, 2],
    ]);
    assert.ok(Math.abs((rows[1].meanScore ?? NaN) - 0.2) < 1e-9); // (0.8 - 0.4) / 2: the copy a2 is not scored
    assert.deepEqual([rows[1].pos, rows[1].neu, rows[1].neg], [1, 0, 1]);
    assert.equal(series({ ticker: 'AAPL', bucket: '1h', since: '2024-05-10T12:59:00Z' }).length, 1);
    assert.equal(series({ ticker: 'AAPL', bucket: '1h', since: '2024-05-10T13:00:00Z' }).length, 0);
  });

  test('minutes, days, sources; meanScore null in a bucket of copies only', () => {
    const mins = series({ ticker: 'AAPL', bucket: '1m' });
    assert.deepEqual(mins.map((r) => r.start.slice(11, 16)), ['09:34', '12:04', '12:24', '12:25']);
    assert.deepEqual(mins[3], { start: '2024-05-10T12:25:00.000Z', items: 1, stories: 0, meanScore: null, pos: 0, neu: 0, neg: 0 });
    assert.deepEqual(series({ ticker: 'AAPL', bucket: '1d' }).map((r) => [r.start.slice(0, 10), r.items]), [['2024-05-07', 1], ['2024-05-10', 4]]);
    const ft = series({ source: 'ft', bucket: '1h' });
    assert.deepEqual(ft.map((r) => [r.start.slice(11, 13), r.items]), [['07', 1], ['12', 2]]);
    assert.deepEqual(series({ source: "ft' OR 1=1 --", bucket: '1h' }), []);
    assert.deepEqual(series({ ticker: 'ZZZ', bucket: '1h' }), []);
  });
});

describe('alerts', () => {
  const alerts = (input: ParamInput) => queryAlerts(store, params('alerts', input));

  test('last 24 h, newest first, with their item seqs ascending', () => {
    const rows = alerts({});
    assert.deepEqual(rows.map((a) => a.rule), ['aapl-shift', 'msft-volume']);
    assert.deepEqual(rows[0], {
      id: rows[0].id,
      rule: 'aapl-shift',
      kind: 'shift',
      ticker: 'AAPL',
      at: ago(now, 9),
      direction: 'up',
      message: 'AAPL sentiment up',
      value: 0.7,
      baseline: 0.1,
      deviation: 2.5,
      seqs: [seq.a1, seq.a2],
      createdAt: ago(now, 9),
      deliveredAt: null,
      deliveryError: null,
      seq: Math.max(seq.a1, seq.a2),
    });
    assert.equal(rows[1].direction, null);
    assert.equal(rows[1].baseline, null);
  });

  test('filters: since, ticker, rule, kind; sort by value; limit', () => {
    assert.equal(alerts({ since: '7d' }).length, 3);
    assert.deepEqual(alerts({ since: '7d', ticker: 'aapl' }).map((a) => a.message), ['AAPL sentiment up', 'old']);
    assert.deepEqual(alerts({ rule: 'msft-volume' }).map((a) => a.ticker), ['MSFT']);
    assert.deepEqual(alerts({ kind: 'volume' }).map((a) => a.ticker), ['MSFT']);
    assert.deepEqual(alerts({ kind: 'threshold' }), []);
    assert.deepEqual(alerts({ since: '7d', sort: 'value' }).map((a) => a.value), [12, 0.7, -0.5]);
    assert.deepEqual(alerts({ since: '7d', sort: 'value', order: 'asc' }).map((a) => a.value), [-0.5, 0.7, 12]);
    assert.equal(alerts({ since: '7d', limit: '1' }).length, 1);
    assert.deepEqual(alerts({ since: '7d', ticker: 'AAPL', order: 'asc' })[0].seqs, []);
  });
});

describe('store failures', () => {
  const sqlText = /SELECT|FROM|rollups|no such|sqlite|not open/i;

  test('a SQLite error becomes STORE_FAILED with a generic message; the detail is only in cause', () => {
    const other = ItemStore.open(join(dir, 'broken.db'));
    try {
      other.database.exec('DROP VIEW rollup_means; DROP TABLE rollups; DROP TABLE alert_items');
      for (const [kind, input] of [['tickers', {}], ['series', { ticker: 'AAPL', bucket: '1h' }], ['alerts', {}]] as const) {
        let caught: unknown;
        try {
          executeQuery(other, params(kind, input), now);
        } catch (e) {
          caught = e;
        }
        assert.ok(caught instanceof TickerpulseError, kind);
        assert.equal(caught.code, 'STORE_FAILED', kind);
        assert.equal(caught.message, STORE_FAILED_MESSAGE, kind);
        assert.doesNotMatch(caught.message, sqlText, kind);
        assert.match(String((caught.cause as Error).message), /no such table/, kind); // for the log
        assert.equal(caught.details?.sqliteCode, 'SQLITE_ERROR', kind);
      }
      assert.deepEqual(executeQuery(other, params('items', {}), now).rows, []);
    } finally {
      other.close();
    }
  });

  test('a closed store: STORE_FAILED, generic message', () => {
    const other = ItemStore.open(join(dir, 'closed.db'));
    executeQuery(other, params('items', {}), now); // statement cached on this connection
    other.close();
    assert.throws(() => executeQuery(other, params('items', {}), now), (e: unknown) => e instanceof TickerpulseError && e.code === 'STORE_FAILED' && e.message === STORE_FAILED_MESSAGE);
  });
});
