/**
 * `tickerpulse reclassify [--db FILE] [--since WHEN] [--model DIR] [--batch N] [--restart]`:
 * re-scores stored items with the current model (and re-links their tickers with the current
 * dictionary), records the model id per item, and rebuilds the rollup rows of the buckets it
 * changed. Resumable: progress is committed with every batch; running the command again
 * continues an interrupted run (--restart starts over). Safe to run while the daemon runs
 * (WAL: each batch is one short write transaction).
 */
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import { ClassifierPool } from '../pool/classifierPool.js';
import { validateClassifier } from '../model/hf/loadClassifier.js';
import { parseSince } from '../store/filters.js';
import { ItemStore } from '../store/itemStore.js';
import { ReclassifyStore, type ReclassifyProgress, type Rescored } from '../store/reclassify.js';
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
  -h, --help       this help`;

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
    store = ItemStore.open(typeof values.db === 'string' ? values.db : DEFAULT_DB);
  } catch (e) {
    err.write(`tickerpulse reclassify: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const pool = new ClassifierPool({ modelPath, modelKind: modelPath ? 'auto' : 'builtin', link: true });
  try {
    const rs = new ReclassifyStore(store);
    let progress = values.restart ? null : rs.progress();
    if (progress && (progress.model !== modelId || progress.since !== since)) {
      err.write(`tickerpulse reclassify: an unfinished run for model ${progress.model}${progress.since ? ` since ${progress.since}` : ''} exists; run it with the same options, or pass --restart\n`);
      return 2;
    }
    if (progress) err.write(`tickerpulse reclassify: resuming after seq ${progress.lastSeq} (${progress.done} done)\n`);
    progress ??= { model: modelId, since, lastSeq: 0, endSeq: store.latestSeq(), done: 0, startedAt: new Date().toISOString() };
    const total = progress.done + rs.remaining(progress);
    const bar = values.quiet ? null : progressBar(err, total);
    const t0 = Date.now();
    let doneThisRun = 0;
    for (;;) {
      const rows = rs.page(progress, batch);
      if (rows.length === 0) break;
      const rescored: Rescored[] = [];
      // Batches of 64 on the pool (one thread per core), results kept in input order.
      const chunks: Promise<void>[] = [];
      for (let i = 0; i < rows.length; i += 64) {
        const slice = rows.slice(i, i + 64);
        chunks.push(
          pool.classify(slice.map((r) => r.title)).then((res) => {
            slice.forEach((r, k) => {
              const p = res.predictions[k];
              rescored[i + k] = { seq: r.seq, model: res.model, label: p.label, pNeg: p.pNeg, pNeu: p.pNeu, pPos: p.pPos, score: p.score, tickers: res.tickers?.[k] ?? null };
            });
          }),
        );
        if (chunks.length >= pool.threads * 2) await Promise.all(chunks.splice(0));
      }
      await Promise.all(chunks);
      const next: ReclassifyProgress = { ...progress, lastSeq: rows[rows.length - 1].seq, done: progress.done + rows.length };
      rs.apply(rows, rescored, next);
      progress = next;
      doneThisRun += rows.length;
      bar?.(progress.done, doneThisRun / Math.max(0.001, (Date.now() - t0) / 1000));
    }
    rs.clearProgress();
    bar?.(progress.done, doneThisRun / Math.max(0.001, (Date.now() - t0) / 1000), true);
    out.write(JSON.stringify({ reclassified: progress.done, model: modelId, since, seconds: Math.round((Date.now() - t0) / 100) / 10 }) + '\n');
    return 0;
  } catch (e) {
    err.write(`\ntickerpulse reclassify: ${e instanceof Error ? e.message : String(e)} (run the command again to resume)\n`);
    return 1;
  } finally {
    await pool.close();
    store.close();
  }
}

/** A one-line progress display on a terminal (nothing when stderr is not a TTY, except the end). */
function progressBar(stream: NodeJS.WritableStream, total: number): (done: number, perSec: number, final?: boolean) => void {
  const tty = (stream as { isTTY?: boolean }).isTTY === true;
  let last = 0;
  return (done, perSec, final = false) => {
    const now = Date.now();
    if (!final && (!tty || now - last < 200)) return;
    last = now;
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const eta = perSec > 0 ? Math.max(0, (total - done) / perSec) : 0;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} ${pct.toFixed(1)}% ${Math.round(perSec).toLocaleString('en')} items/s ETA ${Math.ceil(eta)}s`;
    stream.write(tty ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
}
