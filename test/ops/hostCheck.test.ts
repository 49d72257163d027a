/**
 * DNS-rebinding guard (src/server/hostCheck.ts) on a loopback server without a token, and the
 * rate-limited 429 log line (src/server/refusalLog.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { ItemStore } from '../../src/store/itemStore.js';
import { startServer } from '../../src/server/server.js';
import { HostCheck } from '../../src/server/hostCheck.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-host-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

function get(port: number, path: string, host: string | null, upgrade = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = upgrade ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } : {};
    if (host !== null) headers.host = host;
    const req = request({ host: '127.0.0.1', port, path, headers, setHost: host === null ? false : undefined });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('HostCheck: our names on our port only', () => {
  const c = new HostCheck('127.0.0.1', () => 8787, ['proxy.internal']);
  for (const h of ['localhost:8787', '127.0.0.1:8787', '[::1]:8787', 'LOCALHOST:8787', 'proxy.internal:8787', undefined]) assert.equal(c.allows(h), true, String(h));
  for (const h of ['evil.example:8787', 'evil.example', 'localhost:8788', 'localhost', '127.0.0.1.evil.example:8787', '', 'localhost:8787:1', '[::2]:8787']) assert.equal(c.allows(h), false, h);
  assert.equal(new HostCheck('::1', () => 80).allows('[::1]'), true, 'no port = 80');
  assert.equal(HostCheck.needed('127.0.0.1', undefined), true);
  assert.equal(HostCheck.needed('127.0.0.1', 'a-token-of-16-chars!'), false);
});

test('loopback without a token: a foreign Host gets 403 on /api, /healthz, / and /ws; our names pass', async () => {
  const store = ItemStore.open(join(dir, 'a.db'));
  const srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({ status: 'ok' }), log: silent });
  try {
    const p = srv.port;
    for (const path of ['/api/items', '/healthz', '/', '/nope']) assert.equal(await get(p, path, `evil.example:${p}`), 403, path);
    assert.equal(await get(p, '/ws', `evil.example:${p}`, true), 403);
    assert.equal(await get(p, '/api/items', `localhost:${p + 1}`), 403, 'wrong port');
    for (const host of [`localhost:${p}`, `127.0.0.1:${p}`, `[::1]:${p}`]) assert.equal(await get(p, '/api/items', host), 200, host);
    assert.equal(await get(p, '/ws', `localhost:${p}`, true), 101, 'the upgrade is accepted under our own name');
  } finally {
    await srv.close();
    store.close();
  }
});

test('with a token the Host header is not checked (the token is the guard)', async () => {
  const store = ItemStore.open(join(dir, 'b.db'));
  const token = 'a-token-of-16-chars!';
  const srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({ status: 'ok' }), log: silent, token });
  try {
    assert.equal(await get(srv.port, `/api/items?token=${token}`, `news.example:${srv.port}`), 200);
  } finally {
    await srv.close();
    store.close();
  }
});

test('a burst of 429 refusals is logged as one line, plus one line with the count', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const store = ItemStore.open(join(dir, 'c.db'));
  const srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({ status: 'ok' }), log, limits: { maxConnectionsPerIp: 1 } });
  const first = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`);
  try {
    await new Promise((resolve, reject) => {
      first.once('open', resolve);
      first.once('error', reject);
    });
    for (let i = 0; i < 50; i++) assert.equal(await get(srv.port, '/ws', `127.0.0.1:${srv.port}`, true), 429);
    const refusals = () => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('websocket connections per IP limit reached'));
    assert.equal(refusals().length, 1);
    first.close();
    await srv.close();
    assert.equal(refusals().length, 2);
    assert.equal(refusals()[1].refused, 49);
  } finally {
    first.terminate();
    await srv.close();
    store.close();
  }
});
