/**
 * The json, websocket and jsonl follow / stdin sources end to end: `tickerpulse start` as a child
 * process against loopback upstreams, checked in SQLite (every item stored exactly once) and
 * /healthz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WebSocketServer, type WebSocket } from 'ws';
import { getJson, makeItems, startDaemonProcess, stopDaemon, waitFor, type DaemonProcess, type FeedItem } from './harness.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tp-sources-'));
}

function writeConfig(dir: string, sources: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ db: join(dir, 'tp.db'), server: { host: '127.0.0.1', port: 0 }, limits: { batchWait: '50ms' }, sources, ...extra }, null, 2));
  return file;
}

function rows(dir: string, source: string): Array<{ guid: string; title: string }> {
  try {
    const db = new Database(join(dir, 'tp.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT guid, title FROM items WHERE source = ? ORDER BY seq').all(source) as Array<{ guid: string; title: string }>;
    } finally {
      db.close();
    }
  } catch {
    return [];
  }
}

/** Exactly `expected` stored, once each; waits a little longer first so late duplicates would show. */
async function assertStoredOnce(dir: string, source: string, expected: string[]): Promise<void> {
  await waitFor(`${expected.length} rows of ${source}`, () => rows(dir, source).length >= expected.length, 30_000);
  await new Promise((r) => setTimeout(r, 700));
  const got = rows(dir, source).map((r) => r.guid);
  assert.equal(got.length, expected.length, `stored ${got.length} rows, expected ${expected.length}`);
  assert.equal(new Set(got).size, got.length, 'no guid is stored twice');
  assert.deepEqual(new Set(got), new Set(expected));
}

async function sourceHealth(d: DaemonProcess, id: string): Promise<Record<string, any>> {
  const h = await getJson(d.port, '/healthz');
  return h.sources.find((s: { id: string }) => s.id === id);
}

const article = (i: FeedItem) => ({ uuid: i.guid, headline: i.title, link: `https://news.example.com/${i.guid}`, datetime: Math.floor(i.pubDate.getTime() / 1000) });
const jsonLine = (i: FeedItem) => JSON.stringify({ id: i.guid, title: i.title, publishedAt: i.pubDate.toISOString() }) + '\n';

test('json: a loopback JSON API is polled, mapped and stored once; unchanged polls are 304s', async () => {
  const dir = tmp();
  let items = makeItems(12, 'api');
  let version = 1;
  const seen = { requests: 0, notModified: 0 };
  const server = createServer((req, res) => {
    seen.requests++;
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) {
      seen.notModified++;
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(JSON.stringify({ status: 'ok', data: { articles: items.map(article) } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/news`;
  const config = writeConfig(dir, [
    { id: 'api', kind: 'json', url, interval: '1s', allowPrivateNetworks: true, items: 'data.articles', fields: { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid' } },
  ]);
  let d: DaemonProcess | undefined;
  try {
    d = await startDaemonProcess(['--config', config]);
    await assertStoredOnce(dir, 'api', items.map((i) => i.guid));
    await waitFor('a 304 on an unchanged poll', () => seen.notModified >= 1, 10_000);
    assert.equal(rows(dir, 'api').length, 12);
    // New articles (and the old ones again) in a new version of the document.
    items = [...makeItems(3, 'api', 12), ...items];
    version++;
    await assertStoredOnce(dir, 'api', items.map((i) => i.guid));
    const h = await sourceHealth(d, 'api');
    assert.equal(h.kind, 'json');
    assert.equal(h.status, 'ok');
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    if (d) await stopDaemon(d, 'SIGKILL');
    server.closeAllConnections();
    server.close();
  }
});

test('websocket: streamed items are stored once, across a server that drops the connection mid-stream and resends after the reconnect', async () => {
  const dir = tmp();
  const first = makeItems(10, 'ws');
  const all = makeItems(16, 'ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const subscribes: string[] = [];
  let connections = 0;
  let firstConnection: WebSocket | undefined;
  wss.on('connection', (ws: WebSocket) => {
    const n = ++connections;
    ws.on('error', () => undefined);
    ws.once('message', (m) => {
      subscribes.push(String(m));
      if (n === 1) {
        // Half the stream one item per message, then a batch message; the test drops the
        // connection once these are stored, so the resend is checked against the store.
        for (const i of first.slice(0, 5)) ws.send(JSON.stringify({ type: 'news', data: article(i) }));
        ws.send(JSON.stringify({ type: 'news', data: first.slice(5).map(article) }));
        firstConnection = ws;
      } else {
        ws.send(JSON.stringify({ type: 'ack' }));
        ws.send(JSON.stringify({ type: 'news', data: all.map(article) }));
      }
    });
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/stream`;
  const config = writeConfig(dir, [
    {
      id: 'stream',
      kind: 'websocket',
      url,
      allowPrivateNetworks: true,
      subscribe: { action: 'subscribe', topics: ['equities'] },
      items: 'data',
      fields: { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid' },
      reconnectDelay: '200ms',
      batchWait: '50ms',
    },
  ]);
  let d: DaemonProcess | undefined;
  try {
    d = await startDaemonProcess(['--config', config]);
    await assertStoredOnce(dir, 'stream', first.map((i) => i.guid));
    await waitFor('the first connection', () => firstConnection, 20_000);
    firstConnection!.terminate();
    await waitFor('the reconnect', () => connections >= 2, 20_000);
    await assertStoredOnce(dir, 'stream', all.map((i) => i.guid));
    assert.equal(subscribes.length, 2);
    assert.deepEqual(JSON.parse(subscribes[1]), { action: 'subscribe', topics: ['equities'] });
    // The report of the resent poll reaches /healthz after its commit is visible in the file.
    const dd = d;
    const h = await waitFor('the resent items counted as duplicates', async () => {
      const s = await sourceHealth(dd, 'stream');
      return s.duplicatesSkipped >= 10 && s.errors >= 1 && s;
    });
    assert.equal(h.kind, 'websocket');
    assert.equal(h.duplicatesSkipped, 10, 'each resent item counted once');
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    // Also when an assertion failed: a daemon left running would hang the test runner.
    if (d) await stopDaemon(d, 'SIGKILL');
    for (const c of wss.clients) c.terminate();
    wss.close();
  }
});

test('jsonl follow: appended lines, a rotated file and a truncated file are all stored once', async () => {
  const dir = tmp();
  const path = join(dir, 'news.jsonl');
  const items = makeItems(14, 'tail');
  writeFileSync(path, items.slice(0, 5).map(jsonLine).join(''));
  const config = writeConfig(dir, [{ id: 'tail', kind: 'jsonl', path: 'news.jsonl', follow: true, pollInterval: '50ms' }]);
  const d = await startDaemonProcess(['--config', config]);
  try {
    await assertStoredOnce(dir, 'tail', items.slice(0, 5).map((i) => i.guid));
    appendFileSync(path, items.slice(5, 8).map(jsonLine).join(''));
    await assertStoredOnce(dir, 'tail', items.slice(0, 8).map((i) => i.guid));
    // Rotation: rename, a last write to the old file, then a new file.
    renameSync(path, path + '.1');
    appendFileSync(path + '.1', jsonLine(items[8]));
    writeFileSync(path, items.slice(9, 11).map(jsonLine).join(''));
    await assertStoredOnce(dir, 'tail', items.slice(0, 11).map((i) => i.guid));
    // Truncation (copytruncate): emptied, then new lines.
    truncateSync(path, 0);
    await new Promise((r) => setTimeout(r, 200));
    appendFileSync(path, items.slice(11).map(jsonLine).join(''));
    await assertStoredOnce(dir, 'tail', items.map((i) => i.guid));
    const h = await sourceHealth(d, 'tail');
    assert.equal(h.status, 'ok', 'a followed file never completes');
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await stopDaemon(d, 'SIGKILL');
  }
});

test('jsonl stdin: lines piped into the daemon are stored once; EOF completes the source', async () => {
  const dir = tmp();
  const items = makeItems(9, 'in');
  const config = writeConfig(dir, [{ id: 'piped', kind: 'jsonl', path: '-', pollInterval: '50ms' }]);
  const d = await startDaemonProcess(['--config', config], {}, 20_000, { stdin: 'pipe' });
  const child = d.child;
  try {
    // A line split across two writes, then an idle pause: flushed without waiting for chunkSize.
    const text = items.slice(0, 4).map(jsonLine).join('');
    child.stdin!.write(text.slice(0, 50));
    child.stdin!.write(text.slice(50));
    await assertStoredOnce(dir, 'piped', items.slice(0, 4).map((i) => i.guid));
    child.stdin!.write(items.slice(4).map(jsonLine).join('') + items.slice(0, 2).map(jsonLine).join('')); // two repeats
    child.stdin!.end();
    await assertStoredOnce(dir, 'piped', items.map((i) => i.guid));
    await waitFor('the source done at EOF', async () => (await sourceHealth(d, 'piped')).status === 'done', 10_000);
    assert.equal((await stopDaemon(d)).code, 0);
  } finally {
    await stopDaemon(d, 'SIGKILL');
  }
});
