/**
 * One replay round in a child process (test/bench/replayRound.ts) running the daemon of the tree
 * at `root` over `files` (one jsonl source each), as test/bench/run.ts and templated.ts use it.
 * Killed with SIGKILL past `timeoutMs` (the daemon lives in that process, nothing outlives it).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/lib/paths.js';

export interface ReplayRound {
  perSec: number;
  peakRssMb: number;
  seconds: number;
  stored: number;
  /** CPU of the round's process: main thread, the rest of it, /healthz `stages` when the tree has them. */
  cpu: { mainMs: number; otherThreadsMs: number; processMs: number; stages: Record<string, { cpuMs: number }> | null } | null;
}

export function replayRound(file: string | string[], db: string, opts: { items: number; timeoutMs: number; root?: string; extra?: string }): ReplayRound {
  const root = opts.root ?? packageRoot;
  const files = typeof file === 'string' ? [file] : file;
  const args = [join(packageRoot, 'dist', 'test', 'bench', 'replayRound.js'), '--root', root, ...files.flatMap((f) => ['--file', f]), '--db', db, ...(opts.extra ? ['--extra', opts.extra] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: opts.timeoutMs, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`replay round (${root}, ${files.length} sources) failed (${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''}): ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { seconds: number; peakRssMb: number; cpu?: ReplayRound['cpu'] };
  // Plain SQL: a baseline tree's database may have an older schema than this ItemStore opens.
  const counted = new Database(db, { readonly: true });
  const stored = counted.prepare('SELECT count(*) FROM items').pluck().get() as number;
  counted.close();
  return { perSec: Math.round(opts.items / out.seconds), peakRssMb: out.peakRssMb, seconds: out.seconds, stored, cpu: out.cpu ?? null };
}
