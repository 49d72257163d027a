/**
 * One end-to-end replay round in a process of its own (run by test/bench/run.ts): the daemon of
 * the tree at --root replays the JSONL file(s) --file into the new database --db and this prints
 * one JSON line, {"seconds", "peakRssMb", "cpu": {…}}.
 *
 * A process per round, as the daemon runs in production: no JIT state, heap or threads are left
 * over from the bench's other figures or from the other tree's rounds (in one shared process,
 * whichever tree ran second inherited the first one's heap), and the peak RSS is the daemon's own.
 * The tree is imported by path, so a --baseline worktree of an older revision runs the same way.
 *
 * Options: --file F (repeatable: one jsonl source per file; one file is source "replay", several
 *          are "replay-1" … "replay-N"), --extra CONFIG.json (config keys merged in — alerts,
 *          tickers, limits — plus `sourceOptions` merged into every source, e.g. chunkSize).
 *
 * CPU: `cpu.stages` is /healthz `stages` when the tree reports it (each stage thread reads its
 * own /proc/thread-self/stat); `cpu.mainMs` is the main thread (/proc/self/task/PID/stat) and
 * `cpu.otherThreadsMs` the rest of the process (every worker, SQLite checkpoint and libuv thread,
 * including threads that already exited), both up to the moment every item was committed.
 */
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { resolveConfig as ResolveConfig } from '../../src/config/load.js';
import type { startDaemon as StartDaemon } from '../../src/daemon/daemon.js';
import type { createLogger as CreateLogger } from '../../src/lib/log.js';

const { values } = parseArgs({ options: { root: { type: 'string' }, file: { type: 'string', multiple: true }, db: { type: 'string' }, extra: { type: 'string' } } });
if (!values.root || !values.file?.length || !values.db) {
  console.error('usage: replayRound --root TREE --file ITEMS.jsonl [--file …] --db NEW.db [--extra CONFIG.json]');
  process.exit(2);
}
const { resolveConfig } = (await import(join(values.root, 'dist/src/config/load.js'))) as { resolveConfig: typeof ResolveConfig };
const { startDaemon } = (await import(join(values.root, 'dist/src/daemon/daemon.js'))) as { startDaemon: typeof StartDaemon };
const { createLogger } = (await import(join(values.root, 'dist/src/lib/log.js'))) as { createLogger: typeof CreateLogger };

const { sourceOptions, ...extra } = values.extra ? (JSON.parse(readFileSync(values.extra, 'utf8')) as Record<string, unknown>) : ({} as Record<string, unknown>);
const files = values.file;
const sources = files.map((path, i) => ({ id: files.length === 1 ? 'replay' : `replay-${i + 1}`, kind: 'jsonl', path, ...(sourceOptions as object | undefined) }));
const cfg = resolveConfig({ ...extra, db: values.db, server: { host: '127.0.0.1', port: 0, ...(extra.server as object | undefined) }, sources });

/** utime + stime of /proc/…/stat, in ms (USER_HZ = 100 on Linux). */
function statCpuMs(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
function vmHwmMb(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.resourceUsage().maxRSS / 1024);
}

const t0 = process.hrtime.bigint();
const daemon = await startDaemon(cfg, { log: createLogger({ level: 'warn', pretty: false, destination: 2 }) });
await daemon.idle;
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const mainMs = statCpuMs(`/proc/self/task/${process.pid}/stat`);
const processMs = statCpuMs('/proc/self/stat');
let stages: Record<string, { cpuMs: number }> | null = null;
try {
  const health = (await (await fetch(`${daemon.url.replace(/\/$/, '')}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as { stages?: Record<string, { cpuMs: number }> };
  stages = health.stages ?? null;
} catch {
  // A tree without the field, or a health check that failed: the /proc figures stand alone.
}
await daemon.shutdown('bench done');
// Written synchronously: stdout is a pipe, and exit() must not cut the line short.
writeSync(1, JSON.stringify({ seconds, peakRssMb: vmHwmMb(), cpu: { mainMs, otherThreadsMs: processMs - mainMs, processMs, stages } }) + '\n');
process.exit(0);
