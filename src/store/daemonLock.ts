/**
 * One daemon per database: the daemon holds an OS-level lock on `<db>.lock` for its lifetime.
 *
 * The lock is SQLite's own file locking (POSIX advisory locks through SQLite's unix VFS) on a
 * tiny side database, held by an open write transaction (BEGIN IMMEDIATE = a RESERVED lock).
 * Why this shape:
 * - The OS drops the lock with the process, also on kill -9 or an OOM kill: a stale `.lock`
 *   file left behind is harmless, the next start simply takes the lock again. No PID-file
 *   guessing ("is pid 1234 still us?").
 * - A RESERVED lock still lets others read the side file, so a refused start can say which
 *   process holds it (the pid row committed by the holder).
 * - It is a separate file, so readers of the main database (`tickerpulse query`, `backup`, the
 *   HTTP API, any sqlite3 shell) are never affected.
 * SQLite's unix VFS also tracks locks per inode inside one process, so a second daemon in the
 * same process (tests) is refused the same way.
 */
import Database from 'better-sqlite3';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { TickerpulseError } from '../lib/errors.js';

export interface DaemonLock {
  readonly path: string;
  /** Releases the lock (idempotent). Exiting the process releases it too. */
  release(): void;
}

interface Owner {
  pid: number;
  host: string;
  started_at: string;
}

export function lockPathFor(dbPath: string): string {
  return `${dbPath}.lock`;
}

/**
 * Takes the lock of database `dbPath` or throws DB_IN_USE (another process holds it) or
 * STORE_FAILED (the lock file cannot be created).
 */
export function acquireDaemonLock(dbPath: string): DaemonLock {
  const path = lockPathFor(dbPath);
  let db: Database.Database;
  try {
    db = new Database(path);
    // No waiting: a lock held by a live daemon is not going away.
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, started_at TEXT NOT NULL)');
  } catch (err) {
    if (isBusy(err)) throw inUse(dbPath, path, readOwner(path));
    throw new TickerpulseError('STORE_FAILED', `cannot create the lock file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const refuse = (): never => {
    const owner = readOwnerFrom(db);
    db.close();
    // Two starts racing between our two transactions: the winner wrote its pid last or not.
    throw inUse(dbPath, path, owner && owner.pid !== process.pid ? owner : null);
  };
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (err) {
    if (isBusy(err)) refuse();
    db.close();
    throw err;
  }
  // Record who we are for a refused start's message. A commit ends the transaction, so the
  // lock is taken again right after: a start that slips in between wins, and we are refused.
  try {
    db.prepare('INSERT INTO owner (id, pid, host, started_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, started_at = excluded.started_at').run(process.pid, hostname(), new Date().toISOString());
    db.exec('COMMIT');
    db.exec('BEGIN IMMEDIATE');
  } catch (err) {
    if (isBusy(err)) refuse();
    db.close();
    throw err;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}

/**
 * The pid of the daemon holding the lock of `dbPath`, or null when none does (no lock file, no
 * owner row, the recorded process is gone, or nobody holds the lock: a stale row whose pid was
 * reused by an unrelated process must not be signalled). Never creates the lock file. Probing
 * takes the lock for an instant only when the recorded process exists but holds no lock.
 */
export function findLockHolder(dbPath: string): number | null {
  const path = lockPathFor(dbPath);
  if (!existsSync(path)) return null;
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK);
  } catch (err) {
    // Most often the daemon runs as another user (a service account): say so rather than "no daemon".
    throw new TickerpulseError('STORE_FAILED', `cannot open the lock file ${path}: ${(err as Error).message}; run this as the daemon's user`, { cause: err });
  }
  const owner = readOwner(path);
  if (!owner || owner.host !== hostname() || !processExists(owner.pid)) return null;
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch {
    return null;
  }
  try {
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return null;
  } catch (err) {
    return isBusy(err) ? owner.pid : null;
  } finally {
    db.close();
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function readOwnerFrom(db: Database.Database): Owner | null {
  try {
    return (db.prepare('SELECT pid, host, started_at FROM owner WHERE id = 1').get() as Owner | undefined) ?? null;
  } catch {
    return null;
  }
}

function readOwner(path: string): Owner | null {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return readOwnerFrom(db);
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

function inUse(dbPath: string, lockPath: string, owner: Owner | null): TickerpulseError {
  const who = owner ? `pid ${owner.pid} on ${owner.host}, running since ${owner.started_at}` : 'another process';
  return new TickerpulseError(
    'DB_IN_USE',
    `database ${dbPath} is in use by another tickerpulse daemon (${who}; lock ${lockPath}). Stop that daemon first, or give this one another --db.`,
    { details: { lockPath, ...(owner ? { pid: owner.pid } : {}) } },
  );
}
