/**
 * `npm run bench -- --cluster` (called by test/bench/run.ts): runs test/bench/clusterBench.ts,
 * prints the figures and writes the "Cluster" section of docs/BENCHMARKS.md. A missing
 * nats-server, missing PostgreSQL binaries or a cluster that does not accept the store yet are
 * reported in one plain line and skip the run (exit 0): they are this machine's or this tree's
 * limits, not a failed benchmark. Exit 1 when a run lost or duplicated an item.
 */
import { join } from 'node:path';
import { packageRoot } from '../../src/lib/paths.js';
import { natsServerBinary } from '../cluster/natsProcess.js';
import { benchCluster } from './clusterBench.js';
import { DEFAULT_TIMINGS } from './clusterNodes.js';
import { clusterLines, clusterProblems, clusterSection, writeClusterSection } from './clusterReport.js';
import { CLUSTER_STORE_KINDS, StoreUnavailable, type ClusterStoreKind } from './clusterStore.js';

export async function runClusterBench(o: { items: number; sources: number; rounds: number; store: string; failover: boolean; timeoutMs: number; write: boolean }): Promise<number> {
  if (!CLUSTER_STORE_KINDS.includes(o.store as ClusterStoreKind)) {
    console.error(`--cluster-store takes ${CLUSTER_STORE_KINDS.join(' or ')} (got "${o.store}")`);
    return 2;
  }
  if (!natsServerBinary()) {
    console.log('cluster bench skipped: nats-server is not installed (apt-get install nats-server; .ci/run does it)');
    return 0;
  }
  const store = o.store as ClusterStoreKind;
  console.log(`cluster bench: ${o.items.toLocaleString('en')} templated items in ${o.sources} sources, store ${store}, ${o.rounds} rounds alternating with the single node${o.failover ? ', then writer and poll-node failover' : ''}`);
  let r;
  try {
    r = await benchCluster({ items: o.items, sources: o.sources, rounds: o.rounds, store, timings: DEFAULT_TIMINGS, timeoutMs: o.timeoutMs, failover: o.failover, log: (l) => console.log(l) });
  } catch (err) {
    if (err instanceof StoreUnavailable) {
      console.log(`cluster bench skipped: --cluster-store ${store} is not available: ${err.message}`);
      return 0;
    }
    throw err;
  }
  for (const l of clusterLines(r)) console.log(l);
  const problems = clusterProblems(r);
  for (const p of problems) console.error(p);
  if (o.write) {
    const command = `npm run bench -- --cluster --cluster-store ${store} --templated-items ${o.items} --templated-sources ${o.sources} --templated-rounds ${o.rounds}${o.failover ? '' : ' --skip-failover'}`;
    writeClusterSection(join(packageRoot, 'docs', 'BENCHMARKS.md'), clusterSection(r, command));
    console.log('wrote the Cluster section of docs/BENCHMARKS.md');
  }
  return problems.length ? 1 : 0;
}
