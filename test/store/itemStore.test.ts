import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { ItemStore } from '../../src/store/itemStore.js';
import { SCHEMA_VERSION, migrations } from '../../src/store/migrations.js';
import { parseSince, parseLimit, canonicalTime } from '../../src/store/filters.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import type { ClassifiedItem, Label, StoredAlert, StoredItem } from '../../src/lib/types.js';
import { alertsInSeqRange } from '../../src/query/queries.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-store-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const dbPath = () => join(dir, `t${++n}`, 'store.db');

const LABELS: Label[] = ['negative', 'neutral', 'positive'];
function item(source: string, guid: string, over: Partial<ClassifiedItem> = {}): ClassifiedItem {
  const i = Number(guid.replace(/\D/g, '')) || 0;
  return {
    source,
    guid,
    url: `https://example.com/${source}/${guid}`,
    title: `Headline ${guid}`,
    summary: `Summary for ${guid}`,
    publishedAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
    fetchedAt: '2024-06-01T00:00:00.000Z',
    label: LABELS[i % 3],
    pNeg: 0.1,
    pNeu: 0.2,
    pPos: 0.7,
    score: 0.6,
    model: 'test-model',
    ...over,
  };
}

function isStoreError(code: string) {
  return (err: unknown) => err instanceof TickerpulseError && err.code === code;
}

describe('ItemStore: open and migrations', () => {
  test('fresh database is migrated, WAL, and reopening is idempotent', () => {
    const path = dbPath();
    const s = ItemStore.open(path);
    assert.equal(s.latestSeq(), 0);
    assert.equal(s.countItems(), 0);
    assert.ok(s.healthy());
    s.commitPoll('a', [item('a', 'g1')], { etag: 'e1' });
    s.close();
    assert.equal(s.healthy(), false);
    s.close(); // idempotent

    const raw = new Database(path);
    assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    const tables = raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    for (const t of ['dead_letters', 'items', 'sources']) assert.ok(tables.includes(t), `table ${t}`);
    raw.close();

    const again = ItemStore.open(path);
    assert.equal(again.countItems(), 1);
    assert.equal(again.getSourceState('a')?.etag, 'e1');
    again.close();
  });

  test('migration versions are consecutive from 1', () => {
    migrations.forEach((m, i) => assert.equal(m.version, i + 1));
    assert.equal(SCHEMA_VERSION, migrations.length);
  });

  test('a database from a newer version is refused with STORE_FAILED', () => {
    const path = dbPath();
    ItemStore.open(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => ItemStore.open(path), (err: unknown) => isStoreError('STORE_FAILED')(err) && /newer/.test((err as Error).message));
  });

  test("another application's SQLite file is refused", () => {
    const path = join(dir, 'foreign.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE foo (x)');
    raw.close();
    assert.throws(() => ItemStore.open(path), isStoreError('STORE_FAILED'));
  });

  test('readonly: missing file is a clear STORE_FAILED; writes are refused', () => {
    assert.throws(() => ItemStore.open(join(dir, 'nope', 'missing.db'), { readonly: true }), (err: unknown) => isStoreError('STORE_FAILED')(err) && /not found/.test((err as Error).message));
    const path = dbPath();
    const w = ItemStore.open(path);
    w.commitPoll('a', [item('a', 'g1')], {});
    const r = ItemStore.open(path, { readonly: true });
    assert.equal(r.countItems(), 1);
    assert.throws(() => r.commitPoll('a', [item('a', 'g2')], {}), isStoreError('STORE_FAILED'));
    // the reader sees the writer's later commits (WAL: concurrent reader and writer)
    w.commitPoll('a', [item('a', 'g2')], {});
    assert.equal(r.countItems(), 2);
    r.close();
    w.close();
  });
});

describe('ItemStore: commitPoll', () => {
  test('dedupes by (source, guid) across polls and within a poll; returns only new rows in seq order', () => {
    const s = ItemStore.open(dbPath());
    const first = s.commitPoll('a', [item('a', 'g1'), item('a', 'g2'), item('a', 'g1')], { etag: 'e1' });
    assert.deepEqual(first.map((i) => i.guid), ['g1', 'g2']);
    assert.ok(first[0].seq > 0 && first[1].seq > first[0].seq);
    const second = s.commitPoll('a', [item('a', 'g2'), item('a', 'g3')], { etag: 'e2' });
    assert.deepEqual(second.map((i) => i.guid), ['g3']);
    assert.ok(second[0].seq > first[1].seq);
    // same guid under another source is a different item
    const other = s.commitPoll('b', [item('b', 'g1')], {});
    assert.equal(other.length, 1);
    assert.equal(s.countItems(), 4);
    assert.equal(s.latestSeq(), other[0].seq);
    // returned rows equal what a read returns
    assert.deepEqual(s.itemsAfter(0, 10), [...first, ...second, ...other]);
    const st = s.getSourceState('a');
    assert.equal(st?.etag, 'e2');
    assert.equal((st as { itemsTotal?: number }).itemsTotal, 3);
    s.close();
  });

  test('stored item mapping: camelCase, ISO times, dateMissing', () => {
    const s = ItemStore.open(dbPath());
    const [x, y] = s.commitPoll('a', [
      item('a', 'g1', { publishedAt: '2024-05-01T15:45:00+02:00', url: null, summary: null }),
      item('a', 'g2', { publishedAt: null, fetchedAt: '2024-06-02T10:00:00Z' }),
    ], {});
    assert.equal(x.publishedAt, '2024-05-01T13:45:00.000Z');
    assert.equal(x.dateMissing, false);
    assert.equal(x.url, null);
    assert.equal(x.summary, null);
    assert.equal(y.publishedAt, '2024-06-02T10:00:00.000Z');
    assert.equal(y.fetchedAt, '2024-06-02T10:00:00.000Z');
    assert.equal(y.dateMissing, true);
    assert.deepEqual(Object.keys(x).sort(), ['dateMissing', 'fetchedAt', 'guid', 'label', 'model', 'novel', 'pNeg', 'pNeu', 'pPos', 'publishedAt', 'score', 'seq', 'source', 'storyId', 'summary', 'tickers', 'title', 'url']);
    s.close();
  });

  test('items and state commit together: a failing item rolls back items AND state', () => {
    const s = ItemStore.open(dbPath());
    s.commitPoll('a', [item('a', 'g1')], { etag: 'before', cursor: '10' });
    const bad = item('a', 'g3', { title: null as unknown as string }); // NOT NULL violation
    assert.throws(
      () => s.commitPoll('a', [item('a', 'g2'), bad, item('a', 'g4')], { etag: 'after', cursor: '20' }),
      (err: unknown) => isStoreError('STORE_FAILED')(err) && /NOT NULL/.test((err as Error).message),
    );
    assert.equal(s.countItems(), 1);
    assert.equal(s.knownGuids('a', ['g2']).size, 0);
    const st = s.getSourceState('a');
    assert.equal(st?.etag, 'before');
    assert.equal(st?.cursor, '10');
    // a bad label (CHECK) is also fatal, not silently skipped
    assert.throws(() => s.commitPoll('a', [item('a', 'g5', { label: 'meh' as Label })], { etag: 'x' }), isStoreError('STORE_FAILED'));
    assert.equal(s.getSourceState('a')?.etag, 'before');
    // the store still works afterwards
    assert.equal(s.commitPoll('a', [item('a', 'g2')], { etag: 'after' }).length, 1);
    s.close();
  });

  test('kill -9 mid-stream: the stored cursor always matches the stored items', async () => {
    const path = dbPath();
    ItemStore.open(path).close();
    const storeUrl = new URL('../../src/store/itemStore.js', import.meta.url).href;
    // The child commits 100-item polls as fast as it can, cursor = items stored so far.
    const code = `
      const { ItemStore } = await import(${JSON.stringify(storeUrl)});
      const s = ItemStore.open(${JSON.stringify(path)});
      let total = 0;
      for (let poll = 0; ; poll++) {
        const items = [];
        for (let i = 0; i < 100; i++, total++) items.push({ source: 'k', guid: 'g' + total, url: null, title: 't' + total, summary: null,
          publishedAt: '2024-01-01T00:00:00.000Z', fetchedAt: '2024-01-01T00:00:00.000Z', label: 'neutral', pNeg: 0, pNeu: 1, pPos: 0, score: 0, model: 'm' });
        s.commitPoll('k', items, { cursor: String(total) });
        if (poll === 20) process.stdout.write('running');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`child wrote nothing within 60 s: ${stderr}`)), 60_000);
        child.stdout.once('data', () => resolve());
        child.once('exit', (c) => reject(new Error(`child exited early (${c}): ${stderr}`)));
        void exited.finally(() => clearTimeout(deadline));
        child.stdout.once('data', () => clearTimeout(deadline));
      });
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    } finally {
      // Also when it never started writing: a child left running would keep the test runner alive.
      child.kill('SIGKILL');
      await exited;
    }
    const s = ItemStore.open(path);
    const count = s.countItems();
    assert.ok(count >= 2100, `${count} items`);
    assert.equal(s.getSourceState('k')?.cursor, String(count));
    assert.equal(s.latestSeq(), count);
    s.close();
  });

  test('an item whose source differs from the poll source is rejected', () => {
    const s = ItemStore.open(dbPath());
    assert.throws(() => s.commitPoll('a', [item('b', 'g1')], {}), isStoreError('INPUT_INVALID'));
    assert.equal(s.countItems(), 0);
    s.close();
  });

  test('state upsert touches only provided fields; errors are counted', () => {
    const s = ItemStore.open(dbPath());
    assert.equal(s.getSourceState('a'), null);
    s.commitPoll('a', [], { etag: 'e1', lastModified: 'lm1', cursor: 'c1', lastPollAt: '2024-01-01T00:00:00.000Z' });
    s.commitPoll('a', [], { cursor: 'c2', etag: undefined });
    let st = s.getSourceState('a')!;
    assert.equal(st.etag, 'e1');
    assert.equal(st.lastModified, 'lm1');
    assert.equal(st.cursor, 'c2');
    assert.equal(st.consecutiveErrors, 0);
    s.commitPoll('a', [], { consecutiveErrors: 1, lastError: 'FEED_TIMEOUT: slow' }, { code: 'FEED_TIMEOUT', message: 'slow' });
    s.commitPoll('a', [], { consecutiveErrors: 2 }, { code: 'FEED_TIMEOUT', message: 'slow' });
    st = s.getSourceState('a')!;
    assert.equal(st.consecutiveErrors, 2);
    assert.equal(st.lastError, 'FEED_TIMEOUT: slow');
    assert.equal((st as { errorsTotal?: number }).errorsTotal, 2);
    // explicit null clears a field
    s.commitPoll('a', [], { etag: null, consecutiveErrors: 0, lastError: null });
    st = s.getSourceState('a')!;
    assert.equal(st.etag, null);
    assert.equal(st.lastError, null);
    assert.equal(st.lastModified, 'lm1');
    s.commitPoll('b', [], {});
    assert.deepEqual(s.listSourceStates().map((x) => x.id), ['a', 'b']);
    s.close();
  });

  test('seq is never reused (AUTOINCREMENT), even after deleting the newest rows', () => {
    const path = dbPath();
    const s = ItemStore.open(path);
    const rows = s.commitPoll('a', [item('a', 'g1'), item('a', 'g2')], {});
    const raw = new Database(path);
    raw.prepare('DELETE FROM items WHERE seq = ?').run(rows[1].seq);
    raw.close();
    const [next] = s.commitPoll('a', [item('a', 'g3')], {});
    assert.ok(next.seq > rows[1].seq);
    s.close();
  });
});

describe('ItemStore: reads', () => {
  test('knownGuids chunks long lists and is per source', () => {
    const s = ItemStore.open(dbPath());
    const items = Array.from({ length: 1200 }, (_, i) => item('a', `g${i}`));
    s.commitPoll('a', items, {});
    s.commitPoll('b', [item('b', 'x1')], {});
    const ask = [...items.map((i) => i.guid), 'new1', 'new2', 'x1'];
    const known = s.knownGuids('a', ask);
    assert.equal(known.size, 1200);
    assert.ok(!known.has('new1') && !known.has('x1'));
    assert.deepEqual([...s.knownGuids('b', ask)], ['x1']);
    assert.equal(s.knownGuids('a', []).size, 0);
    s.close();
  });

  test('latestSeq, itemsAfter (ascending, limited), countItems', () => {
    const s = ItemStore.open(dbPath());
    const rows = s.commitPoll('a', Array.from({ length: 10 }, (_, i) => item('a', `g${i}`)), {});
    assert.equal(s.latestSeq(), rows[9].seq);
    assert.equal(s.countItems(), 10);
    const after = s.itemsAfter(rows[2].seq, 4);
    assert.deepEqual(after.map((r) => r.seq), rows.slice(3, 7).map((r) => r.seq));
    assert.deepEqual(s.itemsAfter(rows[9].seq, 10), []);
    s.close();
  });

  test('query: filters, newest first by published_at then seq, escaping, limits', () => {
    const s = ItemStore.open(dbPath());
    const now = Date.now();
    const at = (minAgo: number) => new Date(now - minAgo * 60_000).toISOString();
    s.commitPoll('wire', [
      item('wire', 'w1', { title: 'ACME shares plunge 50%', label: 'negative', publishedAt: at(300) }),
      item('wire', 'w2', { title: 'Markets flat', summary: 'ACME_CORP unchanged', label: 'neutral', publishedAt: at(30) }),
      item('wire', 'w3', { title: 'Record profit at Globex', label: 'positive', publishedAt: at(10) }),
      item('wire', 'w4', { title: 'Same minute, later seq', label: 'positive', publishedAt: at(10) }),
    ], {});
    s.commitPoll('blog', [item('blog', 'b1', { title: 'acme recovers', label: 'positive', publishedAt: at(5) })], {});

    assert.deepEqual(s.query({}).map((i) => i.guid), ['b1', 'w4', 'w3', 'w2', 'w1']);
    assert.deepEqual(s.query({ source: 'wire', limit: 2 }).map((i) => i.guid), ['w4', 'w3']);
    assert.deepEqual(s.query({ label: 'positive' }).map((i) => i.guid), ['b1', 'w4', 'w3']);
    assert.deepEqual(s.query({ since: new Date(now - 60 * 60_000) }).map((i) => i.guid), ['b1', 'w4', 'w3', 'w2']);
    assert.deepEqual(s.query({ search: 'ACME' }).map((i) => i.guid), ['b1', 'w2', 'w1']); // case-insensitive, title or summary
    assert.deepEqual(s.query({ search: '50%' }).map((i) => i.guid), ['w1']); // % is literal
    assert.deepEqual(s.query({ search: '_' }).map((i) => i.guid), ['w2']); // _ is literal
    assert.deepEqual(s.query({ search: 'e_C' }).map((i) => i.guid), ['w2']);
    assert.deepEqual(s.query({ source: 'wire', label: 'positive', since: new Date(now - 20 * 60_000), search: 'record' }).map((i) => i.guid), ['w3']);
    assert.deepEqual(s.query({ source: 'nobody' }), []);
    assert.throws(() => s.query({ label: 'bad' as Label }), isStoreError('INPUT_INVALID'));
    assert.throws(() => s.query({ limit: 0 }), isStoreError('INPUT_INVALID'));
    assert.throws(() => s.query({ since: new Date('nope') }), isStoreError('INPUT_INVALID'));
    s.close();
  });

  test('dead letters are stored with a JSON payload', () => {
    const path = dbPath();
    const s = ItemStore.open(path);
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    s.addDeadLetters('a', [
      { guid: 'g1', payload: { title: 'x', n: 1 }, code: 'MODEL_RUN_FAILED', message: 'boom', attempts: 3 },
      { guid: null, payload: circular, code: 'FEED_PARSE_FAILED', message: 'bad xml', attempts: 1 },
      { guid: null, payload: undefined, code: 'INTERNAL', message: 'nothing', attempts: 1 },
    ]);
    s.close();
    const raw = new Database(path, { readonly: true });
    const rows = raw.prepare('SELECT source, guid, payload, code, message, attempts FROM dead_letters ORDER BY id').all() as { payload: string; guid: string | null; attempts: number }[];
    raw.close();
    assert.equal(rows.length, 3);
    assert.deepEqual(JSON.parse(rows[0].payload), { title: 'x', n: 1 });
    assert.equal(rows[0].attempts, 3);
    assert.equal(rows[1].guid, null);
    assert.ok(JSON.parse(rows[1].payload).unserializable);
    assert.equal(rows[2].payload, 'null');
  });

  test('checkpoint truncates the WAL to 0 bytes', () => {
    const path = dbPath();
    const s = ItemStore.open(path);
    s.commitPoll('a', Array.from({ length: 500 }, (_, i) => item('a', `g${i}`)), {});
    assert.ok(statSync(path + '-wal').size > 0);
    const r = s.checkpoint();
    assert.equal(r.busy, 0);
    assert.equal(statSync(path + '-wal').size, 0);
    assert.equal(s.countItems(), 500);
    s.close();
    assert.equal(existsSync(path + '-wal'), false);
  });

  test('bulk commits of 500-item polls store every item once with increasing seq', () => {
    // Speed is measured by `npm run bench`, not asserted here (shared, noisy machine).
    const s = ItemStore.open(dbPath());
    const total = 20_000;
    const items = Array.from({ length: total }, (_, i) => item('perf', `p${i}`, { title: `Perf headline number ${i} about ACME and Globex`, publishedAt: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() }));
    let last = 0;
    for (let i = 0; i < total; i += 500) {
      const stored = s.commitPoll('perf', items.slice(i, i + 500), { cursor: String(i) });
      assert.equal(stored.length, 500);
      assert.ok(stored[0].seq > last);
      last = stored[stored.length - 1].seq;
    }
    assert.equal(s.countItems(), total);
    s.close();
  });
});

function raw2(file: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

describe('ItemStore: tickers', () => {
  const tk = (symbol: string, via = 'name') => ({ symbol, via, label: 'positive' as Label, score: 0.6, pNeg: 0.1, pNeu: 0.2, pPos: 0.7 });

  test('item_tickers rows are written with the items; reads and the ticker filter return them', () => {
    const s = ItemStore.open(dbPath());
    const stored = s.commitPoll('a', [item('a', 'g1', { tickers: [tk('AAPL', 'cashtag'), tk('MSFT')] }), item('a', 'g2'), item('a', 'g3', { tickers: [tk('BRK.B')] })], {});
    assert.deepEqual(stored[0].tickers, [tk('AAPL', 'cashtag'), tk('MSFT')]);
    assert.deepEqual(stored[1].tickers, []);
    // a duplicate item (ON CONFLICT) writes no ticker rows and is not returned
    assert.deepEqual(s.commitPoll('a', [item('a', 'g1', { tickers: [tk('TSLA')] })], {}), []);
    assert.deepEqual(s.query({ ticker: 'AAPL' }).map((i) => i.guid), ['g1']);
    assert.deepEqual(s.query({ ticker: 'brk-b' }).map((i) => i.guid), ['g3']);
    assert.deepEqual(s.query({ ticker: 'TSLA' }), []);
    assert.deepEqual(s.query({ ticker: 'MSFT', source: 'a', label: item('a', 'g1').label }).map((i) => i.guid), ['g1']);
    const [g1] = s.query({ ticker: 'AAPL' });
    assert.deepEqual(g1.tickers, [tk('AAPL', 'cashtag'), tk('MSFT')]);
    assert.deepEqual(s.itemsAfter(0, 10).map((i) => i.tickers!.map((t) => t.symbol)), [['AAPL', 'MSFT'], [], ['BRK.B']]);
    for (const bad of ["X' OR '1'='1", '', 'ABCDEFGH', '$AAPL']) assert.throws(() => s.query({ ticker: bad }), isStoreError('INPUT_INVALID'), bad);
    s.close();
  });

  test('stories: ids and novelty on the items, stories rows and rollups in the same transaction', () => {
    const s = ItemStore.open(dbPath());
    // A clusterer stand-in that puts every item into one story.
    const matched: string[] = [];
    const recorded: Array<[string, number]> = [];
    let story: number | null = null;
    const sources = new Set<string>();
    const stories = {
      match: (it: ClassifiedItem) => {
        matched.push(`${it.source}/${it.guid}`);
        return { storyId: story, source: it.source as string, guid: it.guid };
      },
      record: (m: { storyId: number | null; source: string; guid: string }, seq: number) => {
        recorded.push([`${m.source}/${m.guid}`, seq]);
        const novel = story === null;
        story ??= seq;
        const sourceNew = !sources.has(m.source);
        sources.add(m.source);
        return { storyId: story, novel, sourceCount: sources.size, sourceNew };
      },
    };
    const a = s.commitPoll('a', [item('a', 'g1', { tickers: [tk('ACME')] }), item('a', 'g2')], {}, undefined, { stories });
    const b = s.commitPoll('b', [item('b', 'g1', { tickers: [tk('ACME')] }), item('b', 'g1')], {}, undefined, { stories });
    // the repeat within b's poll was looked at but, not stored, never recorded
    assert.deepEqual(matched, ['a/g1', 'a/g2', 'b/g1', 'b/g1']);
    assert.deepEqual(recorded.map((r) => r[0]), ['a/g1', 'a/g2', 'b/g1']);
    const id = a[0].seq;
    assert.deepEqual([...a, ...b].map((i) => [i.storyId, i.novel]), [[id, true], [id, false], [id, false]]);
    assert.deepEqual(s.query({ ticker: 'ACME' }).map((i) => [i.storyId, i.novel]), [[id, false], [id, true]]);
    assert.deepEqual(raw2(s.path, 'SELECT * FROM stories'), [
      { id, first_published_at: a[0].publishedAt, last_published_at: [a[1].publishedAt, b[0].publishedAt].sort()[1], title: a[0].title, source_count: 2, item_count: 3, tickers: '["ACME"]' },
    ]);
    // the copies are found through the partial index
    assert.deepEqual(raw2(s.path, `SELECT seq FROM items WHERE seq = ${id} OR (novel = 0 AND story_id = ${id}) ORDER BY seq`).map((r) => r.seq), [id, a[1].seq, b[0].seq]);
    // rollups: items counts every item, stories the novel one; the sentiment columns count the
    // story once per ticker and once per source
    const roll = raw2(s.path, `SELECT kind, key, bucket, start, items, stories, scored, round(mean_score, 6) AS mean, pos, neu, neg FROM rollup_means ORDER BY kind, key, bucket, start`);
    const g1 = item('a', 'g1'); // neutral, score 0.6; its ticker rows are positive, 0.6
    const day = g1.publishedAt!.slice(0, 10) + 'T00:00:00.000Z';
    assert.deepEqual(
      roll.filter((r) => r.bucket === '1d'),
      [
        { kind: 'source', key: 'a', bucket: '1d', start: day, items: 2, stories: 1, scored: 1, mean: 0.6, pos: 0, neu: 1, neg: 0 },
        { kind: 'source', key: 'b', bucket: '1d', start: day, items: 1, stories: 0, scored: 1, mean: 0.6, pos: 0, neu: 1, neg: 0 },
        { kind: 'ticker', key: 'ACME', bucket: '1d', start: day, items: 2, stories: 1, scored: 1, mean: 0.6, pos: 1, neu: 0, neg: 0 },
      ],
    );
    assert.deepEqual(roll.filter((r) => r.kind === 'ticker' && r.bucket === '1m').map((r) => [r.start, r.items, r.stories]), [
      [g1.publishedAt!.slice(0, 16) + ':00.000Z', 2, 1],
    ]);
    assert.deepEqual(roll.filter((r) => r.kind === 'source' && r.key === 'a' && r.bucket === '1h').map((r) => [r.items, r.stories]), [[2, 1]]);
    assert.deepEqual(s.storyWarmItems('2000-01-01T00:00:00.000Z', 2).map((w) => [w.seq, w.storyId, w.tickers]), [[a[1].seq, id, []], [b[0].seq, id, ['ACME']]]);
    // item_tickers: one row per (ticker, item), with the per-ticker sentiment
    assert.deepEqual(raw2(s.path, 'SELECT ticker, seq, via, label, score FROM item_tickers ORDER BY seq'), [
      { ticker: 'ACME', seq: id, via: 'name', label: 'positive', score: 0.6 },
      { ticker: 'ACME', seq: b[0].seq, via: 'name', label: 'positive', score: 0.6 },
    ]);
    s.close();
  });

  test('a version-1 database is migrated: existing items keep working and get no tickers', () => {
    const file = dbPath();
    mkdirSync(dirname(file), { recursive: true });
    // a version-1 file, as the previous release wrote it, with one item in it
    const raw = new Database(file);
    raw.exec(migrations[0].sql);
    raw.pragma('user_version = 1');
    raw.prepare(`INSERT INTO items (source, guid, title, published_at, fetched_at, label, p_neg, p_neu, p_pos, score, model) VALUES ('a', 'old', 'Old', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 'neutral', 0.1, 0.8, 0.1, 0, 'm')`).run();
    raw.close();
    const s = ItemStore.open(file);
    assert.deepEqual(s.query({}).map((i) => [i.guid, i.tickers, i.storyId, i.novel]), [['old', [], null, false]]);
    s.commitPoll('a', [item('a', 'g1', { tickers: [tk('AAPL')] })], {});
    assert.deepEqual(s.query({ ticker: 'AAPL' }).map((i) => i.guid), ['g1']);
    s.close();
  });
});

describe('alerts.seq: an alert\'s place in the item stream', () => {
  test('an alert stored by a commit gets the seq of the commit\'s newest item', () => {
    const s = ItemStore.open(dbPath());
    s.commitPoll('a', [item('a', 'g1')], {});
    const fired: StoredAlert[] = [];
    const evaluateAlerts = (stored: StoredItem[]) => [{ rule: 'r', kind: 'threshold' as const, ticker: 'AAPL', at: '2024-01-01T00:00:00.000Z', direction: 'down' as const, message: 'm', value: -0.9, baseline: null, deviation: null, seqs: [stored[0].seq] }];
    const inserted = s.commitPoll('a', [item('a', 'g2'), item('a', 'g3'), item('a', 'g4')], {}, undefined, { evaluateAlerts, onAlerts: (a) => fired.push(...a) });
    assert.equal(fired.length, 1);
    assert.equal(fired[0].seq, inserted[2].seq, 'the newest item of the commit, not the triggering one');
    assert.deepEqual(fired[0].seqs, [inserted[0].seq]);
    assert.deepEqual(alertsInSeqRange(s, inserted[1].seq, inserted[2].seq).map((a) => [a.id, a.seq]), [[fired[0].id, inserted[2].seq]]);
    assert.deepEqual(alertsInSeqRange(s, inserted[2].seq, inserted[2].seq + 10), [], 'the range is (after, through]');
    s.close();
  });

  test('a version-3 database is migrated: its alerts get the newest of their items as seq', () => {
    const file = dbPath();
    mkdirSync(dirname(file), { recursive: true });
    const raw = new Database(file);
    for (const m of migrations.slice(0, 3)) raw.exec(m.sql);
    raw.pragma('user_version = 3');
    raw.prepare(`INSERT INTO alerts (rule, kind, ticker, at, message, value, created_at) VALUES ('r', 'volume', 'AAPL', '2024-01-01T00:00:00.000Z', 'm', 3, '2024-01-01T00:00:00.000Z')`).run();
    raw.prepare(`INSERT INTO alerts (rule, kind, ticker, at, message, value, created_at) VALUES ('r', 'volume', 'MSFT', '2024-01-01T00:00:00.000Z', 'no items', 3, '2024-01-01T00:00:00.000Z')`).run();
    raw.prepare('INSERT INTO alert_items (alert_id, seq) VALUES (1, 4), (1, 9), (1, 7)').run();
    raw.close();
    const s = ItemStore.open(file);
    assert.deepEqual(s.database.prepare('SELECT id, seq FROM alerts ORDER BY id').all(), [{ id: 1, seq: 9 }, { id: 2, seq: null }]);
    s.close();
  });
});

describe('filters', () => {
  test('parseSince: durations and ISO', () => {
    const now = new Date('2024-05-02T12:00:00.000Z');
    assert.equal(parseSince('24h', now).toISOString(), '2024-05-01T12:00:00.000Z');
    assert.equal(parseSince('7d', now).toISOString(), '2024-04-25T12:00:00.000Z');
    assert.equal(parseSince('30m', now).toISOString(), '2024-05-02T11:30:00.000Z');
    assert.equal(parseSince('2024-05-01', now).toISOString(), '2024-05-01T00:00:00.000Z');
    assert.equal(parseSince('2024-05-01T09:30', now).toISOString(), '2024-05-01T09:30:00.000Z');
    assert.equal(parseSince('2024-05-01T09:30:00+02:00', now).toISOString(), '2024-05-01T07:30:00.000Z');
    for (const bad of ['', 'yesterday', '5', '24x', '2024-13-45', '-1h']) assert.throws(() => parseSince(bad, now), isStoreError('INPUT_INVALID'), bad);
  });

  test('parseLimit and canonicalTime', () => {
    assert.equal(parseLimit('10'), 10);
    for (const bad of ['0', '-1', '1.5', 'x', '']) assert.throws(() => parseLimit(bad), isStoreError('INPUT_INVALID'), bad);
    assert.throws(() => parseLimit('1001', 1000), isStoreError('INPUT_INVALID'));
    assert.equal(canonicalTime('Wed, 01 May 2024 13:45:00 GMT'), '2024-05-01T13:45:00.000Z');
    assert.equal(canonicalTime('garbage'), null);
    assert.equal(canonicalTime('+020245-01-01T00:00:00Z'), null);
  });
});
