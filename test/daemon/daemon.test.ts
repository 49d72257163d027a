/**
 * The daemon end to end, as a user runs it: `tickerpulse start` as a child process against a
 * loopback RSS server, checked through SQLite, the WebSocket stream and /healthz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CLI, connectWs, getJson, itemsOf, makeItems, rssDocument, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type FeedServer } from './harness.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tp-daemon-'));
}

function writeConfig(dir: string, sources: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ db: join(dir, 'tp.db'), server: { host: '127.0.0.1', port: 0 }, sources, ...extra }, null, 2));
  return file;
}

function dbRows(dir: string, source?: string): Array<{ source: string; guid: string; seq: number }> {
  const db = new Database(join(dir, 'tp.db'), { readonly: true, fileMustExist: true });
  try {
    const sql = 'SELECT source, guid, seq FROM items' + (source ? ' WHERE source = ?' : '') + ' ORDER BY seq';
    return (source ? db.prepare(sql).all(source) : db.prepare(sql).all()) as Array<{ source: string; guid: string; seq: number }>;
  } finally {
    db.close();
  }
}

function safeRows(dir: string, source?: string) {
  try {
    return dbRows(dir, source);
  } catch {
    return [];
  }
}

const rss = (id: string, feed: FeedServer, interval = '1s') => ({ id, kind: 'rss', url: feed.url, interval, allowPrivateNetworks: true });

test('each served item is stored once, pushed live, survives a restart without duplicates, and ?since resumes with no gap', async () => {
  const dir = tmp();
  const feed = await startFeedServer(makeItems(20, 'a'));
  const config = writeConfig(dir, [rss('alpha', feed)]);
  try {
    let d = await startDaemonProcess(['--config', config]);
    const client = await connectWs(d.port);
    await waitFor('20 items on the WebSocket', () => itemsOf(client).length >= 20);
    const hello = client.messages[0];
    assert.equal(hello.type, 'hello');
    assert.equal(typeof hello.seq, 'number');
    const live = itemsOf(client);
    assert.deepEqual(new Set(live.map((i) => i.guid)), new Set(feed.items.map((i) => i.guid)));
    for (const it of live) {
      assert.equal(it.source, 'alpha');
      assert.ok(['negative', 'neutral', 'positive'].includes(it.label));
      assert.ok(Math.abs(it.pNeg + it.pNeu + it.pPos - 1) < 1e-4);
      assert.ok(Math.abs(it.score - (it.pPos - it.pNeg)) < 1e-4);
      assert.ok(!Number.isNaN(Date.parse(it.publishedAt)));
    }
    // Several more polls of an unchanged feed must not add anything.
    const polled = feed.requests;
    await waitFor('two more polls', () => feed.requests >= polled + 2, 10_000);
    assert.equal(dbRows(dir).length, 20);

    const health = await getJson(d.port, '/healthz');
    assert.equal(health.port, d.port);
    const alpha = health.sources.find((s: { id: string }) => s.id === 'alpha');
    assert.equal(alpha.status, 'ok');
    assert.ok(alpha.lastPollAt);

    client.ws.close();
    assert.equal((await stopDaemon(d)).code, 0);

    // Restart: same DB, same feed plus 5 new items → exactly 25 stored, no duplicates.
    feed.items = [...makeItems(5, 'a', 20), ...feed.items];
    d = await startDaemonProcess(['--config', config]);
    const lastSeen = Math.max(...live.map((i) => i.seq));
    const resumed = await connectWs(d.port, `?since=${lastSeen - 5}`);
    await waitFor('25 rows', () => safeRows(dir).length === 25);
    await waitFor('replayed + new items on the resumed socket', () => itemsOf(resumed).length >= 10);
    await new Promise((r) => setTimeout(r, 1500));
    const rows = dbRows(dir);
    assert.equal(rows.length, 25);
    assert.equal(new Set(rows.map((r) => r.guid)).size, 25);
    const got = itemsOf(resumed).map((i) => i.seq);
    const expected = rows.map((r) => r.seq).filter((s) => s > lastSeen - 5);
    assert.deepEqual(got, expected, '?since replays every later item in order, then live items, with no gap or duplicate');
    resumed.ws.close();
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await feed.close();
  }
});

test('kill -9 during ingestion, then restart: every served item is stored exactly once', async () => {
  const dir = tmp();
  const feed = await startFeedServer(makeItems(1500, 'k'));
  const replayFile = join(dir, 'replay.jsonl');
  writeFileSync(replayFile, makeItems(6000, 'j').map((i) => JSON.stringify({ id: i.guid, title: i.title, publishedAt: i.pubDate.toISOString() })).join('\n') + '\n');
  const config = writeConfig(dir, [rss('big-feed', feed), { id: 'replay', kind: 'jsonl', path: replayFile, chunkSize: 200 }]);
  try {
    let d = await startDaemonProcess(['--config', config]);
    await waitFor('ingestion under way', () => safeRows(dir, 'replay').length > 0, 20_000, 5);
    d.child.kill('SIGKILL');
    await d.exited;
    const partial = safeRows(dir).length;
    assert.ok(partial < 7500, `the kill should interrupt ingestion (had ${partial})`);
    d = await startDaemonProcess(['--config', config]);
    await waitFor('all 7500 items', () => safeRows(dir).length >= 7500, 60_000, 200);
    await new Promise((r) => setTimeout(r, 1500));
    const rows = dbRows(dir);
    assert.equal(rows.length, 7500);
    assert.equal(new Set(rows.map((r) => `${r.source}/${r.guid}`)).size, 7500);
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await feed.close();
  }
});

test('SIGTERM: exit 0, WAL checkpointed, WebSocket clients closed with 1001', async () => {
  const dir = tmp();
  const feed = await startFeedServer(makeItems(30, 's'));
  const config = writeConfig(dir, [rss('sig', feed)]);
  try {
    const d = await startDaemonProcess(['--config', config]);
    const client = await connectWs(d.port);
    await waitFor('items', () => itemsOf(client).length >= 30);
    const t0 = Date.now();
    const exit = await stopDaemon(d, 'SIGTERM');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 10_000);
    const closed = await client.closed;
    assert.equal(closed.code, 1001);
    const wal = join(dir, 'tp.db-wal');
    assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'WAL must be checkpointed (empty or gone)');
    assert.equal(dbRows(dir).length, 30);
  } finally {
    await feed.close();
  }
});

test("a source whose worker crashes does not stop the others and shows in /healthz", async () => {
  const dir = tmp();
  const good = await startFeedServer(makeItems(10, 'g'));
  const bad = await startFeedServer(makeItems(3, 'b'));
  const config = writeConfig(dir, [rss('good', good), rss('flaky', bad)], { limits: { classifyAttempts: 2 } });
  try {
    const d = await startDaemonProcess(['--config', config], { TICKERPULSE_FAULT_INJECT: 'crash-worker:flaky' });
    await waitFor('good source stored', () => dbRows(dir, 'good').length === 10);
    const health = await waitFor('flaky source reported', async () => {
      const h = await getJson(d.port, '/healthz');
      const f = h.sources.find((s: { id: string }) => s.id === 'flaky');
      return f && f.errors > 0 ? h : undefined;
    });
    const flaky = health.sources.find((s: { id: string }) => s.id === 'flaky');
    const goodH = health.sources.find((s: { id: string }) => s.id === 'good');
    assert.equal(flaky.lastError, 'WORKER_FAILED');
    assert.notEqual(flaky.status, 'ok');
    assert.equal(goodH.status, 'ok');
    assert.equal(goodH.items, 10);
    // Still alive and still serving the good source after the crashes.
    good.items = [...makeItems(2, 'g', 10), ...good.items];
    await waitFor('new items of the good source', () => dbRows(dir, 'good').length === 12);
    assert.equal(dbRows(dir, 'flaky').length, 0);
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await good.close();
    await bad.close();
  }
});

test('a source that recovers no longer shows its last error in /healthz, as in the database', async () => {
  const dir = tmp();
  const items = makeItems(4, 'rc');
  let failing = true;
  const feed = createServer((req, res) => {
    if (failing) res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
    else res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' }).end(rssDocument(items));
  });
  feed.listen(0, '127.0.0.1');
  await once(feed, 'listening');
  const url = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/feed.xml`;
  const config = writeConfig(dir, [{ id: 'flappy', kind: 'rss', url, interval: '1s', allowPrivateNetworks: true }], { limits: { maxBackoff: '2s' } });
  try {
    const d = await startDaemonProcess(['--config', config]);
    const source = async () => (await getJson(d.port, '/healthz')).sources.find((s: { id: string }) => s.id === 'flappy');
    const down = await waitFor('the failed poll in /healthz', async () => {
      const s = await source();
      return s?.lastError ? s : undefined;
    });
    assert.notEqual(down.status, 'ok');
    failing = false;
    const up = await waitFor('the recovered source', async () => {
      const s = await source();
      return s?.status === 'ok' && s.items === 4 ? s : undefined;
    });
    assert.equal(up.lastError, null, `a recovered source shows no error: ${JSON.stringify(up)}`);
    const db = new Database(join(dir, 'tp.db'), { readonly: true, fileMustExist: true });
    try {
      assert.equal((db.prepare('SELECT last_error FROM sources WHERE id = ?').get('flappy') as { last_error: string | null }).last_error, null);
    } finally {
      db.close();
    }
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    feed.closeAllConnections();
    feed.close();
  }
});

test('while a crashed worker is being retried the source shows retrying, the next attempt and the error, and it is logged', async () => {
  const dir = tmp();
  const bad = await startFeedServer(makeItems(3, 'r'));
  // Ten tries with backoff up to 2 s: each poll spends well over ten seconds retrying.
  const config = writeConfig(dir, [rss('crashy', bad, '1h')], { limits: { classifyAttempts: 10 } });
  try {
    const d = await startDaemonProcess(['--config', config], { TICKERPULSE_FAULT_INJECT: 'crash-classify:crashy' });
    const src = await waitFor('the source to show its retry', async () => {
      const h = await getJson(d.port, '/healthz');
      const s = h.sources.find((x: { id: string }) => x.id === 'crashy');
      return s?.status === 'retrying' && s.retry ? s : undefined;
    }, 60_000);
    assert.equal(src.lastError, 'WORKER_FAILED');
    assert.equal(src.retry.error, 'WORKER_FAILED');
    assert.equal(src.retry.attempts, 10);
    assert.ok(!Number.isNaN(Date.parse(src.retry.nextAttemptAt)), `nextAttemptAt: ${src.retry.nextAttemptAt}`);
    const logged = await waitFor('a warning about the retry', () =>
      d.logs.find((l) => l.source === 'crashy' && l.level === 40 && l.code === 'WORKER_FAILED' && /retrying/.test(String(l.msg))),
    );
    assert.ok(logged.nextAttemptAt);
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await bad.close();
  }
});

test('an invalid config exits 2 and names every bad field', () => {
  const dir = tmp();
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `server: { port: "eighty" }
sources:
  - id: Fed Press
    kind: rss
    url: not-a-url
  - id: replay
    kind: jsonl
`,
  );
  const r = spawnSync(process.execPath, [CLI, 'start', '--config', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  for (const p of ['server.port', 'sources[0].id', 'sources[0].url', 'sources[1].path']) assert.ok(r.stderr.includes(p), `stderr names ${p}: ${r.stderr}`);
});
