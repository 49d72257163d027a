/**
 * Responsiveness probes of issue 13, in a process of their own (run by test/bench/run.ts): how
 * long `/healthz` takes while the daemon (a child process, test/bench/daemonChild.ts) does the two
 * things that used to hold its event loop for seconds:
 *
 *   slow-clients  C WebSocket clients that never read (their sockets paused right after the
 *                 handshake) are connected live; then items with ~1.5 KB summaries are appended
 *                 to the daemon's followed jsonl source, so every client's buffer passes
 *                 `server.maxBufferedBytes` and the daemon cuts it off (4008). Probed from the
 *                 append until every item is committed and no slow client is left open.
 *   big-poll      an `rss` source polls one feed of N items from a loopback HTTP server (the
 *                 daemon commits all N from one poll). Probed from daemon start until all N are
 *                 committed.
 *
 * The prober starts a GET /healthz every --interval ms on a fresh connection whether or not the
 * previous ones answered (so a stalled daemon is sampled as stalled, not once), each with a
 * --timeout; a request that times out counts as the timeout value and is counted. At most
 * timeout / interval requests are outstanding. Each phase has a deadline (--deadline s); past it
 * the phase ends with what it measured and says so (`completed: false`).
 *
 * Options: --only slow-clients|big-poll, --clients C (200), --flow-items N (20000), --poll-items N
 *          (100000), --interval MS (25), --timeout MS (2000), --deadline S (180), --json.
 * A benchmark, not a test: the machine is shared; figures vary run to run.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startDaemonChild, type DaemonChild } from './daemonChild.js';
import { probeLine, type ProbeResult, type LatencySummary } from './probeReport.js';
import { generateTemplatedCorpus, jsonlLine, rssDocument, tickerConfig } from './templatedCorpus.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    clients: { type: 'string', default: '200' },
    'flow-items': { type: 'string', default: '20000' },
    'poll-items': { type: 'string', default: '100000' },
    interval: { type: 'string', default: '25' },
    timeout: { type: 'string', default: '2000' },
    deadline: { type: 'string', default: '180' },
    json: { type: 'boolean', default: false },
  },
});
if (values.only !== undefined && values.only !== 'slow-clients' && values.only !== 'big-poll') {
  console.error(`--only takes "slow-clients" or "big-poll" (got "${values.only}")`);
  process.exit(2);
}
const CLIENTS = Number(values.clients);
const FLOW_ITEMS = Number(values['flow-items']);
const POLL_ITEMS = Number(values['poll-items']);
const INTERVAL_MS = Number(values.interval);
const TIMEOUT_MS = Number(values.timeout);
const DEADLINE_MS = Number(values.deadline) * 1000;
const say = (s: string) => {
  if (!values.json) console.log(s);
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Health {
  websocket?: { clients?: number };
  sources?: { id: string; items: number; status: string }[];
}

/** Fires GET /healthz every intervalMs; keeps every latency and the newest answer. */
class HealthProber {
  readonly latencies: number[] = [];
  timeouts = 0;
  latest: Health | null = null;
  private latestAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private outstanding = new Set<Promise<void>>();

  constructor(private readonly port: number) {}

  start(): void {
    this.timer = setInterval(() => {
      const p = this.probe().finally(() => this.outstanding.delete(p));
      this.outstanding.add(p);
    }, INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.outstanding]);
  }

  /** A fresh answer (sent after `since`), polling the prober's own results. */
  async waitFor(pred: (h: Health) => boolean, deadlineAt: number): Promise<boolean> {
    while (nowMs() < deadlineAt) {
      if (this.latest && pred(this.latest)) return true;
      await sleep(INTERVAL_MS);
    }
    return false;
  }

  private probe(): Promise<void> {
    const t0 = nowMs();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (ms: number, timedOut: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.latencies.push(ms);
        if (timedOut) this.timeouts++;
        resolve();
      };
      const req = get({ host: '127.0.0.1', port: this.port, path: '/healthz', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            if (t0 > this.latestAt) {
              this.latest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Health;
              this.latestAt = t0;
            }
          } catch {
            /* a cut-short body: the latency still counts */
          }
          finish(nowMs() - t0, false);
        });
        res.on('error', () => finish(nowMs() - t0, false));
      });
      const timer = setTimeout(() => {
        req.destroy();
        finish(TIMEOUT_MS, true);
      }, TIMEOUT_MS);
      req.on('error', () => finish(Math.min(TIMEOUT_MS, nowMs() - t0), false));
    });
  }

  summary(): LatencySummary {
    const xs = [...this.latencies].sort((a, b) => a - b);
    const q = (p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] : 0);
    const r = (x: number) => Math.round(x * 10) / 10;
    return { samples: xs.length, timeouts: this.timeouts, timeoutMs: TIMEOUT_MS, p50: r(q(0.5)), p99: r(q(0.99)), max: r(xs.at(-1) ?? 0) };
  }
}

function vmHwmMb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0; // already exited
  }
}

const storedBy = (h: Health, id: string) => h.sources?.find((s) => s.id === id)?.items ?? 0;

/** Everything a phase started, stopped in its finally (also when it failed part-way). */
interface Started {
  dir?: string;
  daemon?: DaemonChild;
  prober?: HealthProber;
  sockets: WebSocket[];
  server?: Server;
}
/** The phase running now: a SIGTERM (run.ts's deadline) stops its daemon and servers before exiting. */
let active: Started | null = null;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    console.error(`probes: ${sig}, stopping what the current phase started`);
    void (active ? cleanup(active) : Promise.resolve()).finally(() => process.exit(2));
  });
}
async function cleanup(s: Started): Promise<void> {
  await s.prober?.stop();
  for (const ws of s.sockets) ws.terminate();
  await s.daemon?.stop();
  if (s.server) {
    s.server.closeAllConnections();
    s.server.close();
  }
  if (s.dir) rmSync(s.dir, { recursive: true, force: true });
}

async function slowClients(): Promise<ProbeResult> {
  const s: Started = { sockets: [] };
  active = s;
  try {
    s.dir = mkdtempSync(join(tmpdir(), 'tp-probe-'));
    const feed = join(s.dir, 'live.jsonl');
    writeFileSync(feed, '');
    const corpus = generateTemplatedCorpus({ items: FLOW_ITEMS, summaryChars: 1500 });
    const cfgFile = join(s.dir, 'config.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        db: join(s.dir, 'probe.db'),
        server: { host: '127.0.0.1', port: 0, maxConnectionsPerIp: CLIENTS + 16 },
        tickers: tickerConfig(corpus.companies),
        sources: [{ id: 'live', kind: 'jsonl', path: feed, follow: true, pollInterval: '50ms' }],
      }),
    );
    s.daemon = await startDaemonChild(cfgFile);
    const port = s.daemon.port;
    let opened = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        s.sockets.push(ws);
        ws.on('error', () => undefined);
        // Never read: paused as soon as the handshake is done, so the daemon's buffers fill.
        return new Promise<void>((resolve) => {
          ws.once('open', () => {
            ws.pause();
            opened++;
            resolve();
          });
          ws.once('close', () => resolve());
        });
      }),
    );
    if (opened !== CLIENTS) throw new Error(`only ${opened} of ${CLIENTS} clients connected`);
    s.prober = new HealthProber(port);
    s.prober.start();
    const deadlineAt = nowMs() + DEADLINE_MS;
    if (!(await s.prober.waitFor((h) => h.websocket?.clients === CLIENTS, nowMs() + 30_000))) throw new Error('the daemon does not report the clients as connected');
    say(`${CLIENTS} non-reading clients connected; appending ${FLOW_ITEMS} items`);
    const t0 = nowMs();
    appendFileSync(feed, corpus.items.map(jsonlLine).join(''));
    const completed = await s.prober.waitFor((h) => storedBy(h, 'live') >= FLOW_ITEMS && (h.websocket?.clients ?? CLIENTS) === 0, deadlineAt);
    const committedAt = nowMs();
    await sleep(1000); // the tail: anything the teardown still holds shows here
    await s.prober.stop();
    const last = s.prober.latest ?? {};
    return {
      name: 'slow-clients',
      completed,
      seconds: (nowMs() - t0) / 1000,
      latencyMs: s.prober.summary(),
      items: storedBy(last, 'live'),
      itemsPerSec: Math.round(storedBy(last, 'live') / ((committedAt - t0) / 1000)),
      clients: CLIENTS,
      clientsCutOff: CLIENTS - (last.websocket?.clients ?? CLIENTS),
      closes4008: s.daemon.countLogs(/4008/),
      daemonPeakRssMb: vmHwmMb(s.daemon.pid),
    };
  } finally {
    await cleanup(s);
  }
}

async function bigPoll(): Promise<ProbeResult> {
  const s: Started = { sockets: [] };
  active = s;
  try {
    s.dir = mkdtempSync(join(tmpdir(), 'tp-probe-'));
    const corpus = generateTemplatedCorpus({ items: POLL_ITEMS });
    const body = Buffer.from(rssDocument(corpus.items));
    let requestedAt = 0;
    s.server = createServer((req, res) => {
      requestedAt ||= nowMs();
      res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-length': body.length });
      res.end(body);
    });
    s.server.listen(0, '127.0.0.1');
    await once(s.server, 'listening');
    const feedPort = (s.server.address() as { port: number }).port;
    const cfgFile = join(s.dir, 'config.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        db: join(s.dir, 'probe.db'),
        server: { host: '127.0.0.1', port: 0 },
        tickers: tickerConfig(corpus.companies),
        sources: [{ id: 'bigpoll', kind: 'rss', url: `http://127.0.0.1:${feedPort}/feed.xml`, interval: '1h', allowPrivateNetworks: true, maxBodyBytes: `${Math.ceil((body.length * 2) / 2 ** 20)}MiB` }],
      }),
    );
    say(`feed of ${POLL_ITEMS} items, ${(body.length / 2 ** 20).toFixed(1)} MiB`);
    s.daemon = await startDaemonChild(cfgFile);
    const t0 = nowMs();
    s.prober = new HealthProber(s.daemon.port);
    s.prober.start();
    const completed = await s.prober.waitFor((h) => storedBy(h, 'bigpoll') >= POLL_ITEMS, nowMs() + DEADLINE_MS);
    const committedAt = nowMs();
    await sleep(1000);
    await s.prober.stop();
    const last = s.prober.latest ?? {};
    return {
      name: 'big-poll',
      completed,
      seconds: (nowMs() - t0) / 1000,
      latencyMs: s.prober.summary(),
      items: storedBy(last, 'bigpoll'),
      itemsPerSec: requestedAt ? Math.round(storedBy(last, 'bigpoll') / ((committedAt - requestedAt) / 1000)) : 0,
      feedBytes: body.length,
      daemonPeakRssMb: vmHwmMb(s.daemon.pid),
    };
  } finally {
    await cleanup(s);
  }
}

const results: ProbeResult[] = [];
try {
  if (values.only !== 'big-poll') results.push(await slowClients());
  if (values.only !== 'slow-clients') results.push(await bigPoll());
} catch (err) {
  console.error(`probes failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(2);
}
if (values.json) process.stdout.write(JSON.stringify(results) + '\n');
else for (const r of results) say(probeLine(r));
process.exit(results.every((r) => r.completed) ? 0 : 1);
