/**
 * The subscriber side of the fan-out bench (test/bench/fanout.ts), forked as its own process so
 * that parsing S clients' frames does not slow the bench's sender (nor the daemon's clock).
 *
 * Protocol over the IPC channel:
 *   parent → { type: 'start', port, subscribers, filter, first }  connect S clients; half (odd
 *            index) with ?tickers=<filter>; answers { type: 'ready', connected, failed }
 *   parent → { type: 'drain', first, last, filtered, drainMs }    the sent items were first..last
 *            (warm-up items below `first` are ignored); `filtered` is a base64 bitmap (bit k =
 *            item first+k names a filter ticker). Waits until every client has what it should
 *            (or drainMs), then answers { type: 'report', ... } and exits.
 *
 * Every item's guid is `fo<index>-<send time in µs of process.hrtime>` (CLOCK_MONOTONIC, the
 * same clock in every process on the machine), so latency = receive time − send time. Frames are
 * scanned, not JSON.parsed: only the guid is needed, and 200 clients × 1,000 items/s of full parses
 * would make this process the bottleneck.
 */
import WebSocket from 'ws';

interface StartMsg {
  type: 'start';
  port: number;
  subscribers: number;
  filter: string[];
  /** Index of the first measured item (the warm-up items before it are not counted). */
  first: number;
}
interface DrainMsg {
  type: 'drain';
  first: number;
  last: number;
  filtered: string;
  drainMs: number;
}

/** Latency histogram: 0.1 ms buckets up to 60 s (beyond: the last bucket). */
const BUCKET_US = 100;
const BUCKETS = 600_000;
const hist = new Uint32Array(BUCKETS);
let samples = 0;
let maxUs = 0;

interface Sub {
  ws: WebSocket;
  filtered: boolean;
  /** Highest item index received (indexes are sent, committed and broadcast in order). */
  lastIndex: number;
  received: number;
  duplicates: number;
  outOfOrder: number;
  /** Received indexes ≥ first (measured phase), to find gaps and unexpected items at the end. */
  seen: Set<number>;
  closeCode: number | null;
  hello: boolean;
}

const subs: Sub[] = [];
let first = Number.MAX_SAFE_INTEGER;
const GUID = Buffer.from('"guid":"fo');

function onFrame(s: Sub, data: Buffer): void {
  const now = process.hrtime.bigint();
  // {"type":"item",...}: the type is the first field the server writes.
  if (data[9] !== 0x69 /* i */ || data[10] !== 0x74 /* t */) {
    if (!s.hello && data.indexOf('"type":"hello"') >= 0) s.hello = true;
    return;
  }
  const at = data.indexOf(GUID);
  if (at < 0) return;
  let p = at + GUID.length;
  let index = 0;
  while (data[p] >= 0x30 && data[p] <= 0x39) index = index * 10 + (data[p++] - 0x30);
  p++; // '-'
  let sentUs = 0;
  while (data[p] >= 0x30 && data[p] <= 0x39) sentUs = sentUs * 10 + (data[p++] - 0x30);
  if (index < first) return; // warm-up
  s.received++;
  if (s.seen.has(index)) {
    s.duplicates++;
    return;
  }
  s.seen.add(index);
  if (index < s.lastIndex) s.outOfOrder++;
  else s.lastIndex = index;
  const lat = Number(now / 1000n) - sentUs;
  samples++;
  if (lat > maxUs) maxUs = lat;
  hist[Math.min(BUCKETS - 1, Math.max(0, Math.floor(lat / BUCKET_US)))]++;
}

function percentileMs(q: number): number {
  if (samples === 0) return NaN;
  const rank = Math.ceil(q * samples);
  let acc = 0;
  for (let i = 0; i < BUCKETS; i++) {
    acc += hist[i];
    if (acc >= rank) return ((i + 1) * BUCKET_US) / 1000; // upper edge of the bucket
  }
  return maxUs / 1000;
}

async function start(m: StartMsg): Promise<void> {
  first = m.first;
  let failed = 0;
  const q = `?tickers=${m.filter.join(',')}`;
  const open: Promise<void>[] = [];
  for (let i = 0; i < m.subscribers; i++) {
    const filtered = i % 2 === 1;
    const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws${filtered ? q : ''}`, { perMessageDeflate: false });
    const s: Sub = { ws, filtered, lastIndex: -1, received: 0, duplicates: 0, outOfOrder: 0, seen: new Set(), closeCode: null, hello: false };
    subs.push(s);
    ws.on('message', (data: Buffer) => onFrame(s, data));
    ws.on('close', (code) => (s.closeCode = code));
    ws.on('error', () => {});
    open.push(
      new Promise<void>((resolve) => {
        ws.once('open', () => resolve());
        ws.once('close', () => {
          failed++;
          resolve();
        });
      }),
    );
    // Connect in small groups: 200 simultaneous handshakes are a needless burst.
    if (i % 20 === 19) await Promise.all(open.slice(-20));
  }
  await Promise.all(open);
  const t0 = Date.now();
  while (subs.some((s) => s.ws.readyState === WebSocket.OPEN && !s.hello) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  process.send!({ type: 'ready', connected: subs.filter((s) => s.ws.readyState === WebSocket.OPEN).length, failed });
}

async function drain(m: DrainMsg): Promise<void> {
  const bits = Buffer.from(m.filtered, 'base64');
  const isFiltered = (index: number) => (bits[(index - m.first) >> 3] >> ((index - m.first) & 7)) & 1;
  let filteredTotal = 0;
  for (let i = m.first; i <= m.last; i++) filteredTotal += isFiltered(i);
  const all = m.last - m.first + 1;
  const expectedOf = (s: Sub) => (s.filtered ? filteredTotal : all);
  const t0 = Date.now();
  while (Date.now() - t0 < m.drainMs && subs.some((s) => s.closeCode === null && s.seen.size < expectedOf(s))) await new Promise((r) => setTimeout(r, 20));
  const drainedMs = Date.now() - t0;

  let expected = 0;
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let unexpected = 0;
  let minShare = 1;
  let gapClients = 0;
  const closes: Record<string, number> = {};
  for (const s of subs) {
    const exp = expectedOf(s);
    let got = 0;
    for (const index of s.seen) {
      if (index > m.last) continue;
      if (s.filtered && !isFiltered(index)) unexpected++;
      else got++;
    }
    expected += exp;
    delivered += got;
    duplicates += s.duplicates;
    outOfOrder += s.outOfOrder;
    if (got < exp) gapClients++;
    minShare = Math.min(minShare, exp === 0 ? 1 : got / exp);
    if (s.closeCode !== null) closes[String(s.closeCode)] = (closes[String(s.closeCode)] ?? 0) + 1;
  }
  const usage = process.resourceUsage();
  process.send!({
    type: 'report',
    items: all,
    filteredItems: filteredTotal,
    expected,
    delivered,
    minClientShare: minShare,
    gapClients,
    duplicates,
    outOfOrder,
    unexpected,
    closes,
    drainedMs,
    latencyMs: { p50: percentileMs(0.5), p95: percentileMs(0.95), p99: percentileMs(0.99), max: maxUs / 1000, samples },
    clientsCpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  });
  for (const s of subs) s.ws.terminate();
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (m: StartMsg | DrainMsg) => {
  if (m.type === 'start') void start(m);
  else if (m.type === 'drain') void drain(m);
});
process.on('disconnect', () => process.exit(0));
