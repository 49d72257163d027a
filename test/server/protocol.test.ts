/**
 * Protocol 2 (docs/PROTOCOL.md): subscription filters, resume with a filter, slow clients,
 * client message safeguards, access control (token, Origin, per-IP cap, bind check), rollup
 * and source messages — all with real ws clients against startServer.
 */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, type ClientOptions } from 'ws';
import { pino } from 'pino';
import { ItemStore } from '../../src/store/itemStore.js';
import { startServer, type RunningServer, type ServerLimits, type ServerOptions } from '../../src/server/server.js';
import { isLoopbackHost, redactUrl, resolveToken } from '../../src/server/auth.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { configSchema } from '../../src/config/schema.js';
import type { ClassifiedItem, ItemTicker, Label, StoredAlert, StoredItem } from '../../src/lib/types.js';

const log = pino({ level: 'silent' });
const TOKEN = 'correct-horse-battery-staple';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-protocol-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Msg {
  type: string;
  [k: string]: unknown;
}

class Client {
  readonly msgs: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString()) as Msg));
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('error', () => {});
  }
  of(type: string): Msg[] {
    return this.msgs.filter((m) => m.type === type);
  }
  seqs(): number[] {
    return this.of('item').map((m) => (m.item as { seq: number }).seq);
  }
  last(): number {
    const s = this.seqs();
    return s.length ? s[s.length - 1] : 0;
  }
  send(x: unknown): void {
    this.ws.send(typeof x === 'string' ? x : JSON.stringify(x));
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

let store: ItemStore;
let srv: RunningServer | undefined;
let n = 0;
async function setup(opts: Partial<ServerOptions> & { limits?: Partial<ServerLimits> } = {}): Promise<RunningServer> {
  store = ItemStore.open(join(dir, `p${++n}.db`));
  srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log, ...opts });
  return srv;
}
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  store?.close();
});
const wsUrl = (q = '') => srv!.url.replace('http:', 'ws:') + '/ws' + q;
async function connect(q = '', opts?: ClientOptions): Promise<Client> {
  const c = new Client(new WebSocket(wsUrl(q), opts));
  await until(() => c.msgs.length >= 1, 'hello');
  assert.equal(c.msgs[0].type, 'hello');
  return c;
}
/** The HTTP status of a refused upgrade (0 = it was accepted). */
function upgradeStatus(q: string, opts?: ClientOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(q), opts);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? -1, body }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 0, body: '' });
    });
    ws.on('error', () => undefined);
  });
}

const tk = (symbol: string, score = 0.3, label: Label = 'positive'): ItemTicker => ({ symbol, via: 'cashtag', label, score, pNeg: 0.1, pNeu: 0.3, pPos: 0.6 });
let g = 0;
function item(over: Partial<ClassifiedItem> = {}): ClassifiedItem {
  const i = ++g;
  return {
    source: 'a',
    guid: `g${i}`,
    url: null,
    title: `Headline ${i}`,
    summary: null,
    publishedAt: '2024-05-01T13:45:10.000Z',
    fetchedAt: new Date().toISOString(),
    label: 'neutral',
    pNeg: 0.2,
    pNeu: 0.6,
    pPos: 0.2,
    score: 0,
    model: 'm',
    ...over,
  };
}
/** Commits items of one source (what the daemon does per poll) and broadcasts them. */
function commit(list: ClassifiedItem[]): StoredItem[] {
  const out: StoredItem[] = [];
  const bySource = new Map<string, ClassifiedItem[]>();
  for (const it of list) bySource.set(it.source, [...(bySource.get(it.source) ?? []), it]);
  for (const [source, its] of bySource) {
    const stored = store.commitPoll(source, its, {});
    srv!.broadcast(stored);
    out.push(...stored);
  }
  return out;
}

/** A mixed batch: every combination of source, label, score and tickers. */
function mixed(): ClassifiedItem[] {
  const out: ClassifiedItem[] = [];
  for (const source of ['a', 'b', 'c'])
    for (const [label, score] of [['negative', -0.9], ['negative', -0.4], ['neutral', 0.05], ['positive', 0.5], ['positive', 0.95]] as const)
      for (const tickers of [[], [tk('AAPL')], [tk('BRK.B')], [tk('MSFT'), tk('AAPL')]]) out.push(item({ source, label, score, tickers }));
  return out;
}
type F = { tickers?: string[]; sources?: string[]; labels?: Label[]; minAbsScore?: number };
function expected(stored: StoredItem[], f: F): number[] {
  return stored
    .filter(
      (i) =>
        (!f.tickers || (i.tickers ?? []).some((t) => f.tickers!.includes(t.symbol))) &&
        (!f.sources || f.sources.includes(i.source)) &&
        (!f.labels || f.labels.includes(i.label)) &&
        Math.abs(i.score) >= (f.minAbsScore ?? 0),
    )
    .map((i) => i.seq);
}

describe('protocol: filters', { timeout: 30_000 }, () => {
  test('URL filters deliver exactly the matching items (tickers canonicalized, hello.filter)', async () => {
    await setup();
    const cases: { q: string; f: F }[] = [
      { q: '?tickers=brk-b,aapl', f: { tickers: ['BRK.B', 'AAPL'] } },
      { q: '?sources=b,c', f: { sources: ['b', 'c'] } },
      { q: '?labels=negative,Positive', f: { labels: ['negative', 'positive'] } },
      { q: '?minAbsScore=0.5', f: { minAbsScore: 0.5 } },
      { q: '?tickers=MSFT&sources=a&labels=positive&minAbsScore=0.9', f: { tickers: ['MSFT'], sources: ['a'], labels: ['positive'], minAbsScore: 0.9 } },
      { q: '', f: {} },
    ];
    const clients = await Promise.all(cases.map((c) => connect(c.q)));
    clients.forEach((c, i) => assert.deepEqual(c.msgs[0].filter, cases[i].f, cases[i].q));
    const stored = commit(mixed());
    const last = stored[stored.length - 1].seq;
    // The unfiltered client getting the last item means everything has been sent to everyone.
    await until(() => clients[5].last() === last, 'all items');
    await sleep(30);
    clients.forEach((c, i) => {
      const want = expected(stored, cases[i].f);
      assert.ok(want.length > 0 && (i === 5 || want.length < stored.length), `case ${cases[i].q} selects something`);
      assert.deepEqual(c.seqs(), want, cases[i].q);
    });
    for (const c of clients) c.ws.close();
  });

  test('subscribe replaces the filter (answered with the canonical filter), unsubscribe clears it; no replay on change', async () => {
    await setup();
    const c = await connect('?sources=a');
    const first = commit(mixed());
    await until(() => c.seqs().length === expected(first, { sources: ['a'] }).length, 'first batch');
    c.send({ type: 'subscribe', tickers: ['brk/b', 'BRK.B'], labels: ['negative'], minAbsScore: 0 });
    await until(() => c.of('subscribed').length === 1, 'subscribed');
    assert.deepEqual(c.of('subscribed')[0], { type: 'subscribed', filter: { tickers: ['BRK.B'], labels: ['negative'] } });
    const second = commit(mixed());
    const want2 = expected(second, { tickers: ['BRK.B'], labels: ['negative'] });
    await until(() => c.last() === want2[want2.length - 1], 'second batch');
    c.send({ type: 'unsubscribe' });
    await until(() => c.of('subscribed').length === 2, 'unsubscribed');
    assert.deepEqual(c.of('subscribed')[1], { type: 'subscribed', filter: {} });
    const third = commit(mixed());
    await until(() => c.last() === third[third.length - 1].seq, 'third batch');
    await sleep(30);
    assert.deepEqual(c.seqs(), [...expected(first, { sources: ['a'] }), ...want2, ...third.map((i) => i.seq)]);
    c.ws.close();
  });

  test('alerts follow the tickers filter', async () => {
    await setup();
    const only = await connect('?tickers=AAPL');
    const all = await connect('?sources=zzz');
    const alert = (id: number, ticker: string): StoredAlert => ({ id, rule: 'r', kind: 'volume', ticker, at: '2024-05-01T13:45:00.000Z', direction: null, message: `${ticker} volume`, value: 3, baseline: null, deviation: null, seqs: [1], createdAt: '2024-05-01T13:45:01.000Z', deliveredAt: null, deliveryError: null, seq: 1 });
    srv!.broadcastAlert(alert(1, 'MSFT'));
    srv!.broadcastAlert(alert(2, 'AAPL'));
    await until(() => all.of('alert').length === 2 && only.of('alert').length === 1, 'alerts');
    await sleep(20);
    assert.deepEqual(only.of('alert').map((m) => (m.alert as { id: number }).id), [2]);
    only.ws.close();
    all.ws.close();
  });

  test('since resume after a forced disconnect: every missed matching item, once, in order', async () => {
    await setup({ limits: { replayPageSize: 7 } });
    const f: F = { tickers: ['AAPL'], minAbsScore: 0.4 };
    const q = '?tickers=AAPL&minAbsScore=0.4';
    const history = commit(mixed());
    const c1 = await connect(`?since=0&${q.slice(1)}`);
    await until(() => c1.seqs().length === expected(history, f).length, 'replayed history');
    const live = commit(mixed());
    const wantLive = expected(live, f);
    await until(() => c1.seqs().length >= expected(history, f).length + 3, 'some live items');
    c1.ws.terminate(); // network failure: no close handshake
    await c1.closed;
    const lastReceived = c1.last();
    const missed = commit(mixed()); // while disconnected
    const c2 = await connect(`?since=${lastReceived}&${q.slice(1)}`);
    const more = commit(mixed());
    const all = [...history, ...live, ...missed, ...more];
    const want = expected(all, f);
    await until(() => c2.last() === want[want.length - 1], 'resumed to the end');
    await sleep(30);
    const got = [...c1.seqs(), ...c2.seqs()];
    assert.deepEqual(got, want, 'the two connections together got every matching item exactly once');
    assert.ok(wantLive.length > 0 && expected(missed, f).length > 0);
    c2.ws.close();
  });

  test('bad filter parameters on the URL → HTTP 400 before the upgrade', async () => {
    await setup();
    for (const q of ['?tickers=1234', '?tickers=', '?tickers=A&tickers=B', '?labels=bad', '?minAbsScore=2', '?minAbsScore=-0.1', '?minAbsScore=x', '?sources=Bad_Id', `?tickers=${Array.from({ length: 1001 }, (_, i) => 'A' + String.fromCharCode(65 + (i % 26)) + String.fromCharCode(65 + Math.floor(i / 26) % 26)).join(',')}`]) {
      const r = await upgradeStatus(q);
      assert.equal(r.status, 400, q.slice(0, 40));
      assert.ok(r.body.length > 0);
    }
    assert.equal((await upgradeStatus('?tickers=AAPL&minAbsScore=1')).status, 0);
  });
});

describe('protocol: client messages', { timeout: 30_000 }, () => {
  test('ping with id → pong with id; wrong schema and non-JSON → BAD_REQUEST; the 5th within a minute → 1008', async () => {
    await setup();
    const c = await connect();
    c.send({ type: 'ping', id: 'abc' });
    c.send({ type: 'ping', id: 7 });
    c.send({ type: 'ping' });
    await until(() => c.of('pong').length === 3, 'pongs');
    assert.deepEqual(c.of('pong'), [{ type: 'pong', id: 'abc' }, { type: 'pong', id: 7 }, { type: 'pong' }]);
    const bad = ['not json', JSON.stringify({ type: 'subscribe', tickers: 'AAPL' }), JSON.stringify({ type: 'nope' }), JSON.stringify({ type: 'subscribe', minAbsScore: 3 })];
    for (const b of bad) c.send(b);
    await until(() => c.of('error').length === 4, 'errors');
    assert.deepEqual(c.of('error').map((m) => m.code), ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST']);
    for (const m of c.of('error')) assert.ok(typeof m.message === 'string' && m.message.length > 0);
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'four errors are tolerated');
    c.send({ type: 'subscribe', ticker: ['AAPL'] }); // unknown field: the fifth
    const closed = await c.closed;
    assert.equal(closed.code, 1008);
    assert.equal(c.of('error').length, 5);
  });

  test('rate limit: messages beyond the burst get RATE_LIMITED, then close 1008', async () => {
    await setup({ limits: { clientMessagesPerSecond: 5, clientMessageBurst: 10 } });
    const c = await connect();
    for (let i = 0; i < 30; i++) c.send({ type: 'ping', id: i });
    const closed = await c.closed;
    assert.equal(closed.code, 1008);
    assert.equal(c.of('pong').length, 10);
    assert.deepEqual(c.of('error').map((m) => m.code), Array(5).fill('RATE_LIMITED'));
  });

  test('oversized message → 1009', async () => {
    await setup();
    const c = await connect();
    c.send(JSON.stringify({ type: 'ping', id: 'x'.repeat(70 * 1024) }));
    assert.equal((await c.closed).code, 1009);
  });

  test('a text frame with invalid UTF-8 → 1007', async () => {
    await setup();
    const c = await connect();
    const payload = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]); // "{", two invalid bytes, "}"
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))]);
    (c.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frame);
    assert.equal((await c.closed).code, 1007);
  });
});

describe('protocol: slow clients and heartbeat', { timeout: 30_000 }, () => {
  test('a client that stops reading is closed at the cap (4008, resumable); a normal client keeps receiving everything', async () => {
    await setup({ limits: { maxBufferedBytes: 256 * 1024 } });
    const normal = await connect();
    const slow = await connect();
    const sock = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    sock.pause();
    const big = 'x'.repeat(16 * 1024);
    let committed: StoredItem[] = [];
    for (let round = 0; round < 400 && srv!.stats().clients === 2; round++) {
      committed = committed.concat(commit(Array.from({ length: 5 }, () => item({ title: big }))));
      await tick();
      await until(() => normal.last() === committed[committed.length - 1].seq, 'normal client to keep up');
    }
    assert.equal(srv!.stats().clients, 1, 'the slow client was dropped');
    // More items after the drop still reach the normal client.
    committed = committed.concat(commit([item(), item()]));
    await until(() => normal.last() === committed[committed.length - 1].seq, 'normal client after the drop');
    assert.deepEqual(normal.seqs(), committed.map((i) => i.seq));
    sock.resume();
    const closed = await slow.closed;
    assert.equal(closed.code, 4008);
    const m = /^too slow, reconnect with since=(\d+)$/.exec(closed.reason);
    assert.ok(m, closed.reason);
    assert.equal(Number(m[1]), slow.last());
    // resume: nothing lost
    const again = await connect(`?since=${slow.last()}`);
    await until(() => again.last() === committed[committed.length - 1].seq, 'resumed');
    assert.deepEqual([...slow.seqs(), ...again.seqs()], committed.map((i) => i.seq));
    again.ws.close();
    normal.ws.close();
  });

  test('a peer that does not answer pings is terminated after two missed pongs', async () => {
    await setup({ limits: { pingIntervalMs: 100 } });
    const ok = await connect();
    const mute = await connect('', { autoPong: false });
    let pings = 0;
    mute.ws.on('ping', () => pings++);
    const closed = await mute.closed;
    assert.equal(closed.code, 1006, 'terminated, no close handshake');
    assert.equal(pings, 2, 'terminated at the ping after the second unanswered one');
    assert.equal(ok.ws.readyState, WebSocket.OPEN);
    ok.ws.close();
  });
});

describe('protocol: rollup and source messages', { timeout: 30_000 }, () => {
  test('rollup: changed 1-minute buckets of subscribed tickers, only to their subscribers', async () => {
    await setup({ limits: { rollupIntervalMs: 50 } });
    const aapl = await connect('?tickers=AAPL');
    const none = await connect();
    commit([item({ tickers: [tk('AAPL', 0.5, 'positive')] }), item({ tickers: [tk('AAPL', -0.5, 'negative'), tk('MSFT')] }), item({ tickers: [tk('MSFT')] })]);
    await until(() => aapl.of('rollup').length >= 1, 'rollup');
    await sleep(150);
    assert.deepEqual(aapl.of('rollup'), [{ type: 'rollup', ticker: 'AAPL', bucket: '1m', start: '2024-05-01T13:45:00.000Z', items: 2, stories: 2, meanScore: 0, pos: 1, neu: 0, neg: 1 }]);
    assert.equal(none.of('rollup').length, 0);
    // Unchanged buckets are not sent again; a new item in another minute is.
    commit([item({ publishedAt: '2024-05-01T13:46:59.000Z', tickers: [tk('AAPL', 0.8)] })]);
    await until(() => aapl.of('rollup').length === 2, 'second rollup');
    assert.equal(aapl.of('rollup')[1].start, '2024-05-01T13:46:00.000Z');
    assert.equal(aapl.of('rollup')[1].items, 1);
    aapl.ws.close();
    none.ws.close();
  });

  test('source: sent when a source is new or its status / lastError changed', async () => {
    await setup();
    const c = await connect();
    const s = (status: string, lastError: string | null, items = 0) => ({ id: 'feed', kind: 'rss', status, lastPollAt: null, nextPollAt: null, consecutiveErrors: lastError ? 1 : 0, lastError, items });
    srv!.broadcastSources([s('starting', null)]);
    srv!.broadcastSources([s('starting', null, 5)]); // only a counter changed: not sent
    srv!.broadcastSources([s('backing-off', 'FEED_TIMEOUT', 5)]);
    srv!.broadcastSources([s('backing-off', 'FEED_TIMEOUT', 5), { ...s('ok', null), id: 'other' }]);
    await until(() => c.of('source').length === 3, 'source messages');
    await sleep(20);
    assert.deepEqual(c.of('source').map((m) => [(m.source as { id: string }).id, (m.source as { status: string }).status]), [['feed', 'starting'], ['feed', 'backing-off'], ['other', 'ok']]);
    assert.deepEqual(c.of('source')[1].source, s('backing-off', 'FEED_TIMEOUT', 5));
    c.ws.close();
  });
});

describe('protocol: access control', { timeout: 30_000 }, () => {
  test('token: none or wrong → 401 before the upgrade (and on /api/*); header or ?token= → accepted; /healthz open', async () => {
    await setup({ token: TOKEN });
    assert.equal((await upgradeStatus('')).status, 401);
    assert.equal((await upgradeStatus('?token=wrong-token-wrong-token')).status, 401);
    assert.equal((await upgradeStatus('', { headers: { Authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await upgradeStatus('?token=' + TOKEN.slice(0, -1))).status, 401);
    assert.equal((await upgradeStatus('', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 0);
    const c = await connect(`?token=${TOKEN}&tickers=AAPL`);
    assert.deepEqual(c.msgs[0].filter, { tickers: ['AAPL'] });
    c.ws.close();
    let res = await fetch(srv!.url + '/api/items');
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    res = await fetch(srv!.url + '/api/items?limit=1', { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    res = await fetch(srv!.url + `/api/items?token=${TOKEN}&limit=1`);
    assert.equal(res.status, 200, 'the token parameter is not a query parameter of /api/items');
    await res.arrayBuffer();
    res = await fetch(srv!.url + '/healthz');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test('Origin: a foreign origin → 403; the server\'s own origins and no Origin are allowed; allowedOrigins replaces them', async () => {
    await setup();
    const port = srv!.port;
    assert.equal((await upgradeStatus('', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await upgradeStatus('', { origin: `http://127.0.0.1:${port + 1}` })).status, 403);
    const res = await fetch(srv!.url + '/api/items', { headers: { Origin: 'https://evil.example' } });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) assert.equal((await upgradeStatus('', { origin })).status, 0, origin);
    assert.equal((await upgradeStatus('')).status, 0);
    await srv!.close();
    store.close();
    await setup({ allowedOrigins: ['https://dash.example.com'] });
    assert.equal((await upgradeStatus('', { origin: 'https://dash.example.com' })).status, 0);
    assert.equal((await upgradeStatus('', { origin: `http://127.0.0.1:${srv!.port}` })).status, 403);
  });

  test('connections per IP are capped (429 before the upgrade); a closed one frees its slot', async () => {
    await setup({ limits: { maxConnectionsPerIp: 2 } });
    const a = await connect();
    const b = await connect();
    assert.equal((await upgradeStatus('')).status, 429);
    a.ws.close();
    await a.closed;
    await until(() => srv!.stats().clients === 1, 'slot freed');
    await sleep(20);
    assert.equal((await upgradeStatus('')).status, 0);
    b.ws.close();
  });

  test('binding to a non-loopback address without a token refuses to start (CONFIG_INVALID, says what to set)', async () => {
    store = ItemStore.open(join(dir, `p${++n}.db`));
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      await assert.rejects(
        // (should it start after all, it is closed again: nothing stays listening off loopback)
        startServer({ host, port: 0, store, health: () => ({}), log }).then(async (s) => {
          await s.close();
          return s;
        }),
        (err: unknown) => err instanceof TickerpulseError && err.code === 'CONFIG_INVALID' && /server\.token/.test(err.message) && /TICKERPULSE_TOKEN/.test(err.message),
        host,
      );
    }
    await assert.rejects(startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log, token: 'short' }), (err: unknown) => err instanceof TickerpulseError && err.code === 'CONFIG_INVALID');
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
    srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log }); // loopback: no token needed
  });

  test('the daemon refuses 0.0.0.0 without a token before starting anything; TICKERPULSE_TOKEN counts, the config wins', async () => {
    const cfg = configSchema.parse({ db: join(dir, 'never.db'), server: { host: '0.0.0.0', port: 0 } });
    await assert.rejects(startDaemon(cfg, { log }), (err: unknown) => err instanceof TickerpulseError && err.code === 'CONFIG_INVALID' && /server\.token or the TICKERPULSE_TOKEN/.test(err.message));
    assert.equal(resolveToken(undefined, {}), undefined);
    assert.equal(resolveToken(undefined, { TICKERPULSE_TOKEN: '' }), undefined);
    assert.equal(resolveToken(undefined, { TICKERPULSE_TOKEN: 'from-the-environment' }), 'from-the-environment');
    assert.equal(resolveToken('from-the-config-file', { TICKERPULSE_TOKEN: 'from-the-environment' }), 'from-the-config-file');
  });

  test('the token never appears in logged URLs; config keys validate with defaults', () => {
    assert.equal(redactUrl(`/ws?since=3&token=${TOKEN}&tickers=A`), '/ws?since=3&token=[redacted]&tickers=A');
    const cfg = configSchema.parse({});
    assert.deepEqual(
      { ...cfg.server },
      { host: '127.0.0.1', port: 8787, maxConnectionsPerIp: 32, maxClientMessageBytes: 65_536, clientMessagesPerSecond: 20, maxBufferedBytes: 4 * 1024 * 1024, pingInterval: 30_000, rollupInterval: 5_000 },
    );
    const c2 = configSchema.parse({ server: { token: TOKEN, allowedOrigins: ['http://localhost:3000', '*'], maxBufferedBytes: '8MiB', pingInterval: '10s' } });
    assert.equal(c2.server.maxBufferedBytes, 8 << 20);
    assert.equal(c2.server.pingInterval, 10_000);
    assert.equal(configSchema.safeParse({ server: { token: 'short' } }).success, false);
    assert.equal(configSchema.safeParse({ server: { allowedOrigins: ['http://x.com/path'] } }).success, false);
    assert.equal(configSchema.safeParse({ server: { maxConnections: 3 } }).success, false);
  });
});
