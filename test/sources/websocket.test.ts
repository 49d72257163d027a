/**
 * The `websocket` source against loopback WebSocket servers (ws 8): subscribe on open, mapping
 * and micro-batching, reconnect with jittered exponential backoff after drops and failed
 * connects, dead-peer detection with ping/pong, maxPayload, the SSRF guard, and the overflow
 * policy (buffer, then pause reading; nothing dropped).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import type { PollResult } from '../../src/lib/types.js';
import type { WebSocketSourceConfig } from '../../sources/types.js';
import { websocketSource } from '../../sources/websocket.js';
import { collect, makeCtx, scheduledDelay } from './helpers.js';

interface WsFixture {
  url: string;
  port: number;
  /** Every connection in order, with the text messages it received from the client. */
  conns: { ws: WebSocket; received: string[]; req: IncomingMessage }[];
  close(): Promise<void>;
}

const servers: WsFixture[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startWsServer(onConnection: (ws: WebSocket, n: number) => void, opts: { autoPong?: boolean } = {}): Promise<WsFixture> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: opts.autoPong ?? true });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const conns: WsFixture['conns'] = [];
  wss.on('connection', (ws, req) => {
    const c = { ws, received: [] as string[], req };
    conns.push(c);
    ws.on('message', (d) => c.received.push(String(d)));
    ws.on('error', () => undefined);
    onConnection(ws, conns.length);
  });
  const fx: WsFixture = {
    url: `ws://127.0.0.1:${port}/stream`,
    port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
  servers.push(fx);
  return fx;
}

function cfg(url: string, over: Partial<WebSocketSourceConfig> = {}): WebSocketSourceConfig {
  return { id: 'stream', url, allowPrivateNetworks: true, reconnectDelayMs: 50, maxReconnectDelayMs: 400, batchSize: 64, batchWaitMs: 20, ...over };
}

const item = (i: number, prefix = 's') => JSON.stringify({ id: `${prefix}-${i}`, title: `Stream headline ${prefix} ${i}`, publishedAt: 1_736_150_000 + i });
const itemResults = (rs: PollResult[]) => rs.filter((r) => r.items.length > 0);
const errorResults = (rs: PollResult[]) => rs.filter((r) => r.error);
const guids = (rs: PollResult[]) => rs.flatMap((r) => r.items.map((i) => i.guid));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(5)) if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
}

describe('websocketSource', () => {
  it('sends the subscribe message on open, then maps and micro-batches the items', async () => {
    const srv = await startWsServer((ws) => {
      ws.once('message', () => {
        for (let i = 0; i < 7; i++) ws.send(JSON.stringify({ type: 'news', payload: { headline: `Acme item ${i}`, uuid: `u${i}`, ts: 1_736_150_000_000 + i } }));
      });
    });
    const subscribe = { action: 'subscribe', symbols: ['AAPL', 'MSFT'] };
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { subscribe, items: 'payload', fields: { title: 'headline', id: 'uuid', publishedAt: 'ts' }, batchSize: 3, batchWaitMs: 150 }), ctx), ac);
    await until('7 items', () => guids(run.results).length === 7);
    await run.stop();
    assert.deepEqual(srv.conns[0].received, [JSON.stringify(subscribe)]);
    assert.equal(srv.conns[0].req.headers['user-agent']?.startsWith('tickerpulse/'), true);
    // First result: connected (health → ok).
    assert.deepEqual(run.results[0].items, []);
    assert.equal(run.results[0].state.consecutiveErrors, 0);
    assert.equal(run.results[0].error, undefined);
    const batches = itemResults(run.results);
    assert.ok(batches.every((b) => b.items.length <= 3), `batches of at most batchSize: ${batches.map((b) => b.items.length)}`);
    assert.ok(batches.some((b) => b.items.length === 3), 'a full batch is emitted at once');
    assert.deepEqual(guids(batches), ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
    assert.equal(batches[0].items[0].title, 'Acme item 0');
    assert.equal(batches[0].items[0].publishedAt, new Date(1_736_150_000_000).toISOString());
    assert.equal(errorResults(run.results).length, 0);
  });

  it('a lone message is emitted batchWait after it arrived', async () => {
    let sentAt = 0;
    const srv = await startWsServer((ws) => {
      setTimeout(() => {
        sentAt = Date.now();
        ws.send(item(1));
      }, 30);
    });
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { batchWaitMs: 200 }), ctx), ac);
    await until('the item', () => guids(run.results).length === 1);
    const waited = Date.now() - sentAt;
    await run.stop();
    assert.ok(waited >= 190 && waited < 1500, `emitted ${waited} ms after it was sent`);
  });

  it('a server that drops the connection mid-stream: items before the drop, WS_CONNECTION_LOST, reconnect with backoff, stream continues', async () => {
    const srv = await startWsServer((ws, n) => {
      ws.once('message', () => {
        if (n === 1) {
          for (let i = 0; i < 5; i++) ws.send(item(i));
          setTimeout(() => ws.terminate(), 50); // abrupt: no close frame (1006)
        } else {
          for (let i = 0; i < 10; i++) ws.send(item(i)); // resends 0-4 after the reconnect
        }
      });
    });
    const { ctx, ac } = makeCtx({ random: () => 0.5 });
    const run = collect(websocketSource(cfg(srv.url, { subscribe: { op: 'sub' }, reconnectDelayMs: 100 }), ctx), ac);
    await until('all 10 items after the reconnect', () => new Set(guids(run.results)).size === 10);
    await run.stop();
    assert.equal(srv.conns.length, 2);
    assert.deepEqual(srv.conns[1].received, ['{"op":"sub"}'], 'the subscribe message is sent again on reconnect');
    const errIdx = run.results.findIndex((r) => r.error);
    const err = run.results[errIdx];
    assert.equal(err.error!.code, 'WS_CONNECTION_LOST');
    assert.match(err.error!.message, /closed \(code 1006\)/);
    assert.equal(err.state.consecutiveErrors, 1);
    assert.equal(err.state.lastError, 'WS_CONNECTION_LOST');
    assert.equal(scheduledDelay(err), 150, 'reconnectDelay + 0.5 × (2 × reconnectDelay − reconnectDelay)');
    assert.deepEqual(guids(run.results.slice(0, errIdx)), ['s-0', 's-1', 's-2', 's-3', 's-4'], 'what arrived before the drop is emitted before the error');
    assert.equal(guids(run.results.slice(errIdx)).length, 10, 'the source itself does not dedupe: the store does, by guid');
  });

  it('failed connects back off exponentially with jitter up to the cap; a stable connection resets the backoff', async () => {
    // Nothing listening: every connect is refused.
    const tmp = await startWsServer(() => undefined);
    await tmp.close();
    const { ctx, ac } = makeCtx({ random: () => 1 });
    const run = collect(websocketSource(cfg(tmp.url, { reconnectDelayMs: 20, maxReconnectDelayMs: 80 }), ctx), ac);
    const rs = await run.waitFor(4);
    await run.stop();
    assert.ok(rs.every((r) => r.error?.code === 'WS_CONNECT_FAILED'), JSON.stringify(rs.map((r) => r.error)));
    assert.match(rs[0].error!.message, /ECONNREFUSED/);
    assert.deepEqual(
      rs.map((r) => r.state.consecutiveErrors),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      rs.map(scheduledDelay),
      [40, 80, 80, 80],
      'min(cap, base × 2ⁿ) with the jitter pinned at its maximum',
    );

    // Two immediate drops, then a connection that stays up past stableAfter, then a drop.
    const srv = await startWsServer((ws, n) => {
      if (n <= 2) ws.close(1011, 'try later');
      else if (n === 3) setTimeout(() => ws.close(1001, 'restarting'), 250);
    });
    const two = makeCtx({ random: () => 1 });
    const run2 = collect(websocketSource(cfg(srv.url, { reconnectDelayMs: 20, maxReconnectDelayMs: 1000, stableAfterMs: 100 }), two.ctx), two.ac);
    await until('the third drop', () => errorResults(run2.results).length === 3);
    await run2.stop();
    const errs = errorResults(run2.results);
    assert.deepEqual(
      errs.map((r) => r.state.consecutiveErrors),
      [1, 2, 1],
    );
    assert.match(errs[0].error!.message, /code 1011: try later/);
    assert.deepEqual(
      errs.map(scheduledDelay),
      [40, 80, 40],
    );
    const reset = run2.results.find((r, i) => i > run2.results.indexOf(errs[1]) && !r.error && r.state.consecutiveErrors === 0);
    assert.ok(reset && reset.state.lastError === null, 'the stable connection reported consecutiveErrors 0');
  });

  it('dead peer: a server that stops answering pings is terminated (WS_PEER_DEAD) and the source reconnects', async () => {
    const srv = await startWsServer((ws, n) => ws.send(item(n, 'dp')), { autoPong: false });
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { pingIntervalMs: 40, pongTimeoutMs: 60 }), ctx), ac);
    await until('a reconnect after the dead peer', () => srv.conns.length >= 2 && guids(run.results).length >= 2);
    await run.stop();
    const err = errorResults(run.results)[0];
    assert.equal(err.error!.code, 'WS_PEER_DEAD');
    assert.match(err.error!.message, /no pong .* within 60 ms/);
    assert.deepEqual(guids(run.results).slice(0, 2), ['dp-1', 'dp-2']);

    // A peer that answers pings is kept.
    const alive = await startWsServer((ws) => ws.send(item(0, 'alive')));
    const two = makeCtx();
    const run2 = collect(websocketSource(cfg(alive.url, { pingIntervalMs: 20, pongTimeoutMs: 40 }), two.ctx), two.ac);
    await sleep(400);
    await run2.stop();
    assert.equal(alive.conns.length, 1);
    assert.equal(errorResults(run2.results).length, 0);
  });

  it('a message over maxPayload closes the connection (WS_MESSAGE_TOO_LARGE); smaller ones pass', async () => {
    const srv = await startWsServer((ws, n) => {
      ws.send(item(n, 'small'));
      if (n === 1) setTimeout(() => ws.send(JSON.stringify({ id: 'big', title: 'x'.repeat(4000) })), 30);
    });
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { maxPayloadBytes: 1024 }), ctx), ac);
    await until('the reconnect', () => guids(run.results).includes('small-2'));
    await run.stop();
    const err = errorResults(run.results)[0];
    assert.equal(err.error!.code, 'WS_MESSAGE_TOO_LARGE');
    assert.match(err.error!.message, /maxPayload \(1024 bytes\)/);
    assert.ok(!guids(run.results).includes('big'));
  });

  it('invalid messages are reported with the batch (JSON_PARSE_FAILED); the good items are kept', async () => {
    const srv = await startWsServer((ws) => {
      ws.send(item(1));
      ws.send('{"id": "oops", "title": ');
      ws.send(JSON.stringify({ type: 'heartbeat' }));
      ws.send(item(2));
    });
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { batchWaitMs: 100 }), ctx), ac);
    await until('the batch', () => guids(run.results).length === 2);
    await run.stop();
    const batch = itemResults(run.results)[0];
    assert.deepEqual(
      batch.items.map((i) => i.guid),
      ['s-1', 's-2'],
    );
    assert.equal(batch.error?.code, 'JSON_PARSE_FAILED');
    assert.match(batch.error!.message, /^1 of 4 message\(s\) invalid/);
    assert.equal(batch.state.consecutiveErrors, 0);
  });

  it('SSRF: loopback is refused without allowPrivateNetworks, by IP literal and after name resolution', async () => {
    const srv = await startWsServer((ws) => ws.send(item(0)));
    const one = makeCtx();
    const run = collect(websocketSource(cfg(srv.url, { allowPrivateNetworks: false }), one.ctx), one.ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.equal(a.error?.code, 'SSRF_BLOCKED');

    const lookup = async () => [{ address: '127.0.0.1', family: 4 as const }];
    const named = `ws://news-stream.test:${srv.port}/stream`;
    const two = makeCtx();
    const run2 = collect(websocketSource(cfg(named, { allowPrivateNetworks: false, lookup }), two.ctx), two.ac);
    const [b] = await run2.waitFor(1);
    await run2.stop();
    assert.equal(b.error?.code, 'SSRF_BLOCKED');
    assert.match(b.error!.message, /news-stream\.test/);
    assert.equal(srv.conns.length, 0, 'no connection reached the server');

    // Allowed: the same name connects through the injected (guarded) lookup.
    const three = makeCtx();
    const run3 = collect(websocketSource(cfg(named, { allowPrivateNetworks: true, lookup }), three.ctx), three.ac);
    await until('the item', () => guids(run3.results).length === 1);
    await run3.stop();
    assert.equal(srv.conns.length, 1);
  });

  it('a full pipeline: messages are buffered up to the bound, then reading pauses; nothing is lost or reordered', async () => {
    const N = 400;
    const srv = await startWsServer((ws) => {
      for (let i = 0; i < N; i++) ws.send(item(i, 'bp'));
    });
    const logs: Record<string, unknown>[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
    let allowed = 1; // the "connected" status, then the pipeline is full
    let waiting: (() => void)[] = [];
    let calls = 0;
    const { ctx, ac } = makeCtx();
    ctx.log = log;
    ctx.waitForRoom = () => {
      calls++;
      if (allowed > 0) {
        allowed--;
        return Promise.resolve();
      }
      return new Promise<void>((r) => waiting.push(r));
    };
    const run = collect(websocketSource(cfg(srv.url, { batchSize: 10, batchWaitMs: 10, maxBufferedMessages: 30 }), ctx), ac);
    await until('the pause', () => logs.some((l) => l.msg === 'pipeline full: pausing reads from the WebSocket'));
    await sleep(100);
    assert.equal(guids(run.results).length, 0, 'nothing is emitted while the pipeline is full');
    assert.equal(waiting.length, 1, 'one emission waits for room');
    const pause = logs.find((l) => l.msg === 'pipeline full: pausing reads from the WebSocket')!;
    assert.equal(pause.bufferedMessages, 30);
    // Open the pipeline: everything arrives, exactly once, in order.
    allowed = Number.POSITIVE_INFINITY;
    waiting.splice(0).forEach((r) => r());
    await until(`${N} items`, () => guids(run.results).length >= N);
    await run.stop();
    assert.deepEqual(
      guids(run.results),
      Array.from({ length: N }, (_, i) => `bp-${i}`),
    );
    assert.ok(logs.some((l) => l.msg === 'resuming reads from the WebSocket'));
    assert.ok(calls >= N / 10);
    waiting = [];
  });

  it('abort closes the socket with 1001 and completes', async () => {
    let closeCode = 0;
    const srv = await startWsServer((ws) => {
      ws.on('close', (code) => (closeCode = code));
      ws.send(item(0));
    });
    const { ctx, ac } = makeCtx();
    const run = collect(websocketSource(cfg(srv.url), ctx), ac);
    await until('the item', () => guids(run.results).length === 1);
    await run.stop();
    await until('the close frame', () => closeCode !== 0);
    assert.equal(closeCode, 1001);
  });
});
