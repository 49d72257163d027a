/**
 * The PostgreSQL writer against a real, throwaway PostgreSQL server (pgServer.ts): schema
 * creation, exactly-once and gap-free commits (repeated and concurrent), poll state on the final
 * chunk, and the same stories/rollups/alerts as the SQLite store for the same batches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { alertsConfigSchema } from '../../../src/config/alerts.js';
import { PgWriter } from '../../../src/daemon/pgWriter.js';
import { createStories } from '../../../src/daemon/writerState.js';
import { createLogger } from '../../../src/lib/log.js';
import { itemBatch, type StoredBatch } from '../../../src/lib/messages.js';
import type { Label } from '../../../src/lib/types.js';
import { ItemStore } from '../../../src/store/itemStore.js';
import { createPgPool } from '../../../src/store/pg/pool.js';
import { TickerpulseError } from '../../../src/lib/errors.js';
import { migratePg, PG_SCHEMA_VERSION, pgSchemaVersion } from '../../../src/store/pg/schema.js';
import type { StoryMatch } from '../../../pipelines/storyCluster.js';
import { pgSkipReason, startPgServer, type PgServer } from './pgServer.js';
import { T0, batch, item, range } from './fixtures.js';

const skip = pgSkipReason() ?? false;
const log = createLogger({ level: 'silent' });
let server: PgServer | undefined;
let dbCount = 0;
const pools: pg.Pool[] = [];
const writers: PgWriter[] = [];

before(async () => {
  if (!skip) server = await startPgServer();
});
after(async () => {
  for (const w of writers) await w.close().catch(() => undefined);
  for (const p of pools) await p.end().catch(() => undefined);
  await server?.stop();
});

async function freshDb(): Promise<string> {
  return server!.createDatabase(`w${++dbCount}`);
}
function pool(url: string): pg.Pool {
  const p = createPgPool(url, { max: 4 });
  pools.push(p);
  return p;
}
async function writer(url: string, alerts: unknown = null): Promise<PgWriter> {
  const w = await PgWriter.start({ url, alerts: alerts ? alertsConfigSchema.parse(alerts) : null, watchlist: [] }, log);
  writers.push(w);
  return w;
}

async function seqs(url: string): Promise<number[]> {
  return (await pool(url).query<{ seq: number }>('SELECT seq FROM items ORDER BY seq')).rows.map((r) => r.seq);
}

describe('PostgreSQL store: schema', { skip }, () => {
  test('creating the schema is idempotent, also from two connections at once', async () => {
    const url = await freshDb();
    const a = pool(url);
    const b = pool(url);
    assert.equal(await pgSchemaVersion(a), 0);
    const [va, vb] = await Promise.all([migratePg(a), migratePg(b)]);
    assert.equal(va, PG_SCHEMA_VERSION);
    assert.equal(vb, PG_SCHEMA_VERSION);
    assert.equal(await migratePg(a), PG_SCHEMA_VERSION);
    const tables = (await a.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t);
    assert.deepEqual(tables, ['alert_items', 'alerts', 'dead_letters', 'item_tickers', 'items', 'meta', 'rollups', 'seq_counter', 'sources', 'stories', 'tickerpulse_schema']);
    assert.equal((await a.query('SELECT * FROM seq_counter')).rowCount, 1);
  });

  test('a database with a newer schema is refused, not modified', async () => {
    const url = await freshDb();
    const p = pool(url);
    await migratePg(p);
    await p.query('UPDATE tickerpulse_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
    await assert.rejects(migratePg(p), (err: unknown) => (err as { code?: string }).code === 'STORE_FAILED' && /newer/.test((err as Error).message));
  });
});

describe('PostgreSQL writer: exactly once, gap-free', { skip }, () => {
  test('the same batch committed twice stores its items once', async () => {
    const url = await freshDb();
    const w = await writer(url);
    const b = batch('wire', range(0, 30));
    const first = await w.commit(b);
    assert.equal(first.items.length, 30);
    assert.deepEqual(first.items.map((i) => i.seq), range(1, 31));
    const again = await w.commit(batch('wire', range(0, 30)));
    assert.equal(again.items.length, 0);
    assert.equal(again.offered, 30);
    // overlapping: only the new half is stored, continuing the seqs
    const more = await w.commit(batch('wire', range(15, 45)));
    assert.deepEqual(more.items.map((i) => i.seq), range(31, 46));
    assert.deepEqual(await seqs(url), range(1, 46));
    // duplicates within one batch: the first wins
    const dup = await w.commit(itemBatch('wire', [item('wire', 100), item('wire', 100, { title: 'another title' })], true, {}));
    assert.equal(dup.items.length, 1);
    assert.equal(dup.items[0].title, item('wire', 100).title);
    assert.deepEqual(await w.knownGuids('wire', ['g-0', 'g-44', 'g-45', 'g-100']), new Set(['g-0', 'g-44', 'g-100']));
  });

  test('text with U+0000 (which PostgreSQL text cannot hold) is stored with U+FFFD, and still deduped', async () => {
    const url = await freshDb();
    const w = await writer(url);
    const odd = () => item('wire', 7, { guid: 'g\u00007', title: 'Acme\u0000 Robotics recalls a robot arm', summary: 'x\u0000y' });
    const first = await w.commit(itemBatch('wire', [odd()], true, { lastError: 'E\u0000' }));
    assert.equal(first.items.length, 1);
    assert.equal(first.items[0].title, 'Acme\uFFFD Robotics recalls a robot arm');
    assert.deepEqual(await w.knownGuids('wire', ['g\u00007', 'g7']), new Set(['g\u00007']));
    assert.equal((await w.commit(itemBatch('wire', [odd()], true, {}))).items.length, 0);
    const row = (await pool(url).query('SELECT guid, summary FROM items')).rows[0];
    assert.deepEqual(row, { guid: 'g\uFFFD7', summary: 'x\uFFFDy' });
  });

  test('concurrent commits from two writers (two pools): every item once, seqs 1..N without a gap, in commit order', async () => {
    const url = await freshDb();
    const a = await writer(url);
    const b = await writer(url);
    const storedA: StoredBatch[] = [];
    const storedB: StoredBatch[] = [];
    a.onStored = (s) => storedA.push(s);
    b.onStored = (s) => storedB.push(s);
    // Both writers get the same 20 overlapping batches of two sources, concurrently.
    const jobs: Promise<StoredBatch>[] = [];
    for (let k = 0; k < 20; k++) {
      const source = k % 2 ? 'wire' : 'desk';
      const ids = range(k * 10, k * 10 + 25);
      jobs.push(a.commit(batch(source, ids)), b.commit(batch(source, ids)));
    }
    await Promise.all(jobs);
    const all = [...storedA, ...storedB].flatMap((s) => s.items);
    const keys = all.map((i) => `${i.source}:${i.guid}`);
    assert.equal(new Set(keys).size, keys.length, 'no item stored twice');
    const db = pool(url);
    const count = (await db.query<{ n: number }>('SELECT count(*) AS n FROM items')).rows[0].n;
    assert.equal(all.length, count, 'every stored row was reported by exactly one StoredBatch');
    const distinct = (await db.query<{ n: number }>('SELECT count(DISTINCT (source, guid)) AS n FROM items')).rows[0].n;
    assert.equal(distinct, count);
    assert.deepEqual(await seqs(url), range(1, count + 1), 'gap-free');
    assert.equal((await db.query<{ last_seq: number }>('SELECT last_seq FROM seq_counter')).rows[0].last_seq, count);
    // each writer saw its own commits in increasing seq order
    for (const list of [storedA, storedB]) {
      const s = list.flatMap((x) => x.items.map((i) => i.seq));
      assert.deepEqual(s, [...s].sort((x, y) => x - y));
    }
  });

  test('a failed commit hands out no seq: the next commit continues without a gap', async () => {
    const url = await freshDb();
    const w = await writer(url);
    await w.commit(batch('wire', range(0, 5)));
    const bad = itemBatch('wire', [item('wire', 5), item('wire', 6, { label: 'bullish' as Label })], true, { etag: 'bad' });
    await assert.rejects(w.commit(bad), (err: unknown) => (err as { code?: string }).code === 'STORE_FAILED');
    const next = await w.commit(batch('wire', range(5, 8), true, { etag: 'good' }));
    assert.deepEqual(next.items.map((i) => i.seq), [6, 7, 8]);
    assert.deepEqual(await seqs(url), range(1, 9));
    const src = (await pool(url).query('SELECT etag FROM sources WHERE id = $1', ['wire'])).rows[0];
    assert.equal(src.etag, 'good');
    await assert.rejects(w.commit(itemBatch('wire', [item('desk', 1)], true, {})), (err: unknown) => (err as { code?: string }).code === 'INPUT_INVALID');
  });
});

describe('PostgreSQL writer: poll state, stories, rollups, alerts', { skip }, () => {
  test('the poll state commits with the final chunk only; errors and dead letters are counted', async () => {
    const url = await freshDb();
    const w = await writer(url);
    const db = pool(url);
    await w.commit(batch('wire', range(0, 10), true, { etag: 'e1', cursor: '100', lastPollAt: '2026-11-02T10:00:00.000Z', consecutiveErrors: 0 }));
    // a big poll in two chunks: the first does not touch the state
    await w.commit(itemBatch('wire', range(10, 20).map((i) => item('wire', i)), false, { etag: 'ignored' }));
    let row = (await db.query('SELECT * FROM sources WHERE id = $1', ['wire'])).rows[0];
    assert.equal(row.etag, 'e1');
    assert.equal(row.cursor, '100');
    assert.equal(row.items_total, 20);
    await w.commit(itemBatch('wire', range(20, 25).map((i) => item('wire', i)), true, { etag: 'e2', cursor: '250' }, undefined, [{ guid: 'bad-1', payload: { title: 'x' }, code: 'MODEL_RUN_FAILED', message: 'boom', attempts: 2 }]));
    row = (await db.query('SELECT * FROM sources WHERE id = $1', ['wire'])).rows[0];
    assert.equal(row.etag, 'e2');
    assert.equal(row.cursor, '250');
    assert.equal(row.last_poll_at, '2026-11-02T10:00:00.000Z', 'fields not given keep their value');
    assert.equal(row.items_total, 25);
    assert.equal(row.errors_total, 0);
    await w.commit(itemBatch('wire', [], true, { consecutiveErrors: 1, lastError: 'FEED_TIMEOUT: slow' }, { code: 'FEED_TIMEOUT', message: 'slow' }));
    row = (await db.query('SELECT * FROM sources WHERE id = $1', ['wire'])).rows[0];
    assert.equal(row.errors_total, 1);
    assert.equal(row.consecutive_errors, 1);
    assert.equal(row.etag, 'e2');
    const dead = (await db.query('SELECT source, guid, payload, code, attempts FROM dead_letters')).rows;
    assert.deepEqual(dead, [{ source: 'wire', guid: 'bad-1', payload: '{"title":"x"}', code: 'MODEL_RUN_FAILED', attempts: 2 }]);
  });

  test('stories, rollups and tickers come out as the SQLite store makes them from the same batches', async () => {
    const url = await freshDb();
    const w = await writer(url);
    const dir = mkdtempSync(join(tmpdir(), 'tp-pg-eq-'));
    try {
      const sqlite = ItemStore.open(join(dir, 'eq.db'));
      const stories = createStories(() => T0 + 86_400_000, []);
      const batches = [batch('wire', range(0, 40)), batch('desk', range(20, 60)), batch('blog', range(0, 10)), batch('wire', range(35, 70))];
      for (const b of batches) {
        await w.commit(structuredClone(b));
        const c = structuredClone(b);
        sqlite.commitPoll(c.sourceId, c.items, c.state, undefined, {
          stories: { match: (it, p) => stories.match(c.sourceId, it, p), record: (m, seq) => stories.record(m as StoryMatch, seq) },
        });
      }
      const db = pool(url);
      const lite = sqlite.database;
      // SQLite's AUTOINCREMENT spends a seq on each duplicate insert, PostgreSQL's counter does
      // not (gap-free): rows are compared by (source, guid), story ids through the same mapping.
      const pgKey = new Map((await db.query<{ seq: number; source: string; guid: string }>('SELECT seq, source, guid FROM items')).rows.map((r) => [r.seq, `${r.source}:${r.guid}`]));
      const liteKey = new Map((lite.prepare('SELECT seq, source, guid FROM items').all() as { seq: number; source: string; guid: string }[]).map((r) => [r.seq, `${r.source}:${r.guid}`]));
      type Row = { seq: number; story_id: number | null; [k: string]: unknown };
      const norm = (rows: Row[], key: Map<number, string>) =>
        rows.map(({ seq, story_id, ...rest }) => ({ key: key.get(seq), story: story_id === null ? null : key.get(story_id), ...rest })).sort((x, y) => String(x.key).localeCompare(String(y.key)));
      const itemCols = 'seq, source, guid, published_at, story_id, novel, tickers, title, label, score';
      const pgItems = norm((await db.query<Row>(`SELECT ${itemCols} FROM items`)).rows, pgKey);
      assert.equal(pgItems.length, 120);
      assert.deepEqual(pgItems, norm(lite.prepare(`SELECT ${itemCols} FROM items`).all() as Row[], liteKey));
      assert.ok(pgItems.some((r) => (r as { novel?: number }).novel === 0), 'the batches have story copies');
      const storyCols = 'id AS seq, NULL AS story_id, first_published_at, last_published_at, title, source_count, item_count, tickers';
      assert.deepEqual(norm((await db.query<Row>(`SELECT ${storyCols} FROM stories`)).rows, pgKey), norm(lite.prepare(`SELECT ${storyCols} FROM stories`).all() as Row[], liteKey));
      const cols = 'kind, key, bucket, start, items, stories, scored, round(sum_score * 1000) AS s, pos, neu, neg';
      assert.deepEqual((await db.query(`SELECT ${cols} FROM rollups ORDER BY kind, bucket, start, key`)).rows, lite.prepare(`SELECT ${cols} FROM rollups ORDER BY kind, bucket, start, key`).all());
      const tickerCols = 'seq, NULL AS story_id, ticker, via, label, score, published_at';
      assert.deepEqual(norm((await db.query<Row>(`SELECT ${tickerCols} FROM item_tickers`)).rows, pgKey), norm(lite.prepare(`SELECT ${tickerCols} FROM item_tickers`).all() as Row[], liteKey));
      sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a restarted writer (or a standby) continues the seqs and the stories it finds in the store', async () => {
    const url = await freshDb();
    const first = await writer(url);
    const a = await first.commit(batch('wire', range(0, 10)));
    await first.close();
    const second = await writer(url);
    // the same headlines from another source join the stories the first writer started
    const b = await second.commit(batch('desk', range(0, 10)));
    assert.deepEqual(b.items.map((i) => i.seq), range(11, 21));
    assert.deepEqual(b.items.map((i) => i.storyId), a.items.map((i) => i.storyId));
    assert.ok(b.items.every((i) => !i.novel));
    const story = (await pool(url).query('SELECT source_count FROM stories WHERE id = $1', [a.items[0].storyId])).rows[0];
    assert.deepEqual(story, { source_count: 2 });
  });

  test('alerts are stored with the items that raised them, in the same commit', async () => {
    const url = await freshDb();
    const w = await writer(url, { rules: [{ id: 'acme-low', kind: 'threshold', tickers: ['ACME'], below: -0.5, cooldown: '0s' }] });
    const neg = item('wire', 0, { label: 'negative', score: -0.9, tickers: [{ symbol: 'ACME', via: 'name', label: 'negative', score: -0.9, pNeg: 0.9, pNeu: 0.05, pPos: 0.05 }] });
    const s = await w.commit(itemBatch('wire', [neg, item('wire', 1)], true, {}));
    assert.equal(s.alerts.length, 1);
    assert.equal(s.alerts[0].rule, 'acme-low');
    assert.deepEqual(s.alerts[0].seqs, [s.items[0].seq]);
    const db = pool(url);
    const stored = (await db.query('SELECT a.id, a.rule, a.ticker, ai.seq FROM alerts a JOIN alert_items ai ON ai.alert_id = a.id')).rows;
    assert.deepEqual(stored, [{ id: s.alerts[0].id, rule: 'acme-low', ticker: 'ACME', seq: s.items[0].seq }]);
    w.markAlert(s.alerts[0].id, null);
    await w.finish();
    // markAlert is fire-and-forget: wait for its update to land
    const deadline = Date.now() + 30_000;
    while ((await db.query('SELECT delivered_at FROM alerts')).rows[0].delivered_at === null) {
      assert.ok(Date.now() < deadline, 'markAlert recorded the delivery');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});

describe('PostgreSQL writer: an unreachable database', { skip }, () => {
  test('start fails with STORE_FAILED, retryable (a write node retries; nothing was acknowledged)', async () => {
    // A port nothing listens on: the server's own port + a database that cannot be reached.
    const probe = createPgPool('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    await probe.end();
    await assert.rejects(
      PgWriter.start({ url: 'postgres://postgres@127.0.0.1:1/none', alerts: null, watchlist: [] }, log),
      (err: unknown) => err instanceof TickerpulseError && err.code === 'STORE_FAILED' && err.retryable === true,
    );
  });

  test('a constraint violation is STORE_FAILED, not retryable, with its SQLSTATE', async () => {
    const url = await freshDb();
    const w = await writer(url);
    const err = await w.commit(itemBatch('wire', [item('wire', 1, { label: 'bullish' as Label })], true, {})).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TickerpulseError);
    assert.equal(err.code, 'STORE_FAILED');
    assert.equal(err.retryable, false);
    assert.equal((err.details as { sqlState?: string }).sqlState, '23514');
  });
});

