/**
 * `tickerpulse reclassify` bench (issue 13): builds a single-source database of N made-up
 * templated items (test/bench/reclassifyCorpus.ts, fixed seed, through ItemStore.commitPoll in
 * 2,000-item chunks, ~10 % story copies, "old model" predictions and tickers), then runs
 * `reclassify` on it in this process, as the CLI does, and reports items/s and how long the
 * first progress output took (stderr is made to look like a terminal so the bar is drawn).
 *
 *   node dist/test/bench/reclassify.js [--items 100000] [--sources 1] [--batch 500] [--db FILE] [--json]
 *
 * --db FILE reuses (or keeps) a database built before: with it the corpus is built only when the
 * file does not exist, and the file is left in place (reclassify --restart runs it again).
 * A benchmark, not a test: the machine is shared; figures vary run to run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { runReclassify } from '../../src/cli/reclassify.js';
import { ItemStore } from '../../src/store/itemStore.js';
import { buildCorpus } from './reclassifyCorpus.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    sources: { type: 'string', default: '1' },
    batch: { type: 'string', default: '500' },
    db: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.items);
const CLK_TCK = 100;

/** CPU seconds of this process's main thread (Linux /proc; null elsewhere). */
function mainThreadCpu(): number | null {
  try {
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const say = (s: string) => {
  if (!values.json) console.log(s);
};

const dir = values.db ? null : mkdtempSync(join(tmpdir(), 'tp-bench-reclassify-'));
const dbPath = values.db ?? join(dir!, 'bench.db');
try {
  let buildSeconds: number | null = null;
  if (!existsSync(dbPath)) {
    const t = process.hrtime.bigint();
    const store = ItemStore.open(dbPath);
    const sources = Array.from({ length: Number(values.sources) }, (_, i) => `src-${i}`);
    buildCorpus(store, { items: N, sources });
    store.checkpoint();
    store.close();
    buildSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    say(`built ${N.toLocaleString('en')} items in ${buildSeconds.toFixed(1)} s (${dbPath})`);
  }

  // A terminal-like stderr: the bar is drawn (at most every 200 ms); the first write is timed.
  let firstOutput: number | null = null;
  let lastLine = '';
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpu();
  const t0 = process.hrtime.bigint();
  const err = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        firstOutput ??= Number(process.hrtime.bigint() - t0) / 1e9;
        lastLine = String(chunk).replace(/^\r/, '').trimEnd() || lastLine;
        if (!values.json) process.stderr.write(chunk);
        cb();
      },
    }),
    { isTTY: true },
  );
  let outText = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      outText += String(chunk);
      cb();
    },
  });
  const code = await runReclassify(['--db', dbPath, '--batch', String(values.batch), '--restart'], out, err);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const main1 = mainThreadCpu();
  const mainCpu = main0 === null || main1 === null ? null : main1 - main0;
  if (code !== 0) throw new Error(`reclassify exited ${code}: ${lastLine}`);
  const reclassified = (JSON.parse(outText) as { reclassified: number }).reclassified;
  const result = {
    items: reclassified,
    seconds: Math.round(seconds * 100) / 100,
    itemsPerSecond: Math.round(reclassified / seconds),
    firstProgressSeconds: firstOutput === null ? null : Math.round((firstOutput as number) * 100) / 100,
    // Load-independent-ish: the CPU the run cost (all threads; the main thread writes SQLite,
    // the pool's threads classify), and items per CPU second.
    cpuSeconds: Math.round(cpu * 10) / 10,
    mainThreadCpuSeconds: mainCpu === null ? null : Math.round(mainCpu * 10) / 10,
    itemsPerCpuSecond: Math.round(reclassified / cpu),
    loadAverage: Math.round(loadavg()[0] * 10) / 10,
    buildSeconds: buildSeconds === null ? null : Math.round(buildSeconds * 10) / 10,
  };
  if (values.json) console.log(JSON.stringify(result));
  else say(`reclassify: ${reclassified.toLocaleString('en')} items in ${result.seconds} s = ${result.itemsPerSecond.toLocaleString('en')} items/s; first progress output after ${result.firstProgressSeconds} s; CPU ${result.cpuSeconds} s (main thread ${result.mainThreadCpuSeconds} s) = ${result.itemsPerCpuSecond.toLocaleString('en')} items per CPU second; load average ${result.loadAverage}`);
} finally {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
