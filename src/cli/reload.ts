/**
 * `tickerpulse reload`: asks the daemon running on a database to re-read its config (SIGHUP),
 * then waits for the outcome it writes beside the database (src/daemon/reloadStatus.ts) and
 * prints it. The daemon is found through the database lock (src/store/daemonLock.ts).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { TickerpulseError } from '../lib/errors.js';
import { findLockHolder } from '../store/daemonLock.js';
import { readReloadStatus, reloadStatusPath, type ReloadResult } from '../daemon/reloadStatus.js';

export const RELOAD_USAGE = `usage: tickerpulse reload [--config FILE | --db FILE] [--timeout SECONDS] [--json]

  --config FILE    the config the daemon runs with (its db says which daemon; default: built-in defaults)
  --db FILE        the daemon's database (default: the config's db, data/tickerpulse.db)
  --timeout S      how long to wait for the daemon's outcome (default 60)
  --json           print the outcome as JSON

Sends SIGHUP to the daemon running on the database: it re-reads the config file it was started
with (not FILE: --config here only locates the database). Exit 0: applied; 1: no daemon, the
config was refused or a source could not start, or no outcome in time; 2: usage.`;

const POLL_MS = 100;

export async function runReload(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    err.write(`tickerpulse reload: ${(e as Error).message}\n${RELOAD_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(RELOAD_USAGE + '\n');
    return 0;
  }
  const timeoutS = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    err.write(`tickerpulse reload: --timeout must be a positive number of seconds, got "${values.timeout}"\n`);
    return 2;
  }
  let db: string;
  try {
    const cfg = loadConfig(values.config, { db: values.db });
    if (cfg.store.kind === 'postgres') {
      // No <db>.lock to find the daemon by, nor a file beside it for the outcome: not the
      // default SQLite path's (absent) daemon in its place.
      err.write('tickerpulse reload: this config stores in PostgreSQL; tickerpulse reload finds a daemon by its SQLite database. Send SIGHUP to the daemon (kill -HUP PID; its log and the tickerpulse_config_reloads_total metric show the outcome)\n');
      return 2;
    }
    db = cfg.db;
  } catch (e) {
    if (e instanceof TickerpulseError && e.code === 'CONFIG_INVALID') {
      // Only the database path is needed: say so, the daemon would refuse this file too.
      err.write(`tickerpulse: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let pid: number | null;
  try {
    pid = findLockHolder(db);
  } catch (e) {
    if (!(e instanceof TickerpulseError)) throw e;
    err.write(`tickerpulse reload: ${e.message}\n`);
    return 1;
  }
  if (pid === null) {
    err.write(`tickerpulse reload: no tickerpulse daemon is running on ${db} (nobody holds ${db}.lock); start one with tickerpulse start\n`);
    return 1;
  }
  const statusFile = reloadStatusPath(db);
  const sentAt = Date.now();
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    err.write(`tickerpulse reload: cannot signal pid ${pid}: ${(e as Error).message}\n`);
    return 1;
  }
  out.write(`signal sent to pid ${pid}; waiting for its reload\n`);
  const deadline = sentAt + timeoutS * 1000;
  for (;;) {
    const r = readReloadStatus(statusFile);
    // A reload that began after the signal read the config after it (one queued behind a reload
    // under way when the signal came starts later, and is the one to wait for).
    if (r && r.pid === pid && r.startedAtMs >= sentAt) return report(r, values.json, out);
    if (Date.now() > deadline) {
      err.write(`tickerpulse reload: no reload outcome from pid ${pid} within ${timeoutS} s (see its log; ${statusFile})\n`);
      return 1;
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

function report(r: ReloadResult, json: boolean, out: NodeJS.WritableStream): number {
  if (json) {
    out.write(JSON.stringify(r) + '\n');
    return r.outcome === 'ok' ? 0 : 1;
  }
  if (r.outcome === 'invalid') {
    out.write(`config refused, ${r.issues.length} problem(s); the daemon keeps running the previous config:\n`);
    for (const i of r.issues) out.write(`  ${i.path}: ${i.message}\n`);
    return 1;
  }
  const list = (ids: string[]) => (ids.length ? ` (${ids.join(', ')})` : '');
  out.write(`reloaded: ${r.added.length} added${list(r.added)}, ${r.removed.length} removed${list(r.removed)}, ${r.changed.length} changed${list(r.changed)}, ${r.unchanged.length} unchanged\n`);
  if (r.needsRestart.length) out.write(`needs a restart to take effect (running with the previous values): ${r.needsRestart.join(', ')}\n`);
  for (const e of r.errors) out.write(`error${e.source ? ` in source ${e.source}` : ''}: ${e.code}: ${e.message}\n`);
  return r.outcome === 'ok' ? 0 : 1;
}
