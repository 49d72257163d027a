/**
 * Slow clients and the per-client outbound queue (src/server/outbound.ts): behaviour only, no
 * timing. The speed side (how long the event loop stalls) is test/bench/slowClients.ts.
 */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { ItemStore } from '../../src/store/itemStore.js';
import { startServer, type RunningServer, type ServerLimits } from '../../src/server/server.js';
import type { Label, StoredItem } from '../../src/lib/types.js';

const log = pino({ level: 'silent' });
const LABELS: Label[] = ['negative', 'neutral', 'positive'];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-slow-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let store: ItemStore | undefined;
let srv: RunningServer | undefined;
const opened: WebSocket[] = [];
let n = 0;

async function setup(limits: Partial<ServerLimits>): Promise<RunningServer> {
  store = ItemStore.open(join(dir, `s${++n}.db`));
  srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log, limits });
  return srv;
}
afterEach(async () => {
  for (const ws of opened.splice(0)) ws.terminate();
  await srv?.close();
  store?.close();
  srv = undefined;
  store = undefined;
});

let seq = 0;
/** Made-up stored items (nothing replays here, so they need not be in the store). */
function batch(count: number, title: string): StoredItem[] {
  return Array.from({ length: count }, () => {
    seq++;
    return {
      seq,
      source: 'a',
      guid: `g${seq}`,
      url: `https://example.com/${seq}`,
      title: `${title} ${seq}`,
      summary: null,
      publishedAt: '2024-01-01T00:00:00.000Z',
      fetchedAt: '2024-01-01T00:00:00.000Z',
      label: LABELS[seq % 3],
      pNeg: 0.2,
      pNeu: 0.3,
      pPos: 0.5,
      score: 0.3,
      model: 'm',
    };
  });
}

interface Rec {
  ws: WebSocket;
  msgs: { type: string; [k: string]: unknown }[];
  closed: Promise<{ code: number; reason: string }>;
  seqs(): number[];
  /** The client's socket, to stop reading (pause) and start again. */
  sock: { pause(): void; resume(): void };
}

async function connect(url: string): Promise<Rec> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  opened.push(ws);
  const msgs: Rec['msgs'] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await until(() => msgs.length > 0, 'hello');
  return {
    ws,
    msgs,
    closed,
    seqs: () => msgs.filter((m) => m.type === 'item').map((m) => (m.item as { seq: number }).seq),
    sock: (ws as unknown as { _socket: Rec['sock'] })._socket,
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const ascendingUnique = (s: number[]) => s.every((x, i) => i === 0 || x > s[i - 1]);

describe('server: clients that stop reading', { timeout: 60_000 }, () => {
  test('each is cut off with 4008 at the cap while a reading client gets everything and /healthz answers', async () => {
    const s = await setup({ maxBufferedBytes: 256 * 1024, maxConnectionsPerIp: 64 });
    const wsUrl = s.url.replace('http:', 'ws:') + '/ws';
    const reader = await connect(wsUrl);
    const slow: Rec[] = [];
    // Half the slow clients share a filter (one filter class), half take everything.
    for (let i = 0; i < 8; i++) slow.push(await connect(wsUrl + (i % 2 ? '?labels=positive,negative' : '')));
    for (const c of slow) c.sock.pause();
    const first = seq + 1;
    const big = 'x'.repeat(8 * 1024);
    let healthChecks = 0;
    for (let round = 0; round < 5000 && s.stats().clients > 1; round++) {
      s.broadcast(batch(10, big));
      await tick();
      if (round % 20 === 0) {
        const res = await fetch(s.url + '/healthz');
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        healthChecks++;
      }
    }
    assert.equal(s.stats().clients, 1, 'every non-reading client was cut off, the reader was not');
    assert.ok(healthChecks > 0);
    const res = await fetch(s.url + '/healthz');
    assert.equal(((await res.json()) as { websocket: { clients: number } }).websocket.clients, 1);

    // Nothing lost, nothing twice for the reader.
    await until(() => reader.seqs().at(-1) === seq, 'the reader to catch up');
    assert.deepEqual(reader.seqs(), Array.from({ length: seq - first + 1 }, (_, i) => first + i));

    // Each slow client, reading again, gets an ordered prefix of its stream, then 4008 naming a resumable position.
    for (const [i, c] of slow.entries()) {
      c.sock.resume();
      const closed = await c.closed;
      assert.equal(closed.code, 4008, `client ${i}`);
      const m = /^too slow, reconnect with since=(\d+)$/.exec(closed.reason);
      assert.ok(m, closed.reason);
      const got = c.seqs();
      assert.ok(ascendingUnique(got), `client ${i}: ascending, no duplicate`);
      if (i % 2) {
        assert.ok(got.every((q) => q % 3 !== 1), `client ${i}: only its filter's labels`);
        assert.ok(Number(m[1]) >= (got.at(-1) ?? 0));
      } else {
        assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => first + k), `client ${i}: no gap`);
        assert.equal(Number(m[1]), got.at(-1) ?? first - 1);
      }
    }
  });

  test('frames queued for a paused client all arrive before the 1001 of close()', async () => {
    const s = await setup({ maxBufferedBytes: 8 * 1024 * 1024, closeGraceMs: 10_000 });
    const c = await connect(s.url.replace('http:', 'ws:') + '/ws');
    c.sock.pause();
    const first = seq + 1;
    // ~3 MiB: more than the loopback kernel buffers take at once, under the cap.
    for (let i = 0; i < 40; i++) {
      s.broadcast(batch(10, 'y'.repeat(8 * 1024)));
      await tick();
    }
    assert.equal(s.stats().clients, 1, 'under the cap: still open');
    const closing = s.close();
    c.sock.resume();
    const closed = await c.closed;
    await closing;
    assert.equal(closed.code, 1001);
    assert.deepEqual(c.seqs(), Array.from({ length: seq - first + 1 }, (_, i) => first + i));
  });

  test('replies follow the frames queued before them (subscribed after the old filter\'s items)', async () => {
    const s = await setup({ maxBufferedBytes: 8 * 1024 * 1024 });
    const c = await connect(s.url.replace('http:', 'ws:') + '/ws');
    c.sock.pause();
    for (let i = 0; i < 10; i++) s.broadcast(batch(10, 'z'.repeat(8 * 1024)));
    const before = seq;
    // Sent after the broadcasts: the server queues `subscribed` behind their frames.
    c.ws.send(JSON.stringify({ type: 'subscribe', labels: ['positive'] }));
    c.sock.resume();
    await until(() => c.msgs.some((m) => m.type === 'subscribed'), 'subscribed');
    const at = c.msgs.findIndex((m) => m.type === 'subscribed');
    assert.equal(c.seqs().length, 100);
    assert.equal(c.seqs().at(-1), before, 'every item broadcast before the subscribe arrived before `subscribed`');
    s.broadcast(batch(6, 'w'));
    await until(() => (c.seqs().at(-1) ?? 0) > before, 'items after subscribe');
    await sleep(20);
    assert.ok(c.msgs.slice(at + 1).every((m) => m.type !== 'item' || (m.item as { label: string }).label === 'positive'));
  });
});
