/**
 * The server's share of fan-out, without ingest: startServer() in this process, S subscribers
 * in a forked test/bench/fanoutClients.js (half with ?tickers=AAPL,MSFT), and made-up stored
 * items broadcast at R items/s in 10 ms batches. Reports this process's CPU (user + system:
 * the broadcast, the frame writes and the kernel's loopback sends) per second and per item,
 * and broadcast → receive latency. test/bench/fanout.ts measures the whole daemon; this one
 * isolates what src/server costs, so a before/after of a server change is not drowned by the
 * source worker and SQLite on a shared machine.
 *
 * Options: --subscribers S (200) --rate R (1000) --seconds N (10) --warmup N (2) --json.
 * A benchmark, not a test: figures vary run to run.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { packageRoot } from '../../src/lib/paths.js';
import { startServer } from '../../src/server/server.js';
import { ItemStore } from '../../src/store/itemStore.js';
import type { Label, StoredItem } from '../../src/lib/types.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '200' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const S = Number(values.subscribers);
const R = Number(values.rate);
const N = Number(values.seconds);
const WARMUP = Number(values.warmup);
const FILTER = ['AAPL', 'MSFT'];
const CASHTAGS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM'];
const LABELS: Label[] = ['negative', 'neutral', 'positive'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function item(i: number): StoredItem {
  const label = LABELS[i % 3];
  const symbol = CASHTAGS[i % CASHTAGS.length];
  return {
    seq: i + 1,
    source: 'bench',
    guid: `fo${i}-${nowUs()}`,
    url: `https://bench.example/fo/${i}`,
    title: `$${symbol} Acme Widgets ${i} raises its outlook for the year after a strong quarter`,
    summary: null,
    publishedAt: new Date().toISOString(),
    fetchedAt: new Date().toISOString(),
    label,
    pNeg: 0.1,
    pNeu: 0.2,
    pPos: 0.7,
    score: 0.6,
    model: 'bench',
    tickers: [{ symbol, via: 'cashtag', label, score: 0.6, pNeg: 0.1, pNeu: 0.2, pPos: 0.7 }],
    storyId: i + 1,
    novel: true,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tp-fanout-server-'));
const store = ItemStore.open(join(dir, 'f.db'));
const srv = await startServer({ host: '127.0.0.1', port: 0, store, health: () => ({}), log: pino({ level: 'silent' }), limits: { maxConnectionsPerIp: S + 16 } });
const clients = fork(join(packageRoot, 'dist', 'test', 'bench', 'fanoutClients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
try {
  const nextMsg = <T>(type: string) =>
    new Promise<T>((resolve) =>
      clients.on('message', function h(m: { type?: string }) {
        if (m?.type === type) {
          clients.off('message', h);
          resolve(m as T);
        }
      }),
    );
  const first = Math.round(R * WARMUP);
  const ready = nextMsg<{ connected: number }>('ready');
  clients.send({ type: 'start', port: srv.port, subscribers: S, filter: FILTER, first });
  if ((await ready).connected !== S) throw new Error('not every subscriber connected');

  let index = 0;
  async function sendFor(secs: number): Promise<void> {
    const t0 = nowUs();
    const base = index;
    const total = Math.round(R * secs);
    while (index - base < total) {
      const due = Math.min(total, Math.floor(((nowUs() - t0) / 1e6) * R)) - (index - base);
      if (due > 0) {
        const batch: StoredItem[] = [];
        for (let k = 0; k < due; k++) batch.push(item(index++));
        srv.broadcast(batch);
      }
      await sleep(10);
    }
  }
  await sendFor(WARMUP);
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  await sendFor(N);
  const cpu = process.cpuUsage(cpu0);
  const secs = (nowUs() - t0) / 1e6;
  const last = index - 1;
  const bits = Buffer.alloc(Math.ceil((last - first + 1) / 8));
  for (let i = first; i <= last; i++) if (i % CASHTAGS.length < 2) bits[(i - first) >> 3] |= 1 << ((i - first) & 7);
  const reportP = nextMsg<{ expected: number; delivered: number; duplicates: number; outOfOrder: number; unexpected: number; latencyMs: Record<string, number> }>('report');
  clients.send({ type: 'drain', first, last, filtered: bits.toString('base64'), drainMs: 10_000 });
  const r = await reportP;
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  const res = {
    subscribers: S,
    rate: R,
    items: last - first + 1,
    delivered: r.delivered,
    expected: r.expected,
    duplicates: r.duplicates,
    outOfOrder: r.outOfOrder,
    unexpected: r.unexpected,
    serverCpuPercent: Math.round((cpuSecs / secs) * 100),
    serverCpuUsPerItem: Math.round((cpuSecs * 1e6) / (last - first + 1)),
    latencyMs: r.latencyMs,
  };
  if (values.json) process.stdout.write(JSON.stringify(res) + '\n');
  else {
    console.log(`${res.items} items at ${R}/s to ${S} subscribers: delivered ${res.delivered}/${res.expected}, ${res.duplicates} duplicates, ${res.outOfOrder} out of order, ${res.unexpected} unexpected`);
    console.log(`server process CPU ${res.serverCpuPercent} % of one core, ${res.serverCpuUsPerItem} µs per item`);
    console.log(`latency broadcast → receive (ms): p50 ${r.latencyMs.p50} p95 ${r.latencyMs.p95} p99 ${r.latencyMs.p99} max ${r.latencyMs.max}`);
  }
} finally {
  if (clients.exitCode === null) clients.kill();
  await srv.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
