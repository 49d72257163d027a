/**
 * The cluster as real processes on one machine, on one store (an SQLite file shared by the
 * processes, or a PostgreSQL database: cluster.test.ts, clusterPg.test.ts): a writer and a
 * standby, two poll nodes, two serve nodes, one NATS.
 * Two followed JSONL sources and a loopback RSS feed grow while the active writer is killed (kill -9), then the poll node
 * running the sources, then NATS itself. In the end every line is stored exactly once, seq is
 * gap-free, both serve nodes stream exactly the store (one client live through it all, one
 * replaying ?since=0 afterwards), and `tickerpulse query` totals match. A store with an `outage`
 * (PostgreSQL) is also stopped and started again while lines arrive.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runQuery } from '../../src/cli/query.js';
import { connectWs, getJson, itemsOf, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type DaemonProcess, type FeedServer } from '../daemon/harness.js';
import { startNatsServer } from './natsServer.js';

/** The store under test, as the test reads it (not through the cluster). */
export interface ScenarioStore {
  /** The config's store section (`{ db }` or `{ store: … }`). */
  config: Record<string, unknown>;
  /** What `tickerpulse query --store` is given. */
  spec: string;
  /** Items stored (0 while the store does not exist yet). */
  count(): Promise<number>;
  /** Every item, by seq. */
  all(): Promise<{ seq: number; source: string; guid: string }[]>;
  /** The store's own outage, after the NATS restart (PostgreSQL: kill and restart the server). */
  outage?: { kill(): Promise<void>; restart(): Promise<void> };
}

const dir = mkdtempSync(join(tmpdir(), 'tp-cluster-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const SOURCES = ['wire-a', 'wire-b'];
const written = new Map<string, number>(SOURCES.map((s) => [s, 0]));

function append(n: number): void {
  for (const s of SOURCES) {
    let text = '';
    const from = written.get(s)!;
    for (let i = from; i < from + n; i++) text += JSON.stringify({ id: `${s}-${i}`, title: `Globex ${s} headline ${i} beats profit forecast`, publishedAt: 1_700_000_000 + i }) + '\n';
    appendFileSync(join(dir, `${s}.jsonl`), text);
    written.set(s, from + n);
  }
}
/** A loopback RSS feed next to the JSONL files; grows with them. */
let feed: FeedServer | null = null;
const RSS_ID = 'rss-wire';
const total = () => [...written.values()].reduce((a, b) => a + b, 0) + (feed?.items.length ?? 0);
function grow(n: number): void {
  append(n);
  if (feed) feed.items = makeItems(feed.items.length + Math.ceil(n / 10), 'rss');
}

function config(store: ScenarioStore, node: string, natsUrl: string): string {
  const file = join(dir, `${node}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      ...store.config,
      limits: { shutdownTimeout: '2s' },
      cluster: {
        nats: { servers: [natsUrl], requestTimeout: '2s', reconnectWait: '200ms' },
        node,
        lease: { ttl: '6s', renewInterval: '1500ms' },
        writer: { ackWait: '3s' },
        publish: { handoverWait: '15s', maxRetryDelay: '1s' },
        serve: { catchUpInterval: '500ms' },
      },
      sources: [
        ...SOURCES.map((id) => ({ id, kind: 'jsonl', path: join(dir, `${id}.jsonl`), follow: true, pollInterval: '100ms', chunkSize: 50 })),
        { id: RSS_ID, kind: 'rss', url: feed!.url, interval: '1s', allowPrivateNetworks: true },
      ],
    }),
  );
  return file;
}

const health = (d: DaemonProcess) => getJson(d.port, '/healthz').catch(() => null);

/** `tickerpulse query … --format json` on the store: its rows. */
async function query(store: ScenarioStore, args: string[]): Promise<Record<string, any>[]> {
  let out = '';
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  const code = await runQuery([...args, '--store', store.spec, '--format', 'json'], sink, sink);
  assert.equal(code, 0, out);
  return out.trim() ? out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) : [];
}

export const SCENARIO = 'writer failover, poll node failover and a NATS restart: every item stored once, seq gap-free, both servers stream the store, query totals match';

export async function runClusterScenario(t: TestContext, store: ScenarioStore): Promise<void> {
  const storedCount = () => store.count();
  const nats = await startNatsServer();
  feed = await startFeedServer(makeItems(30, 'rss'));
  append(300);
  const procs: DaemonProcess[] = [];
  const start = async (node: string, roles: string) => {
    const p = await startDaemonProcess(['--config', config(store, node, nats.url), '--role', roles], {}, 60_000);
    procs.push(p);
    return p;
  };
  try {
    const w1 = await start('writer-1', 'write');
    await waitFor('writer-1 to be the active writer', async () => (await health(w1))?.cluster?.write?.state === 'active', 30_000);
    const w2 = await start('writer-2', 'write');
    assert.equal((await health(w2))?.cluster?.write?.state, 'standby');
    const s1 = await start('serve-1', 'serve');
    const s2 = await start('serve-2', 'serve');
    const live = await connectWs(s1.port, '?since=0');
    const p1 = await start('poll-1', 'poll');
    const p2 = await start('poll-2', 'poll');
    await waitFor('the first lines stored', async () => (await storedCount()) >= 630, 120_000, 200);

    // 1. kill -9 the active writer while new lines arrive: the standby takes over.
    grow(1000);
    w1.child.kill('SIGKILL');
    await waitFor('writer-2 to take over', async () => (await health(w2))?.cluster?.write?.state === 'active', 60_000, 200);

    // 2. kill -9 the poll node running wire-a while lines arrive: its sources move to the other.
    grow(1000);
    const owners = await Promise.all([p1, p2].map(async (p) => ((await health(p))?.cluster?.poll?.owned ?? []) as string[]));
    const victim = owners[0].includes('wire-a') ? p1 : p2;
    const survivor = victim === p1 ? p2 : p1;
    victim.child.kill('SIGKILL');
    await waitFor('the survivor to own every source', async () => ((await health(survivor))?.cluster?.poll?.owned ?? []).length === 3, 60_000, 200);

    // 3. NATS goes away (kill -9) for longer than a lease lives, so every node loses its
    // leases (sources stop, the writer stops), and comes back while lines keep arriving.
    await nats.kill();
    grow(500);
    await waitFor('the writer to give up its lease', async () => (await health(w2))?.cluster?.write?.state === 'standby', 60_000, 200);
    await nats.restart();
    grow(200);

    // 4. The store goes away while lines arrive (poll nodes keep publishing into JetStream, the
    // writer retries its commit), and comes back.
    if (store.outage) {
      // Back to normal after the NATS restart first: the sources run again (a source that
      // changes hands needs its stored state, so it waits for the store), the writer is active.
      await waitFor(`all ${total()} lines stored before the store outage`, async () => (await storedCount()) >= total(), 120_000, 200);
      await waitFor('the survivor to run every source again', async () => ((await health(survivor))?.sources ?? []).length === 3, 60_000, 200);
      await store.outage.kill();
      await waitFor('serve-1 to see the store down', async () => (await health(s1))?.db?.ok === false, 30_000, 200);
      const published = async () => (((await health(survivor))?.sources ?? []) as { items: number }[]).reduce((n, x) => n + x.items, 0);
      const before = await published();
      grow(300);
      await waitFor('the survivor to publish new lines without the store', async () => (await published()) > before, 30_000, 200);
      await store.outage.restart();
      // The outage was felt where it matters: the writer had batches it could not commit.
      assert.ok(
        w2.logs.some((l) => typeof l.msg === 'string' && /trying again until the store answers|cannot open the store as the active writer/.test(l.msg)),
        'the active writer retried through the outage',
      );
    }

    await waitFor(`all ${total()} lines stored`, async () => (await storedCount()) >= total(), Number(process.env.TP_CLUSTER_WAIT ?? 240_000), 500);

    const all = await store.all();
    assert.equal(all.length, total(), 'each line stored exactly once');
    assert.deepEqual(
      all.map((i) => i.seq),
      all.map((_, k) => k + 1),
      'seq gap-free from 1',
    );
    for (const s of SOURCES) {
      const guids = new Set(all.filter((i) => i.source === s).map((i) => i.guid));
      assert.equal(guids.size, written.get(s));
    }
    assert.equal(new Set(all.filter((i) => i.source === RSS_ID).map((i) => i.guid)).size, feed.items.length);
    const expected = all.map((i) => `${i.seq}:${i.source}:${i.guid}`);
    const key = (i: Record<string, any>) => `${i.seq}:${i.source}:${i.guid}`;
    await waitFor('the live client on serve-1 to have everything', () => itemsOf(live).length >= total(), 60_000, 200);
    const replay = await connectWs(s2.port, '?since=0');
    await waitFor('the ?since=0 replay on serve-2 to have everything', () => itemsOf(replay).length >= total(), 60_000, 200);
    assert.deepEqual(itemsOf(live).map(key), expected, 'serve-1 live stream = the store, no gap or duplicate across failovers');
    assert.deepEqual(itemsOf(replay).map(key), expected, 'serve-2 replay = the store');
    const [h2, hs1, hsv] = await Promise.all([health(w2), health(s1), health(survivor)]);
    assert.ok(h2.cluster.write.commits > 0, 'the standby committed after taking over');
    // The rollups the writers kept agree with the items: per source, the daily series sums to its count.
    for (const s of [...SOURCES, RSS_ID]) {
      const series = await query(store, ['series', '--source', s, '--bucket', '1d', '--since', '2000-01-01T00:00Z']);
      assert.equal(series.reduce((n, b) => n + Number(b.items), 0), all.filter((i) => i.source === s).length, `query series total of ${s}`);
    }
    const newest = await query(store, ['items', '--sort', 'seq', '--limit', '1000']);
    assert.deepEqual(newest.map((i) => i.seq), all.slice(-1000).reverse().map((i) => i.seq), 'query items = the store');
    // A serve node has the single daemon's /metrics and DNS-rebinding guard (loopback, no token).
    const scrape = await fetch(`http://127.0.0.1:${s1.port}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /^tickerpulse_ws_clients \d+$/m, 'serve-1 exports its WebSocket clients');
    assert.equal(await statusWithHost(s1.port, '/api/items', `evil.example:${s1.port}`), 403, 'a foreign Host is refused');
    assert.equal(await statusWithHost(s1.port, '/api/items', `localhost:${s1.port}`), 200);
    t.diagnostic(`writer-2 ${JSON.stringify(h2.cluster.write)}; serve-1 ${JSON.stringify(hs1.cluster.serve)} nats ${JSON.stringify(hs1.cluster.nats)}; survivor ${JSON.stringify(hsv.cluster.poll)}`);
    live.ws.close();
    replay.ws.close();
  } catch (err) {
    // What each node said (warnings and errors) and where it stood: the failure's explanation.
    for (const p of procs) {
      const h = await health(p);
      t.diagnostic(`${p.child.pid}: ${JSON.stringify(h?.cluster ?? 'dead')} ${JSON.stringify(h?.sources ?? '')}`);
      for (const l of p.logs.filter((l) => Number(l.level) >= 40).slice(-15)) t.diagnostic(`  ${JSON.stringify(l).slice(0, 400)}`);
      for (const line of p.stderr.slice(-20)) t.diagnostic(`  stderr: ${line}`);
    }
    t.diagnostic(`stored ${await storedCount().catch(() => '?')} of ${total()}`);
    throw err;
  } finally {
    await Promise.all(procs.map((p) => stopDaemon(p, 'SIGKILL')));
    await feed.close();
  }
}

/** GET `path` with the given Host header (fetch cannot set one). */
function statusWithHost(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
