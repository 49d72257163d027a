/**
 * Online backup of a tickerpulse database with SQLite's backup API (better-sqlite3 `backup()`),
 * safe while the daemon writes: the copy is one consistent snapshot, then checked.
 *
 * The copy goes to `<dest>.partial-<pid>` and is renamed over `dest` only once it passed
 * `PRAGMA integrity_check`, so a failed or interrupted backup never leaves a file that looks
 * like a good one.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { TickerpulseError } from '../lib/errors.js';
import { ItemStore } from './itemStore.js';

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface BackupResult {
  dest: string;
  pages: number;
  bytes: number;
  items: number;
  latestSeq: number;
  /** Times SQLite restarted the copy because the daemon committed in between. */
  restarts: number;
  ms: number;
}

/**
 * Pages per step while copying in small steps (4 MiB at 4 KiB pages): progress stays visible.
 * A commit by the daemon between two steps makes SQLite restart the copy from page 1, so after
 * the first restart the rest is copied in one step: one read transaction, which in WAL mode
 * never blocks the daemon's writer (it only holds back the checkpoint for that long).
 */
const STEP_PAGES = 1024;
const ALL_PAGES = 0x7fffffff;

export async function backupDatabase(source: string, dest: string, opts: { force?: boolean; onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupResult> {
  const target = resolve(dest);
  const from = resolve(source);
  if (target === from) throw new TickerpulseError('INPUT_INVALID', `backup target ${target} is the database itself`);
  if (existsSync(target) && !opts.force) throw new TickerpulseError('INPUT_INVALID', `${target} exists; give another file name or --force to replace it`);
  const t0 = Date.now();
  // Read-only and schema-checked: refuses a file that is not a tickerpulse database.
  const store = ItemStore.open(from, { readonly: true });
  const partial = `${target}.partial-${process.pid}`;
  let restarts = 0;
  try {
    let lastRemaining = Infinity;
    let rate = STEP_PAGES;
    await store.database.backup(partial, {
      progress: (p: BackupProgress) => {
        if (p.remainingPages > lastRemaining) {
          restarts++;
          rate = ALL_PAGES;
        }
        lastRemaining = p.remainingPages;
        opts.onProgress?.(p);
        return rate;
      },
    });
  } catch (err) {
    rmSync(partial, { force: true });
    throw new TickerpulseError('STORE_FAILED', `backup of ${from} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    store.close();
  }
  let check: { pages: number; bytes: number; items: number; latestSeq: number };
  try {
    check = verify(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, target);
  return { dest: target, ...check, restarts, ms: Date.now() - t0 };
}

/** integrity_check on the copy, and made a single self-contained file (rollback journal, no -wal). */
function verify(file: string): { pages: number; bytes: number; items: number; latestSeq: number } {
  const db = new Database(file);
  try {
    const problems = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    if (problems.length !== 1 || problems[0].integrity_check !== 'ok') {
      throw new TickerpulseError('STORE_FAILED', `backup copy failed integrity_check: ${problems.slice(0, 5).map((r) => r.integrity_check).join('; ')}`);
    }
    db.pragma('journal_mode = DELETE');
    const pages = db.pragma('page_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const items = db.prepare('SELECT count(*) FROM items').pluck().get() as number;
    const latestSeq = db.prepare('SELECT coalesce(max(seq), 0) FROM items').pluck().get() as number;
    return { pages, bytes: pages * pageSize, items, latestSeq };
  } finally {
    db.close();
  }
}
