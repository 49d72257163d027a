/**
 * SSRF guard: address classification, IP literals (all spellings), names resolving to private
 * addresses (checked by the very lookup the socket connects with), redirects to metadata
 * endpoints, and the allowPrivateNetworks flag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TickerpulseError } from '../../src/lib/errors.js';
import { fetchFeed, type FetchFeedOptions } from '../../sources/httpFetch.js';
import { rssSource } from '../../sources/rss.js';
import { classifyAddress, parseIPv6, refusalReason, type HostLookup } from '../../sources/ssrf.js';
import { collect, fakeClock, makeCtx, rssDoc, startFixtureServer, type FixtureServer } from './helpers.js';

let srv: FixtureServer;
before(async () => {
  srv = await startFixtureServer();
});
after(async () => {
  await srv.close();
});

function opts(over: Partial<FetchFeedOptions> = {}): FetchFeedOptions {
  return { limits: { timeoutMs: 3000, maxBodyBytes: 1 << 20 }, ...over };
}

async function blocked(p: Promise<unknown>, msg?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TickerpulseError, String(err));
    assert.equal(err.code, 'SSRF_BLOCKED', err.message);
    assert.equal(err.retryable, false);
    if (msg) assert.match(err.message, msg);
    return true;
  });
}

/** A resolver that maps every name in `table` and records what it was asked. */
function fakeDns(table: Record<string, string[]>): HostLookup & { asked: string[] } {
  const asked: string[] = [];
  const fn = (async (host: string) => {
    asked.push(host);
    const a = table[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
  }) as unknown as HostLookup & { asked: string[] };
  fn.asked = asked;
  return fn;
}

describe('address classification', () => {
  it('refuses loopback, private, link-local, CGNAT, this-network, multicast, reserved and IPv6 equivalents', () => {
    const refused = [
      '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.1.1', '100.64.0.1',
      '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255', '192.0.2.5',
      '198.18.0.1', '198.51.100.1', '203.0.113.9', '192.0.0.8',
      '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1', 'ff02::1', '2001:db8::1', '100::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.1.2.3', '::ffff:169.254.169.254', '::127.0.0.1', '64:ff9b::a00:1', '2002:c0a8:101::1',
      '[::1]',
    ];
    for (const ip of refused) assert.notEqual(classifyAddress(ip).kind, 'public', ip);
    const allowed = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808'];
    for (const ip of allowed) assert.equal(classifyAddress(ip).kind, 'public', ip);
  });

  it('metadata endpoints are refused even with allowPrivateNetworks', () => {
    for (const ip of ['169.254.169.254', '::ffff:169.254.169.254', 'fd00:ec2::254', '169.254.170.2', '100.100.100.200']) {
      assert.ok(refusalReason(ip, { allowPrivateNetworks: true }), ip);
    }
    assert.equal(refusalReason('127.0.0.1', { allowPrivateNetworks: true }), null);
    assert.equal(refusalReason('10.1.1.1', { allowPrivateNetworks: true }), null);
    assert.ok(refusalReason('10.1.1.1', {}));
  });

  it('parses IPv6 text forms', () => {
    assert.deepEqual(parseIPv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    assert.deepEqual(parseIPv6('1::'), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(parseIPv6('[fe80::1%lo]'), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(parseIPv6('1:2:3:4:5:6:7:8:9'), null);
    assert.equal(parseIPv6('1::2::3'), null);
    assert.equal(parseIPv6('12345::'), null);
  });
});

describe('fetchFeed SSRF guard (allowPrivateNetworks off)', () => {
  it('IP literals in the URL are refused before any connection, in every spelling', async () => {
    const p = srv.port;
    for (const u of [
      `http://127.0.0.1:${p}/x`,
      `http://localhost:${p}/x`,
      `http://[::1]:${p}/x`,
      `http://[::ffff:127.0.0.1]:${p}/x`,
      `http://2130706433:${p}/x`, // 127.0.0.1 as one number
      `http://0x7f.1:${p}/x`,
      `http://0.0.0.0:${p}/x`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://10.0.0.1/feed',
    ]) {
      await blocked(fetchFeed(u, opts()), undefined);
    }
    assert.equal(srv.seen('/x').length, 0);
  });

  it('a public-looking name that resolves to 127.0.0.1 is refused; no request reaches the server', async () => {
    srv.route('/rebind.xml', (_req, res) => res.writeHead(200).end(rssDoc(1)));
    const dns = fakeDns({ 'feeds.example-news.com': ['127.0.0.1'] });
    await blocked(fetchFeed(`http://feeds.example-news.com:${srv.port}/rebind.xml`, opts({ lookup: dns })), /feeds\.example-news\.com.*127\.0\.0\.1/);
    assert.deepEqual(dns.asked, ['feeds.example-news.com']);
    assert.equal(srv.seen('/rebind.xml').length, 0);
  });

  it('a name with one public and one private address is refused as a whole', async () => {
    const dns = fakeDns({ 'mixed.example-news.com': ['93.184.216.34', '10.0.0.7'] });
    await blocked(fetchFeed('http://mixed.example-news.com/feed.xml', opts({ lookup: dns })));
  });

  it('the checked address is the one connected to (no second resolution)', async () => {
    srv.route('/pinned.xml', (_req, res) => res.writeHead(200).end(rssDoc(1)));
    const dns = fakeDns({ 'pinned.example-news.com': ['127.0.0.1'] });
    // With the flag on, the injected answer is used to connect: the system resolver never saw the name.
    const r = await fetchFeed(`http://pinned.example-news.com:${srv.port}/pinned.xml`, opts({ lookup: dns, allowPrivateNetworks: true }));
    assert.equal(r.status, 200);
    assert.equal(srv.seen('/pinned.xml')[0].headers.host, `pinned.example-news.com:${srv.port}`);
    assert.deepEqual(dns.asked, ['pinned.example-news.com']);
  });

  it('a redirect to 169.254.169.254 is refused', async () => {
    const url = srv.route('/to-metadata', (_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }).end());
    // The fixture server itself is trusted by address; the redirect target is checked again.
    await blocked(fetchFeed(url, opts({ trustedAddresses: ['127.0.0.1'] })), /169\.254\.169\.254/);
    // ...and even with allowPrivateNetworks (a metadata endpoint).
    await blocked(fetchFeed(url, opts({ allowPrivateNetworks: true })), /metadata/);
    assert.equal(srv.seen('/to-metadata').length, 2);
  });

  it('a redirect to a name resolving to a private address, or to another scheme, is refused', async () => {
    const dns = fakeDns({ 'intranet.example-news.com': ['192.168.10.20'] });
    const url = srv.route('/to-intranet', (_req, res) => res.writeHead(301, { location: 'http://intranet.example-news.com/admin' }).end());
    await blocked(fetchFeed(url, opts({ trustedAddresses: ['127.0.0.1'], lookup: dns })), /192\.168\.10\.20/);
    const url2 = srv.route('/to-file', (_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
    await blocked(fetchFeed(url2, opts({ allowPrivateNetworks: true })), /scheme file:/);
  });

  it('with allowPrivateNetworks the loopback server is reachable', async () => {
    const url = srv.route('/lan.xml', (_req, res) => res.writeHead(200).end(rssDoc(1)));
    assert.equal((await fetchFeed(url, opts({ allowPrivateNetworks: true }))).status, 200);
  });
});

describe('rssSource reports SSRF_BLOCKED like any failed poll', () => {
  it('emits the error with its code and keeps its schedule', async () => {
    const url = srv.route('/src-ssrf.xml', (_req, res) => res.writeHead(200).end(rssDoc(1)));
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock, random: () => 0 });
    const run = collect(rssSource({ id: 'ssrf', url, intervalMs: 60_000, limits: { timeoutMs: 1000, maxBodyBytes: 1 << 20 } }, ctx), ac);
    const [a, b] = await run.waitFor(2);
    await run.stop();
    assert.equal(a.error?.code, 'SSRF_BLOCKED');
    assert.equal(a.state.lastError, 'SSRF_BLOCKED');
    assert.equal(b.state.consecutiveErrors, 2);
    assert.equal(srv.seen('/src-ssrf.xml').length, 0);
  });
});
