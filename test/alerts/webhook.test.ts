import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebhookDelivery, parseRetryAfter, type DeliveryFailure, type DeliveryInfo, type WebhookOptions } from '../../src/alerts/webhook.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { AlertEngine } from '../../pipelines/alerts.js';
import { alertsConfigSchema } from '../../src/config/alerts.js';

interface Received {
  at: number;
  method: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

type Handler = (req: Received, res: ServerResponse) => void;

/** A loopback webhook receiver on 127.0.0.1, port 0; `handler` decides each response. */
async function receiver(handler: Handler) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { at: Date.now(), method: req.method!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      received.push(r);
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook?token=q-secret`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function logger() {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { log: { warn: at('warn'), error: at('error'), debug: at('debug') }, lines };
}

/** A delivery with fast, deterministic backoff; resolves `settled()` once n payloads are delivered or failed. */
function delivery(url: string, extra: Partial<WebhookOptions> = {}) {
  const { log, lines } = logger();
  const delivered: { payload: object; info: DeliveryInfo }[] = [];
  const failed: { payload: object; failure: DeliveryFailure }[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const d = new WebhookDelivery({
    url,
    headers: { authorization: 'Bearer h-secret' },
    timeoutMs: 2000,
    maxAttempts: 4,
    maxQueue: 100,
    backoffMs: 5,
    maxBackoffMs: 50,
    log,
    random: () => 0.5,
    onDelivered: (payload, info) => {
      delivered.push({ payload, info });
      poke();
    },
    onFailed: (payload, failure) => {
      failed.push({ payload, failure });
      poke();
    },
    ...extra,
  });
  const settled = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (delivered.length + failed.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { d, delivered, failed, lines, settled };
}

const alert = (n: number) => ({ type: 'alert', alert: { rule: 'r', ticker: 'AAPL', n } });

test('delivers a JSON POST with content-type and the configured headers; onDelivered', async () => {
  const srv = await receiver((_r, res) => res.writeHead(204).end());
  try {
    const { d, delivered, failed, settled } = delivery(srv.url);
    d.deliver(alert(1));
    await settled(1);
    assert.equal(failed.length, 0);
    assert.deepEqual(delivered[0], { payload: alert(1), info: { attempts: 1, status: 204 } });
    const r = srv.received[0];
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.authorization, 'Bearer h-secret');
    assert.deepEqual(r.body, alert(1));
    await d.close(1000);
  } finally {
    await srv.close();
  }
});

test('retries after a 500 and succeeds; a 429 Retry-After is honoured up to maxBackoff', async () => {
  let n = 0;
  const srv = await receiver((_r, res) => {
    n++;
    if (n === 1) res.writeHead(500).end('boom');
    else if (n === 2) res.writeHead(429, { 'retry-after': '3600' }).end();
    else res.writeHead(200).end('ok');
  });
  try {
    const { d, delivered, settled } = delivery(srv.url);
    d.deliver(alert(1));
    await settled(1);
    assert.equal(srv.received.length, 3);
    assert.deepEqual(delivered[0].info, { attempts: 3, status: 200 });
    const gap = srv.received[2].at - srv.received[1].at;
    assert.ok(gap >= 45 && gap < 1000, `Retry-After 3600 s capped at maxBackoff 50 ms, waited ${gap} ms`);
    await d.close(1000);
  } finally {
    await srv.close();
  }
});

test('no retry on a 400; gives up after maxAttempts on 5xx', async () => {
  const srv = await receiver((r, res) => res.writeHead((r.body as { alert: { n: number } }).alert.n === 1 ? 400 : 503).end());
  try {
    const { d, failed, settled } = delivery(srv.url, { maxAttempts: 3 });
    d.deliver(alert(1));
    d.deliver(alert(2));
    await settled(2);
    assert.deepEqual(
      failed.map((f) => [f.failure.reason, f.failure.status, f.failure.attempts]),
      [
        ['rejected', 400, 1],
        ['exhausted', 503, 3],
      ],
    );
    assert.equal(srv.received.length, 1 + 3);
    await d.close(1000);
  } finally {
    await srv.close();
  }
});

test('network errors and timeouts are retried, then reported', async () => {
  // a port with nothing listening
  const gone = await receiver(() => undefined);
  const deadUrl = gone.url;
  await gone.close();
  const a = delivery(deadUrl, { maxAttempts: 2 });
  a.d.deliver(alert(1));
  await a.settled(1);
  assert.equal(a.failed[0].failure.reason, 'exhausted');
  assert.equal(a.failed[0].failure.attempts, 2);
  assert.match(a.failed[0].failure.message, /ECONNREFUSED|fetch failed/);

  const hang = await receiver(() => undefined); // never answers
  try {
    const b = delivery(hang.url, { maxAttempts: 2, timeoutMs: 100 });
    const t0 = Date.now();
    b.d.deliver(alert(1));
    await b.settled(1);
    assert.match(b.failed[0].failure.message, /timed out after 100 ms/);
    assert.equal(hang.received.length, 2);
    assert.ok(Date.now() - t0 < 2000);
  } finally {
    await hang.close();
  }
});

test('the timeout holds even when a garbage collection runs during the request (nodejs/node#57736)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const hang = await receiver(() => undefined);
  try {
    const { d, failed, settled } = delivery(hang.url, { maxAttempts: 1, timeoutMs: 100 });
    const t0 = Date.now();
    d.deliver(alert(1));
    setTimeout(gc, 30);
    const guard = new Promise<string>((r) => setTimeout(() => r('still hanging after 3 s'), 3000).unref());
    assert.equal(await Promise.race([settled(1).then(() => 'settled'), guard]), 'settled');
    assert.match(failed[0].failure.message, /timed out after 100 ms/);
    assert.ok(Date.now() - t0 < 1000);
    await d.close(100);
  } finally {
    await hang.close();
  }
});

test('queue overflow drops the oldest waiting payload and logs a warning with the count', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const srv = await receiver((_r, res) => void gate.then(() => res.writeHead(200).end()));
  try {
    const { d, delivered, failed, lines, settled } = delivery(srv.url, { maxQueue: 3 });
    d.deliver(alert(1)); // in flight, blocked
    await new Promise((r) => setTimeout(r, 50));
    for (let n = 2; n <= 7; n++) d.deliver(alert(n)); // 3 fit; 2, 3, 4 are pushed out
    assert.equal(d.stats().pending, 3);
    assert.deepEqual(failed.map((f) => [f.failure.reason, (f.payload as ReturnType<typeof alert>).alert.n]), [
      ['dropped', 2],
      ['dropped', 3],
      ['dropped', 4],
    ]);
    release();
    await settled(7);
    assert.deepEqual(delivered.map((x) => (x.payload as ReturnType<typeof alert>).alert.n), [1, 5, 6, 7]);
    await d.close(1000);
    const warned = lines.filter((l) => l.level === 'warn' && /queue full/.test(l.msg ?? ''));
    assert.ok(warned.length >= 1 && warned.length <= 2, 'rate-limited: one warning now, the rest counted at close');
    assert.equal(warned.reduce((s, l) => s + (l.obj as { dropped: number }).dropped, 0), 3);
    assert.equal(d.stats().dropped, 3);
  } finally {
    await srv.close();
  }
});

test('never throws: unserializable payloads, throwing callbacks and fetch, delivery after close', async () => {
  const circular: Record<string, unknown> = { type: 'alert' };
  circular.self = circular;
  const failing = delivery('http://127.0.0.1:9/x', {
    fetch: (() => {
      throw new Error('fetch exploded synchronously');
    }) as typeof fetch,
    maxAttempts: 2,
    onFailed: () => {
      throw new Error('callback exploded');
    },
  });
  assert.doesNotThrow(() => failing.d.deliver(circular));
  assert.doesNotThrow(() => failing.d.deliver({ big: 1n } as unknown as object));
  assert.doesNotThrow(() => failing.d.deliver(alert(1)));
  const stats = await failing.d.close(1000);
  assert.equal(stats.failed, 3);
  assert.ok(failing.lines.some((l) => l.level === 'error' && /callback threw/.test(l.msg ?? '')));
  assert.ok(failing.lines.some((l) => l.level === 'error' && /cannot be serialized/.test(l.msg ?? '')));

  const closed = delivery('http://127.0.0.1:9/x');
  await closed.d.close(10);
  assert.doesNotThrow(() => closed.d.deliver(alert(1)));
  assert.equal(closed.failed[0].failure.reason, 'closed');

  assert.throws(() => new WebhookDelivery({ url: 'ftp://x/', timeoutMs: 1, maxAttempts: 1, maxQueue: 1, log: logger().log }), (e: unknown) => e instanceof TickerpulseError && e.code === 'CONFIG_INVALID');
  assert.throws(() => new WebhookDelivery({ url: 'https://u:p@x/', timeoutMs: 1, maxAttempts: 1, maxQueue: 1, log: logger().log }), /credentials/);
});

test('close() drains the queue, and gives up at its deadline against a receiver that hangs', async () => {
  const slow = await receiver((_r, res) => void setTimeout(() => res.writeHead(200).end(), 20));
  try {
    const { d, delivered } = delivery(slow.url);
    for (let n = 1; n <= 5; n++) d.deliver(alert(n));
    const stats = await d.close(5000);
    assert.equal(delivered.length, 5);
    assert.deepEqual({ ...stats, delivered: stats.delivered }, { pending: 0, inFlight: false, delivered: 5, failed: 0, dropped: 0 });
  } finally {
    await slow.close();
  }

  const hang = await receiver(() => undefined);
  try {
    const { d, failed } = delivery(hang.url, { timeoutMs: 60_000 });
    for (let n = 1; n <= 3; n++) d.deliver(alert(n));
    const t0 = Date.now();
    const stats = await d.close(200);
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 2000, `close took ${took} ms`);
    assert.equal(stats.failed, 3);
    assert.deepEqual(failed.map((f) => f.failure.reason), ['closed', 'closed', 'closed']);
  } finally {
    await hang.close();
  }
});

test('secrets in headers and the URL query never reach the logs', async () => {
  const srv = await receiver((_r, res) => res.writeHead(503).end('nope'));
  try {
    const { d, lines, settled } = delivery(srv.url, { maxAttempts: 2, headers: { authorization: 'Bearer h-secret', 'x-api-key': 'k-secret' } });
    d.deliver(alert(1));
    await settled(1);
    await d.close(100);
    const text = JSON.stringify(lines) + JSON.stringify(d.describe());
    assert.ok(lines.some((l) => l.level === 'warn'), 'the failure was logged');
    for (const secret of ['h-secret', 'k-secret', 'q-secret']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.deepEqual(d.describe().headers, { authorization: '[redacted]', 'x-api-key': '[redacted]' });
    assert.match(d.describe().url, /^http:\/\/127\.0\.0\.1:\d+\/hook\?\[redacted\]$/);
  } finally {
    await srv.close();
  }
});

test('parseRetryAfter: seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('7'), 7000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2025-11-03T00:00:00Z');
  assert.equal(parseRetryAfter('Mon, 03 Nov 2025 00:00:30 GMT', now), 30_000);
});

test('acceptance path: a shift alert from the engine reaches a loopback webhook as {"type":"alert","alert":{...}}', async () => {
  const T0 = Date.parse('2025-11-03T00:00:00Z');
  let now = T0;
  const engine = new AlertEngine(alertsConfigSchema.parse({ rules: [{ id: 'aapl-shift', kind: 'shift', tickers: ['AAPL'] }] }), { clock: () => now });
  let seq = 0;
  const mk = (t: number, score: number) => ({
    seq: ++seq, guid: `g${seq}`, url: null, title: `AAPL ${seq}`, summary: null, publishedAt: new Date(t).toISOString(),
    source: 's', fetchedAt: new Date(t).toISOString(), model: 'm', label: 'neutral' as const, score, pNeg: 0, pNeu: 1, pPos: 0,
    tickers: [{ symbol: 'AAPL', via: 'cashtag', label: 'neutral' as const, score, pNeg: 0, pNeu: 1, pPos: 0 }],
    storyId: seq as never, novel: true,
  });
  const srv = await receiver((_r, res) => res.writeHead(200).end());
  try {
    const { d, delivered, settled } = delivery(srv.url);
    const fire = (t: number, score: number) => {
      now = t;
      for (const alert of engine.evaluate([mk(t, score)])) d.deliver({ type: 'alert', alert });
    };
    for (let i = 0; i < 7 * 48; i++) fire(T0 + i * 30 * 60_000, [0.05, -0.05, 0][i % 3]);
    const t1 = T0 + 7 * 86_400_000;
    for (let i = 0; i < 10; i++) fire(t1 + i * 60_000, -0.8);
    await settled(1);
    await d.close(1000);
    assert.equal(srv.received.length, 1, 'exactly one alert (the cooldown holds for the rest of the burst)');
    const body = srv.received[0].body as { type: string; alert: { rule: string; kind: string; ticker: string; direction: string; seqs: number[] } };
    assert.equal(body.type, 'alert');
    assert.deepEqual([body.alert.rule, body.alert.kind, body.alert.ticker, body.alert.direction], ['aapl-shift', 'shift', 'AAPL', 'down']);
    assert.ok(body.alert.seqs.length >= 5);
    assert.equal(delivered.length, 1);
  } finally {
    await srv.close();
  }
});
