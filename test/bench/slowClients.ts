/**
 * Slow-client teardown bench (issue 13 item 3): does the server stay responsive while many
 * clients that never read are cut off with 4008?
 *
 *   - startServer() in this process, on a store opened on a temp file (nothing is committed:
 *     the broadcast items are made up, no client replays);
 *   - C raw TCP clients do the WebSocket handshake and then never read (the socket is paused, so
 *     the kernel buffers fill and the backlog lands in the server's userland buffers);
 *   - one reading `ws` client receives everything (its frame count checks nothing was lost);
 *   - items of ~600 bytes are broadcast at R items/s (5 ms ticks) until every slow client was
 *     closed, then for slowCloseGraceMs + 1.5 s more, so the terminate() of every slow socket
 *     falls inside the measured window;
 *   - a forked child process (this file with --probe) sends GET /healthz every 50 ms, each on
 *     its own (they overlap when the server stalls), with a 10 s timeout, and reports
 *     p50 / p99 / max latency and timeouts. The server's own event-loop stalls (gaps between
 *     10 ms timer ticks) are printed next to it.
 *
 * Options: --clients C (200) --rate R (5000) --max-buffered BYTES (4 MiB) --json.
 * The lead's run.ts can spawn `node dist/test/bench/slowClients.js --json` and read one JSON line.
 * A benchmark, not a test: the machine is shared, figures vary run to run.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import WebSocket from 'ws';
import { startServer } from '../../src/server/server.js';
import { ItemStore } from '../../src/store/itemStore.js';
import type { StoredItem } from '../../src/lib/types.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    rate: { type: 'string', default: '5000' },
    'max-buffered': { type: 'string', default: String(4 * 1024 * 1024) },
    probe: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const readFileSyncSafe = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PROBE_EVERY_MS = 50;
const PROBE_TIMEOUT_MS = 10_000;

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// ------------------------------------------------------------------------------ probe child

/** Child: GET /healthz every 50 ms until told to stop; answers with the latencies (ms; timeouts as PROBE_TIMEOUT_MS). */
async function probe(url: string): Promise<void> {
  const lat: number[] = [];
  /** Wall-clock send time of each sample (Date.now(): comparable across processes), same order as lat. */
  const at: number[] = [];
  let ready = false;
  let timeouts = 0;
  let stop = false;
  process.on('message', () => (stop = true));
  const inFlight = new Set<Promise<void>>();
  while (!stop) {
    const t0 = performance.now();
    const sentAt = Date.now();
    const p = fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      .then((r) => r.arrayBuffer())
      .then(
        () => {
          lat.push(performance.now() - t0);
          at.push(sentAt);
          if (!ready) {
            ready = true;
            process.send!('ready');
          }
        },
        (err: unknown) => {
          if (timeouts === 0 && process.env.SLOW_BENCH_DEBUG) console.error('probe error', err);
          timeouts++;
          lat.push(PROBE_TIMEOUT_MS);
          at.push(sentAt);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    await sleep(PROBE_EVERY_MS);
  }
  await Promise.all(inFlight);
  process.send!({ lat, at, timeouts }, () => process.exit(0));
}

// ------------------------------------------------------------------------------ bench

/** A client that completes the handshake and never reads again. */
function rawNonReader(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {}); // reset by the server when it gives up: expected
    s.once('connect', () =>
      s.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
      s.pause();
      resolve(s);
    };
    s.on('data', onData);
  });
}

export interface SlowClientsResult {
  clients: number;
  rate: number;
  maxBufferedBytes: number;
  /** From the first broadcast until every slow client was closed (ms). */
  cutoffMs: number;
  itemsBroadcast: number;
  readerReceived: number;
  readerLost: number;
  healthz: { samples: number; timeouts: number; p50: number; p99: number; max: number };
  loopDelayMs: { p50: number; p99: number; max: number };
  /** Kernel TCP memory in pages (/proc/net/sockstat) at its peak, and tcp_mem's pressure mark. */
  tcpMemPages: { peak: number; pressure: number };
}

/** Worst /healthz latency per second of the probe's life (ms), printed without --json. */
let timeline: number[] = [];
let phases = '';

async function bench(): Promise<SlowClientsResult> {
  const C = Number(values.clients);
  const R = Number(values.rate);
  const maxBufferedBytes = Number(values['max-buffered']);
  const slowCloseGraceMs = 5_000;
  const dir = mkdtempSync(join(tmpdir(), 'tp-slow-'));
  const store = ItemStore.open(join(dir, 'slow.db'));
  const srv = await startServer({
    host: '127.0.0.1',
    port: 0,
    store,
    health: () => ({}),
    log: pino({ level: 'silent' }),
    limits: { maxConnectionsPerIp: C + 16, maxBufferedBytes, slowCloseGraceMs },
  });
  const raws: Socket[] = [];
  let reader: WebSocket | undefined;
  const child = fork(fileURLToPath(import.meta.url), ['--probe', `${srv.url}/healthz`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise((r) => child.once('message', r));
    const tConnect = Date.now();
    for (let i = 0; i < C; i += 20) raws.push(...(await Promise.all(Array.from({ length: Math.min(20, C - i) }, () => rawNonReader(srv.port)))));
    let readerReceived = 0;
    reader = new WebSocket(srv.url.replace('http:', 'ws:') + '/ws', { perMessageDeflate: false });
    reader.on('message', (d: Buffer) => {
      if (d[9] === 0x69 /* {"type":"i */) readerReceived++;
    });
    await new Promise((r) => reader!.once('open', r));
    while (srv.stats().clients < C + 1) await sleep(10);
    await sleep(500); // the probe's first samples: the idle baseline

    // Loopback puts both ends' kernel buffers on this machine: past tcp_mem's pressure mark the
    // kernel delays new connections (the probe's) whatever the server does. Sampled to say so.
    const tcpMem = () => Number(/TCP:.* mem (\d+)/.exec(readFileSyncSafe('/proc/net/sockstat'))?.[1] ?? NaN);
    const pressure = Number(readFileSyncSafe('/proc/sys/net/ipv4/tcp_mem').split(/\s+/)[1] ?? NaN);
    let tcpMemPeak = 0;
    const memTimer = setInterval(() => (tcpMemPeak = Math.max(tcpMemPeak, tcpMem())), 100);
    // Event-loop stalls: the gap between 10 ms ticks minus 10 ms (monitorEventLoopDelay would
    // miss a stall that ends right before it is disabled; this records it at the next tick).
    const gaps: number[] = [];
    let lastTick = performance.now();
    const gapTimer = setInterval(() => {
      const now = performance.now();
      gaps.push(Math.max(0, now - lastTick - 10));
      lastTick = now;
    }, 10);
    const pad = 'x'.repeat(420);
    let seq = 0;
    const item = (): StoredItem => {
      seq++;
      return {
        seq,
        source: 'bench',
        guid: `g${seq}`,
        url: `https://bench.example/${seq}`,
        title: `Acme Widgets ${seq} beats estimates ${pad}`,
        summary: null,
        publishedAt: '2024-01-01T00:00:00.000Z',
        fetchedAt: '2024-01-01T00:00:00.000Z',
        label: 'positive',
        pNeg: 0.1,
        pNeu: 0.2,
        pPos: 0.7,
        score: 0.6,
        model: 'bench',
      };
    };
    const t0 = performance.now();
    const tBroadcast = Date.now();
    let cutoffMs = NaN;
    let sent = 0;
    let stopAt = Infinity;
    while (performance.now() < stopAt) {
      const due = Math.min(Math.ceil(R / 10), Math.floor(((performance.now() - t0) / 1000) * R) - sent); // after a stall: catch up in steps
      if (due > 0) {
        srv.broadcast(Array.from({ length: due }, item));
        sent += due;
      }
      if (Number.isNaN(cutoffMs) && srv.stats().clients <= 1) {
        cutoffMs = performance.now() - t0;
        stopAt = performance.now() + slowCloseGraceMs + 1_500;
      }
      if (performance.now() - t0 > 120_000) throw new Error(`the slow clients were not all closed within 120 s (${srv.stats().clients - 1} left)`);
      await sleep(5);
    }
    await sleep(1_000); // a stall that began at the end of the window is recorded after it
    clearInterval(gapTimer);
    clearInterval(memTimer);
    gaps.sort((a, b) => a - b);
    for (let i = 0; i < 200 && readerReceived < sent; i++) await sleep(10);

    const report = new Promise<{ lat: number[]; at: number[]; timeouts: number }>((r) => child.once('message', r as (m: unknown) => void));
    child.send('stop');
    const { lat, at, timeouts } = await report;
    // Worst sample per second of probing, from the first client's connect: where the stalls were.
    const worst: number[] = [];
    at.forEach((t, i) => {
      if (t < tConnect) return;
      const k = Math.floor((t - tConnect) / 1000);
      worst[k] = Math.max(worst[k] ?? 0, lat[i]);
    });
    timeline = Array.from(worst, (w) => Math.round(w ?? 0));
    phases = `clients connecting from 0 s, broadcast from ${((tBroadcast - tConnect) / 1000).toFixed(1)} s, all cut off at ${((tBroadcast - tConnect + cutoffMs) / 1000).toFixed(1)} s, terminated ${slowCloseGraceMs / 1000} s later`;
    lat.sort((a, b) => a - b);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return {
      clients: C,
      rate: R,
      maxBufferedBytes,
      cutoffMs: Math.round(cutoffMs),
      itemsBroadcast: sent,
      readerReceived,
      readerLost: sent - readerReceived,
      healthz: { samples: lat.length, timeouts, p50: r1(percentile(lat, 0.5)), p99: r1(percentile(lat, 0.99)), max: r1(lat[lat.length - 1] ?? NaN) },
      tcpMemPages: { peak: tcpMemPeak, pressure },
      loopDelayMs: { p50: r1(percentile(gaps, 0.5)), p99: r1(percentile(gaps, 0.99)), max: r1(gaps[gaps.length - 1] ?? NaN) },
    };
  } finally {
    if (child.exitCode === null) child.kill();
    reader?.terminate();
    for (const s of raws) s.destroy();
    await srv.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.probe !== undefined) {
  await probe(values.probe);
} else {
  const res = await bench();
  if (values.json) process.stdout.write(JSON.stringify(res) + '\n');
  else {
    console.log(`${res.clients} non-reading clients cut off (4008) in ${(res.cutoffMs / 1000).toFixed(1)} s at ${res.rate} items/s (${res.itemsBroadcast} items; maxBufferedBytes ${res.maxBufferedBytes})`);
    console.log(`reading client: ${res.readerReceived} received, ${res.readerLost} missing`);
    console.log(`/healthz every ${PROBE_EVERY_MS} ms (ms): p50 ${res.healthz.p50} p99 ${res.healthz.p99} max ${res.healthz.max} (${res.healthz.samples} samples, ${res.healthz.timeouts} over ${PROBE_TIMEOUT_MS / 1000} s)`);
    console.log(`worst /healthz per second (ms): ${timeline.join(' ')}`);
    console.log(`  (${phases})`);
    console.log(`server event-loop delay (ms): p50 ${res.loopDelayMs.p50} p99 ${res.loopDelayMs.p99} max ${res.loopDelayMs.max}`);
    console.log(`kernel TCP memory peak ${res.tcpMemPages.peak} pages (tcp_mem pressure mark ${res.tcpMemPages.pressure})`);
  }
}
