/**
 * The cluster bench's code path (test/bench/clusterBench.ts, `npm run bench -- --cluster`) on a
 * tiny templated corpus, so it cannot rot: a throughput round with its single-node round, the
 * writer failover and the poll-node failover, each with real processes and a real nats-server.
 * Counts only, never times: every run stores each item once with seq 1..N, its /ws client sees
 * them all in order, the standby commits after the kill and the survivor takes the dead poll
 * node's sources; and a throughput round on PostgreSQL. Short leases keep it quick; the bench
 * itself runs with the defaults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_NATS } from '../cluster/natsServer.js';
import { pgSkipReason } from '../store/pg/pgServer.js';
import { benchCluster, type ClusterBenchOptions } from './clusterBench.js';
import { clusterHeading, clusterProblems, clusterSection, clusterSectionsOf, withClusterSection } from './clusterReport.js';

const ITEMS = 500;
const options = (o: Partial<ClusterBenchOptions>): ClusterBenchOptions => ({
  items: ITEMS,
  sources: 8,
  rounds: 1,
  store: 'sqlite',
  timings: { leaseTtlMs: 3000, renewMs: 1000, ackWaitMs: 3000 },
  timeoutMs: 180_000,
  failover: true,
  log: () => undefined,
  ...o,
});

test('cluster bench on 500 templated items: throughput round, writer failover, poll-node failover, nothing lost or stored twice', { skip: SKIP_NO_NATS, timeout: 600_000 }, async () => {
  const r = await benchCluster(options({}));
  assert.deepEqual(clusterProblems(r), []);
  assert.equal(r.cluster.length, 1);
  assert.equal(r.single[0].stored, ITEMS);
  const round = r.cluster[0];
  assert.deepEqual(round.stored, { items: ITEMS, distinct: ITEMS, minSeq: 1, maxSeq: ITEMS });
  assert.equal(round.ws.count, ITEMS);
  assert.equal(round.split.reduce((a, b) => a + b, 0), 8, 'every source owned by one of the two poll nodes');
  assert.ok(round.processes.some((p) => p.name.startsWith('poll-1')) && round.processes.some((p) => p.name === 'nats-server'), 'a figure per process');

  const w = r.writerFailover!;
  assert.deepEqual(w.stored, { items: ITEMS, distinct: ITEMS, minSeq: 1, maxSeq: ITEMS });
  assert.equal(w.ws.count, ITEMS);
  assert.equal(w.ws.outOfOrder, 0);
  assert.ok(w.standbyCommits > 0, 'the standby committed after the kill');

  const p = r.pollFailover!;
  assert.deepEqual(p.stored, { items: ITEMS, distinct: ITEMS, minSeq: 1, maxSeq: ITEMS });
  assert.equal(p.ws.count, ITEMS);
  assert.ok(p.victimSources.length > 0, 'the killed poll node ran sources');

  const section = clusterSection(r, 'npm run bench -- --cluster (test)');
  assert.ok(section.startsWith(clusterHeading('sqlite')));
  assert.match(section, /every run stored each of the 500 items once/);
});

test('--cluster-store postgres: the same runs on PostgreSQL, nothing lost or stored twice', { skip: SKIP_NO_NATS || pgSkipReason() || false, timeout: 300_000 }, async () => {
  const r = await benchCluster(options({ store: 'postgres', failover: false }));
  assert.deepEqual(clusterProblems(r), []);
  assert.deepEqual(r.cluster[0].stored, { items: ITEMS, distinct: ITEMS, minSeq: 1, maxSeq: ITEMS });
  assert.ok(r.cluster[0].processes.some((p) => p.name.startsWith('postgres')), 'the PostgreSQL server\'s CPU and RSS are reported');
});

test('a store\'s Cluster section replaces its old self and leaves the other store\'s and the rest of BENCHMARKS.md alone', () => {
  const before = `# Benchmarks\n\nintro\n\n## Staged ingest\n\nrows\n`;
  const sqlite = (x: string) => `${clusterHeading('sqlite')}\n\n${x}\n`;
  const postgres = (x: string) => `${clusterHeading('postgres')}\n\n${x}\n`;
  const once = withClusterSection(before, sqlite('first'));
  assert.equal(once, `${before}\n${sqlite('first')}`);
  const both = withClusterSection(`${once}\n## Later\n\nkept\n`, postgres('pg'));
  const again = withClusterSection(both, sqlite('second'));
  assert.equal(again, `${before}\n${sqlite('second')}\n## Later\n\nkept\n\n${postgres('pg')}`);
  // What the full `npm run bench` carries over when it rewrites the file.
  assert.equal(clusterSectionsOf(again), `${sqlite('second')}\n${postgres('pg')}`);
});
