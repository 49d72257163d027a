/**
 * Per-host budget: concurrency and rate with a virtual clock, then two real sources sharing one
 * loopback host (never overlapping with maxConcurrent 1; request timestamps within maxPerSecond).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HostBudget, type BudgetClock, type Release } from '../../sources/hostBudget.js';
import { rssSource } from '../../sources/rss.js';
import type { RssSourceConfig } from '../../sources/types.js';
import { collect, makeCtx, rssDoc, startFixtureServer, type FixtureServer } from './helpers.js';

/** Virtual time for the budget: timers fire only when the test advances the clock. */
function virtualClock(): BudgetClock & { advance(ms: number): Promise<void>; t: number } {
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const c = {
    t: 0,
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: c.t + ms, fn });
      return id;
    },
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    async advance(ms: number) {
      const end = c.t + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        c.t = Math.max(c.t, due[1].at);
        due[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      c.t = end;
      await new Promise((r) => setImmediate(r));
    },
  };
  return c;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('HostBudget (virtual clock)', () => {
  it('maxConcurrent: a third request waits for a release; first come, first served', async () => {
    const b = new HostBudget({ defaults: { maxConcurrent: 2, maxPerSecond: 1000 }, clock: virtualClock() });
    const order: string[] = [];
    const rel: Record<string, Release> = {};
    for (const name of ['a', 'b', 'c', 'd']) void b.acquire('feeds.example.com').then((r) => (order.push(name), (rel[name] = r)));
    await tick();
    assert.deepEqual(order, ['a', 'b']);
    assert.deepEqual(b.usage('FEEDS.example.com'), { active: 2, queued: 2 });
    rel.b();
    rel.b(); // idempotent
    await tick();
    assert.deepEqual(order, ['a', 'b', 'c']);
    rel.a();
    await tick();
    assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  });

  it('maxPerSecond: never more than N starts in any second', async () => {
    const clock = virtualClock();
    const b = new HostBudget({ hosts: { 'www.sec.gov': { maxConcurrent: 64, maxPerSecond: 3 } }, clock });
    const starts: number[] = [];
    for (let i = 0; i < 8; i++) void b.acquire('www.sec.gov').then((r) => (starts.push(clock.now()), r()));
    await tick();
    assert.deepEqual(starts, [0, 0, 0]);
    await clock.advance(999);
    assert.equal(starts.length, 3);
    await clock.advance(1);
    assert.deepEqual(starts, [0, 0, 0, 1000, 1000, 1000]);
    await clock.advance(1000);
    assert.deepEqual(starts, [0, 0, 0, 1000, 1000, 1000, 2000, 2000]);
  });

  it('fractional rates space requests out; hosts are independent; "*" sets the default', async () => {
    const clock = virtualClock();
    const b = HostBudget.fromConfig({ '*': { maxPerSecond: 0.5 }, 'fast.example.com': { maxPerSecond: 100 } }, clock);
    assert.deepEqual(b.limitFor('other.example.com'), { maxConcurrent: 4, maxPerSecond: 0.5 });
    assert.deepEqual(b.limitFor('FAST.example.com'), { maxConcurrent: 4, maxPerSecond: 100 });
    const slow: number[] = [];
    const fast: number[] = [];
    for (let i = 0; i < 3; i++) void b.acquire('slow.example.com').then((r) => (slow.push(clock.now()), r()));
    for (let i = 0; i < 3; i++) void b.acquire('fast.example.com').then((r) => (fast.push(clock.now()), r()));
    await tick();
    await clock.advance(4000);
    assert.deepEqual(slow, [0, 2000, 4000]);
    assert.deepEqual(fast, [0, 0, 0]);
  });

  it('an aborted waiter leaves the queue; the others still get their turn', async () => {
    const b = new HostBudget({ defaults: { maxConcurrent: 1, maxPerSecond: 1000 }, clock: virtualClock() });
    const first = await b.acquire('h.example');
    const ac = new AbortController();
    const gaveUp = b.acquire('h.example', ac.signal);
    let third = false;
    void b.acquire('h.example').then(() => (third = true));
    ac.abort(new Error('stop'));
    await assert.rejects(gaveUp, /stop/);
    first();
    await tick();
    assert.equal(third, true);
  });
});

describe('HostBudget shared by two rss sources on one host (real time)', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await startFixtureServer();
  });
  after(async () => {
    await srv.close();
  });

  const cfg = (id: string, url: string): RssSourceConfig => ({ id, url, intervalMs: 1, allowPrivateNetworks: true, limits: { timeoutMs: 3000, maxBodyBytes: 1 << 20 } });

  it('maxConcurrent 1: requests of the two sources never overlap', async () => {
    const body = Buffer.from(rssDoc(2, 'Slow'));
    const slow = (_req: unknown, res: import('node:http').ServerResponse) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(body), 25);
    const u1 = srv.route('/one.xml', slow);
    const u2 = srv.route('/two.xml', slow);
    const budget = HostBudget.fromConfig({ '127.0.0.1': { maxConcurrent: 1, maxPerSecond: 1000 } });
    const a = makeCtx({ hostBudget: budget });
    const b = makeCtx({ hostBudget: budget });
    const r1 = collect(rssSource(cfg('one', u1), a.ctx), a.ac);
    const r2 = collect(rssSource(cfg('two', u2), b.ctx), b.ac);
    await Promise.all([r1.waitFor(4), r2.waitFor(4)]);
    await Promise.all([r1.stop(), r2.stop()]);
    assert.equal(srv.maxActive, 1, 'never two requests in flight to the host');
    assert.ok(r1.results.every((r) => !r.error) && r2.results.every((r) => !r.error));
  });

  it('maxPerSecond 4: no window of one second holds more than 4 request starts', async () => {
    const body = Buffer.from(rssDoc(1, 'Rate'));
    const fast = (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(200).end(body);
    const u1 = srv.route('/r1.xml', fast);
    const u2 = srv.route('/r2.xml', fast);
    const budget = HostBudget.fromConfig({ '127.0.0.1': { maxConcurrent: 4, maxPerSecond: 4 } });
    const a = makeCtx({ hostBudget: budget });
    const b = makeCtx({ hostBudget: budget });
    const t0 = Date.now();
    const r1 = collect(rssSource(cfg('r1', u1), a.ctx), a.ac);
    const r2 = collect(rssSource(cfg('r2', u2), b.ctx), b.ac);
    await new Promise((r) => setTimeout(r, 1600));
    await Promise.all([r1.stop(), r2.stop()]);
    const times = [...srv.seen('/r1.xml'), ...srv.seen('/r2.xml')].map((s) => s.at).sort((x, y) => x - y);
    assert.ok(srv.seen('/r1.xml').length > 0 && srv.seen('/r2.xml').length > 0, 'both sources got their turn');
    assert.ok(times.length >= 6 && times.length <= 8, `${times.length} requests in ${Date.now() - t0} ms`);
    // Server arrival times lag the client's start by a little: allow 30 ms of scheduling noise.
    for (let i = 0; i + 4 < times.length; i++) assert.ok(times[i + 4] - times[i] >= 970, `5 requests within ${times[i + 4] - times[i]} ms`);
  });
});
