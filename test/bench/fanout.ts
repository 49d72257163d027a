/**
 * Fan-out load bench (issue 6): S WebSocket subscribers (half with a ticker filter) receiving
 * items injected at R items/s into the running daemon.
 *
 *   - The daemon runs as a child process (`tickerpulse start --config <tmp>`, port 0) so its CPU
 *     and RSS are its own (/proc/<pid>/stat utime+stime, /proc/<pid>/status VmRSS / VmHWM).
 *   - Its one source is a `websocket` source connected to a loopback ws server run here: every
 *     item is one JSON message {id, title, url, publishedAt}; the id `fo<index>-<µs>` carries the
 *     send time (process.hrtime, CLOCK_MONOTONIC: the same clock in every process), titles are
 *     demo headlines prefixed with a cashtag from a small set and made unique with the index.
 *   - The S subscribers live in one more child process (test/bench/fanoutClients.ts).
 *   - Warm-up (items not counted), then N seconds measured, then up to 5 s of drain.
 *
 * Latency is ingest → receive: the source's micro-batch wait (batchWait, set to 10 ms here),
 * classification / linking on the source's worker, the SQLite commit, the broadcast and the
 * subscriber process's own event loop.
 *
 * Options: --subscribers S (200) --rate R (1000) --seconds N (20) --warmup N (3) --drain N (5)
 *          --batch-wait MS (10) --json (one JSON object on stdout, nothing else).
 * A benchmark, not a test: the machine is shared; figures vary run to run.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { dataDir, packageRoot } from '../../src/lib/paths.js';
import { createLinker, type TickerDictionary } from '../../workers/tickerLinker.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '200' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    drain: { type: 'string', default: '5' },
    'batch-wait': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const S = Number(values.subscribers);
const R = Number(values.rate);
const N = Number(values.seconds);
const WARMUP = Number(values.warmup);
const DRAIN = Number(values.drain);
const BATCH_WAIT = Number(values['batch-wait']);
const FILTER = ['AAPL', 'MSFT'];
const CASHTAGS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM'];
const say = (s: string) => {
  if (!values.json) console.log(s);
};

const CLI = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
const CLIENTS = join(packageRoot, 'dist', 'test', 'bench', 'fanoutClients.js');
const CLK_TCK = 100;

const headlines = readFileSync(join(dataDir, 'demo', 'headlines.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => (JSON.parse(l) as { title: string }).title);
const titleOf = (i: number) => `$${CASHTAGS[i % CASHTAGS.length]} ${headlines[i % headlines.length]} (${i})`;
const linker = createLinker(JSON.parse(readFileSync(join(dataDir, 'tickers', 'dictionary.json'), 'utf8')) as TickerDictionary, {});
const matchesFilter = (i: number) => linker.link(titleOf(i)).some((l) => FILTER.includes(l.symbol));

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}
function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface FanoutResult {
  subscribers: number;
  filtered: number;
  rate: number;
  seconds: number;
  sent: number;
  sentRate: number;
  filteredItems: number;
  expected: number;
  delivered: number;
  minClientShare: number;
  gapClients: number;
  duplicates: number;
  outOfOrder: number;
  unexpected: number;
  closes: Record<string, number>;
  closes4008: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; samples: number };
  daemonCpuPercent: number;
  daemonRssMb: number;
  daemonPeakRssMb: number;
  clientsCpuPercent: number;
  batchWaitMs: number;
  drainedMs: number;
}

/** What main() started, so a failure part-way does not leave a daemon running or a temp dir behind. */
const started: { children: ChildProcess[]; dir?: string } = { children: [] };

async function main(): Promise<FanoutResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-fanout-'));
  started.dir = dir;
  const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(upstream, 'listening');
  const upPort = (upstream.address() as { port: number }).port;
  let feed: WebSocket | null = null;
  const connected = new Promise<void>((resolve) =>
    upstream.on('connection', (ws) => {
      feed = ws;
      ws.on('close', () => (feed = null));
      resolve();
    }),
  );

  const config = {
    db: join(dir, 'fanout.db'),
    server: { host: '127.0.0.1', port: 0, maxConnectionsPerIp: S + 16 },
    sources: [{ id: 'fanout', kind: 'websocket', url: `ws://127.0.0.1:${upPort}/`, allowPrivateNetworks: true, batchWait: `${BATCH_WAIT}ms`, maxBufferedMessages: 100_000 }],
  };
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config));

  // FANOUT_DAEMON_NODE_ARGS: extra node flags for the daemon only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
  const nodeArgs = (process.env.FANOUT_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const daemon = spawn(process.execPath, [...nodeArgs, CLI, 'start', '--config', cfgFile], { env: { ...process.env, TICKERPULSE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.children.push(daemon);
  const stderr: string[] = [];
  createInterface({ input: daemon.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
  let warnings = 0;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not report its port; stderr: ${stderr.join('\n')}`)), 30_000);
    createInterface({ input: daemon.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof rec.level === 'number' && rec.level >= 40) warnings++;
      if (typeof rec.port === 'number' && typeof rec.url === 'string') {
        clearTimeout(timer);
        resolve(rec.port);
      }
    });
    void exited.then((code) => reject(new Error(`daemon exited with ${code}; stderr: ${stderr.join('\n')}`)));
  });
  const pid = daemon.pid!;
  await connected;
  say(`daemon pid ${pid} on port ${port}; its websocket source is connected`);

  const clients = fork(CLIENTS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  started.children.push(clients);
  const nextMsg = <T>(type: string) => new Promise<T>((resolve) => clients.on('message', function h(m: any) { if (m?.type === type) { clients.off('message', h); resolve(m as T); } }));
  const ready = nextMsg<{ connected: number; failed: number }>('ready');
  clients.send({ type: 'start', port, subscribers: S, filter: FILTER, first: Math.round(R * WARMUP) });
  const r0 = await ready;
  say(`${r0.connected} subscribers connected (${r0.failed} failed)`);
  if (r0.connected !== S) throw new Error(`only ${r0.connected} of ${S} subscribers connected`);

  let index = 0;
  /** Sends at rate R for `secs`, in 5 ms ticks (each sends the items that are due). */
  async function sendFor(secs: number): Promise<void> {
    const t0 = nowUs();
    const base = index;
    const total = Math.round(R * secs);
    while (index - base < total) {
      const due = Math.min(total, Math.floor(((nowUs() - t0) / 1e6) * R)) - (index - base);
      for (let k = 0; k < due; k++, index++) {
        if (!feed) throw new Error('the daemon closed its upstream connection');
        const t = nowUs();
        feed.send(JSON.stringify({ id: `fo${index}-${t}`, title: titleOf(index), url: `https://bench.example/fo/${index}`, publishedAt: new Date().toISOString() }));
      }
      await sleep(5);
    }
  }

  await sendFor(WARMUP);
  const first = index;
  if (first !== Math.round(R * WARMUP)) throw new Error('warm-up item count mismatch');
  const cpu0 = cpuTicks(pid);
  const clientsCpu0 = cpuTicks(clients.pid!);
  const t0 = nowUs();
  let peakKb = 0;
  const rssTimer = setInterval(() => (peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'))), 100);
  await sendFor(N);
  const sendSecs = (nowUs() - t0) / 1e6;
  const last = index - 1;
  const bits = Buffer.alloc(Math.ceil((last - first + 1) / 8));
  let filteredItems = 0;
  for (let i = first; i <= last; i++)
    if (matchesFilter(i)) {
      bits[(i - first) >> 3] |= 1 << ((i - first) & 7);
      filteredItems++;
    }
  const reportP = nextMsg<any>('report');
  clients.send({ type: 'drain', first, last, filtered: bits.toString('base64'), drainMs: DRAIN * 1000 });
  const report = await reportP;
  const secs = (nowUs() - t0) / 1e6;
  const cpu1 = cpuTicks(pid);
  let clientsCpu1 = clientsCpu0;
  try {
    clientsCpu1 = cpuTicks(clients.pid!);
  } catch {
    // already exited
  }
  clearInterval(rssTimer);
  peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'));
  const hwmKb = statusKb(pid, 'VmHWM');

  daemon.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
  const closes = report.closes as Record<string, number>;
  if (warnings) say(`(the daemon logged ${warnings} warnings)`);
  return {
    subscribers: S,
    filtered: Math.floor(S / 2),
    rate: R,
    seconds: N,
    sent: last - first + 1,
    sentRate: Math.round((last - first + 1) / sendSecs),
    filteredItems,
    expected: report.expected,
    delivered: report.delivered,
    minClientShare: report.minClientShare,
    gapClients: report.gapClients,
    duplicates: report.duplicates,
    outOfOrder: report.outOfOrder,
    unexpected: report.unexpected,
    closes,
    closes4008: closes['4008'] ?? 0,
    latencyMs: report.latencyMs,
    daemonCpuPercent: Math.round(((cpu1 - cpu0) / CLK_TCK / secs) * 100),
    daemonRssMb: Math.round(peakKb / 1024),
    daemonPeakRssMb: Math.round(hwmKb / 1024),
    clientsCpuPercent: Math.round(((clientsCpu1 - clientsCpu0) / CLK_TCK / secs) * 100),
    batchWaitMs: BATCH_WAIT,
    drainedMs: report.drainedMs,
  };
}

let res: FanoutResult;
try {
  res = await main();
} catch (err) {
  for (const c of started.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (started.dir) rmSync(started.dir, { recursive: true, force: true });
  console.error(`fan-out bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(2);
}
if (values.json) process.stdout.write(JSON.stringify(res) + '\n');
else {
  const pct = (a: number, b: number) => ((a / b) * 100).toFixed(2);
  say(`sent ${res.sent} items in ${res.seconds} s (${res.sentRate} items/s; ${res.filteredItems} name ${FILTER.join(' or ')})`);
  say(`delivered/expected ${res.delivered}/${res.expected} (${pct(res.delivered, res.expected)} %), worst client ${(res.minClientShare * 100).toFixed(2)} %, ${res.gapClients} clients with gaps, ${res.duplicates} duplicates, ${res.outOfOrder} out of order, ${res.unexpected} unexpected; closes ${JSON.stringify(res.closes)}`);
  say(`latency ingest → receive (ms): p50 ${res.latencyMs.p50} p95 ${res.latencyMs.p95} p99 ${res.latencyMs.p99} max ${res.latencyMs.max.toFixed(1)} (${res.latencyMs.samples} samples; batchWait ${res.batchWaitMs} ms)`);
  say(`daemon CPU ${res.daemonCpuPercent} % of one core, RSS peak ${res.daemonRssMb} MiB (VmHWM ${res.daemonPeakRssMb} MiB); subscriber process CPU ${res.clientsCpuPercent} %`);
}
const ok = res.delivered === res.expected && res.duplicates === 0 && res.closes4008 === 0;
if (!ok) process.exitCode = 1;
