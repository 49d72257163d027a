/**
 * The shared fetch layer against hostile loopback servers: redirect loops, oversized bodies,
 * decompression bombs (gzip, stacked gzip, brotli, deflate), slow-drip servers and a hung
 * resolver are each cut off at their limit with their code, with bounded memory.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { TickerpulseError } from '../../src/lib/errors.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_USER_AGENT, fetchFeed, type FetchFeedOptions } from '../../sources/httpFetch.js';
import { rssDoc, startFixtureServer, type FixtureServer } from './helpers.js';

const MiB = 1024 * 1024;
let srv: FixtureServer;
let rssStart = 0;
let rssPeak = 0;
let sampler: ReturnType<typeof setInterval>;

before(async () => {
  srv = await startFixtureServer();
  rssStart = process.memoryUsage().rss;
  rssPeak = rssStart;
  sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 10);
});
after(async () => {
  clearInterval(sampler);
  await srv.close();
});

function opts(over: Partial<FetchFeedOptions> = {}): FetchFeedOptions {
  return { limits: { timeoutMs: 5000, maxBodyBytes: DEFAULT_MAX_BODY_BYTES }, allowPrivateNetworks: true, ...over };
}

async function rejectsWith(p: Promise<unknown>, code: string, check?: (e: TickerpulseError) => void): Promise<TickerpulseError> {
  let caught: TickerpulseError | null = null;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TickerpulseError, `expected TickerpulseError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    caught = err;
    return true;
  });
  if (check) check(caught!);
  return caught!;
}

/** Write `total` bytes of `chunk` repeated, honouring back-pressure; stops when the client goes away. */
function stream(res: ServerResponse, chunk: Buffer, total: number): void {
  let sent = 0;
  const pump = () => {
    while (sent < total && !res.destroyed) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

// Bombs, built once: a 1 MiB-of-zeros gzip member (~1 KB).
const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
/** ~1 MB of concatenated gzip members that inflates to 1 GiB. */
const gzip1GiB = Buffer.concat(new Array<Buffer>(1024).fill(member));
/** ~3 KB that inflates (Content-Encoding: gzip, gzip) to 1 GiB. */
const gzipGzip1GiB = zlib.gzipSync(gzip1GiB, { level: 9 });
/** A few bytes of brotli that inflate to 32 MiB. */
const br32MiB = zlib.brotliCompressSync(Buffer.alloc(32 * MiB), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });

describe('headers and decoding', () => {
  it('sends the default User-Agent (project and version), Accept-Encoding, and a custom User-Agent when set', async () => {
    const body = Buffer.from(rssDoc(1));
    const url = srv.route('/ua.xml', (_req, res) => res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(body));
    const r = await fetchFeed(url, opts());
    assert.equal(Buffer.from(r.body).toString(), body.toString());
    assert.match(DEFAULT_USER_AGENT, /^tickerpulse\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/tickerpulse\/tickerpulse\)$/);
    assert.equal(srv.seen('/ua.xml')[0].headers['user-agent'], DEFAULT_USER_AGENT);
    assert.match(String(srv.seen('/ua.xml')[0].headers['accept-encoding']), /gzip.*deflate.*br/);
    await fetchFeed(url, opts({ userAgent: 'acme-monitor/2.0 ops@acme.example' }));
    assert.equal(srv.seen('/ua.xml')[1].headers['user-agent'], 'acme-monitor/2.0 ops@acme.example');
  });

  it('gzip, zlib deflate, raw deflate, br and stacked codings decode to the same bytes', async () => {
    const body = Buffer.from(rssDoc(50, 'Enc'));
    const variants: [string, Buffer][] = [
      ['gzip', zlib.gzipSync(body)],
      ['deflate', zlib.deflateSync(body)],
      ['deflate', zlib.deflateRawSync(body)],
      ['br', zlib.brotliCompressSync(body)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(body))],
      ['identity', body],
    ];
    for (const [i, [coding, wire]] of variants.entries()) {
      const url = srv.route(`/enc${i}.xml`, (_req, res) => res.writeHead(200, { 'content-encoding': coding }).end(wire));
      const r = await fetchFeed(url, opts());
      assert.equal(Buffer.from(r.body).toString(), body.toString(), coding);
      assert.equal(r.body.byteOffset, 0);
      assert.equal(r.body.buffer.byteLength, r.body.byteLength, 'standalone buffer (transferable)');
    }
  });

  it('corrupt compressed data and unknown codings are FEED_FETCH_FAILED', async () => {
    const url = srv.route('/corrupt.xml', (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from('not gzip at all')));
    await rejectsWith(fetchFeed(url, opts()), 'FEED_FETCH_FAILED');
    const url2 = srv.route('/zstd.xml', (_req, res) => res.writeHead(200, { 'content-encoding': 'zstd' }).end('x'));
    await rejectsWith(fetchFeed(url2, opts()), 'FEED_FETCH_FAILED', (e) => assert.match(e.message, /zstd/));
  });
});

describe('redirects', () => {
  it('follows up to 5 redirects (relative Location too) and reports the final URL', async () => {
    for (let i = 0; i < 5; i++) srv.route(`/hop${i}`, (_req, res) => res.writeHead(i % 2 ? 301 : 302, { location: i === 4 ? '/hop-end.xml' : `/hop${i + 1}` }).end());
    const end = srv.route('/hop-end.xml', (_req, res) => res.writeHead(200).end(rssDoc(1)));
    const r = await fetchFeed(srv.base + '/hop0', opts());
    assert.equal(r.url, end);
    assert.equal(r.redirects, 5);
  });

  it('a redirect loop is TOO_MANY_REDIRECTS after 5 hops', async () => {
    const url = srv.route('/loop', (_req, res) => res.writeHead(307, { location: '/loop' }).end());
    await rejectsWith(fetchFeed(url, opts()), 'TOO_MANY_REDIRECTS');
    assert.equal(srv.seen('/loop').length, 6, 'the first request and 5 redirects');
  });

  it('a redirect without Location is FEED_HTTP_ERROR', async () => {
    const url = srv.route('/noloc', (_req, res) => res.writeHead(302).end());
    await rejectsWith(fetchFeed(url, opts()), 'FEED_HTTP_ERROR');
  });
});

describe('limits: each hostile server is cut off at its limit, with bounded memory', () => {
  it('a 64 MiB body (chunked) stops at 10 MiB: FEED_TOO_LARGE', async () => {
    const url = srv.route('/huge.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      stream(res, Buffer.alloc(64 * 1024, 0x61), 64 * MiB);
    });
    await rejectsWith(fetchFeed(url, opts()), 'FEED_TOO_LARGE', (e) => assert.equal(e.details?.maxBodyBytes, 10 * MiB));
  });

  it('a 64 MiB Content-Length is refused before reading', async () => {
    const url = srv.route('/huge-cl.xml', (_req, res) => {
      res.writeHead(200, { 'content-length': String(64 * MiB) });
      stream(res, Buffer.alloc(64 * 1024, 0x61), 64 * MiB);
    });
    await rejectsWith(fetchFeed(url, opts()), 'FEED_TOO_LARGE', (e) => assert.match(e.message, /Content-Length/));
  });

  it('gzip bombs: 1 MB → 1 GiB, and 3 KB (gzip, gzip) → 1 GiB, stop at 10 MiB decompressed', async () => {
    assert.ok(gzipGzip1GiB.length < 10 * 1024, `${gzipGzip1GiB.length} bytes`);
    const url = srv.route('/bomb1.xml', (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      stream(res, gzip1GiB, gzip1GiB.length);
    });
    const t0 = Date.now();
    await rejectsWith(fetchFeed(url, opts()), 'FEED_TOO_LARGE', (e) => assert.match(e.message, /after gzip decoding/));
    const url2 = srv.route('/bomb2.xml', (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip, gzip' }).end(gzipGzip1GiB));
    await rejectsWith(fetchFeed(url2, opts()), 'FEED_TOO_LARGE');
    assert.ok(Date.now() - t0 < 5000);
  });

  it('a brotli bomb stops at the limit too', async () => {
    const url = srv.route('/brbomb.xml', (_req, res) => res.writeHead(200, { 'content-encoding': 'br' }).end(br32MiB));
    await rejectsWith(fetchFeed(url, opts()), 'FEED_TOO_LARGE');
  });

  it('a server that sends one body byte per second hits the total deadline: FEED_TIMEOUT', async () => {
    const url = srv.route('/drip.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('<')), 1000);
      res.once('close', () => clearInterval(timer));
      res.write('<');
    });
    const t0 = Date.now();
    await rejectsWith(fetchFeed(url, opts({ limits: { timeoutMs: 1500, maxBodyBytes: MiB } })), 'FEED_TIMEOUT', (e) => assert.equal(e.details?.phase, 'total'));
    const took = Date.now() - t0;
    assert.ok(took >= 1400 && took < 3000, `cut off after ${took} ms`);
  });

  it('a server that drips its status line one byte per second hits the deadline as well', async () => {
    const sockets = new Set<Socket>();
    const raw: NetServer = createNetServer((sock) => {
      sockets.add(sock);
      const text = 'HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\n\r\n<rss/>';
      let i = 0;
      const timer = setInterval(() => (i < text.length && !sock.destroyed ? sock.write(text[i++]) : clearInterval(timer)), 1000);
      sock.on('close', () => clearInterval(timer));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const t0 = Date.now();
      await rejectsWith(fetchFeed(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, opts({ limits: { timeoutMs: 1200, maxBodyBytes: MiB } })), 'FEED_TIMEOUT');
      assert.ok(Date.now() - t0 < 2500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  it('a resolver that never answers hits the connect timeout, well before the total deadline', async () => {
    const t0 = Date.now();
    await rejectsWith(
      fetchFeed('http://slow-dns.example/feed.xml', opts({ lookup: () => new Promise(() => {}), limits: { timeoutMs: 10_000, connectTimeoutMs: 200, maxBodyBytes: MiB } })),
      'FEED_TIMEOUT',
      (e) => assert.equal(e.details?.phase, 'connect'),
    );
    assert.ok(Date.now() - t0 < 2000);
  });

  it('a connection closed mid-body is FEED_FETCH_FAILED', async () => {
    const url = srv.route('/cut.xml', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('<rss>');
      setTimeout(() => res.destroy(), 20);
    });
    await rejectsWith(fetchFeed(url, opts()), 'FEED_FETCH_FAILED');
  });

  it('caller abort rejects with the signal reason', async () => {
    const url = srv.route('/abortme.xml', () => {});
    const ac = new AbortController();
    const p = fetchFeed(url, opts({ signal: ac.signal }));
    setTimeout(() => ac.abort(new Error('shutdown')), 50);
    await assert.rejects(p, /shutdown/);
  });

  it('process RSS stayed within 100 MB of its start through all of the above', () => {
    const grew = (rssPeak - rssStart) / MiB;
    assert.ok(grew < 100, `RSS grew by ${grew.toFixed(1)} MiB (peak)`);
    const now = (process.memoryUsage().rss - rssStart) / MiB;
    assert.ok(now < 100, `RSS is ${now.toFixed(1)} MiB above its start`);
  });
});
