import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { ItemStore, itemFromRow, type ItemRow } from '../../src/store/itemStore.js';
import { startServer, type RunningServer, type ServerLimits } from '../../src/server/server.js';
import { alertsInSeqRange } from '../../src/query/queries.js';
import type { StoredAlert, StoredItem } from '../../src/lib/types.js';
import { ago, insertAlerts, insertItems } from '../query/fixtures.js';

const log = pino({ level: 'silent' });
let dir: string;
let nDb = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-api-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Env {
  store: ItemStore;
  srv: RunningServer;
  close(): Promise<void>;
}

async function open(limits?: Partial<ServerLimits>): Promise<Env> {
  const store = ItemStore.open(join(dir, `api${++nDb}.db`));
  const srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log, limits });
  return {
    store,
    srv,
    close: async () => {
      await srv.close();
      store.close();
    },
  };
}

/** Words only leaked SQL or SQLite error text would contain. */
const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|ORDER BY|LIMIT)\b/; // upper case: messages may say "limit", "from 1 to 1000"
const SQL_NAMES = /item_tickers|rollups|alert_items|sqlite|no such|syntax error/i;
function assertNoSql(text: string, what: string): void {
  assert.doesNotMatch(text, SQL_KEYWORDS, what);
  assert.doesNotMatch(text, SQL_NAMES, what);
}

async function get(env: Env, path: string, init?: RequestInit): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(env.srv.url + path, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}
async function json<T = Record<string, unknown>[]>(env: Env, path: string): Promise<T> {
  const r = await get(env, path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  assert.match(r.type, /^application\/json/);
  return JSON.parse(r.text) as T;
}

describe('HTTP query API', () => {
  let env: Env;
  const now = new Date();
  const seq: Record<string, number> = {};

  before(async () => {
    env = await open();
    const ids = insertItems(env.store.database, [
      { guid: 'a1', source: 'reuters', title: 'Apple beats estimates', publishedAt: ago(now, 10), label: 'positive', score: 0.8, tickers: [{ symbol: 'AAPL' }, { symbol: 'MSFT', score: -0.4, label: 'negative' }] },
      { guid: 'x1', source: 'ft', title: '=HYPERLINK("http://evil.example","click")', publishedAt: ago(now, 20), label: 'neutral', score: 0 },
      { guid: 'a2', source: 'ft', title: 'Apple, again', publishedAt: ago(now, 90), label: 'negative', score: -0.6, tickers: [{ symbol: 'AAPL' }] },
    ]);
    ['a1', 'x1', 'a2'].forEach((g, i) => (seq[g] = ids[i]));
    insertAlerts(env.store.database, [{ rule: 'aapl-shift', kind: 'shift', ticker: 'AAPL', at: ago(now, 10), direction: 'up', message: 'AAPL, "up"', value: 0.8, baseline: 0.1, deviation: 3, seqs: [seq.a1] }]);
  });
  after(() => env.close());

  test('/api/items: items carry tickers and storyId; sort, order, ticker, limit', async () => {
    const items = await json(env, '/api/items');
    assert.deepEqual(items.map((i) => i.guid), ['a1', 'x1', 'a2']);
    assert.deepEqual(items[0].tickers, [{ symbol: 'AAPL', label: 'positive', score: 0.8 }, { symbol: 'MSFT', label: 'negative', score: -0.4 }]);
    assert.equal(items[0].storyId, seq.a1);
    assert.deepEqual(items[1].tickers, []);
    assert.deepEqual((await json(env, '/api/items?sort=score&order=asc')).map((i) => i.guid), ['a2', 'x1', 'a1']);
    assert.deepEqual((await json(env, '/api/items?ticker=aapl&limit=1')).map((i) => i.guid), ['a1']);
    assert.deepEqual((await json(env, '/api/items?ticker=AAPL&order=asc')).map((i) => i.guid), ['a2', 'a1']);
  });

  test('/api/tickers, /api/series, /api/alerts', async () => {
    const tickers = await json(env, '/api/tickers');
    assert.ok(Math.abs((tickers[0].meanScore as number) - 0.1) < 1e-9, String(tickers[0].meanScore)); // (0.8 - 0.6) / 2
    assert.deepEqual(tickers, [
      { symbol: 'AAPL', items: 2, stories: 2, meanScore: tickers[0].meanScore, pos: 1, neu: 0, neg: 1 },
      { symbol: 'MSFT', items: 1, stories: 1, meanScore: -0.4, pos: 0, neu: 0, neg: 1 },
    ]);
    assert.deepEqual((await json(env, '/api/tickers?sort=symbol&order=desc&since=1h')).map((t) => t.symbol), ['MSFT', 'AAPL']);

    const series = await json(env, '/api/series?ticker=AAPL&bucket=1m');
    assert.deepEqual(series.map((r) => r.items), [1, 1]);
    assert.ok((series[0].start as string) < (series[1].start as string));
    assert.deepEqual(Object.keys(series[0]).sort(), ['items', 'meanScore', 'neg', 'neu', 'pos', 'start', 'stories']);
    assert.equal((await json(env, '/api/series?source=ft&bucket=1d')).length >= 1, true);

    const alerts = await json(env, '/api/alerts?ticker=AAPL');
    assert.deepEqual(alerts, [{ id: alerts[0].id, rule: 'aapl-shift', kind: 'shift', ticker: 'AAPL', at: ago(now, 10), direction: 'up', message: 'AAPL, "up"', value: 0.8, baseline: 0.1, deviation: 3, seqs: [seq.a1], createdAt: ago(now, 10), seq: seq.a1, deliveryError: null }]);
    assert.deepEqual(await json(env, '/api/alerts?kind=volume'), []);
  });

  test('?format=csv: text/csv, header row, RFC 4180 quoting, formula cells defused', async () => {
    let r = await get(env, '/api/items?format=csv');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/csv; charset=utf-8/);
    const rows = r.text.split('\r\n');
    assert.equal(rows[0], 'seq,publishedAt,source,label,score,pNeg,pNeu,pPos,title,url,guid,summary,fetchedAt,model,dateMissing,tickers,storyId');
    assert.equal(rows.length, 5); // header, 3 items, '' after the last CRLF
    assert.match(rows[1], /,AAPL\+0\.80 MSFT-0\.40,\d+$/);
    assert.ok(r.text.includes(`,"'=HYPERLINK(""http://evil.example"",""click"")",`), r.text);
    assert.ok(!/,=HYPERLINK/.test(r.text));

    r = await get(env, '/api/tickers?format=csv');
    assert.match(r.type, /^text\/csv/);
    assert.equal(r.text.split('\r\n')[0], 'symbol,items,stories,meanScore,pos,neu,neg');
    assert.match(r.text.split('\r\n')[2], /^MSFT,1,1,-0\.4,0,0,1$/); // a negative number is not prefixed
    r = await get(env, '/api/series?ticker=AAPL&bucket=1h&format=csv');
    assert.equal(r.text.split('\r\n')[0], 'start,items,stories,meanScore,pos,neu,neg');
    r = await get(env, '/api/alerts?format=csv');
    assert.equal(r.text.split('\r\n')[0], 'id,at,rule,kind,ticker,direction,value,baseline,deviation,message,seqs,createdAt,deliveredAt');
    assert.ok(r.text.includes(',"AAPL, ""up""",'));

    const head = await fetch(env.srv.url + '/api/tickers?format=csv', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(await head.text(), '');
  });

  test('hostile and bad parameters: 400 INPUT_INVALID naming the parameter, no SQL text', async () => {
    const cases: [string, RegExp][] = [
      ['/api/items?ticker=' + encodeURIComponent("x' OR 1=1 --"), /^ticker must be a symbol/],
      ['/api/items?ticker=' + encodeURIComponent('1; DROP TABLE items'), /^ticker must be a symbol/],
      ['/api/series?bucket=1h&ticker=' + encodeURIComponent("x' OR 1=1 --"), /^ticker must be a symbol/],
      ['/api/alerts?ticker=' + encodeURIComponent("AAPL' --"), /^ticker must be a symbol/],
      ['/api/items?sort=secret', /^sort must be one of published, seq, score/],
      ['/api/items?sort=' + encodeURIComponent('seq; --'), /^sort must be one of published, seq, score/],
      ['/api/items?sort=' + encodeURIComponent('score DESC; DROP TABLE items'), /^sort must be one of/],
      ['/api/tickers?sort=published', /^sort must be one of items, stories, score, symbol/],
      ['/api/items?order=sideways', /^order must be one of asc, desc/],
      ['/api/items?limit=1e9', /^limit must be an integer from 1 to 1000/],
      ['/api/items?limit=1000000000', /^limit must be an integer from 1 to 1000/],
      ['/api/tickers?limit=1001', /^limit must be an integer from 1 to 1000/],
      ['/api/items?search=' + 'A'.repeat(10_000), /^search is longer than 200 characters$/],
      ['/api/items?nope=1', /^unknown parameter "nope" for items \(allowed: /],
      ['/api/tickers?ticker=AAPL', /^unknown parameter "ticker" for tickers/],
      ['/api/items?ticker=AAPL&ticker=MSFT', /^ticker given more than once$/],
      ['/api/items?since=yesterday', /^since must be a duration/],
      ['/api/series?ticker=AAPL', /^bucket is required/],
      ['/api/series?ticker=AAPL&bucket=5m', /^bucket must be one of 1m, 1h, 1d/],
      ['/api/series?bucket=1h', /^series needs exactly one of ticker or source$/],
      ['/api/alerts?kind=' + encodeURIComponent("shift' OR 1=1"), /^kind must be one of shift, volume, threshold/],
      ['/api/items?format=table', /^format must be one of json, csv/],
    ];
    for (const [path, msg] of cases) {
      const r = await get(env, path);
      assert.equal(r.status, 400, path);
      assert.match(r.type, /^application\/json/, path);
      const body = JSON.parse(r.text) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(body), ['error'], path);
      assert.equal(body.error.code, 'INPUT_INVALID', path);
      assert.match(body.error.message, msg, path);
      assertNoSql(r.text, path);
      assert.ok(r.text.length < 400, `${path}: ${r.text.length} bytes`);
    }
    // nothing was dropped or changed
    assert.equal(env.store.database.prepare('SELECT count(*) FROM items').pluck().get(), 3);
    assert.equal((await json(env, '/api/items')).length, 3);
  });

  test('/healthz and the placeholder page still work', async () => {
    assert.equal((await get(env, '/healthz')).status, 200);
    const page = await get(env, '/');
    assert.equal(page.status, 200);
    assert.ok(page.text.includes('/api/tickers'));
    assert.equal((await get(env, '/api/nothing')).status, 404);
  });
});

describe('HTTP query API: store failures', () => {
  test('a failing query → 500 STORE_FAILED with a generic message, no SQL text', async () => {
    const env = await open();
    try {
      env.store.database.exec('DROP VIEW rollup_means; DROP TABLE rollups; DROP TABLE alert_items');
      for (const path of ['/api/tickers', '/api/series?ticker=AAPL&bucket=1h', '/api/alerts', '/api/alerts?format=csv']) {
        const r = await get(env, path);
        assert.equal(r.status, 500, path);
        const body = JSON.parse(r.text) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'STORE_FAILED', path);
        assert.equal(body.error.message, 'the database could not answer the query', path);
        assertNoSql(r.text, path);
      }
      assert.equal((await get(env, '/api/items')).status, 200);
    } finally {
      await env.close();
    }
  });
});

// ------------------------------------------------------------------------------ WebSocket

interface Msg {
  type: string;
  [k: string]: unknown;
}

function client(url: string): { ws: WebSocket; msgs: Msg[] } {
  const ws = new WebSocket(url);
  const msgs: Msg[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as Msg));
  ws.on('error', () => {});
  return { ws, msgs };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function stored(env: Env, n: number, tickers = false): StoredItem[] {
  const now = new Date();
  const before = env.store.database.prepare('SELECT coalesce(max(seq), 0) FROM items').pluck().get() as number;
  insertItems(
    env.store.database,
    Array.from({ length: n }, (_, i) => ({ source: 'ws', title: `Headline ${i}`, publishedAt: ago(now, n - i), label: 'neutral' as const, score: 0, tickers: tickers ? [{ symbol: 'AAPL' }] : [] })),
  );
  return (env.store.database.prepare('SELECT * FROM items WHERE seq > ? ORDER BY seq').all(before) as ItemRow[]).map(itemFromRow);
}

/** An alert stored as the commit whose newest item is the last of `seqs` stores it (alerts.seq). */
function alert(env: Env, seqs: number[]): StoredAlert {
  const [id] = insertAlerts(env.store.database, [{ rule: 'r1', kind: 'volume', ticker: 'AAPL', at: new Date().toISOString(), message: 'AAPL volume', value: 5, seqs }]);
  return alertsInSeqRange(env.store, 0, Number.MAX_SAFE_INTEGER).find((a) => a.id === id)!;
}

describe('WebSocket: items carry tickers and storyId; broadcastAlert', () => {
  test('a live client gets item messages with tickers/storyId, then {"type":"alert"}', async () => {
    const env = await open();
    try {
      const c = client(env.srv.url.replace('http:', 'ws:') + '/ws');
      await until(() => c.msgs.length >= 1, 'hello');
      const items = stored(env, 2, true);
      env.srv.broadcast(items);
      const a = alert(env, items.map((i) => i.seq));
      env.srv.broadcastAlert(a);
      await until(() => c.msgs.length >= 4, 'items and alert');
      assert.deepEqual(c.msgs.map((m) => m.type), ['hello', 'item', 'item', 'alert']);
      const item = c.msgs[1].item as Record<string, unknown>;
      assert.deepEqual(item.tickers, [{ symbol: 'AAPL', label: 'neutral', score: 0 }]);
      assert.equal(item.storyId, items[0].seq);
      assert.deepEqual(c.msgs[3], {
        type: 'alert',
        alert: { id: a.id, rule: 'r1', kind: 'volume', ticker: 'AAPL', at: a.at, direction: null, message: 'AAPL volume', value: 5, baseline: null, deviation: null, seqs: items.map((i) => i.seq), createdAt: a.createdAt, seq: items[1].seq, deliveryError: null },
      });
      c.ws.close();
    } finally {
      await env.close();
    }
  });

  test('?since replays the alerts too, each right after the item of its seq, once, even when its queue overflowed or its broadcast came late', async () => {
    const env = await open({ replayPageSize: 10, maxReplayQueue: 2 });
    try {
      const history = stored(env, 3000);
      // Raised while the client was away, by the commit whose newest item was history[9].
      const a0 = alert(env, [history[5].seq, history[9].seq]);
      const c = client(env.srv.url.replace('http:', 'ws:') + '/ws?since=0');
      await until(() => c.msgs.length >= 1, 'hello');
      const live = stored(env, 5);
      env.srv.broadcast(live); // overflows the queue of 2 while replaying: the replay reads them from the store
      const a1 = alert(env, [live[4].seq]);
      env.srv.broadcastAlert(a1);
      // Stored with the same commit, but its broadcast is late: the replay has read it by then.
      const a2 = alert(env, [live[2].seq, live[4].seq]);
      await until(() => c.msgs.filter((m) => m.type === 'item').length >= 3005 && env.srv.stats().replaying === 0, 'replay and live items');
      env.srv.broadcastAlert(a2);
      const more = stored(env, 2);
      env.srv.broadcast(more);
      const a3 = alert(env, [more[1].seq]);
      env.srv.broadcastAlert(a3);
      await until(() => c.msgs.some((m) => m.type === 'alert' && (m.alert as { id: number }).id === a3.id), 'the live alert');
      await sleep(50);
      const stream = c.msgs.slice(1).map((m) => (m.type === 'item' ? `i${(m.item as { seq: number }).seq}` : `a${(m.alert as { id: number }).id}`));
      const expected = [
        ...history.slice(0, 10).map((i) => `i${i.seq}`),
        `a${a0.id}`,
        ...history.slice(10).map((i) => `i${i.seq}`),
        ...live.map((i) => `i${i.seq}`),
        `a${a1.id}`,
        `a${a2.id}`,
        ...more.map((i) => `i${i.seq}`),
        `a${a3.id}`,
      ];
      assert.deepEqual(stream, expected, 'items in seq order, each alert once, right after the newest item of its commit');
      const replayed = c.msgs.find((m) => m.type === 'alert') as unknown as { alert: Record<string, unknown> };
      assert.equal(replayed.alert.seq, history[9].seq);
      c.ws.close();
    } finally {
      await env.close();
    }
  });
});
