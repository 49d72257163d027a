/**
 * The cluster figures (test/bench/clusterBench.ts) as console lines and as a "Cluster" section of
 * docs/BENCHMARKS.md, one per store kind (`## Cluster (issue 14), sqlite store`, `… postgres
 * store`). `npm run bench -- --cluster --cluster-store K` replaces K's section alone; the full
 * `npm run bench` rewrites the rest of the file and keeps every Cluster section as it was (the
 * cluster run is separate: it needs nats-server and takes the machine for minutes).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import type { ClusterBenchResult } from './clusterBench.js';

export const CLUSTER_HEADING = '## Cluster (issue 14)';
export const clusterHeading = (store: string): string => `${CLUSTER_HEADING}, ${store} store`;

const n = (x: number) => x.toLocaleString('en');
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const load = (l: number[]) => (l.length ? l.map((x) => x.toFixed(2)).join(', ') : 'unknown');

export function clusterLines(r: ClusterBenchResult): string[] {
  const m = r.median.cluster;
  const lines = [
    `cluster (${r.store}, 2 poll + writer + standby + serve): ${n(m.perSec)} items/s (median of ${r.cluster.map((c) => n(c.perSec)).join(' / ')}); single node ${r.sources} sources ${n(r.median.single.perSec)} items/s (${r.single.map((x) => n(x.perSec)).join(' / ')}); cluster ÷ single ${r.ratio.toFixed(2)}`,
    ...m.processes.map((p) => `  ${p.name}: CPU ${p.cpuSeconds} s (${p.cpuPercent} % of one core), peak RSS ${p.peakRssMb} MiB`),
  ];
  const w = r.writerFailover;
  if (w) lines.push(`writer failover (lease ttl ${s1(r.timings.leaseTtlMs)}, renew ${s1(r.timings.renewMs)}, ackWait ${s1(r.timings.ackWaitMs)}): first commit by the standby ${s1(w.toFirstCommitMs)} after kill -9, backlog caught up ${s1(w.toCatchUpMs)}, all items ${s1(w.toAllMs)}`);
  const p = r.pollFailover;
  if (p) lines.push(`poll-node failover: ${p.victimSources.length} sources owned by the survivor ${s1(p.toOwnedMs)} after kill -9, publishing again ${s1(p.toFirstProducingMs)}–${s1(p.toAllProducingMs)}, all items ${s1(p.toAllMs)}`);
  lines.push(`load average (1, 5, 15 min) before ${load(r.load.before)}, after ${load(r.load.after)}`);
  return lines;
}

/** Every run stored each item once with seq 1..N and the /ws client saw them all in order. */
export function clusterProblems(r: ClusterBenchResult): string[] {
  const out: string[] = [];
  const check = (what: string, s: { items: number; distinct: number; minSeq: number | null; maxSeq: number | null }, ws: { count: number; outOfOrder: number }) => {
    if (s.items !== r.items || s.distinct !== r.items) out.push(`${what}: stored ${s.items} rows (${s.distinct} distinct) of ${r.items}`);
    if (s.minSeq !== 1 || s.maxSeq !== r.items) out.push(`${what}: seq ${s.minSeq}..${s.maxSeq}, not 1..${r.items}`);
    if (ws.count !== r.items || ws.outOfOrder) out.push(`${what}: /ws client saw ${ws.count} items, ${ws.outOfOrder} out of order`);
  };
  r.cluster.forEach((c, i) => check(`cluster round ${i + 1}`, c.stored, c.ws));
  r.single.forEach((x, i) => x.stored !== r.items && out.push(`single-node round ${i + 1}: stored ${x.stored} of ${r.items}`));
  if (r.writerFailover) check('writer failover', r.writerFailover.stored, r.writerFailover.ws);
  if (r.pollFailover) check('poll-node failover', r.pollFailover.stored, r.pollFailover.ws);
  return out;
}

export function clusterSection(r: ClusterBenchResult, command: string): string {
  const m = r.median.cluster;
  const t = r.timings;
  const rows = [
    `| Templated corpus (seed 13), ${n(r.items)} items in ${r.sources} jsonl sources, through **2 poll nodes + active writer + standby + 1 serve node** (separate processes, one nats-server, ${r.store === 'sqlite' ? 'one shared SQLite file' : 'PostgreSQL'}): first ItemBatch published → last item received by a \`/ws?since=0\` client of the serve node (median of ${r.cluster.length}: ${r.cluster.map((c) => n(c.perSec)).join(' / ')}; sources per poll node ${r.cluster.map((c) => c.split.join('/')).join(', ')}) | **${n(m.perSec)} items/s** (${m.seconds.toFixed(1)} s; ${m.fromPollStartSeconds.toFixed(1)} s from starting the poll nodes) | |`,
    `| The single-node templated replay (the default daemon, SQLite), ${r.sources} sources × ${n(r.items / r.sources)}, same corpus, rounds alternating with the cluster's (daemon start → all committed; ${r.single.map((x) => n(x.perSec)).join(' / ')}) | ${n(r.median.single.perSec)} items/s | |`,
    `| Cluster ÷ single node (median of per-round ratios) | **${r.ratio.toFixed(2)} ×** | |`,
    ...[...m.processes].sort((a, b) => a.name.localeCompare(b.name)).map((p) => `| ${p.name}: CPU over the median round's window, peak RSS (VmHWM) | ${p.cpuSeconds} s (${p.cpuPercent} % of one core), ${p.peakRssMb} MiB | |`),
  ];
  const w = r.writerFailover;
  if (w) {
    rows.push(
      `| Writer failover: kill -9 of the active writer after ${n(w.killedAtReceived)} of ${n(w.items)} items were received (half the corpus in the followed files; the other half appended right after the kill) → first commit by the standby (its first StoredBatch on \`tp.stored\`) | **${s1(w.toFirstCommitMs)}** | ≤ 15 s |`,
      `| … → every batch published before the kill committed (the consumer's ack floor: the batches delivered to the dead writer and not acked come back after \`writer.ackWait\`; the standby got ${w.redelivered} redelivered) / all ${n(w.items)} items received | ${s1(w.toCatchUpMs)} / ${s1(w.toAllMs)} | |`,
    );
  }
  const p = r.pollFailover;
  if (p) {
    rows.push(
      `| Poll-node failover: kill -9 of the poll node running ${p.victimSources.length} of ${r.sources} sources after ${n(p.killedAtReceived)} items were received (the other half appended after the kill) → the survivor owns them (\`/healthz\`) / each publishes again (first / last of them, \`tp.items.<source>\`) / all items received | ${s1(p.toOwnedMs)} / ${s1(p.toFirstProducingMs)}–${s1(p.toAllProducingMs)} / ${s1(p.toAllMs)} | |`,
    );
  }
  const checks = clusterProblems(r);
  return `${clusterHeading(r.store)}

Measured by \`npm run bench -- --cluster\` (test/bench/clusterBench.ts), which rewrites this section
only. Every node is \`tickerpulse start --role …\` in a process of its own, all on this machine
with a throwaway \`nats-server -js\`; docs/CLUSTER.md has the sizing read from these figures.

- Date: ${new Date().toISOString()}; Node.js ${process.version}
- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, shared with other jobs: load average (1, 5, 15 min) ${load(r.load.before)} at the start, ${load(r.load.after)} at the end
- Command: \`${command}\`
- Store: ${r.store}; cluster timings: lease ttl ${s1(t.leaseTtlMs)}, renewInterval ${s1(t.renewMs)}, writer.ackWait ${s1(t.ackWaitMs)}${t.leaseTtlMs === 10_000 && t.renewMs === 2_500 && t.ackWaitMs === 30_000 ? ' (the defaults)' : ''}
- Checks: ${checks.length ? `**${checks.join('; ')}**` : `every run stored each of the ${n(r.items)} items once with seq 1..${n(r.items)}, and its \`/ws\` client received all of them in seq order`}

| what | result | target |
|---|---|---|
${rows.join('\n')}

All processes share the 2 cores (with whatever else runs: see the load average): the poll
nodes' worker threads (parse, classify, link, sign), the writer's commits, the serve node's
fan-out, nats-server and the bench's own \`/ws\` client. The cluster does the single daemon's
work plus encoding, NATS round trips and the hand-off between processes; on one machine it has
no more cores to spread it over, so the ratio shows what the cluster costs, and its gain is more
machines. The two sides alternate round by round, so both see the same state of the shared
machine. CPU is utime + stime from \`/proc/PID/stat\` between the first publish and the last
item received (the nodes' start-up is not in it); peak RSS is VmHWM.
`;
}

/** Replaces the section of `md` with the same heading (its first line) as `section`, or appends it. */
export function withClusterSection(md: string, section: string): string {
  const heading = section.slice(0, section.indexOf('\n'));
  const at = md.indexOf(`\n${heading}\n`);
  if (at < 0) return `${md.trimEnd()}\n\n${section}`;
  const next = md.indexOf('\n## ', at + 1);
  return `${md.slice(0, at).trimEnd()}\n\n${section}${next < 0 ? '' : `\n${md.slice(next + 1)}`}`;
}

/** Every Cluster section of the markdown, in order, or '' (the full bench keeps them when it rewrites the rest). */
export function clusterSectionsOf(md: string): string {
  const parts: string[] = [];
  for (let at = md.indexOf(`\n${CLUSTER_HEADING}`); at >= 0; at = md.indexOf(`\n${CLUSTER_HEADING}`, at + 1)) {
    const next = md.indexOf('\n## ', at + 1);
    parts.push(md.slice(at + 1, next < 0 ? undefined : next + 1).trimEnd() + '\n');
  }
  return parts.join('\n');
}

export function existingClusterSection(path: string): string {
  try {
    return clusterSectionsOf(readFileSync(path, 'utf8'));
  } catch {
    return '';
  }
}

export function writeClusterSection(path: string, section: string): void {
  writeFileSync(path, withClusterSection(readFileSync(path, 'utf8'), section));
}
