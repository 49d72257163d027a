import { test, describe, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { ItemStore } from '../../src/store/itemStore.js';
import { startServer, type RunningServer, type ServerLimits } from '../../src/server/server.js';
import type { ClassifiedItem, Label, StoredItem } from '../../src/lib/types.js';

const log = pino({ level: 'silent' });
const LABELS: Label[] = ['negative', 'neutral', 'positive'];
const pkgVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-server-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let guidCounter = 0;
function items(source: string, count: number, over: Partial<ClassifiedItem> = {}): ClassifiedItem[] {
  return Array.from({ length: count }, () => {
    const i = ++guidCounter;
    return {
      source,
      guid: `g${i}`,
      url: `https://example.com/${i}`,
      title: `Headline ${i}`,
      summary: `Summary ${i}`,
      publishedAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      fetchedAt: new Date().toISOString(),
      label: LABELS[i % 3],
      pNeg: 0.2,
      pNeu: 0.3,
      pPos: 0.5,
      score: 0.3,
      model: 'm',
      ...over,
    };
  });
}

interface Msg {
  type: string;
  [k: string]: unknown;
}

/** A WebSocket client that records every message and its close. */
class Client {
  readonly msgs: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString()) as Msg));
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('error', () => {});
  }
  static connect(url: string): Client {
    return new Client(new WebSocket(url));
  }
  items(): { seq: number; [k: string]: unknown }[] {
    return this.msgs.filter((m) => m.type === 'item').map((m) => m.item as { seq: number });
  }
  lastSeq(): number {
    const it = this.items();
    return it.length ? it[it.length - 1].seq : 0;
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function assertConsecutive(seqs: number[], from: number, to: number): void {
  assert.equal(seqs.length, to - from + 1, `expected ${to - from + 1} items, got ${seqs.length}`);
  seqs.forEach((s, i) => assert.equal(s, from + i, `item #${i} has seq ${s}, expected ${from + i}`));
}

let store: ItemStore;
let srv: RunningServer;
let health: Record<string, unknown>;
let nDb = 0;

async function setup(limits?: Partial<ServerLimits>): Promise<void> {
  store = ItemStore.open(join(dir, `s${++nDb}.db`));
  health = { sources: 0 };
  srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => health, log, limits });
}
async function teardown(): Promise<void> {
  await srv.close();
  store.close();
}
const wsUrl = (q = '') => srv.url.replace('http:', 'ws:') + '/ws' + q;
function commitAndBroadcast(source: string, count: number): StoredItem[] {
  const stored = store.commitPoll(source, items(source, count), {});
  srv.broadcast(stored);
  return stored;
}

describe('server: HTTP', () => {
  beforeEach(() => setup());
  afterEach(() => teardown());

  test('listens on a real port', () => {
    assert.ok(srv.port > 0);
    assert.equal(srv.url, `http://127.0.0.1:${srv.port}`);
  });

  test('/healthz and /readyz: ok; degraded with its reason (200); failing when health() says so or the db is down (503); /livez 200 throughout', async () => {
    const probe = async (path: string) => {
      const res = await fetch(srv.url + path);
      return { code: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    let res = await fetch(srv.url + '/healthz');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    let body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.status, 'ok');
    assert.equal(body.reason, null);
    assert.equal(body.port, srv.port);
    assert.deepEqual(body.db, { ok: true });
    assert.equal(body.sources, 0);
    assert.deepEqual(await probe('/readyz'), { code: 200, body: { status: 'ok', reason: null } });

    health = { status: 'degraded', reason: '1 of 2 sources failing: b (FEED_FETCH_FAILED)' };
    assert.deepEqual(await probe('/readyz'), { code: 200, body: { status: 'degraded', reason: '1 of 2 sources failing: b (FEED_FETCH_FAILED)' } });
    let h = await probe('/healthz');
    assert.equal(h.code, 200);
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.reason, '1 of 2 sources failing: b (FEED_FETCH_FAILED)');

    health = { status: 'failing', reason: 'every source is failing' };
    h = await probe('/healthz');
    assert.equal(h.code, 503);
    assert.equal(h.body.status, 'failing');
    assert.equal(h.body.reason, 'every source is failing');
    assert.equal((await probe('/readyz')).code, 503);
    assert.deepEqual(await probe('/livez'), { code: 200, body: { status: 'alive' } });

    health = {};
    store.close();
    h = await probe('/healthz');
    assert.equal(h.code, 503);
    assert.equal(h.body.status, 'failing');
    assert.equal(h.body.reason, 'the database does not answer');
    assert.deepEqual(h.body.db, { ok: false });
    assert.equal((await probe('/readyz')).code, 503);
    assert.deepEqual(await probe('/livez'), { code: 200, body: { status: 'alive' } });
    store = ItemStore.open(join(dir, `s${nDb}.db`)); // for teardown
  });

  test('/api/items: filters, newest first, validation errors', async () => {
    store.commitPoll('a', items('a', 3, { label: 'negative' }), {});
    store.commitPoll('b', items('b', 2, { label: 'positive', title: 'Globex beats estimates' }), {});
    let res = await fetch(srv.url + '/api/items');
    assert.equal(res.status, 200);
    let body = (await res.json()) as Record<string, unknown>[];
    assert.equal(body.length, 5);
    assert.deepEqual(body.map((i) => i.seq), [5, 4, 3, 2, 1]);
    assert.deepEqual(Object.keys(body[0]).sort(), ['dateMissing', 'fetchedAt', 'guid', 'label', 'model', 'pNeg', 'pNeu', 'pPos', 'publishedAt', 'score', 'seq', 'source', 'storyId', 'summary', 'tickers', 'title', 'url']);

    body = (await (await fetch(srv.url + '/api/items?source=a&limit=2')).json()) as Record<string, unknown>[];
    assert.deepEqual(body.map((i) => i.seq), [3, 2]);
    body = (await (await fetch(srv.url + '/api/items?label=positive&search=globex')).json()) as Record<string, unknown>[];
    assert.deepEqual(body.map((i) => i.source), ['b', 'b']);
    body = (await (await fetch(srv.url + '/api/items?since=2024-01-01T00:00:00Z&label=negative')).json()) as Record<string, unknown>[];
    assert.equal(body.length, 3);

    for (const q of ['label=bad', 'limit=0', 'limit=100000', 'since=yesterday', 'source=a&source=b', 'ticker=' + encodeURIComponent("A' OR 1=1 --"), 'ticker=', 'ticker=AAPL&ticker=MSFT']) {
      res = await fetch(srv.url + '/api/items?' + q);
      assert.equal(res.status, 400, q);
      const err = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(err.error.code, 'INPUT_INVALID');
      assert.ok(err.error.message.length > 0);
    }
  });

  test('/api/items?ticker=: filter by symbol, items carry tickers; WebSocket items too', async () => {
    const tk = (symbol: string) => ({ symbol, via: 'name', label: 'positive' as const, score: 0.3, pNeg: 0.2, pNeu: 0.3, pPos: 0.5 });
    const c = Client.connect(wsUrl());
    await until(() => c.msgs.length >= 1, 'hello');
    const stored = store.commitPoll('t', [...items('t', 1, { tickers: [tk('AAPL'), tk('BRK.B')] }), ...items('t', 1)], {});
    srv.broadcast(stored);
    let body = (await (await fetch(srv.url + '/api/items?ticker=aapl')).json()) as Record<string, unknown>[];
    assert.deepEqual(body.map((i) => i.seq), [stored[0].seq]);
    assert.deepEqual(body[0].tickers, [{ symbol: 'AAPL', label: 'positive', score: 0.3 }, { symbol: 'BRK.B', label: 'positive', score: 0.3 }]);
    body = (await (await fetch(srv.url + '/api/items?ticker=BRK-B')).json()) as Record<string, unknown>[];
    assert.equal(body.length, 1);
    const res = await fetch(srv.url + '/api/items?ticker=' + encodeURIComponent("1; DROP TABLE items"));
    assert.equal(res.status, 400);
    const err = (await res.json()) as { error: { code: string; message: string } };
    assert.match(err.error.message, /^ticker must be a symbol/);
    assert.doesNotMatch(err.error.message, /SELECT|item_tickers/);
    await until(() => c.items().length === 2, 'items');
    assert.deepEqual(c.items().map((i) => i.tickers), [[{ symbol: 'AAPL', label: 'positive', score: 0.3 }, { symbol: 'BRK.B', label: 'positive', score: 0.3 }], []]);
    c.ws.close();
  });

  test('/ placeholder page, 404 and 405', async () => {
    let res = await fetch(srv.url + '/');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /href="\/healthz"/);
    assert.match(html, /href="\/api\/items"/);
    res = await fetch(srv.url + '/nope');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    res = await fetch(srv.url + '/api/items', { method: 'POST' });
    assert.equal(res.status, 405);
    await res.arrayBuffer();
  });
});

describe('server: WebSocket', () => {
  beforeEach(() => setup());
  afterEach(() => teardown());

  test('hello carries the latest seq, protocol and version; broadcasts reach the client', async () => {
    const before = store.commitPoll('a', items('a', 3), {});
    const c = Client.connect(wsUrl());
    await until(() => c.msgs.length >= 1, 'hello');
    assert.deepEqual(c.msgs[0], { type: 'hello', seq: before[2].seq, protocol: 2, version: pkgVersion, filter: {} });
    const stored = commitAndBroadcast('a', 2);
    await until(() => c.items().length === 2, 'items');
    const [first] = c.items();
    assert.deepEqual(first, {
      seq: stored[0].seq,
      source: 'a',
      guid: stored[0].guid,
      title: stored[0].title,
      url: stored[0].url,
      publishedAt: stored[0].publishedAt,
      label: stored[0].label,
      score: stored[0].score,
      pNeg: stored[0].pNeg,
      pNeu: stored[0].pNeu,
      pPos: stored[0].pPos,
      tickers: [],
      storyId: null,
    });
    // an item the client is already past is never re-sent
    srv.broadcast(stored);
    srv.broadcast(before);
    commitAndBroadcast('a', 1);
    await until(() => c.items().length === 3, 'third item');
    await sleep(20);
    assertConsecutive(c.items().map((i) => i.seq), stored[0].seq, stored[0].seq + 2);
    c.ws.close();
  });

  test('ping → pong; oversized inbound message → 1009', async () => {
    const c = Client.connect(wsUrl());
    await until(() => c.msgs.length >= 1, 'hello');
    c.ws.send(JSON.stringify({ type: 'ping' }));
    await until(() => c.msgs.some((m) => m.type === 'pong'), 'pong');
    c.ws.send(JSON.stringify({ type: 'subscribe', later: true })); // unknown field: a BAD_REQUEST error, not a close
    c.ws.send('x'.repeat(70 * 1024));
    assert.equal((await c.closed).code, 1009);
  });

  test('invalid since → error message, then close 1008', async () => {
    for (const q of ['?since=abc', '?since=-1', '?since=1.5', '?since=1&since=2']) {
      const c = Client.connect(wsUrl(q));
      const closed = await c.closed;
      assert.equal(closed.code, 1008, q);
      assert.equal(c.msgs.length, 1, q);
      assert.equal(c.msgs[0].type, 'error');
      assert.equal(c.msgs[0].code, 'BAD_REQUEST');
    }
  });

  test('upgrade on another path is refused', async () => {
    const ws = new WebSocket(srv.url.replace('http:', 'ws:') + '/other');
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 404);
  });

  test('since=SEQ replays exactly the missing items in order, then live', async () => {
    const stored = store.commitPoll('a', items('a', 50), {});
    const c = Client.connect(wsUrl(`?since=${stored[19].seq}`));
    await until(() => c.items().length === 30, 'replay');
    assert.equal(c.msgs[0].type, 'hello');
    assert.equal(c.msgs[0].seq, stored[49].seq);
    const live = commitAndBroadcast('a', 5);
    await until(() => c.lastSeq() === live[4].seq, 'live items');
    assertConsecutive(c.items().map((i) => i.seq), stored[20].seq, live[4].seq);
    // since beyond the latest seq starts at "now"
    const d = Client.connect(wsUrl('?since=999999'));
    await until(() => d.msgs.length >= 1, 'hello');
    const more = commitAndBroadcast('a', 1);
    await until(() => d.items().length === 1, 'live after since>latest');
    assert.equal(d.items()[0].seq, more[0].seq);
    c.ws.close();
    d.ws.close();
  });
});

/**
 * The hard case: items are committed and broadcast while a client's replay is still running.
 * Small replay pages make the replay yield often; the test commits + broadcasts on every turn
 * of the event loop while the server reports the client as replaying.
 */
for (const variant of [
  { name: 'live items queued during replay', limits: { replayPageSize: 100 } },
  { name: 'replay queue overflows (items re-read from the store)', limits: { replayPageSize: 100, maxReplayQueue: 20 } },
  // 3000 × 4 KiB titles = 12 MiB: more than loopback's kernel buffers, so the paused client's
  // backlog reaches the server's userland buffer and the replay has to wait for it to drain.
  { name: 'client paused mid-replay (buffer high-water waits)', limits: { replayPageSize: 100, replayHighWaterBytes: 64 * 1024 }, pause: true, title: 'T'.repeat(4096) },
]) {
  describe(`server: since=0 with 3000 stored items — ${variant.name}`, () => {
    beforeEach(() => setup(variant.limits));
    afterEach(() => teardown());

    test('no gap, no duplicate, ascending', async () => {
      for (let i = 0; i < 6; i++) store.commitPoll('a', items('a', 500, variant.title ? { title: variant.title } : {}), {});
      assert.equal(store.latestSeq(), 3000);
      const c = Client.connect(wsUrl('?since=0'));
      if (variant.pause) {
        c.ws.once('open', () => {
          const sock = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
          sock.pause();
          setTimeout(() => sock.resume(), 300);
        });
      }
      await until(() => srv.stats().replaying === 1, 'replay to start', 10_000);
      let duringReplay = 0;
      while (srv.stats().replaying === 1) {
        commitAndBroadcast(duringReplay % 2 ? 'a' : 'b', 7);
        duringReplay++;
        await tick();
      }
      assert.ok(duringReplay > 0, 'some items were broadcast while the replay ran');
      for (let i = 0; i < 5; i++) {
        commitAndBroadcast('a', 3);
        await tick();
      }
      const last = store.latestSeq();
      await until(() => c.lastSeq() === last, `client to reach seq ${last}`, 20_000);
      await sleep(50); // anything extra (a duplicate) would arrive now
      assert.equal(c.msgs[0].type, 'hello');
      assert.equal(c.msgs[0].seq, 3000);
      assertConsecutive(c.items().map((i) => i.seq), 1, last);
      c.ws.close();
    });
  });
}

describe('server: slow clients and shutdown', () => {
  afterEach(() => teardown());

  test('a client that stops reading is closed with 4008 and told where to resume', async () => {
    await setup({ maxBufferedBytes: 256 * 1024 });
    const c = Client.connect(wsUrl());
    await until(() => c.msgs.length >= 1, 'hello');
    const sock = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    sock.pause();
    const big = 'x'.repeat(32 * 1024);
    let seq = 0;
    const fake = (): StoredItem => ({ ...items('a', 1, { title: big })[0], seq: ++seq, dateMissing: false, publishedAt: '2024-01-01T00:00:00.000Z' });
    for (let round = 0; round < 2000 && srv.stats().clients === 1; round++) {
      srv.broadcast(Array.from({ length: 10 }, fake));
      await tick();
    }
    assert.equal(srv.stats().clients, 0, 'server gave up on the client');
    sock.resume();
    const closed = await c.closed;
    assert.equal(closed.code, 4008);
    const m = /^too slow, reconnect with since=(\d+)$/.exec(closed.reason);
    assert.ok(m, closed.reason);
    // everything sent before the close frame arrived, in order, and the reason names the last one
    assertConsecutive(c.items().map((i) => i.seq), 1, c.lastSeq());
    assert.equal(Number(m[1]), c.lastSeq());
  });

  test('close() sends 1001 to every client and stops the HTTP server', async () => {
    await setup();
    const a = Client.connect(wsUrl());
    const b = Client.connect(wsUrl('?since=0'));
    await until(() => a.msgs.length >= 1 && b.msgs.length >= 1, 'hellos');
    await (await fetch(srv.url + '/healthz')).json(); // leaves a keep-alive connection
    const url = srv.url;
    const t0 = Date.now();
    await srv.close();
    assert.ok(Date.now() - t0 < 1500, 'close did not wait for the grace period');
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    assert.deepEqual(ca, { code: 1001, reason: 'server shutting down' });
    assert.equal(cb.code, 1001);
    await assert.rejects(fetch(url + '/healthz'));
    await srv.close(); // idempotent
  });
});
