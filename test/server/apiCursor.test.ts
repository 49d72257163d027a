/**
 * `/api/items` cursor pagination: walking `before=` (newest first) and `after=` (oldest first)
 * by following the `Link: <…>; rel="next"` header visits every item exactly once, also with a
 * filter and in CSV; bad cursors are 400 INPUT_INVALID in the house error shape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ItemStore } from '../../src/store/itemStore.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { insertItems, type FixtureItem } from '../query/fixtures.js';

const N = 3000;
const log = pino({ level: 'silent' });
let dir: string;
let store: ItemStore;
let srv: RunningServer;
let seqs: number[];
let acme: Set<number>;
let wireA: Set<number>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-cursor-'));
  store = ItemStore.open(join(dir, 'cursor.db'));
  const t0 = Date.parse('2026-02-01T00:00:00.000Z');
  const items: FixtureItem[] = Array.from({ length: N }, (_, i) => ({
    source: i % 3 === 0 ? 'wire-a' : 'wire-b',
    title: `Cursor item ${i}`,
    // Publication order differs from seq order: a cursor must page by seq regardless.
    publishedAt: new Date(t0 + ((i * 7919) % N) * 1000).toISOString(),
    label: 'neutral',
    score: 0,
    tickers: i % 5 === 0 ? [{ symbol: 'ACME' }] : [],
  }));
  seqs = insertItems(store.database, items);
  acme = new Set(seqs.filter((_, i) => i % 5 === 0));
  wireA = new Set(seqs.filter((_, i) => i % 3 === 0));
  srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log, limits: { apiMaxLimit: 1000 } });
});
after(async () => {
  await srv?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Page {
  status: number;
  body: string;
  next: string | null;
}
async function get(path: string): Promise<Page> {
  const res = await fetch(srv.url + path);
  const link = res.headers.get('link');
  const m = link ? /^<([^>]+)>; rel="next"$/.exec(link) : null;
  if (link) assert.ok(m, `Link header shape: ${link}`);
  return { status: res.status, body: await res.text(), next: m ? m[1] : null };
}

/** Follows rel="next" from `first`; returns every seq seen, in order, and the number of pages. */
async function walk(first: string, rowsOf: (body: string) => number[] = (b) => (JSON.parse(b) as { seq: number }[]).map((r) => r.seq)): Promise<{ seqs: number[]; pages: number }> {
  const out: number[] = [];
  let path: string | null = first;
  let pages = 0;
  while (path !== null) {
    const p = await get(path);
    assert.equal(p.status, 200, `${path}: ${p.body}`);
    out.push(...rowsOf(p.body));
    path = p.next;
    if (++pages > 1000) throw new Error('the walk does not end');
  }
  return { seqs: out, pages };
}

const desc = (xs: Iterable<number>) => [...xs].sort((a, b) => b - a);
const asc = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

describe('/api/items cursors', () => {
  test('before=: from the newest (sort=seq) back to the first item, each exactly once', async () => {
    const r = await walk('/api/items?sort=seq&limit=250');
    assert.deepEqual(r.seqs, desc(seqs));
    assert.ok(r.pages >= N / 250, `${r.pages} pages`);
  });

  test('after=0: from the oldest forward, each exactly once', async () => {
    const r = await walk('/api/items?after=0&limit=300');
    assert.deepEqual(r.seqs, asc(seqs));
  });

  test('both bounds: the range (after, before), walked back', async () => {
    const lo = seqs[1000];
    const hi = seqs[2000];
    const r = await walk(`/api/items?after=${lo}&before=${hi}&limit=128`);
    assert.deepEqual(r.seqs, desc(seqs.filter((s) => s > lo && s < hi)));
  });

  test('with filters: ticker (the ticker index path) and source, both directions', async () => {
    assert.deepEqual((await walk('/api/items?ticker=ACME&before=999999999&limit=97')).seqs, desc(acme));
    assert.deepEqual((await walk('/api/items?ticker=ACME&after=0&limit=97')).seqs, asc(acme));
    assert.deepEqual((await walk('/api/items?source=wire-a&after=0&limit=333')).seqs, asc(wireA));
  });

  test('csv pages carry the Link too', async () => {
    const rowsOf = (body: string) =>
      body
        .split('\r\n')
        .slice(1)
        .filter(Boolean)
        .map((l) => Number(l.slice(0, l.indexOf(','))));
    assert.deepEqual((await walk('/api/items?format=csv&sort=seq&limit=400', rowsOf)).seqs, desc(seqs));
  });

  test('no Link on a short page, nor on a page not in seq order (the default sort=published)', async () => {
    assert.equal((await get(`/api/items?after=${seqs[N - 10]}&limit=50`)).next, null);
    assert.equal((await get('/api/items?limit=5')).next, null);
    const full = await get('/api/items?sort=seq&limit=5');
    assert.match(full.next ?? '', /^\/api\/items\?/);
    const next = new URL(full.next!, 'http://x').searchParams;
    assert.equal(next.get('before'), String(desc(seqs)[4]));
    assert.equal(next.get('sort'), 'seq');
    assert.equal(next.get('limit'), '5');
  });

  test('bad cursors: 400 INPUT_INVALID naming the parameter, nothing else leaks', async () => {
    for (const q of ['before=-1', 'before=abc', 'after=1.5', 'after=', 'before=99999999999999999', 'after=1&after=2', 'before=0x10', 'sort=published&before=5', 'sort=score&after=1']) {
      const r = await get(`/api/items?${q}`);
      assert.equal(r.status, 400, q);
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INPUT_INVALID', q);
      assert.match(body.error.message, /before|after/, q);
      assert.doesNotMatch(body.error.message, /SELECT|sqlite/i, q);
    }
  });

  test('cursor parameters are only for items', async () => {
    const r = await get('/api/alerts?before=5');
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'INPUT_INVALID');
  });
});
