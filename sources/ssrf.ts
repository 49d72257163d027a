/**
 * SSRF guard for the polling fetch layer. A feed URL comes from a config file, but its host name
 * is resolved by whoever controls that name's DNS, and every redirect is chosen by the server: so
 * the address is checked *after* resolution, on every hop, by the very `lookup` the socket uses
 * to connect (no second resolution, hence no DNS-rebinding window between check and connect).
 *
 * Refused unless a source sets `allowPrivateNetworks: true`: loopback, RFC 1918 private ranges,
 * link-local, CGNAT, "this network", multicast, documentation/benchmark/reserved ranges, IPv6
 * unique-local / link-local / site-local / multicast / anything outside 2000::/3, and IPv4 embedded
 * in IPv6 (mapped `::ffff:a.b.c.d`, compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged
 * by its IPv4 part. Cloud metadata endpoints (169.254.169.254 and friends) are refused even then.
 */
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { TickerpulseError } from '../src/lib/errors.js';

/** One resolved address, as `dns.lookup(..., { all: true })` returns it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Name → addresses. The default uses the system resolver (`dns.lookup`, like every other client
 * on the machine); tests inject one to make a public-looking name resolve to loopback.
 */
export type HostLookup = (hostname: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>;

export interface SsrfPolicy {
  /** Allow loopback/private/link-local/... targets (a feed on the LAN, test servers). Metadata endpoints stay refused. */
  allowPrivateNetworks?: boolean;
  /** Exact addresses exempt from the guard (tests; a caller that vetted them). Not a config setting. */
  trustedAddresses?: readonly string[];
}

export type AddressClass = { kind: 'public' } | { kind: 'private' | 'metadata'; reason: string };

// ---------------------------------------------------------------------------------------------
// Address parsing
// ---------------------------------------------------------------------------------------------

/** Dotted quad → unsigned 32-bit number (strict: four decimal parts 0-255), or null. */
export function parseIPv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** IPv6 text (with `::`, an embedded dotted quad, a `%zone`, or brackets) → eight 16-bit groups, or null. */
export function parseIPv6(input: string): number[] | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':')) return null;
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    // ::ffff:1.2.3.4 → ::ffff:102:304
    const q = parseIPv4(last);
    if (q === null) return null;
    s = s.slice(0, lastColon + 1) + (q >>> 16).toString(16) + ':' + (q & 0xffff).toString(16);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  if (!head) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const rest = groups(halves[1]);
  if (!rest) return null;
  const fill = 8 - head.length - rest.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...rest];
}

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;

/** [network, prefix length, reason] — IPv4 ranges that are not the public internet. */
const V4_BLOCKED: [number, number, string][] = [
  [v4(0, 0, 0, 0), 8, '"this network" 0.0.0.0/8'],
  [v4(10, 0, 0, 0), 8, 'private 10.0.0.0/8'],
  [v4(100, 64, 0, 0), 10, 'carrier-grade NAT 100.64.0.0/10'],
  [v4(127, 0, 0, 0), 8, 'loopback 127.0.0.0/8'],
  [v4(169, 254, 0, 0), 16, 'link-local 169.254.0.0/16'],
  [v4(172, 16, 0, 0), 12, 'private 172.16.0.0/12'],
  [v4(192, 0, 0, 0), 24, 'IETF protocol assignments 192.0.0.0/24'],
  [v4(192, 0, 2, 0), 24, 'documentation 192.0.2.0/24'],
  [v4(192, 88, 99, 0), 24, '6to4 relay anycast 192.88.99.0/24'],
  [v4(192, 168, 0, 0), 16, 'private 192.168.0.0/16'],
  [v4(198, 18, 0, 0), 15, 'benchmarking 198.18.0.0/15'],
  [v4(198, 51, 100, 0), 24, 'documentation 198.51.100.0/24'],
  [v4(203, 0, 113, 0), 24, 'documentation 203.0.113.0/24'],
  [v4(224, 0, 0, 0), 4, 'multicast 224.0.0.0/4'],
  [v4(240, 0, 0, 0), 4, 'reserved 240.0.0.0/4 (and broadcast)'],
];

/** Cloud instance-metadata / credential endpoints: refused even with allowPrivateNetworks. */
const V4_METADATA = new Map<number, string>([
  [v4(169, 254, 169, 254), 'cloud metadata endpoint 169.254.169.254'],
  [v4(169, 254, 170, 2), 'container credentials endpoint 169.254.170.2'],
  [v4(169, 254, 170, 23), 'pod identity endpoint 169.254.170.23'],
  [v4(100, 100, 100, 200), 'cloud metadata endpoint 100.100.100.200'],
]);
const V6_METADATA = new Map<string, string>([
  ['fd00:ec2:0:0:0:0:0:254', 'cloud metadata endpoint fd00:ec2::254'],
  ['fd00:ec2:0:0:0:0:0:23', 'pod identity endpoint fd00:ec2::23'],
]);

function inRange(n: number, net: number, bits: number): boolean {
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((n & mask) >>> 0) === ((net & mask) >>> 0);
}

function classifyV4(n: number, shown: string): AddressClass {
  const meta = V4_METADATA.get(n);
  if (meta) return { kind: 'metadata', reason: meta };
  for (const [net, bits, reason] of V4_BLOCKED) if (inRange(n, net, bits)) return { kind: 'private', reason: `${shown} is ${reason}` };
  return { kind: 'public' };
}

function classifyV6(g: number[], shown: string): AddressClass {
  const key = g.map((x) => x.toString(16)).join(':');
  const meta = V6_METADATA.get(key);
  if (meta) return { kind: 'metadata', reason: meta };
  const embedded = (hi: number, lo: number) => ((hi << 16) >>> 0) + lo;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): judged by the IPv4 part.
  if (zero(0, 5) && g[5] === 0xffff) return asEmbedded(classifyV4(embedded(g[6], g[7]), shown));
  if (zero(0, 6)) {
    if (g[6] === 0 && g[7] === 0) return { kind: 'private', reason: `${shown} is the unspecified address ::` };
    if (g[6] === 0 && g[7] === 1) return { kind: 'private', reason: `${shown} is loopback ::1` };
    return asEmbedded(classifyV4(embedded(g[6], g[7]), shown));
  }
  // NAT64 well-known prefix 64:ff9b::/96 embeds the IPv4 target.
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return asEmbedded(classifyV4(embedded(g[6], g[7]), shown));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return { kind: 'private', reason: `${shown} is local-use NAT64 64:ff9b:1::/48` };
  // 6to4 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
  if (g[0] === 0x2002) return asEmbedded(classifyV4(embedded(g[1], g[2]), shown));
  if ((g[0] & 0xe000) !== 0x2000) {
    const r =
      (g[0] & 0xfe00) === 0xfc00 ? 'unique-local fc00::/7'
      : (g[0] & 0xffc0) === 0xfe80 ? 'link-local fe80::/10'
      : (g[0] & 0xffc0) === 0xfec0 ? 'site-local fec0::/10'
      : (g[0] & 0xff00) === 0xff00 ? 'multicast ff00::/8'
      : 'outside global unicast 2000::/3';
    return { kind: 'private', reason: `${shown} is ${r}` };
  }
  if (g[0] === 0x2001 && g[1] < 0x200) return { kind: 'private', reason: `${shown} is IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID)` };
  if (g[0] === 0x2001 && g[1] === 0xdb8) return { kind: 'private', reason: `${shown} is documentation 2001:db8::/32` };
  if (g[0] === 0x3fff && g[1] < 0x1000) return { kind: 'private', reason: `${shown} is documentation 3fff::/20` };
  return { kind: 'public' };
}

function asEmbedded(c: AddressClass): AddressClass {
  return c.kind === 'public' ? c : { kind: c.kind, reason: `${c.reason} (embedded IPv4)` };
}

/** What an IP address literal is: public, private/reserved (with the range), or a metadata endpoint. Non-IPs are "private" (refused). */
export function classifyAddress(ip: string): AddressClass {
  const s = ip.trim().replace(/^\[|\]$/g, '');
  const n = parseIPv4(s);
  if (n !== null) return classifyV4(n, s);
  const g = parseIPv6(s);
  if (g) return classifyV6(g, s);
  return { kind: 'private', reason: `${JSON.stringify(ip)} is not an IP address` };
}

function sameAddress(a: string, b: string): boolean {
  const na = parseIPv4(a.replace(/^\[|\]$/g, ''));
  const nb = parseIPv4(b.replace(/^\[|\]$/g, ''));
  if (na !== null || nb !== null) return na === nb;
  const ga = parseIPv6(a);
  const gb = parseIPv6(b);
  return !!ga && !!gb && ga.every((x, i) => x === gb[i]);
}

/** Why `ip` may not be contacted under `policy`, or null when it may. */
export function refusalReason(ip: string, policy: SsrfPolicy): string | null {
  if (policy.trustedAddresses?.some((t) => sameAddress(t, ip))) return null;
  const c = classifyAddress(ip);
  if (c.kind === 'public') return null;
  if (c.kind === 'metadata') return `${ip} is a ${c.reason} (always refused)`;
  return policy.allowPrivateNetworks ? null : c.reason;
}

export function ssrfBlocked(host: string, reason: string): TickerpulseError {
  return new TickerpulseError('SSRF_BLOCKED', `refusing to connect to ${host}: ${reason} (set allowPrivateNetworks: true on the source to allow private networks)`, {
    retryable: false,
    details: { host, reason },
  });
}

/** URL host without IPv6 brackets; lower-case. */
export function bareHost(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Checked before every request: the scheme must be http(s), and an IP literal in the URL (which
 * never goes through `lookup`) must pass the policy. Throws SSRF_BLOCKED.
 */
export function checkUrlTarget(url: URL, policy: SsrfPolicy): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw ssrfBlocked(url.href, `scheme ${url.protocol} is not http or https`);
  const host = bareHost(url.hostname);
  if (isIP(host)) {
    const reason = refusalReason(host, policy);
    if (reason) throw ssrfBlocked(host, reason);
  }
}

const systemLookup: HostLookup = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, family, verbatim: true }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });

/**
 * A `lookup` for `http.request` / `net.connect`: resolves with `resolver`, refuses the whole
 * name (SSRF_BLOCKED) when any of its addresses is refused, and hands the checked addresses to
 * the socket, which connects to one of exactly those. Handles both callback shapes
 * (`all: true` for happy-eyeballs connections, single address otherwise).
 */
export function guardedLookup(policy: SsrfPolicy, resolver: HostLookup = systemLookup): LookupFunction {
  return ((hostname: string, options: { family?: number | string; all?: boolean } | number | undefined, callback: (...args: unknown[]) => void) => {
    const opts = typeof options === 'object' && options !== null ? options : { family: options };
    const fam = opts.family === 4 || opts.family === 'IPv4' ? 4 : opts.family === 6 || opts.family === 'IPv6' ? 6 : 0;
    resolver(hostname, fam).then(
      (found) => {
        const addresses = found.filter((a) => fam === 0 || a.family === fam);
        if (addresses.length === 0) {
          const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          callback(err);
          return;
        }
        for (const a of addresses) {
          const reason = refusalReason(a.address, policy);
          if (reason) {
            callback(ssrfBlocked(hostname, `it resolves to ${reason}`));
            return;
          }
        }
        if (opts.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (err: unknown) => callback(err),
    );
  }) as unknown as LookupFunction;
}
