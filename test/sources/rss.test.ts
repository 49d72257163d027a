import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { sharedDir } from '../../src/lib/paths.js';
import type { SourceState } from '../../src/lib/types.js';
import { backoffDelayMs, rssSource } from '../../sources/rss.js';
import type { RssSourceConfig, SourceContext } from '../../sources/types.js';
import { parseFeedDocument } from '../../workers/feedParser.js';
import { collect, type Run } from './helpers.js';

const FEEDS = join(sharedDir, 'fixtures', 'feeds');
const SKIP_FIXTURES = existsSync(FEEDS) ? false : `real-world feed fixtures absent (${FEEDS}): skipping`;

// ---------------------------------------------------------------------------------------------
// A loopback server with one handler per path; records the request headers it saw.
// ---------------------------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const routes = new Map<string, Handler>();
const seen = new Map<string, IncomingMessage['headers'][]>();
let server: Server;
let base: string;

function route(path: string, h: Handler): string {
  routes.set(path, h);
  seen.set(path, []);
  return base + path;
}

function rssDoc(n: number, prefix = 'Item', pad = 0): string {
  let items = '';
  for (let i = 0; i < n; i++) {
    items += `<item><title>${prefix} ${i} ${'x'.repeat(pad)}</title><link>https://news.example.com/${prefix}/${i}</link><pubDate>Mon, 06 Jan 2025 10:${String(i % 60).padStart(2, '0')}:00 GMT</pubDate></item>\n`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>\n${items}</channel></rss>\n`;
}

/** Serve `body` with validators; answers 304 to a matching If-None-Match / If-Modified-Since. */
function staticFeed(body: Buffer, headers: Record<string, string>, etag = '"v1"', lastModified = 'Mon, 06 Jan 2025 10:00:00 GMT'): Handler {
  return (req, res) => {
    if (req.headers['if-none-match'] === etag || (!req.headers['if-none-match'] && req.headers['if-modified-since'] === lastModified)) {
      res.writeHead(304, { etag, 'last-modified': lastModified }).end();
      return;
    }
    res.writeHead(200, { ...headers, etag, 'last-modified': lastModified, 'content-length': String(body.length) }).end(body);
  };
}

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const h = routes.get(path);
    if (!h) {
      res.writeHead(404).end();
      return;
    }
    const list = seen.get(path)!;
    list.push(req.headers);
    h(req, res, list.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

// ---------------------------------------------------------------------------------------------
// Fake SourceContext and a collector
// ---------------------------------------------------------------------------------------------

const silent = pino({ level: 'silent' });

function makeCtx(state: Partial<SourceState> | null = null): { ctx: SourceContext; ac: AbortController } {
  const ac = new AbortController();
  const full: SourceState | null = state
    ? { lastPollAt: null, nextPollAt: null, etag: null, lastModified: null, consecutiveErrors: 0, lastError: null, cursor: null, ...state }
    : null;
  const ctx: SourceContext = {
    log: silent,
    signal: ac.signal,
    state: full,
    parseFeed: (body, meta) => parseFeedDocument(body, meta),
    waitForRoom: async () => {},
  };
  return { ctx, ac };
}

function cfg(url: string, over: Partial<RssSourceConfig> = {}): RssSourceConfig {
  // The fixture server is on loopback: the SSRF guard would refuse it without the flag.
  return { id: 'test', url, intervalMs: 50, allowPrivateNetworks: true, limits: { timeoutMs: 3000, maxBodyBytes: 5 * 1024 * 1024 }, ...over };
}

async function stop(run: Run, ac: AbortController): Promise<void> {
  ac.abort();
  await run.completed;
}

// ---------------------------------------------------------------------------------------------

describe('rssSource with real-world fixtures', { skip: SKIP_FIXTURES }, () => {
  it('emits items, then a 304 conditional GET gives an empty result', async () => {
    const body = readFileSync(join(FEEDS, 'cnbc_top_news_2014-03.rss.xml'));
    const url = route('/cnbc.xml', staticFeed(body, { 'content-type': 'application/rss+xml; charset=UTF-8' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url), ctx), ac);
    const [first, second] = await run.waitFor(2);
    await stop(run, ac);

    assert.equal(first.sourceId, 'test');
    assert.equal(first.items.length, 30);
    assert.equal(first.error, undefined);
    assert.equal(first.state.etag, '"v1"');
    assert.equal(first.state.lastModified, 'Mon, 06 Jan 2025 10:00:00 GMT');
    assert.equal(first.state.consecutiveErrors, 0);
    assert.equal(first.state.lastError, null);
    assert.ok(first.state.lastPollAt && first.state.nextPollAt);

    assert.equal(second.items.length, 0);
    assert.equal(second.error, undefined);
    assert.equal(second.state.consecutiveErrors, 0);
    assert.ok(second.state.lastPollAt && second.state.nextPollAt);
    const reqs = seen.get('/cnbc.xml')!;
    assert.equal(reqs[0]['if-none-match'], undefined);
    assert.equal(reqs[1]['if-none-match'], '"v1"');
    assert.equal(reqs[1]['if-modified-since'], 'Mon, 06 Jan 2025 10:00:00 GMT');
    assert.match(String(reqs[0]['user-agent']), /tickerpulse/);
  });

  it('a gzip body served with Content-Encoding: gzip is decompressed and parsed', async () => {
    const gz = readFileSync(join(FEEDS, 'nshipster_GZIPPED_BODY_ODD.xml.gz'));
    const url = route('/nshipster.xml', staticFeed(gz, { 'content-type': 'application/rss+xml', 'content-encoding': 'gzip' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000 }), ctx), ac);
    const [first] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(first.error, undefined, first.error?.message);
    assert.equal(first.items.length, 25);
  });

  it('charset comes from the Content-Type header (windows-1251 decoded in the parser)', async () => {
    const body = readFileSync(join(FEEDS, 'oren_ru_news_windows-1251_ODD.rss.xml'));
    const url = route('/oren.xml', staticFeed(body, { 'content-type': 'text/xml; charset=windows-1251' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000 }), ctx), ac);
    const [first] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(first.items.length, 10);
    assert.match(first.items[0].title, /[А-Яа-я]{4,}/);
  });

  it('an HTML page where the feed was is FEED_NOT_A_FEED', async () => {
    const body = readFileSync(join(FEEDS, 'marketwatch_pf_document_moved_NOT_A_FEED.rss.html'));
    const url = route('/moved.xml', staticFeed(body, { 'content-type': 'text/html' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000 }), ctx), ac);
    const [first] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(first.error?.code, 'FEED_NOT_A_FEED');
    assert.equal(first.state.lastError, 'FEED_NOT_A_FEED');
  });
});

describe('rssSource behaviour', () => {
  it('a body over maxBodyBytes is FEED_TOO_LARGE and polling continues', async () => {
    const body = Buffer.from(rssDoc(200, 'Big', 50));
    const url = route('/big.xml', staticFeed(body, { 'content-type': 'application/rss+xml' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 20, limits: { timeoutMs: 2000, maxBodyBytes: 4096 } }), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_TOO_LARGE');
    assert.deepEqual(a.items, []);
    assert.equal(a.state.consecutiveErrors, 1);
    assert.equal(a.state.lastError, 'FEED_TOO_LARGE');
    assert.equal(b.error?.code, 'FEED_TOO_LARGE');
    assert.equal(b.state.consecutiveErrors, 2);
    assert.ok(Date.parse(b.state.nextPollAt!) > Date.parse(b.state.lastPollAt!));
  });

  it('the limit counts decompressed bytes (a small gzip that inflates past it)', async () => {
    const gz = gzipSync(Buffer.from(rssDoc(2000, 'Bomb', 400)));
    assert.ok(gz.length < 64 * 1024);
    const url = route('/bomb.xml', staticFeed(gz, { 'content-type': 'application/rss+xml', 'content-encoding': 'gzip' }));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000, limits: { timeoutMs: 2000, maxBodyBytes: 256 * 1024 } }), ctx), ac);
    const [a] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_TOO_LARGE');
  });

  it('a server that never answers gives FEED_TIMEOUT', async () => {
    const url = route('/hang.xml', () => {
      /* never respond */
    });
    const { ctx, ac } = makeCtx();
    const t0 = Date.now();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000, limits: { timeoutMs: 150, maxBodyBytes: 1 << 20 } }), ctx), ac);
    const [a] = await run.waitFor(1);
    assert.ok(Date.now() - t0 < 2000);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_TIMEOUT');
    assert.equal(a.state.consecutiveErrors, 1);
  });

  it('a body that stalls midway also times out', async () => {
    const url = route('/stall.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      res.write('<?xml version="1.0"?><rss version="2.0"><channel>');
    });
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000, limits: { timeoutMs: 150, maxBodyBytes: 1 << 20 } }), ctx), ac);
    const [a] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_TIMEOUT');
  });

  it('HTTP 500 → FEED_HTTP_ERROR, then recovery resets the error count', async () => {
    const body = Buffer.from(rssDoc(3, 'Flaky'));
    const url = route('/flaky.xml', (req, res, n) => {
      if (n <= 2) res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      else staticFeed(body, { 'content-type': 'application/rss+xml' })(req, res, n);
    });
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 20 }), ctx), ac);
    const [a, b, c] = await run.waitFor(3);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_HTTP_ERROR');
    assert.match(a.error!.message, /500/);
    assert.equal(a.state.consecutiveErrors, 1);
    assert.equal(b.state.consecutiveErrors, 2);
    assert.equal(c.error, undefined);
    assert.equal(c.items.length, 3);
    assert.equal(c.state.consecutiveErrors, 0);
    assert.equal(c.state.lastError, null);
  });

  it('HTTP 404 is reported with its status and polling goes on', async () => {
    const url = route('/gone.xml', (_req, res) => res.writeHead(404).end());
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(url, { intervalMs: 10 }), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_HTTP_ERROR');
    assert.match(a.error!.message, /404/);
    assert.equal(b.error?.code, 'FEED_HTTP_ERROR');
  });

  it('a refused connection is FEED_FETCH_FAILED', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { ctx, ac } = makeCtx();
    const run = collect(rssSource(cfg(`http://127.0.0.1:${port}/feed.xml`, { intervalMs: 60_000 }), ctx), ac);
    const [a] = await run.waitFor(1);
    await stop(run, ac);
    assert.equal(a.error?.code, 'FEED_FETCH_FAILED');
    assert.match(a.error!.message, /ECONNREFUSED/);
  });

  it('persisted etag and a future nextPollAt are honoured at startup', async () => {
    const body = Buffer.from(rssDoc(2, 'Persist'));
    const url = route('/persist.xml', staticFeed(body, { 'content-type': 'application/rss+xml' }, '"p1"'));
    const { ctx, ac } = makeCtx({ etag: '"p1"', nextPollAt: new Date(Date.now() + 300).toISOString() });
    const t0 = Date.now();
    const run = collect(rssSource(cfg(url, { intervalMs: 60_000 }), ctx), ac);
    const [a] = await run.waitFor(1);
    const waited = Date.now() - t0;
    await stop(run, ac);
    assert.ok(waited >= 250, `first poll after ${waited} ms`);
    assert.equal(seen.get('/persist.xml')![0]['if-none-match'], '"p1"');
    assert.deepEqual(a.items, []);
    assert.equal(a.error, undefined);
  });

  it('waitForRoom is awaited before each poll', async () => {
    const body = Buffer.from(rssDoc(1, 'Room'));
    const url = route('/room.xml', staticFeed(body, { 'content-type': 'application/rss+xml' }));
    const { ctx, ac } = makeCtx();
    let release!: () => void;
    ctx.waitForRoom = () => new Promise<void>((r) => (release = r));
    const run = collect(rssSource(cfg(url, { intervalMs: 10 }), ctx), ac);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(seen.get('/room.xml')!.length, 0, 'no request while the queue is full');
    release();
    await run.waitFor(1);
    await stop(run, ac);
  });

  it('abort completes the observable, whether sleeping, waiting for room or mid-request', async () => {
    const body = Buffer.from(rssDoc(1, 'Abort'));
    const url = route('/abort.xml', staticFeed(body, { 'content-type': 'application/rss+xml' }));

    // Sleeping between polls (long interval).
    {
      const { ctx, ac } = makeCtx();
      const run = collect(rssSource(cfg(url, { intervalMs: 60_000 }), ctx), ac);
      await run.waitFor(1);
      const t0 = Date.now();
      await stop(run, ac);
      assert.ok(Date.now() - t0 < 500);
      assert.equal(run.results.length, 1);
    }
    // Blocked in waitForRoom.
    {
      const { ctx, ac } = makeCtx();
      ctx.waitForRoom = () => new Promise<void>(() => {});
      const run = collect(rssSource(cfg(url), ctx), ac);
      await new Promise((r) => setTimeout(r, 30));
      await stop(run, ac);
      assert.equal(run.results.length, 0);
    }
    // Mid-request against a server that never answers: no result is emitted.
    {
      const hang = route('/hang2.xml', () => {});
      const { ctx, ac } = makeCtx();
      const run = collect(rssSource(cfg(hang, { limits: { timeoutMs: 60_000, maxBodyBytes: 1 << 20 } }), ctx), ac);
      for (const t0 = Date.now(); seen.get('/hang2.xml')!.length === 0 && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 5));
      assert.equal(seen.get('/hang2.xml')!.length, 1);
      await stop(run, ac);
      assert.equal(run.results.length, 0);
    }
    // Unsubscribing stops polling too.
    {
      const { ctx, ac } = makeCtx();
      const run = collect(rssSource(cfg(url, { intervalMs: 10 }), ctx), ac);
      await run.waitFor(1);
      run.sub.unsubscribe();
      const n = seen.get('/abort.xml')!.length;
      await new Promise((r) => setTimeout(r, 80));
      assert.ok(seen.get('/abort.xml')!.length <= n + 1);
    }
  });
});

describe('backoffDelayMs', () => {
  it('is never below the interval, grows exponentially and is capped', () => {
    assert.equal(backoffDelayMs(1000, 1, null, () => 0), 1000);
    assert.equal(backoffDelayMs(1000, 1, null, () => 1), 2000);
    assert.equal(backoffDelayMs(1000, 3, null, () => 1), 8000);
    assert.equal(backoffDelayMs(60_000, 50, null, () => 1), 3_600_000);
    assert.equal(backoffDelayMs(2 * 3_600_000, 5, null, () => 1), 2 * 3_600_000);
    assert.equal(backoffDelayMs(1000, 1, 30_000, () => 0), 30_000, 'Retry-After raises the delay');
  });
});
