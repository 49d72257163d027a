/**
 * What the single-process daemon needs on PostgreSQL beyond the store's commit, against a real server:
 * the writer lock (one writer per database, dropped with its session, naming its holder,
 * taken again after its session was killed), PgWriter as the sole writer (commits whose answer
 * was lost still reach the fan-out) and retention (batches, stories with their last
 * item, the ticker index by cascade, rollups kept, seqs never reused); the SQLite-only CLI
 * commands refusing a postgres config.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PgWriter } from '../../../src/daemon/pgWriter.js';
import { TickerpulseError } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/lib/log.js';
import { createPgPool } from '../../../src/store/pg/pool.js';
import { PgItemWriter } from '../../../src/store/pg/writer.js';
import { acquirePgWriterLock, keepPgWriterLock, PG_WRITER_LOCK_KEY } from '../../../src/store/pg/writerLock.js';
import { pgSkipReason, startPgServer, type PgServer } from './pgServer.js';
import { T0, batch, range } from './fixtures.js';
import { waitFor } from '../../daemon/harness.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runPrune } from '../../../src/cli/prune.js';
import { runReload } from '../../../src/cli/reload.js';

const skip = pgSkipReason() ?? false;
const log = createLogger({ level: 'silent' });
let server: PgServer | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  if (!skip) server = await startPgServer();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await server?.stop();
});

function pool(url: string): pg.Pool {
  const p = createPgPool(url, { max: 2 });
  cleanups.push(() => p.end());
  return p;
}

describe('PostgreSQL writer lock', { skip }, () => {
  test('one holder per database; a second is refused naming the first; released by release() and by the session ending', async () => {
    const url = await server!.createDatabase('lock');
    const other = await server!.createDatabase('lock_other');
    const first = await acquirePgWriterLock(url);
    cleanups.push(() => first.release());
    await assert.rejects(acquirePgWriterLock(url), (err: unknown) => err instanceof TickerpulseError && err.code === 'DB_IN_USE' && new RegExp(`pid ${process.pid}@`).test(err.message));
    // Per database: another database on the same server has its own.
    const elsewhere = await acquirePgWriterLock(other);
    await elsewhere.release();
    // Waiting: taken as soon as the holder lets go.
    const waiting = acquirePgWriterLock(url, { waitMs: 30_000, retryMs: 50 });
    setTimeout(() => void first.release(), 200);
    const second = await waiting;
    assert.equal(second.held, true);
    // The session killed from outside (as when PostgreSQL restarts): lost, reported, free again.
    let lost: TickerpulseError | null = null;
    await second.release();
    const third = await acquirePgWriterLock(url, { onLost: (e) => (lost = e) });
    const admin = pool(url);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'tickerpulse-writer-lock%' AND datname = current_database()");
    await waitFor('the loss to be reported', () => lost !== null, 10_000);
    assert.equal(third.held, false);
    const fourth = await acquirePgWriterLock(url);
    await fourth.release();
  });

  test('kept: taken again after its session was killed; onTaken when another writer got it first', async () => {
    const url = await server!.createDatabase('keep');
    let taken: TickerpulseError | null = null;
    const kept = await keepPgWriterLock(url, { onTaken: (e) => (taken = e) });
    cleanups.push(() => kept.release());
    const admin = pool(url);
    const kill = () => admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'tickerpulse-writer-lock%' AND datname = current_database() AND pid <> pg_backend_pid()");
    const count = async (sql: string) => Number((await admin.query<{ n: string }>(sql)).rows[0].n);
    const sessions = () => count("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
    await kill();
    await waitFor('the lock held again', async () => kept.held && (await sessions()) === 1, 15_000, 50);
    assert.equal(taken, null);
    // Killed again while another session waits in the lock's queue: PostgreSQL grants it to the
    // waiter as the killed session releases it, before that session's socket closes, so the
    // owner's attempt to take it again finds it held, and the owner is told to stop.
    const rival = new pg.Client({ connectionString: url, application_name: 'rival' });
    await rival.connect();
    cleanups.push(() => rival.end());
    const rivalLocked = rival.query('SELECT pg_advisory_lock($1::bigint)', [PG_WRITER_LOCK_KEY]);
    await waitFor('the rival to wait for the lock', async () => (await count("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")) === 1, 10_000);
    await kill();
    await rivalLocked;
    await waitFor('onTaken', () => taken !== null, 15_000);
    assert.equal(taken!.code, 'DB_IN_USE');
  });
});

describe('PgWriter as the sole writer', { skip }, () => {
  test('rows committed whose answer was lost reach onStored before the next commit\'s, in seq order', async () => {
    const url = await server!.createDatabase('sole');
    const w = await PgWriter.start({ url, alerts: null, watchlist: [], soleWriter: true }, log);
    cleanups.push(() => w.close());
    const seen: { source: string; seqs: number[] }[] = [];
    w.onStored = (b) => seen.push({ source: b.sourceId, seqs: b.items.map((i) => i.seq) });
    await w.commit(batch('a', range(0, 3)));
    // Two commits the writer never heard back from (as when the connection dies during COMMIT
    // and the retry finds the items stored): made here on another connection.
    const behind = new PgItemWriter(pool(url));
    await behind.commitPoll('b', batch('b', range(0, 2)).items, {});
    await behind.commitPoll('a', batch('a', range(10, 12)).items, {});
    await w.commit(batch('a', range(20, 22)));
    assert.deepEqual(seen, [
      { source: 'a', seqs: [1, 2, 3] },
      { source: 'b', seqs: [4, 5] },
      { source: 'a', seqs: [6, 7] },
      { source: 'a', seqs: [8, 9] },
    ]);
  });
});

describe('PostgreSQL retention', { skip }, () => {
  test('prunes items by day in batches, their tickers by cascade, a story with its last item; rollups and seqs stay', async () => {
    const url = await server!.createDatabase('retention');
    const w = await PgWriter.start({ url, alerts: null, watchlist: [] }, log);
    cleanups.push(() => w.close());
    // Old items (one per 45 s from T0) and the same story numbers 10 days later in another source.
    await w.commit(batch('old', range(0, 40)));
    const later = (i: number) => ({ publishedAt: new Date(T0 + 10 * 86_400_000 + i * 45_000).toISOString() });
    const newer = batch('new', range(0, 10));
    newer.items = newer.items.map((it, i) => ({ ...it, ...later(i), guid: `n-${i}` }));
    await w.commit(newer);
    const db = pool(url);
    const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0].n);
    const rollupsBefore = await count('SELECT sum(items) AS n FROM rollups WHERE kind = $$source$$ AND bucket = $$1d$$');
    const tickersBefore = await count('SELECT count(*) AS n FROM item_tickers');
    const cutoff = { items: new Date(T0 + 5 * 86_400_000).toISOString() };
    let total = 0;
    let steps = 0;
    for (;;) {
      const n = await w.prune(cutoff, 15);
      total += n.items;
      steps++;
      if (n.items < 15) break;
    }
    assert.equal(total, 40);
    assert.equal(steps, 3, 'batches of 15: 15 + 15 + 10');
    assert.equal(await count('SELECT count(*) AS n FROM items'), 10);
    assert.equal(await count("SELECT count(*) AS n FROM items WHERE source = 'old'"), 0);
    assert.ok((await count('SELECT count(*) AS n FROM item_tickers')) < tickersBefore, 'the ticker index follows its items');
    assert.equal(await count('SELECT count(*) AS n FROM item_tickers t LEFT JOIN items i ON i.seq = t.seq WHERE i.seq IS NULL'), 0);
    assert.equal(await count(`SELECT count(*) AS n FROM stories WHERE last_published_at < '${cutoff.items}'`), 0, 'stories whose last item went are gone');
    assert.equal(await count('SELECT sum(items) AS n FROM rollups WHERE kind = $$source$$ AND bucket = $$1d$$'), rollupsBefore, 'rollups kept');
    assert.equal(await w.vacuum(100), 0, 'autovacuum reclaims the space');
    // Seqs are never handed out again.
    const next = await w.commit(batch('old', range(100, 101)));
    assert.equal(next.items[0].seq, 51);
  });
});

test('tickerpulse prune and reload refuse a postgres config instead of acting on the default SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-prune-pg-'));
  try {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { kind: 'postgres', url: 'postgres://tp@127.0.0.1:1/tp' }, retention: { items: '30d' } }));
    let text = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
    assert.equal(await runPrune(['--config', config], sink, sink), 2);
    assert.match(text, /stores in PostgreSQL; prune works on SQLite files/);
    text = '';
    assert.equal(await runReload(['--config', config], sink, sink), 2);
    assert.match(text, /stores in PostgreSQL; tickerpulse reload finds a daemon by its SQLite database\. Send SIGHUP/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
