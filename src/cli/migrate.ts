/**
 * `tickerpulse migrate --from FILE --to postgres://…`: copies a single-node SQLite database into
 * the PostgreSQL store of cluster mode (src/store/pg/fromSqlite.ts: resumable by seq, idempotent).
 * Progress: a bar on stderr when it is a terminal, else a log line per 10 % and per table.
 * Ctrl-C stops after the batch being copied; running the command again continues from there.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import { isPostgresUrl } from '../query/storeReader.js';
import { ItemStore } from '../store/itemStore.js';
import { DEFAULT_MIGRATE_BATCH, migrateSqliteToPg, type MigrateProgress } from '../store/pg/fromSqlite.js';
import { createPgPool } from '../store/pg/pool.js';
import { DEFAULT_DB } from './query.js';

const HELP = `usage: tickerpulse migrate --from FILE --to postgres://user:pass@host:5432/db [options]

Copies a single-node SQLite database into PostgreSQL (cluster mode, docs/CLUSTER.md). Stop the
daemon first. Resumable and idempotent: run it again after an interruption to continue; a run
after a complete copy changes nothing. Items keep their seqs.

options:
  --from FILE      the SQLite database (default ${DEFAULT_DB})
  --to URL         the PostgreSQL database (created schema if empty; must not hold other items)
  --batch N        rows per transaction (default ${DEFAULT_MIGRATE_BATCH}, 1-50000)
  --quiet          no progress output
  -h, --help       this help

exit status: 0 copied (or nothing to do), 1 failed or interrupted (run it again to resume), 2 bad options`;

export async function runMigrate(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr, signal?: AbortSignal): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { from: { type: 'string' }, to: { type: 'string' }, batch: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err.write(`tickerpulse migrate: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    out.write(HELP + '\n');
    return 0;
  }
  const to = typeof values.to === 'string' ? values.to : '';
  if (!isPostgresUrl(to)) {
    err.write('tickerpulse migrate: --to must be a postgres:// or postgresql:// URL\n');
    return 2;
  }
  let batch = DEFAULT_MIGRATE_BATCH;
  if (typeof values.batch === 'string') {
    batch = Number(values.batch);
    if (!/^\d+$/.test(values.batch) || batch < 1 || batch > 50_000) {
      err.write('tickerpulse migrate: --batch must be an integer from 1 to 50000\n');
      return 2;
    }
  }
  const from = resolve(typeof values.from === 'string' ? values.from : DEFAULT_DB);
  if (!existsSync(from)) {
    err.write(`tickerpulse migrate: ${from} does not exist\n`);
    return 1;
  }

  // Ctrl-C: finish the batch in flight (it commits with its resume point), then stop.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (!signal) process.once('SIGINT', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  let store: ItemStore | undefined;
  const pool = createPgPool(to, { max: 2, applicationName: 'tickerpulse-migrate' });
  try {
    store = ItemStore.open(from, { readonly: true });
    const report = values.quiet ? undefined : progress(err);
    const t0 = Date.now();
    const r = await migrateSqliteToPg(store, pool, { batch, signal: stop.signal, onProgress: report });
    if (r.alreadyDone) {
      err.write(`tickerpulse migrate: already complete (through seq ${r.lastSeq}), and the cluster has stored items since; nothing to do\n`);
    } else if (!r.complete) {
      err.write(`\ntickerpulse migrate: interrupted after seq ${r.lastSeq}; run the same command again to continue\n`);
    }
    out.write(JSON.stringify({ from, sqliteItems: r.sqliteItems, pgItems: r.pgItems, copiedItems: r.copiedItems, resumed: r.resumed, complete: r.complete, lastSeq: r.lastSeq, seconds: Math.round((Date.now() - t0) / 100) / 10 }) + '\n');
    return r.complete ? 0 : 1;
  } catch (e) {
    const code = e instanceof TickerpulseError ? e.code : 'STORE_FAILED';
    err.write(`tickerpulse migrate: ${e instanceof Error ? e.message : String(e)} [${code}]\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    store?.close();
    await pool.end().catch(() => undefined);
  }
}

/** A bar redrawn in place on a terminal; elsewhere a line per 10 % of a table and at its end. */
function progress(stream: NodeJS.WritableStream): (p: MigrateProgress) => void {
  const tty = (stream as { isTTY?: boolean }).isTTY === true;
  let lastPhase = '';
  let lastTenth = -1;
  return (p) => {
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    if (tty) {
      const width = 30;
      const full = Math.round(frac * width);
      const newline = p.phase !== lastPhase && lastPhase !== '' ? '\n' : '';
      lastPhase = p.phase;
      stream.write(`${newline}\r${p.phase.padEnd(12)} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(frac * 100)).padStart(3)}% ${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')}${p.phase === 'dead_letters' && p.done >= p.total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(frac * 10);
    if (p.phase !== lastPhase) {
      lastPhase = p.phase;
      lastTenth = -1;
    }
    if (tenth === lastTenth && p.done < p.total) return;
    lastTenth = tenth;
    stream.write(`tickerpulse migrate: ${p.phase} ${p.done}/${p.total} (${Math.round(frac * 100)} %)\n`);
  };
}
