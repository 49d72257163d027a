/**
 * Memory benchmark: peak RSS of the whole daemon process (main thread, every source's worker,
 * SQLite, ONNX Runtime) while N jsonl sources replay a templated corpus
 * (test/bench/memoryCorpus.ts) through the full pipeline, as `tickerpulse start` runs in
 * production: a child process, sampled from /proc/PID/status (VmRSS every 50 ms; VmHWM, the
 * kernel's own high-water mark, when the replay is done).
 *
 *   node dist/test/bench/memory.js                         # N = 1 and 8, 100,000 items in all
 *   node dist/test/bench/memory.js --sources 8 --total 800  # small corpus: the idle cost per worker
 *   node dist/test/bench/memory.js --root /path/to/other/tree   # the same corpus on another build
 *   node dist/test/bench/memory.js --json                  # one JSON line per round
 *
 * N sources share the total (8 × 12,500 = 1 × 100,000), so the rows differ only in how many
 * workers hold the same work. A benchmark, not a test: the figures depend on the machine and
 * on what else runs on it; report them with that said. Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/lib/paths.js';
import { writeCorpus } from './memoryCorpus.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string', default: '1,8' },
    total: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '1' },
    root: { type: 'string' },
    /** Extra `limits` for the daemon's config, as JSON, e.g. '{"workerHeapMb":256}'. */
    limits: { type: 'string' },
    json: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '900' },
  },
});

const root = resolve(values.root ?? packageRoot);
const counts = values.sources.split(',').map(Number);
const total = Number(values.total);
const rounds = Number(values.rounds);
const timeoutMs = Number(values.timeout) * 1000;
if (counts.some((n) => !Number.isInteger(n) || n < 1) || !(total > 0) || !(rounds > 0)) {
  console.error('usage: memory [--sources 1,8] [--total 100000] [--rounds 1] [--root TREE] [--limits JSON] [--json]');
  process.exit(2);
}

export interface MemoryRound {
  sources: number;
  items: number;
  seconds: number;
  /** Highest VmRSS sampled, MiB. */
  peakRssMb: number;
  /** VmHWM at the end of the replay: the kernel's peak, MiB (catches spikes between samples). */
  hwmMb: number;
  /** VmRSS once every source is done, MiB. */
  doneRssMb: number;
  itemsPerSecond: number;
}

function procStatus(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function round(dir: string, n: number): Promise<MemoryRound> {
  const per = Math.ceil(total / n);
  const files: string[] = [];
  for (let s = 0; s < n; s++) {
    const f = join(dir, `source-${n}-${s}.jsonl`);
    await writeCorpus(f, s, per);
    files.push(f);
  }
  const db = join(dir, `mem-${n}-${Date.now()}.db`);
  const cfgFile = join(dir, `config-${n}.json`);
  const limits = values.limits ? (JSON.parse(values.limits) as Record<string, unknown>) : {};
  writeFileSync(cfgFile, JSON.stringify({ db, server: { host: '127.0.0.1', port: 0 }, limits, sources: files.map((path, s) => ({ id: `src-${s}`, kind: 'jsonl', path })) }));

  const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'start', '--config', cfgFile, '--port', '0'], {
    env: { ...process.env, TICKERPULSE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.length < 50 && stderr.push(l));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const t0 = performance.now();
    const port = await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`daemon did not listen; stderr: ${stderr.join('\n')}`)), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.includes('"port"')) return;
        try {
          const rec = JSON.parse(line) as { port?: unknown; url?: unknown };
          if (typeof rec.port === 'number' && typeof rec.url === 'string') {
            clearTimeout(timer);
            res(rec.port);
          }
        } catch {
          /* a pretty or partial line: not the one we wait for */
        }
      });
      void exited.then(() => rej(new Error(`daemon exited early; stderr: ${stderr.join('\n')}`)));
    });
    let peak = 0;
    const sampler = setInterval(() => {
      const st = procStatus(child.pid!);
      if (st && st.rss > peak) peak = st.rss;
    }, 50);
    try {
      for (;;) {
        if (performance.now() - t0 > timeoutMs) throw new Error(`replay not done after ${values.timeout} s`);
        await sleep(250);
        let h: { sources?: { status: string; items: number; lastError: string | null }[] };
        try {
          h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as typeof h;
        } catch {
          continue; // busy daemon: ask again
        }
        const list = h.sources ?? [];
        const failing = list.find((s) => s.status === 'failing');
        if (failing) throw new Error(`a source is failing: ${failing.lastError}`);
        if (list.length === n && list.every((s) => s.status === 'done')) break;
      }
      const seconds = (performance.now() - t0) / 1000;
      const st = procStatus(child.pid!)!;
      return {
        sources: n,
        items: per * n,
        seconds: Math.round(seconds * 10) / 10,
        peakRssMb: Math.round(Math.max(peak, st.rss)),
        hwmMb: Math.round(st.hwm),
        doneRssMb: Math.round(st.rss),
        itemsPerSecond: Math.round((per * n) / seconds),
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tp-memory-'));
try {
  if (!values.json) console.log(`tree ${root}; ${total} items in all; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  for (let r = 0; r < rounds; r++) {
    for (const n of counts) {
      const res = await round(dir, n);
      if (values.json) console.log(JSON.stringify(res));
      else console.log(`${String(n).padStart(2)} source(s) × ${res.items / n}: peak RSS ${res.peakRssMb} MiB (VmHWM ${res.hwmMb}), ${res.doneRssMb} MiB when done, ${res.seconds} s, ${res.itemsPerSecond} items/s`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
