/**
 * The real daemon (`tickerpulse start` as a child process) on the PostgreSQL store: a loopback
 * RSS feed and a JSONL replay ingested, kill -9 mid-ingest, restart — each item stored exactly
 * once with gap-free seqs, the JSONL cursor and the feed's state continued from PostgreSQL, the
 * `?since` stream and `tickerpulse query --store` agreeing with the table; a second daemon on the
 * same database refused (DB_IN_USE) while the first runs; PostgreSQL stopped and started again
 * under the running daemon, which waits it out and loses nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { runQuery } from '../../src/cli/query.js';
import { pgSkipReason, startPgServer, type PgServer } from '../store/pg/pgServer.js';
import { connectWs, getJson, itemsOf, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type DaemonProcess } from './harness.js';

const skip = pgSkipReason() ?? false;
let server: PgServer | undefined;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-daemon-pg-'));
  if (!skip) server = await startPgServer();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const FEED_ITEMS = 300;
const REPLAY_ITEMS = 3000;
const TOTAL = FEED_ITEMS + REPLAY_ITEMS;

test('daemon on PostgreSQL: kill -9 mid-ingest, restart, every item once, seqs gap-free, state continued, ?since replay', { skip, timeout: 240_000 }, async () => {
  const url = await server!.createDatabase('daemon');
  const feed = await startFeedServer(makeItems(FEED_ITEMS, 'k'));
  const replay = join(dir, 'replay.jsonl');
  writeFileSync(replay, makeItems(REPLAY_ITEMS, 'j').map((i) => JSON.stringify({ id: i.guid, title: i.title, publishedAt: i.pubDate.toISOString() })).join('\n') + '\n');
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      store: { kind: 'postgres', url },
      server: { host: '127.0.0.1', port: 0 },
      sources: [
        { id: 'feed', kind: 'rss', url: feed.url, interval: '1s', allowPrivateNetworks: true },
        { id: 'replay', kind: 'jsonl', path: replay, chunkSize: 100 },
      ],
    }),
  );
  const db = new pg.Pool({ connectionString: url, max: 1 });
  // The outage cuts this pool's idle connection too; the next query opens a new one.
  db.on('error', () => undefined);
  const count = async (source?: string) => {
    try {
      const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM items${source ? ' WHERE source = $1' : ''}`, source ? [source] : []);
      return Number(r.rows[0].n);
    } catch {
      return 0; // the schema is not there yet
    }
  };
  let d: DaemonProcess | null = null;
  try {
    d = await startDaemonProcess(['--config', config]);
    await waitFor('ingestion under way', async () => (await count('replay')) > 0, 60_000, 5);
    d.child.kill('SIGKILL');
    await d.exited;
    const partial = await count();
    assert.ok(partial < TOTAL, `the kill should interrupt ingestion (had ${partial})`);

    d = await startDaemonProcess(['--config', config]);
    // A client from the start: its ?since=0 replay turns into the live stream as items arrive.
    const live = await connectWs(d.port, '?since=0');
    await waitFor(`all ${TOTAL} items`, async () => (await count()) >= TOTAL, 180_000, 200);
    // A later poll of the feed brings nothing new (its ETag / items are known), the replay is done.
    const before304 = feed.requests;
    await waitFor('another poll of the feed', () => feed.requests > before304, 30_000, 100);
    const rows = (await db.query<{ seq: string; source: string; guid: string }>('SELECT seq, source, guid FROM items ORDER BY seq')).rows;
    assert.equal(rows.length, TOTAL);
    assert.equal(new Set(rows.map((r) => `${r.source}/${r.guid}`)).size, TOTAL, 'each item once');
    assert.deepEqual(rows.map((r) => Number(r.seq)), Array.from({ length: TOTAL }, (_, i) => i + 1), 'seqs 1..N without a gap');
    const state = (await db.query<{ id: string; cursor: string | null; items_total: string }>('SELECT id, cursor, items_total FROM sources ORDER BY id')).rows;
    assert.deepEqual(state.map((s) => [s.id, Number(s.items_total)]), [['feed', FEED_ITEMS], ['replay', REPLAY_ITEMS]]);
    assert.ok(state[1].cursor !== null, 'the JSONL cursor is stored');

    // Streams from seq 0 (live through the ingest, and a replay afterwards) and from the middle.
    const seqs = rows.map((r) => Number(r.seq));
    await waitFor('the live client to have everything', () => itemsOf(live).length >= TOTAL, 60_000);
    assert.deepEqual(itemsOf(live).map((i) => i.seq), seqs, 'replay then live: no gap or duplicate across the switch');
    live.ws.close();
    const client = await connectWs(d.port, '?since=0');
    await waitFor('the replay', () => itemsOf(client).length >= TOTAL, 60_000);
    assert.deepEqual(itemsOf(client).map((i) => i.seq), seqs);
    client.ws.close();
    const mid = await connectWs(d.port, '?since=1234');
    await waitFor('the replay from 1234', () => itemsOf(mid).length >= TOTAL - 1234, 60_000);
    assert.deepEqual(itemsOf(mid).map((i) => i.seq), seqs.slice(1234));
    mid.ws.close();

    // One daemon per database: a second start is refused with one plain line, exit 2.
    const second = await startDaemonProcess(['--config', config], {}, 60_000).then(
      async (p) => {
        await stopDaemon(p, 'SIGKILL');
        return 'it started';
      },
      (err: Error) => err.message,
    );
    assert.match(second, /exited with 2 before listening/);
    assert.match(second, /another tickerpulse writer holds this PostgreSQL database \(pid \d+@/);

    // The query CLI and the HTTP API read the same table.
    let out = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
    assert.equal(await runQuery(['--store', url, '--format', 'json', '--limit', '1000', '--source', 'replay', '--sort', 'seq', '--order', 'asc'], sink, sink), 0, out);
    const listed = out.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(listed, rows.filter((r) => r.source === 'replay').slice(0, 1000).map((r) => Number(r.seq)));
    const api = (await getJson(d.port, '/api/items?source=feed&limit=1000')) as { seq: number }[] | { items: { seq: number }[] };
    assert.equal((Array.isArray(api) ? api : api.items).length, FEED_ITEMS);
    const health = (await getJson(d.port, '/healthz')) as { db: { ok: boolean; kind: string; writerLock: boolean } };
    assert.deepEqual(health.db, { kind: 'postgres', writerLock: true, ok: true });

    // PostgreSQL goes away while the feed grows: the daemon waits it out (the poll waits on the
    // store), then stores the new items once, and a live client gets them in order.
    const watcher = await connectWs(d.port, `?since=${TOTAL}`);
    await server!.kill();
    const dbOk = async () => ((await getJson(d!.port, '/healthz').catch(() => null)) as { db?: { ok?: boolean } } | null)?.db?.ok;
    await waitFor('the daemon to see the database down', async () => (await dbOk()) === false, 30_000, 200);
    feed.items = makeItems(FEED_ITEMS + 50, 'k');
    const polls = feed.requests;
    await waitFor('a poll of the grown feed while the database is down', () => feed.requests > polls, 30_000, 100);
    await server!.restart();
    await waitFor(`all ${TOTAL + 50} items`, async () => (await count()) >= TOTAL + 50, 60_000, 200);
    assert.equal(d.child.exitCode, null, 'the daemon kept running through the outage');
    const after = (await db.query<{ seq: string; source: string; guid: string }>('SELECT seq, source, guid FROM items ORDER BY seq')).rows;
    assert.deepEqual(after.map((r) => Number(r.seq)), Array.from({ length: TOTAL + 50 }, (_, i) => i + 1), 'still gap-free');
    assert.equal(new Set(after.map((r) => `${r.source}/${r.guid}`)).size, TOTAL + 50, 'each item once');
    await waitFor('the live client to get the new items', () => itemsOf(watcher).length >= 50, 30_000);
    assert.deepEqual(itemsOf(watcher).map((i) => i.seq), Array.from({ length: 50 }, (_, i) => TOTAL + i + 1));
    watcher.ws.close();
    assert.equal((await stopDaemon(d)).code, 0);
    d = null;
  } finally {
    if (d) await stopDaemon(d, 'SIGKILL');
    await db.end();
    await feed.close();
  }
});
