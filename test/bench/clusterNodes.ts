/**
 * A benchmark cluster as real processes on this machine (as test/cluster/cluster.test.ts runs
 * one): each node is `tickerpulse start --config FILE --role ROLES` (test/bench/daemonChild.ts),
 * every node with the same config apart from its id; the NATS server and the store are the
 * caller's. Nodes are stopped with SIGTERM (SIGKILL after a grace period) by stopAll(), which
 * the caller runs in `finally`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemonChild, type DaemonChild } from './daemonChild.js';
import { sampleProcess, type ProcSample } from './procStats.js';
import type { BenchStore } from './clusterStore.js';

export interface ClusterTimings {
  leaseTtlMs: number;
  renewMs: number;
  ackWaitMs: number;
}

/** The cluster defaults (src/config/cluster.ts): what a user gets without tuning. */
export const DEFAULT_TIMINGS: ClusterTimings = { leaseTtlMs: 10_000, renewMs: 2_500, ackWaitMs: 30_000 };

export interface BenchClusterOptions {
  dir: string;
  store: BenchStore;
  natsUrl: string;
  /** One jsonl source per file. */
  sources: { id: string; path: string }[];
  /** Followed files (the failover runs append to them after the kill); else read once. */
  follow: boolean;
  /** Config keys every node gets (tickers, alerts) and `sourceOptions` merged into each source. */
  extra: Record<string, unknown>;
  timings: ClusterTimings;
  startTimeoutMs: number;
}

export interface BenchNode {
  readonly name: string;
  readonly roles: string;
  readonly child: DaemonChild;
  /** /healthz of the node, or null when it does not answer (dead, busy past 5 s). */
  health(): Promise<any>;
  sample(): ProcSample | null;
  /** kill -9, resolved once the process is gone. */
  kill9(): Promise<void>;
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];

  constructor(private readonly o: BenchClusterOptions) {}

  private config(node: string): string {
    const { sourceOptions, ...extra } = this.o.extra as { sourceOptions?: Record<string, unknown> };
    const t = this.o.timings;
    const file = join(this.o.dir, `${node}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        ...extra,
        ...this.o.store.config,
        server: { host: '127.0.0.1', port: 0 },
        limits: { shutdownTimeout: '2s' },
        cluster: {
          nats: { servers: [this.o.natsUrl] },
          node,
          lease: { ttl: `${t.leaseTtlMs}ms`, renewInterval: `${t.renewMs}ms` },
          writer: { ackWait: `${t.ackWaitMs}ms` },
        },
        sources: this.o.sources.map((s) => ({ id: s.id, kind: 'jsonl', path: s.path, ...sourceOptions, ...(this.o.follow ? { follow: true, pollInterval: '100ms' } : {}) })),
      }),
    );
    return file;
  }

  async start(name: string, roles: string): Promise<BenchNode> {
    const child = await startDaemonChild(this.config(name), { args: ['--role', roles], startTimeoutMs: this.o.startTimeoutMs });
    const exited = new Promise<void>((r) => (child.proc.exitCode !== null || child.proc.signalCode !== null ? r() : child.proc.once('exit', () => r())));
    const node: BenchNode = {
      name,
      roles,
      child,
      health: async () => {
        try {
          return await (await fetch(`http://127.0.0.1:${child.port}/healthz`, { signal: AbortSignal.timeout(5000) })).json();
        } catch {
          return null;
        }
      },
      sample: () => sampleProcess(child.pid),
      kill9: async () => {
        child.proc.kill('SIGKILL');
        await exited;
      },
    };
    this.nodes.push(node);
    return node;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.child.stop(5000)));
  }
}

/** Polls `fn` every `everyMs` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
