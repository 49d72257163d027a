/**
 * The daemon as a child process for the benchmarks that need it outside their own process (its
 * CPU, RSS and event loop its own): `tickerpulse start --config FILE`, JSON logs on stdout, port
 * read from its "listening" line. stop() is safe to call more than once and on a daemon that
 * already died: SIGTERM, then SIGKILL after `graceMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { packageRoot } from '../../src/lib/paths.js';

const CLI = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

export interface DaemonChild {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** JSON log records seen so far whose message matches `re`. */
  countLogs(re: RegExp): number;
  stop(graceMs?: number): Promise<void>;
}

/** The daemon exited before it listened; `exitCode` 2 = it refused its config (tickerpulse start's contract). */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/** `args`: more `tickerpulse start` arguments, e.g. `['--role', 'poll']` for a cluster node. */
export async function startDaemonChild(configFile: string, opts: { startTimeoutMs?: number; args?: string[] } = {}): Promise<DaemonChild> {
  const proc = spawn(process.execPath, [CLI, 'start', '--config', configFile, ...(opts.args ?? [])], { env: { ...process.env, TICKERPULSE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  const messages: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => stderr.length < 200 && stderr.push(l));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon did not report its port; stderr: ${stderr.join('\n')}`)), opts.startTimeoutMs ?? 60_000);
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line);
        } catch {
          return;
        }
        if (typeof rec.msg === 'string' && messages.length < 200_000) messages.push(rec.msg); // bounded: a long run logs per poll
        if (typeof rec.port === 'number' && typeof rec.url === 'string') {
          clearTimeout(timer);
          resolve(rec.port);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new DaemonStartError(`daemon exited with ${proc.exitCode ?? proc.signalCode}; stderr: ${stderr.join('\n')}`, proc.exitCode));
      });
    });
    return { proc, pid: proc.pid!, port, countLogs: (re) => messages.filter((m) => re.test(m)).length, stop };
  } catch (err) {
    await stop(2000);
    throw err;
  }
}
