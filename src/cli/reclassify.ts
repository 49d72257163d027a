/**
 * `tickerpulse reclassify [--db FILE] [--since WHEN] [--model DIR] [--batch N] [--restart]`:
 * re-scores stored items with the current model (and re-links their tickers with the current
 * dictionary), records the model id per item, and rebuilds the rollup rows of the buckets it
 * changed. Resumable: progress is committed with every batch; running the command again
 * continues an interrupted run (--restart starts over). Safe to run while the daemon runs
 * (WAL: each batch is one short write transaction).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import { ClassifierPool } from '../pool/classifierPool.js';
import { validateClassifier } from '../model/hf/loadClassifier.js';
import { parseSince } from '../store/filters.js';
import { ItemStore } from '../store/itemStore.js';
import { ReclassifyStore, type ReclassifyProgress, type ReclassifyRow, type Rescored } from '../store/reclassify.js';
import { DEFAULT_DB } from './query.js';

const HELP = `usage: tickerpulse reclassify [options]

Re-scores stored items with the current model; resumable (run it again to continue).

options:
  --db FILE        database file (default ${DEFAULT_DB})
  --since WHEN     only items published since (30m, 24h, 7d or an ISO-8601 time); default all
  --model DIR      model folder (default: the built-in model)
  --batch N        items per transaction (default 500, 1-10000)
  --restart        forget an unfinished run and start over
  --quiet          no progress line
  -h, --help       this help

exit status: 0 done, 1 failed (database not found, or a batch failed: run it again to resume), 2 bad options`;

/**
 * Titles per pool task. 256 rather than the daemon's 64: fewer hand-offs to the pool's threads
 * cost measurably less (bench, 100,000 items, shared machine: 10.5-10.8 CPU s against 11.3-12.4).
 */
const SLICE = 256;

export async function runReclassify(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        db: { type: 'string' },
        since: { type: 'string' },
        model: { type: 'string' },
        batch: { type: 'string' },
        restart: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err.write(`tickerpulse reclassify: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    out.write(HELP + '\n');
    return 0;
  }
  let since: string | null = null;
  let batch = 500;
  try {
    if (typeof values.since === 'string') since = parseSince(values.since).toISOString();
    if (typeof values.batch === 'string') {
      batch = Number(values.batch);
      if (!/^\d+$/.test(values.batch) || batch < 1 || batch > 10_000) throw new TickerpulseError('INPUT_INVALID', '--batch must be an integer from 1 to 10000');
    }
  } catch (e) {
    err.write(`tickerpulse reclassify: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }

  // A typo'd path must not leave an empty database behind (ItemStore.open creates one).
  const dbPath = resolve(typeof values.db === 'string' ? values.db : DEFAULT_DB);
  if (!existsSync(dbPath)) {
    err.write(`tickerpulse reclassify: database not found: ${dbPath} (start the daemon once to create it, or pass another --db)\n`);
    return 1;
  }
  const modelPath = typeof values.model === 'string' ? values.model : undefined;
  let modelId: string;
  try {
    modelId = await validateClassifier({ kind: modelPath ? 'auto' : 'builtin', path: modelPath, intraOpNumThreads: 1 });
  } catch (e) {
    err.write(`tickerpulse reclassify: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let store: ItemStore;
  try {
    store = ItemStore.open(dbPath);
  } catch (e) {
    err.write(`tickerpulse reclassify: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const pool = new ClassifierPool({ modelPath, modelKind: modelPath ? 'auto' : 'builtin', link: true });
  let pending: Promise<Rescored[]> | null = null;
  try {
    const rs = new ReclassifyStore(store);
    let progress = values.restart ? null : rs.progress();
    if (progress && (progress.model !== modelId || progress.since !== since)) {
      err.write(`tickerpulse reclassify: an unfinished run for model ${progress.model}${progress.since ? ` since ${progress.since}` : ''} exists; run it with the same options, or pass --restart\n`);
      return 2;
    }
    if (progress) err.write(`tickerpulse reclassify: resuming after seq ${progress.lastSeq} (${progress.done} done)\n`);
    progress ??= { model: modelId, since, lastSeq: 0, endSeq: store.latestSeq(), done: 0, startedAt: new Date().toISOString() };
    // Known at once (no scan of the items), so the bar is drawn before the first batch.
    const remaining = rs.estimateRemaining(progress);
    const bar = values.quiet ? null : progressBar(err, progress.done + remaining.items, remaining.exact);
    bar?.(progress.done, 0);
    const t0 = Date.now();
    let doneThisRun = 0;
    // One batch is classified on the pool while the previous one is written (the writes run on
    // this thread): at most two batches are held, the one being written and the next.
    let rows = rs.page(progress, batch);
    pending = rows.length > 0 ? rescore(pool, rows) : null;
    while (rows.length > 0) {
      const rescored = await pending!;
      const next = rs.page(progress, batch, rows[rows.length - 1].seq);
      pending = next.length > 0 ? rescore(pool, next) : null;
      // A failure of the next batch surfaces when it is awaited; until then it must not be unhandled.
      pending?.catch(() => {});
      const moved: ReclassifyProgress = { ...progress, lastSeq: rows[rows.length - 1].seq, done: progress.done + rows.length };
      rs.apply(rows, rescored, moved);
      progress = moved;
      doneThisRun += rows.length;
      bar?.(progress.done, doneThisRun / Math.max(0.001, (Date.now() - t0) / 1000));
      rows = next;
    }
    rs.clearProgress();
    bar?.(progress.done, doneThisRun / Math.max(0.001, (Date.now() - t0) / 1000), true);
    out.write(JSON.stringify({ reclassified: progress.done, model: modelId, since, seconds: Math.round((Date.now() - t0) / 100) / 10 }) + '\n');
    return 0;
  } catch (e) {
    err.write(`\ntickerpulse reclassify: ${e instanceof Error ? e.message : String(e)} (run the command again to resume)\n`);
    return 1;
  } finally {
    await pending?.catch(() => {});
    await pool.close();
    store.close();
  }
}

/** Classifies and re-links `rows` in slices of SLICE on the pool (one thread per core), results in input order. */
async function rescore(pool: ClassifierPool, rows: ReclassifyRow[]): Promise<Rescored[]> {
  const rescored: Rescored[] = new Array(rows.length);
  const slices: Promise<void>[] = [];
  for (let i = 0; i < rows.length; i += SLICE) {
    const slice = rows.slice(i, i + SLICE);
    slices.push(
      pool.classify(slice.map((r) => r.title)).then((res) => {
        slice.forEach((r, k) => {
          const p = res.predictions[k];
          rescored[i + k] = { seq: r.seq, model: res.model, label: p.label, pNeg: p.pNeg, pNeu: p.pNeu, pPos: p.pPos, score: p.score, tickers: res.tickers?.[k] ?? null };
        });
      }),
    );
    // Bounded: at most two slices per pool thread in flight (the pool's own queue is bounded too).
    if (slices.length >= pool.threads * 2) await Promise.all(slices.splice(0));
  }
  await Promise.all(slices);
  return rescored;
}

/**
 * A one-line progress display on a terminal (nothing when stderr is not a TTY, except the end).
 * `exact` false: `total` is an estimate (an upper bound), shown with a "~"; the last line shows
 * what was done.
 */
function progressBar(stream: NodeJS.WritableStream, estimate: number, exact: boolean): (done: number, perSec: number, final?: boolean) => void {
  const tty = (stream as { isTTY?: boolean }).isTTY === true;
  let last = 0;
  return (done, perSec, final = false) => {
    const now = Date.now();
    if (!final && (!tty || now - last < 200)) return;
    last = now;
    const total = final ? done : Math.max(estimate, done);
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const eta = perSec > 0 ? `${Math.ceil(Math.max(0, (total - done) / perSec))}s` : '…';
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')}/${exact || final ? '' : '~'}${total.toLocaleString('en')} ${pct.toFixed(1)}% ${Math.round(perSec).toLocaleString('en')} items/s ETA ${eta}`;
    stream.write(tty ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
}
