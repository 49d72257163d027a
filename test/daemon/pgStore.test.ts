/**
 * The real daemon (`tickerpulse start` as a child process) on the PostgreSQL store: a loopback
 * RSS feed and a JSONL replay ingested, kill -9 mid-ingest, restart — each item stored exactly
 * once with gap-free seqs, the JSONL cursor and the feed's state continued from PostgreSQL, the
 * `?since=0` stream and `tickerpulse query --store` agreeing with the table.
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
import { connectWs, itemsOf, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor } from './harness.js';

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

test('daemon on PostgreSQL: kill -9 mid-ingest, restart, every item once, seqs gap-free, state continued', { skip, timeout: 240_000 }, async () => {
  const url = await server!.createDatabase('daemon');
  const feed = await startFeedServer(makeItems(300, 'k'));
  const replay = join(dir, 'replay.jsonl');
  writeFileSync(replay, makeItems(3000, 'j').map((i) => JSON.stringify({ id: i.guid, title: i.title, publishedAt: i.pubDate.toISOString() })).join('\n') + '\n');
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
  const count = async (source?: string) => {
    try {
      const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM items${source ? ' WHERE source = $1' : ''}`, source ? [source] : []);
      return Number(r.rows[0].n);
    } catch {
      return 0; // the schema is not there yet
    }
  };
  try {
    let d = await startDaemonProcess(['--config', config]);
    await waitFor('ingestion under way', async () => (await count('replay')) > 0, 60_000, 5);
    d.child.kill('SIGKILL');
    await d.exited;
    const partial = await count();
    assert.ok(partial < 3300, `the kill should interrupt ingestion (had ${partial})`);

    d = await startDaemonProcess(['--config', config]);
    await waitFor('all 3300 items', async () => (await count()) >= 3300, 180_000, 200);
    // a later poll of the feed brings nothing new (its ETag / items are known), the replay is done
    const before304 = feed.requests;
    await waitFor('another poll of the feed', () => feed.requests > before304, 30_000, 100);
    const rows = (await db.query<{ seq: string; source: string; guid: string }>('SELECT seq, source, guid FROM items ORDER BY seq')).rows;
    assert.equal(rows.length, 3300);
    assert.equal(new Set(rows.map((r) => `${r.source}/${r.guid}`)).size, 3300, 'each item once');
    assert.deepEqual(rows.map((r) => Number(r.seq)), Array.from({ length: 3300 }, (_, i) => i + 1), 'seqs 1..N without a gap');
    const state = (await db.query<{ id: string; cursor: string | null; items_total: string }>('SELECT id, cursor, items_total FROM sources ORDER BY id')).rows;
    assert.deepEqual(state.map((s) => [s.id, Number(s.items_total)]), [['feed', 300], ['replay', 3000]]);
    assert.ok(state[1].cursor !== null, 'the JSONL cursor is stored');

    // the stream from seq 0 and the query CLI agree with the table
    const client = await connectWs(d.port, '?since=0');
    await waitFor('the replay', () => itemsOf(client).length >= 3300, 60_000);
    assert.deepEqual(itemsOf(client).map((i) => i.seq), rows.map((r) => Number(r.seq)));
    client.ws.close();
    let out = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
    assert.equal(await runQuery(['--store', url, '--format', 'json', '--limit', '1000', '--source', 'replay', '--sort', 'seq', '--order', 'asc'], sink, sink), 0, out);
    const listed = out.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(listed, rows.filter((r) => r.source === 'replay').slice(0, 1000).map((r) => Number(r.seq)));
    const health = (await (await fetch(`http://127.0.0.1:${d.port}/healthz`)).json()) as { db: { ok: boolean } };
    assert.equal(health.db.ok, true);
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await db.end();
    await feed.close();
  }
});
