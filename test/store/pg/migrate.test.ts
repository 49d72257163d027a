/**
 * `tickerpulse migrate` and `tickerpulse query --store postgres://…` against a real PostgreSQL:
 * a SQLite database written by the daemon's own writer thread (stories, rollups, alerts, dead
 * letters, poll state) is copied; a rerun changes nothing; an interrupted copy resumes; the query
 * CLI prints the same rows from both stores; the cluster's writer continues after the copy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type pg from 'pg';
import { runMigrate } from '../../../src/cli/migrate.js';
import { runQuery } from '../../../src/cli/query.js';
import { alertsConfigSchema } from '../../../src/config/alerts.js';
import { PgWriter } from '../../../src/daemon/pgWriter.js';
import { StoreWriter } from '../../../src/daemon/writer.js';
import { createLogger } from '../../../src/lib/log.js';
import { itemBatch } from '../../../src/lib/messages.js';
import { ItemStore } from '../../../src/store/itemStore.js';
import { migrateSqliteToPg } from '../../../src/store/pg/fromSqlite.js';
import { createPgPool } from '../../../src/store/pg/pool.js';
import { openStoreReader } from '../../../src/query/storeReader.js';
import { batch, item, range } from './fixtures.js';
import { pgSkipReason, startPgServer, type PgServer } from './pgServer.js';

const skip = pgSkipReason() ?? false;
const log = createLogger({ level: 'silent' });
let server: PgServer | undefined;
let dir: string;
let sqlitePath: string;
let dbCount = 0;
const pools: pg.Pool[] = [];

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(fn: typeof runMigrate | typeof runQuery, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await fn(args, out, err);
  return { code, out: out.text, err: err.text };
}

function pool(url: string): pg.Pool {
  const p = createPgPool(url, { max: 2 });
  pools.push(p);
  return p;
}

const ALERT_RULES = { rules: [{ id: 'acme-low', kind: 'threshold', tickers: ['ACME'], below: -0.5, cooldown: '0s' }] };
const TABLES = ['items', 'item_tickers', 'stories', 'rollups', 'alerts', 'alert_items', 'sources', 'dead_letters'];

/** Row counts of every copied table, and a digest of items/stories/rollups to compare stores. */
async function pgCounts(p: pg.Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = (await p.query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`)).rows[0].n;
  return out;
}
function sqliteCounts(): Record<string, number> {
  const s = ItemStore.open(sqlitePath, { readonly: true });
  try {
    const out: Record<string, number> = {};
    for (const t of TABLES) out[t] = s.database.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
    return out;
  } finally {
    s.close();
  }
}

before(async () => {
  if (skip) return;
  server = await startPgServer();
  dir = mkdtempSync(join(tmpdir(), 'tp-pg-migrate-'));
  sqlitePath = join(dir, 'single.db');
  // The single-node database, written by the daemon's writer thread as `npm start` does.
  const writer = await StoreWriter.start(
    { path: sqlitePath, cacheMb: 16, tickerIndexLag: 40, autoCheckpointPages: 1000, alerts: alertsConfigSchema.parse(ALERT_RULES), watchlist: [], clockOffsetMs: 0, statsIntervalMs: 60_000 },
    log,
  );
  try {
    for (let k = 0; k < 6; k++) {
      await writer.commit(batch('wire', range(k * 20, k * 20 + 30), true, { etag: `w${k}`, cursor: String(k) }));
      await writer.commit(batch('desk', range(k * 20 + 10, k * 20 + 35), k % 2 === 1, { etag: `d${k}` }));
    }
    const neg = item('blog', 1000, { label: 'negative', score: -0.9, tickers: [{ symbol: 'ACME', via: 'cashtag', label: 'negative', score: -0.9, pNeg: 0.9, pNeu: 0.05, pPos: 0.05 }] });
    const s = await writer.commit(itemBatch('blog', [neg], true, { cursor: '42' }, { code: 'FEED_TIMEOUT', message: 'slow' }, [{ guid: 'x', payload: { title: 'bad' }, code: 'MODEL_RUN_FAILED', message: 'boom', attempts: 3 }]));
    assert.equal(s.alerts.length, 1, 'the fixture raises an alert');
    writer.markAlert(s.alerts[0].id, 'rejected: HTTP 500');
    await writer.finish();
  } finally {
    await writer.close();
  }
});
after(async () => {
  for (const p of pools) await p.end().catch(() => undefined);
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tickerpulse migrate (SQLite → PostgreSQL)', { skip }, () => {
  let url: string;

  test('copies every table; a second run copies nothing and changes nothing', async () => {
    url = await server!.createDatabase(`m${++dbCount}`);
    const first = await cli(runMigrate, ['--from', sqlitePath, '--to', url]);
    assert.equal(first.code, 0, first.err);
    const r1 = JSON.parse(first.out) as { sqliteItems: number; pgItems: number; copiedItems: number; complete: boolean };
    assert.ok(r1.sqliteItems > 150, String(r1.sqliteItems));
    assert.equal(r1.pgItems, r1.sqliteItems);
    assert.equal(r1.copiedItems, r1.sqliteItems);
    assert.match(first.err, /items \d+\/\d+ \(100 %\)/, 'log lines when stderr is not a terminal');
    const want = sqliteCounts();
    assert.ok(want.alerts >= 1 && want.dead_letters === 1 && want.sources === 3 && want.stories > 0, JSON.stringify(want));
    const p = pool(url);
    assert.deepEqual(await pgCounts(p), want);
    const src = (await p.query('SELECT id, etag, cursor, items_total, errors_total FROM sources ORDER BY id')).rows;
    assert.deepEqual(src.map((r) => r.id), ['blog', 'desk', 'wire']);
    assert.equal(src[0].cursor, '42');
    assert.equal(src[0].errors_total, 1);
    const failed = (await p.query('SELECT delivery_error FROM alerts WHERE delivery_error IS NOT NULL')).rows;
    assert.deepEqual(failed, [{ delivery_error: 'rejected: HTTP 500' }]);

    const digest = async () => (await p.query<{ d: string }>(`SELECT md5(string_agg(seq || ':' || source || ':' || guid || ':' || coalesce(story_id, 0) || ':' || novel, ',' ORDER BY seq)) AS d FROM items`)).rows[0].d;
    const before = await digest();
    const rollupsBefore = (await p.query('SELECT * FROM rollups ORDER BY kind, bucket, start, key')).rows;
    const second = await cli(runMigrate, ['--from', sqlitePath, '--to', url, '--quiet']);
    assert.equal(second.code, 0, second.err);
    assert.equal((JSON.parse(second.out) as { copiedItems: number }).copiedItems, 0);
    assert.deepEqual(await pgCounts(p), want);
    assert.equal(await digest(), before);
    assert.deepEqual((await p.query('SELECT * FROM rollups ORDER BY kind, bucket, start, key')).rows, rollupsBefore);
  });

  test('tickerpulse query --store postgres://… prints what it prints for the SQLite file', async () => {
    assert.ok(url, 'the copy of the previous test');
    const cases = [
      ['items', '--format', 'json', '--limit', '500'],
      ['items', '--ticker', 'ACME', '--format', 'json'],
      ['items', '--source', 'desk', '--label', 'negative', '--search', 'globex', '--sort', 'score', '--order', 'asc'],
      ['tickers', '--since', '2026-11-01', '--format', 'csv'],
      ['series', '--ticker', 'GBX', '--bucket', '1h', '--since', '2026-11-01', '--format', 'json'],
      ['alerts', '--since', '2000-01-01', '--format', 'json'],
      ['items', '--limit', '5'],
    ];
    for (const args of cases) {
      const lite = await cli(runQuery, [...args, '--db', sqlitePath]);
      const viaPg = await cli(runQuery, [...args, '--store', url]);
      assert.equal(lite.code, 0, lite.err);
      assert.equal(viaPg.code, 0, viaPg.err);
      assert.ok(lite.out.length > 0, `${args.join(' ')} returns rows`);
      assert.equal(viaPg.out, lite.out, args.join(' '));
    }
    const bad = await cli(runQuery, ['--store', url.replace(/\/[^/]+$/, '/no_such_db')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /STORE_FAILED/);
  });

  test('StoreReader: replay pages, latest seq, counts and sources are the same from both stores', async () => {
    const lite = await openStoreReader(sqlitePath);
    const viaPg = await openStoreReader(url);
    try {
      assert.equal(lite.kind, 'sqlite');
      assert.equal(viaPg.kind, 'postgres');
      assert.equal(await viaPg.latestSeq(), await lite.latestSeq());
      assert.equal(await viaPg.countItems(), await lite.countItems());
      assert.equal(await viaPg.healthy(), true);
      for (const [after, limit] of [[0, 1000], [0, 7], [100, 25], [await lite.latestSeq(), 10]]) {
        assert.deepEqual(await viaPg.itemsAfter(after, limit), await lite.itemsAfter(after, limit), `itemsAfter(${after}, ${limit})`);
      }
      assert.deepEqual(await viaPg.listSourceStates(), await lite.listSourceStates());
    } finally {
      await lite.close();
      await viaPg.close();
    }
    assert.equal(await viaPg.healthy(), false, 'a closed reader is not healthy');
    // a reader never creates the schema: an empty database is refused, saying what to do
    const empty = await server!.createDatabase(`m${++dbCount}`);
    await assert.rejects(openStoreReader(empty), (err: unknown) => (err as { code?: string }).code === 'STORE_FAILED' && /no tickerpulse schema/.test((err as Error).message));
  });

  test('after the copy, the cluster writer continues the seqs and the stories', async () => {
    const p = pool(url);
    const last = (await p.query<{ n: number }>('SELECT max(seq) AS n FROM items')).rows[0].n;
    const w = await PgWriter.start({ url, alerts: null, watchlist: [], clock: () => Date.parse('2026-11-02T12:00:00.000Z') }, log);
    try {
      const s = await w.commit(batch('new', range(0, 3)));
      assert.deepEqual(s.items.map((i) => i.seq), [last + 1, last + 2, last + 3]);
      const wire0 = (await p.query('SELECT story_id FROM items WHERE source = $1 AND guid = $2', ['wire', 'g-0'])).rows[0].story_id;
      assert.equal(s.items[0].storyId, wire0, 'a copy of a migrated headline joins its story');
      // a migrate run now would overwrite the cluster's newer counts: it does nothing
      const again = await cli(runMigrate, ['--from', sqlitePath, '--to', url, '--quiet']);
      assert.equal(again.code, 0, again.err);
      assert.match(again.err, /already complete/);
    } finally {
      await w.close();
    }
  });

  test('an interrupted copy resumes where it stopped and ends with the same rows', async () => {
    const url2 = await server!.createDatabase(`m${++dbCount}`);
    const p = pool(url2);
    const stop = new AbortController();
    const store = ItemStore.open(sqlitePath, { readonly: true });
    let r;
    try {
      r = await migrateSqliteToPg(store, p, { batch: 20, signal: stop.signal, onProgress: (x) => x.phase === 'items' && x.done >= 60 && stop.abort() });
    } finally {
      store.close();
    }
    assert.equal(r.complete, false);
    assert.equal(r.pgItems, 60);
    const resumed = await cli(runMigrate, ['--from', sqlitePath, '--to', url2, '--batch', '20', '--quiet']);
    assert.equal(resumed.code, 0, resumed.err);
    const out = JSON.parse(resumed.out) as { resumed: boolean; copiedItems: number; sqliteItems: number };
    assert.equal(out.resumed, true);
    assert.equal(out.copiedItems, out.sqliteItems - 60);
    assert.deepEqual(await pgCounts(p), sqliteCounts());
  });

  test('a target holding items of its own is refused', async () => {
    const url3 = await server!.createDatabase(`m${++dbCount}`);
    const w = await PgWriter.start({ url: url3, alerts: null, watchlist: [] }, log);
    try {
      await w.commit(batch('live', range(0, 2)));
    } finally {
      await w.close();
    }
    const r = await cli(runMigrate, ['--from', sqlitePath, '--to', url3]);
    assert.equal(r.code, 1);
    assert.match(r.err, /already holds items.*\[STORE_FAILED\]/);
    assert.equal((await cli(runMigrate, ['--from', sqlitePath, '--to', 'mysql://x'])).code, 2);
  });
});
