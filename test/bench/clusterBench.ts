/**
 * `npm run bench -- --cluster` (issue 14): the templated corpus (test/bench/templatedCorpus.ts,
 * the single-node templated run's generator and size) through a cluster of real processes on
 * this machine — 2 poll nodes, the active writer and a standby, 1 serve node, a throwaway
 * nats-server and the store (`--cluster-store sqlite|postgres`, clusterStore.ts) — and, in the
 * same run, alternating with it, the single-node 8-source templated round (replayRound.ts):
 *
 *  1. throughput rounds: items/s from the first ItemBatch published (seen on tp.items.>) to the
 *     last item received by a `/ws?since=0` client of the serve node; CPU of every process over
 *     that window and its peak RSS; the ratio cluster ÷ single node (median of per-round ratios).
 *     The single-node figure is the templated run's: daemon start → all committed.
 *  2. writer failover: the files are followed and hold half the corpus; at a quarter of it
 *     received the active writer is killed (kill -9) and the other half appended. Measured from
 *     the kill: the standby's first commit (its first StoredBatch on tp.stored), catch-up (the
 *     consumer's ack floor past the stream's last batch at the kill: everything published before
 *     the kill committed, including the dead writer's unacked batches, redelivered after
 *     writer.ackWait) and all items received.
 *  3. poll-node failover: the same, killing the poll node with more sources: until the survivor
 *     owns them (/healthz), until each publishes again (tp.items.<source>), all items received.
 *
 * Every run ends with the store checked: each item stored once, seq 1..N gap-free, and the
 * WebSocket client saw N items in seq order. Those counts are what the test
 * (test/bench/clusterBench.test.ts) asserts on a tiny corpus; the times are only reported.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ITEMS_STREAM, ITEMS_SUBJECTS, itemsSubject, STORED_SUBJECT, WRITER_CONSUMER } from '../../src/cluster/topology.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from '../cluster/natsProcess.js';
import { BenchCluster, until, type BenchNode, type ClusterTimings } from './clusterNodes.js';
import { openBenchStore, StoreUnavailable, type BenchStore, type ClusterStoreKind, type StoredSummary } from './clusterStore.js';
import { DaemonStartError } from './daemonChild.js';
import { loadAverage, sampleProcess, sampleProcessTree, type ProcSample } from './procStats.js';
import { replayRound, type ReplayRound } from './rounds.js';
import { alertRules, TEMPLATED_CHUNK, writeLines } from './templated.js';
import { generateTemplatedCorpus, jsonlLine, tickerConfig, type TemplatedItem } from './templatedCorpus.js';
import { countWsItems, type WsCounter } from './wsCounter.js';

export interface ClusterBenchOptions {
  items: number;
  /** Sources (= outlets of the corpus), split between the poll nodes. */
  sources: number;
  /** Throughput rounds, each alternating with a single-node round. */
  rounds: number;
  store: ClusterStoreKind;
  timings: ClusterTimings;
  /** Upper bound on any one wait (a node's start, all items received). */
  timeoutMs: number;
  failover: boolean;
  log: (line: string) => void;
}

export interface ProcessFigure {
  name: string;
  /** CPU seconds over the measured window, and as a share of one core. */
  cpuSeconds: number;
  cpuPercent: number;
  peakRssMb: number;
}

export interface ClusterRound {
  items: number;
  /** First ItemBatch published → last item received over /ws. */
  seconds: number;
  perSec: number;
  /** Poll nodes started → last item received (includes their start-up: model load, leases). */
  fromPollStartSeconds: number;
  /** Sources run by each poll node. */
  split: number[];
  processes: ProcessFigure[];
  stored: StoredSummary;
  ws: { count: number; outOfOrder: number; reconnects: number };
}

export interface WriterFailover {
  items: number;
  killedAtReceived: number;
  toFirstCommitMs: number;
  toCatchUpMs: number;
  toAllMs: number;
  standbyCommits: number;
  redelivered: number;
  stored: StoredSummary;
  ws: { count: number; outOfOrder: number };
}

export interface PollFailover {
  items: number;
  killedAtReceived: number;
  victimSources: string[];
  toOwnedMs: number;
  toFirstProducingMs: number;
  toAllProducingMs: number;
  toAllMs: number;
  stored: StoredSummary;
  ws: { count: number; outOfOrder: number };
}

export interface ClusterBenchResult {
  store: ClusterStoreKind;
  items: number;
  sources: number;
  timings: ClusterTimings;
  single: ReplayRound[];
  cluster: ClusterRound[];
  /** Median of per-round cluster ÷ single-node ratios. */
  ratio: number;
  median: { single: ReplayRound; cluster: ClusterRound };
  writerFailover: WriterFailover | null;
  pollFailover: PollFailover | null;
  load: { before: number[]; after: number[] };
}

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];

/** The corpus files: whole (single node, throughput rounds) and in halves (failover runs). */
interface Corpus {
  whole: string[];
  halves: TemplatedItem[][][];
  extra: Record<string, unknown>;
  extraFile: string;
}

async function prepareCorpus(dir: string, o: ClusterBenchOptions): Promise<Corpus> {
  const corpus = generateTemplatedCorpus({ items: o.items, outlets: o.sources });
  const perSource = Array.from({ length: o.sources }, (_, k) => corpus.items.filter((it) => it.outlet === k));
  const whole = perSource.map((_, k) => join(dir, `outlet-${k + 1}.jsonl`));
  for (let k = 0; k < o.sources; k++) await writeLines(whole[k], perSource[k]);
  const halves = perSource.map((items) => [items.slice(0, Math.ceil(items.length / 2)), items.slice(Math.ceil(items.length / 2))]);
  const extra = { tickers: tickerConfig(corpus.companies), alerts: alertRules(corpus.companies.slice(0, 10).map((c) => c.symbol)), sourceOptions: { chunkSize: TEMPLATED_CHUNK } };
  const extraFile = join(dir, 'extra.json');
  writeFileSync(extraFile, JSON.stringify(extra));
  return { whole, halves, extra, extraFile };
}

/** Source ids as the single-node replay names them, so both runs store the same rows. */
const sourceId = (k: number, n: number) => (n === 1 ? 'replay' : `replay-${k + 1}`);

/** One run's engines and nodes; everything it started is stopped by close(). */
class Run {
  readonly dir = mkdtempSync(join(tmpdir(), 'tp-cbench-'));
  nats!: NatsServer;
  store!: BenchStore;
  nc!: NatsConnection;
  cluster!: BenchCluster;
  ws: WsCounter | null = null;
  nodes: Record<string, BenchNode> = {};

  constructor(
    private readonly o: ClusterBenchOptions,
    private readonly files: string[],
    private readonly extra: Record<string, unknown>,
    private readonly follow: boolean,
  ) {}

  /** NATS, the store, writer (active), standby, serve node with a /ws client; not the poll nodes. */
  async open(): Promise<void> {
    this.nats = await startNatsServer();
    this.store = await openBenchStore(this.o.store, this.dir);
    this.nc = await connect({ servers: this.nats.url });
    this.cluster = new BenchCluster({
      dir: this.dir,
      store: this.store,
      natsUrl: this.nats.url,
      sources: this.files.map((path, k) => ({ id: sourceId(k, this.files.length), path })),
      follow: this.follow,
      extra: this.extra,
      timings: this.o.timings,
      startTimeoutMs: this.o.timeoutMs,
    });
    try {
      this.nodes.w1 = await this.cluster.start('writer-1', 'write');
    } catch (err) {
      // Exit code 2 = the node refused its config: with a store the roles do not take yet, that is
      // "not available", not a failed benchmark.
      if (err instanceof DaemonStartError && err.exitCode === 2 && this.o.store !== 'sqlite') {
        throw new StoreUnavailable(`the cluster roles do not accept store kind "${this.o.store}" yet (not available yet): ${err.message.replace(/^[^:]*: /, '').trim()}`);
      }
      throw err;
    }
    await until('writer-1 to be the active writer', async () => (await this.nodes.w1.health())?.cluster?.write?.state === 'active', this.o.timeoutMs);
    this.nodes.w2 = await this.cluster.start('writer-2', 'write');
    this.nodes.s1 = await this.cluster.start('serve-1', 'serve');
    this.ws = await countWsItems(this.nodes.s1.child.port);
  }

  async startPollNodes(): Promise<[BenchNode, BenchNode]> {
    const [p1, p2] = await Promise.all([this.cluster.start('poll-1', 'poll'), this.cluster.start('poll-2', 'poll')]);
    this.nodes.p1 = p1;
    this.nodes.p2 = p2;
    return [p1, p2];
  }

  async owned(n: BenchNode): Promise<string[]> {
    return ((await n.health())?.cluster?.poll?.owned ?? []) as string[];
  }

  /** CPU and peak RSS of every process of the run, this one (the /ws client) included. */
  async sample(): Promise<Map<string, ProcSample | null>> {
    const m = new Map<string, ProcSample | null>();
    for (const n of this.cluster.nodes) m.set(`${n.name} (${n.roles})`, n.sample());
    m.set('nats-server', sampleProcess(this.nats.pid));
    if (this.o.store === 'postgres') m.set('postgres (all backends)', sampleProcessTree(await this.store.serverPid()));
    m.set('bench process (/ws client, NATS observer)', sampleProcess(process.pid));
    return m;
  }

  async checkStored(): Promise<StoredSummary> {
    // The last items can be visible at the serve node a moment before the writer's WAL is read by another connection: wait for the count.
    return until('the store to hold every item', async () => {
      const s = await this.store.summary();
      return s.items >= this.o.items ? s : null;
    }, this.o.timeoutMs, 200);
  }

  async close(): Promise<void> {
    this.ws?.close();
    await this.nc?.close().catch(() => undefined);
    await this.cluster?.stopAll();
    await this.nats?.kill();
    await this.store?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function figures(start: Map<string, ProcSample | null>, end: Map<string, ProcSample | null>, seconds: number): ProcessFigure[] {
  const out: ProcessFigure[] = [];
  for (const [name, e] of end) {
    const s = start.get(name);
    if (!e) continue;
    const cpuSeconds = (e.cpuMs - (s?.cpuMs ?? 0)) / 1000;
    out.push({ name, cpuSeconds: Math.round(cpuSeconds * 10) / 10, cpuPercent: Math.round((cpuSeconds / seconds) * 100), peakRssMb: e.peakRssMb });
  }
  return out;
}

async function throughputRound(o: ClusterBenchOptions, c: Corpus): Promise<ClusterRound> {
  const run = new Run(o, c.whole, c.extra, false);
  try {
    await run.open();
    const first: { at: number; sample: Promise<Map<string, ProcSample | null>> | null } = { at: 0, sample: null };
    run.nc.subscribe(ITEMS_SUBJECTS, {
      max: 1,
      callback: () => {
        first.at = Date.now();
        first.sample = run.sample();
      },
    });
    await run.nc.flush();
    const pollStart = Date.now();
    const [p1, p2] = await run.startPollNodes();
    const last = await run.ws!.reached(o.items, o.timeoutMs);
    const atEnd = await run.sample();
    const seconds = (last - first.at) / 1000;
    const split = [(await run.owned(p1)).length, (await run.owned(p2)).length];
    const stored = await run.checkStored();
    return {
      items: o.items,
      seconds,
      perSec: Math.round(o.items / seconds),
      fromPollStartSeconds: (last - pollStart) / 1000,
      split,
      processes: figures((await first.sample) ?? new Map(), atEnd, seconds),
      stored,
      ws: { count: run.ws!.count, outOfOrder: run.ws!.outOfOrder, reconnects: run.ws!.reconnects },
    };
  } finally {
    await run.close();
  }
}

/** Half of each source's lines in its file now, the other half appended by `appendRest`. */
function failoverFiles(dir: string, c: Corpus): { files: string[]; appendRest(): void } {
  const files = c.halves.map((_, k) => join(dir, `follow-${k + 1}.jsonl`));
  c.halves.forEach(([first], k) => writeFileSync(files[k], first.map(jsonlLine).join('')));
  return { files, appendRest: () => c.halves.forEach(([, rest], k) => appendFileSync(files[k], rest.map(jsonlLine).join(''))) };
}

/** A quarter of the corpus (half of what the files hold before the kill), at least one item. */
const killPoint = (items: number) => Math.max(1, Math.floor(items / 4));

async function writerFailover(o: ClusterBenchOptions, c: Corpus, filesDir: string): Promise<WriterFailover> {
  const { files, appendRest } = failoverFiles(filesDir, c);
  const run = new Run(o, files, c.extra, true);
  try {
    await run.open();
    await run.startPollNodes();
    const killedAtReceived = killPoint(o.items);
    await run.ws!.reached(killedAtReceived, o.timeoutMs);
    const killedAt = Date.now();
    await run.nodes.w1.kill9();
    // Subscribed once the writer is gone: the first StoredBatch now is the standby's first commit.
    let firstCommit = 0;
    run.nc.subscribe(STORED_SUBJECT, { max: 1, callback: () => {
        firstCommit = Date.now();
      },
    });
    const jsm = await jetstreamManager(run.nc);
    const lastAtKill = (await jsm.streams.info(ITEMS_STREAM)).state.last_seq;
    appendRest();
    const caughtUp = await until(
      'the batches published before the kill to be committed',
      async () => {
        try {
          return (await jsm.consumers.info(ITEMS_STREAM, WRITER_CONSUMER)).ack_floor.stream_seq >= lastAtKill ? Date.now() : 0;
        } catch {
          return 0;
        }
      },
      o.timeoutMs,
    );
    const all = await run.ws!.reached(o.items, o.timeoutMs);
    await until('the standby to publish its first commit', () => firstCommit, o.timeoutMs);
    const h = (await run.nodes.w2.health())?.cluster?.write ?? {};
    const stored = await run.checkStored();
    return {
      items: o.items,
      killedAtReceived,
      toFirstCommitMs: firstCommit - killedAt,
      toCatchUpMs: caughtUp - killedAt,
      toAllMs: all - killedAt,
      standbyCommits: Number(h.commits ?? 0),
      redelivered: Number(h.redelivered ?? 0),
      stored,
      ws: { count: run.ws!.count, outOfOrder: run.ws!.outOfOrder },
    };
  } finally {
    await run.close();
  }
}

async function pollFailover(o: ClusterBenchOptions, c: Corpus, filesDir: string): Promise<PollFailover> {
  const { files, appendRest } = failoverFiles(filesDir, c);
  const run = new Run(o, files, c.extra, true);
  try {
    await run.open();
    const [p1, p2] = await run.startPollNodes();
    const killedAtReceived = killPoint(o.items);
    await run.ws!.reached(killedAtReceived, o.timeoutMs);
    const [o1, o2] = [await run.owned(p1), await run.owned(p2)];
    const [victim, survivor, victimSources] = o1.length >= o2.length ? [p1, p2, o1] : [p2, p1, o2];
    const killedAt = Date.now();
    await victim.kill9();
    const producing = new Map<string, number>();
    for (const s of victimSources) run.nc.subscribe(itemsSubject(s), {
        max: 1,
        callback: () => {
          producing.set(s, Date.now());
        },
      });
    await run.nc.flush();
    appendRest();
    const owned = await until('the survivor to own the dead node\'s sources', async () => {
      const mine = new Set(await run.owned(survivor));
      return victimSources.every((s) => mine.has(s)) ? Date.now() : 0;
    }, o.timeoutMs);
    const allProducing = await until('each of the dead node\'s sources to publish again', () => (producing.size === victimSources.length ? Math.max(...producing.values()) : 0), o.timeoutMs);
    const all = await run.ws!.reached(o.items, o.timeoutMs);
    const stored = await run.checkStored();
    return {
      items: o.items,
      killedAtReceived,
      victimSources,
      toOwnedMs: owned - killedAt,
      toFirstProducingMs: Math.min(...producing.values()) - killedAt,
      toAllProducingMs: allProducing - killedAt,
      toAllMs: all - killedAt,
      stored,
      ws: { count: run.ws!.count, outOfOrder: run.ws!.outOfOrder },
    };
  } finally {
    await run.close();
  }
}

export async function benchCluster(o: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-cbench-corpus-'));
  const load = { before: loadAverage(), after: [] as number[] };
  try {
    const c = await prepareCorpus(dir, o);
    const single: ReplayRound[] = [];
    const cluster: ClusterRound[] = [];
    // The cluster round first: a store the roles refuse is reported before any single-node time is spent.
    for (let r = 0; r < o.rounds; r++) {
      cluster.push(await throughputRound(o, c));
      const cr = cluster[r];
      o.log(`  round ${r + 1}: cluster (${o.store}): ${cr.perSec.toLocaleString('en')} items/s (${cr.seconds.toFixed(1)} s first publish → last /ws item; ${cr.fromPollStartSeconds.toFixed(1)} s from poll-node start; sources per poll node ${cr.split.join('/')}; ${cr.stored.items} stored)`);
      single.push(replayRound(c.whole, join(dir, `single${r}.db`), { items: o.items, timeoutMs: o.timeoutMs, extra: c.extraFile }));
      rmSync(join(dir, `single${r}.db`), { force: true });
      o.log(`  round ${r + 1}: single node, ${o.sources} sources: ${single[r].perSec.toLocaleString('en')} items/s (${single[r].seconds.toFixed(1)} s, ${single[r].stored} stored)`);
    }
    let wf: WriterFailover | null = null;
    let pf: PollFailover | null = null;
    if (o.failover) {
      wf = await writerFailover(o, c, dir);
      o.log(`  writer failover: kill -9 → standby's first commit ${(wf.toFirstCommitMs / 1000).toFixed(1)} s, backlog at the kill committed ${(wf.toCatchUpMs / 1000).toFixed(1)} s, all ${wf.items} items ${(wf.toAllMs / 1000).toFixed(1)} s`);
      pf = await pollFailover(o, c, dir);
      o.log(`  poll-node failover: kill -9 → its ${pf.victimSources.length} sources owned ${(pf.toOwnedMs / 1000).toFixed(1)} s, publishing again ${(pf.toFirstProducingMs / 1000).toFixed(1)}–${(pf.toAllProducingMs / 1000).toFixed(1)} s, all items ${(pf.toAllMs / 1000).toFixed(1)} s`);
    }
    load.after = loadAverage();
    const ratios = cluster.map((cr, i) => cr.perSec / single[i].perSec);
    return {
      store: o.store,
      items: o.items,
      sources: o.sources,
      timings: o.timings,
      single,
      cluster,
      ratio: median(ratios, (x) => x),
      median: { single: median(single, (x) => x.perSec), cluster: median(cluster, (x) => x.perSec) },
      writerFailover: wf,
      pollFailover: pf,
      load,
    };
  } finally {
    stopAllNatsServers();
    rmSync(dir, { recursive: true, force: true });
  }
}
