/**
 * Polite polling of rssSource, with virtual time (an injected clock whose sleep returns at
 * once): conditional GET across a restart, server floors (Retry-After, max-age, <ttl>) and
 * their cap, exponential backoff with jitter and its cap, independent schedules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HostBudget } from '../../sources/hostBudget.js';
import { MAX_POLL_FLOOR_MS, parseMaxAge, parseRetryAfter } from '../../sources/httpFetch.js';
import { backoffDelayMs, rssSource } from '../../sources/rss.js';
import type { RssSourceConfig } from '../../sources/types.js';
import { collect, fakeClock, makeCtx, rssDoc, scheduledDelay, startFixtureServer, staticFeed, type FixtureServer } from './helpers.js';

let srv: FixtureServer;
before(async () => {
  srv = await startFixtureServer();
});
after(async () => {
  await srv.close();
});

const MIN = 60_000;
function cfg(url: string, over: Partial<RssSourceConfig> = {}): RssSourceConfig {
  return { id: 'poll', url, intervalMs: 5 * MIN, allowPrivateNetworks: true, limits: { timeoutMs: 3000, maxBodyBytes: 1 << 20 }, ...over };
}

describe('conditional GET', () => {
  it('the second poll of an unchanged feed sends If-None-Match / If-Modified-Since, gets 304 and yields nothing new', async () => {
    const url = srv.route('/cond.xml', staticFeed(Buffer.from(rssDoc(3, 'Cond')), undefined, '"c1"', 'Tue, 07 Jan 2025 08:00:00 GMT'));
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock });
    const run = collect(rssSource(cfg(url), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await run.stop();
    const reqs = srv.seen('/cond.xml');
    assert.equal(reqs[0].headers['if-none-match'], undefined);
    assert.equal(reqs[1].headers['if-none-match'], '"c1"');
    assert.equal(reqs[1].headers['if-modified-since'], 'Tue, 07 Jan 2025 08:00:00 GMT');
    assert.equal(a.items.length, 3);
    assert.equal(a.state.etag, '"c1"');
    assert.deepEqual(b.items, []);
    assert.equal(b.error, undefined);
    assert.equal(b.state.etag, undefined, 'unchanged validators are not rewritten');
    assert.equal(clock.sleeps[0], 5 * MIN, 'polled again one interval later');
  });

  it('after a restart (state persisted) the first poll is already conditional and waits for the persisted nextPollAt', async () => {
    const url = srv.route('/restart.xml', staticFeed(Buffer.from(rssDoc(3, 'Restart')), undefined, '"r7"', 'Wed, 08 Jan 2025 09:00:00 GMT'));
    const clock = fakeClock();
    const persisted = {
      etag: '"r7"',
      lastModified: 'Wed, 08 Jan 2025 09:00:00 GMT',
      lastPollAt: new Date(clock.t - 3 * MIN).toISOString(),
      nextPollAt: new Date(clock.t + 2 * MIN).toISOString(),
    };
    const { ctx, ac } = makeCtx({ clock, state: persisted });
    const run = collect(rssSource(cfg(url), ctx), ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.equal(clock.sleeps[0], 2 * MIN);
    const first = srv.seen('/restart.xml')[0];
    assert.equal(first.headers['if-none-match'], '"r7"');
    assert.equal(first.headers['if-modified-since'], 'Wed, 08 Jan 2025 09:00:00 GMT');
    assert.deepEqual(a.items, []);
    assert.equal(a.error, undefined);
  });
});

describe('server floors on the next poll', () => {
  it('Retry-After: 120 on a 429 delays the next poll by at least 120 s', async () => {
    const url = srv.route('/429.xml', (_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock, random: () => 0 });
    const run = collect(rssSource(cfg(url, { intervalMs: 10_000 }), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await run.stop();
    assert.equal(a.error?.code, 'FEED_HTTP_ERROR');
    assert.match(a.error!.message, /429/);
    assert.equal(a.state.lastError, 'FEED_HTTP_ERROR');
    assert.ok(scheduledDelay(a) >= 120_000, `next poll after ${scheduledDelay(a)} ms`);
    assert.ok(clock.sleeps[0] >= 120_000);
    assert.ok(Date.parse(b.state.lastPollAt!) - Date.parse(a.state.lastPollAt!) >= 120_000);
  });

  it('Retry-After on a 503 as an HTTP date; absurd values are capped at 24 h', async () => {
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:26:00 GMT')), 120_000);
    assert.equal(parseRetryAfter('2592000'), MAX_POLL_FLOOR_MS, 'a month becomes 24 h');
    assert.equal(parseRetryAfter('soon'), null);
    const url = srv.route('/503.xml', (_req, res) => res.writeHead(503, { 'retry-after': '2592000' }).end());
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock, random: () => 0 });
    const run = collect(rssSource(cfg(url), ctx), ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.equal(scheduledDelay(a), MAX_POLL_FLOOR_MS);
  });

  it('Cache-Control max-age and RSS <ttl> raise the next poll time; both are capped at 24 h', async () => {
    assert.equal(parseMaxAge('public, max-age=600'), 600_000);
    assert.equal(parseMaxAge('max-age=600', '100'), 500_000);
    assert.equal(parseMaxAge('no-cache, max-age=600'), null);
    assert.equal(parseMaxAge(null), null);
    const cases: [string, Record<string, string>, string, number][] = [
      ['/maxage.xml', { 'cache-control': 'max-age=1800' }, '', 30 * MIN],
      ['/maxage-304.xml', { 'cache-control': 'max-age=1800' }, '', 30 * MIN],
      ['/maxage-huge.xml', { 'cache-control': 'max-age=31536000' }, '', MAX_POLL_FLOOR_MS],
      ['/ttl.xml', {}, '<ttl>45</ttl>', 45 * MIN],
      ['/ttl-huge.xml', {}, '<ttl>999999</ttl>', MAX_POLL_FLOOR_MS],
      ['/ttl-small.xml', {}, '<ttl>1</ttl>', 5 * MIN],
    ];
    for (const [path, headers, extra, want] of cases) {
      const body = Buffer.from(rssDoc(1, 'Floor', extra));
      const url = srv.route(path, (req, res) => {
        if (path.includes('304') && req.headers['if-none-match']) {
          res.writeHead(304, { etag: '"f"', ...headers }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/rss+xml', etag: '"f"', ...(path.includes('304') ? {} : headers) }).end(body);
      });
      const clock = fakeClock();
      const { ctx, ac } = makeCtx({ clock });
      const run = collect(rssSource(cfg(url), ctx), ac);
      const results = await run.waitFor(path.includes('304') ? 2 : 1);
      await run.stop();
      const r = results[results.length - 1];
      assert.equal(r.error, undefined, `${path}: ${r.error?.message}`);
      assert.equal(scheduledDelay(r), want, path);
    }
  });
});

describe('failure backoff', () => {
  it('five consecutive 500s: growing, jittered, capped delays; the source keeps retrying at the cap', async () => {
    const url = srv.route('/down.xml', (_req, res) => res.writeHead(500).end('down'));
    const interval = 60_000;
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock }); // real Math.random jitter
    const run = collect(rssSource(cfg(url, { intervalMs: interval, maxBackoffMs: 20 * MIN }), ctx), ac);
    const results = await run.waitFor(12);
    await run.stop();
    const delays = results.map(scheduledDelay);
    results.forEach((r, i) => {
      assert.equal(r.error?.code, 'FEED_HTTP_ERROR');
      assert.equal(r.state.consecutiveErrors, i + 1);
      const ceiling = Math.min(20 * MIN, interval * 2 ** (i + 1));
      assert.ok(delays[i] >= interval && delays[i] <= ceiling, `delay ${i + 1} = ${delays[i]} not in [${interval}, ${ceiling}]`);
    });
    // Jittered: not simply the ceilings, and not all equal.
    assert.ok(new Set(delays).size > 3, `delays look unjittered: ${delays}`);
    // The ceilings grow (×2 per failure) up to the cap, then the source keeps polling at ≤ cap.
    assert.ok(delays.slice(5).every((d) => d <= 20 * MIN));
    assert.ok(srv.seen('/down.xml').length >= 12);
  });

  it('with the jitter pinned at its maximum the schedule doubles, then stays at the cap', async () => {
    const url = srv.route('/down2.xml', (_req, res) => res.writeHead(500).end());
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock, random: () => 1 });
    const run = collect(rssSource(cfg(url, { intervalMs: 10 * MIN }), ctx), ac);
    const results = await run.waitFor(7);
    await run.stop();
    assert.deepEqual(results.map(scheduledDelay), [20, 40, 60, 60, 60, 60, 60].map((m) => m * MIN));
    assert.deepEqual(clock.sleeps.slice(0, 6), [20, 40, 60, 60, 60, 60].map((m) => m * MIN));
  });

  it('backoffDelayMs: Retry-After is a floor above the backoff cap (up to 24 h)', () => {
    assert.equal(backoffDelayMs(60_000, 1, 2 * 3_600_000, () => 0), 2 * 3_600_000);
    assert.equal(backoffDelayMs(60_000, 1, 10 * 86_400_000, () => 0), MAX_POLL_FLOOR_MS);
    assert.equal(backoffDelayMs(60_000, 30, null, () => 1, 5 * MIN), 5 * MIN);
  });

  it('two sources, one failing: the healthy one keeps its own schedule', async () => {
    const okUrl = srv.route('/healthy.xml', staticFeed(Buffer.from(rssDoc(2, 'Healthy'))));
    const badUrl = srv.route('/failing.xml', (_req, res) => res.writeHead(500).end());
    // Both on one host, sharing the daemon-style budget.
    const budget = new HostBudget({ defaults: { maxConcurrent: 1, maxPerSecond: 1000 } });
    const okClock = fakeClock();
    const badClock = fakeClock();
    const ok = makeCtx({ clock: okClock, hostBudget: budget });
    const bad = makeCtx({ clock: badClock, hostBudget: budget, random: () => 0.5 });
    const okRun = collect(rssSource(cfg(okUrl, { id: 'healthy', intervalMs: 30_000 }), ok.ctx), ok.ac);
    const badRun = collect(rssSource(cfg(badUrl, { id: 'failing', intervalMs: 30_000 }), bad.ctx), bad.ac);
    const [okResults, badResults] = await Promise.all([okRun.waitFor(8), badRun.waitFor(6)]);
    await Promise.all([okRun.stop(), badRun.stop()]);

    assert.ok(okResults.every((r) => !r.error && r.state.consecutiveErrors === 0));
    assert.deepEqual(okResults.map(scheduledDelay), new Array(8).fill(30_000));
    const starts = okResults.map((r) => Date.parse(r.state.lastPollAt!));
    assert.deepEqual(starts.slice(1).map((t, i) => t - starts[i]), new Array(7).fill(30_000));

    const badDelays = badResults.map(scheduledDelay);
    assert.ok(badResults.every((r, i) => r.state.consecutiveErrors === i + 1 && r.state.lastError === 'FEED_HTTP_ERROR'));
    for (let i = 1; i < badDelays.length; i++) assert.ok(badDelays[i] > badDelays[i - 1], `failing source backs off: ${badDelays}`);
  });
});
