/**
 * One writer per PostgreSQL database: a session-level advisory lock held on a connection of its
 * own for as long as the process writes (the single-process daemon for its lifetime, a cluster's
 * write role while it is the active writer). The PostgreSQL counterpart of SQLite's `<db>.lock`
 * (src/store/daemonLock.ts), with the same property that matters: the server drops the lock with
 * the session, so a writer killed with -9 leaves nothing stale behind.
 *
 * The lock is a policy, not what keeps the store correct: every commit queues on the
 * seq_counter row lock (src/store/pg/writer.ts), so even two writers at once would store each
 * item once with gap-free seqs. It keeps two daemons (or a daemon and a cluster) from pulling
 * the same sources into one database, and a cluster writer cut off from NATS from committing
 * beside its successor: the successor waits until the old session is gone.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { TickerpulseError } from '../../lib/errors.js';
import { PG_CONNECT_TIMEOUT_MS, pgStoreError } from './pool.js';

/** The advisory lock key: the bytes of "tkrpulse" as a signed 64-bit integer, one per database. */
export const PG_WRITER_LOCK_KEY = '8388924558239626085';
/** application_name of the lock's session: how a refused writer names the holder. */
const LOCK_APP_PREFIX = 'tickerpulse-writer-lock';

export interface PgWriterLock {
  /** False once the lock's session ended (the server restarted, the network cut it). */
  readonly held: boolean;
  /** Ends the session, which releases the lock (idempotent). */
  release(): Promise<void>;
}

export interface PgWriterLockOptions {
  /** How long to keep trying while another session holds it (0: refuse at once). */
  waitMs?: number;
  /** Between two attempts while waiting. */
  retryMs?: number;
  /** The lock's session ended while held (not called after release()). */
  onLost?: (err: TickerpulseError) => void;
  /** Called once if the first attempt finds the lock taken and the caller waits. */
  onWait?: (holder: string | null) => void;
  /** Stops a wait early (e.g. the write role is stopping); acquire then throws DB_IN_USE. */
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the writer lock of the database at `url`, or throws DB_IN_USE (another session holds it
 * past `waitMs`, naming it when it can) or STORE_FAILED (cannot connect; retryable).
 */
export async function acquirePgWriterLock(url: string, opts: PgWriterLockOptions = {}): Promise<PgWriterLock> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, application_name: `${LOCK_APP_PREFIX} pid ${process.pid}@${hostname()}`.slice(0, 63) });
  let released = false;
  let held = false;
  const lost = (err: unknown) => {
    if (!held || released) return;
    held = false;
    opts.onLost?.(pgStoreError('the PostgreSQL writer lock was lost (its session ended)', err));
  };
  // Without listeners a dropped session would be an uncaught 'error'.
  client.on('error', lost);
  client.on('end', () => lost(new Error('connection ended')));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgStoreError('cannot connect to PostgreSQL for the writer lock', err);
  }
  const deadline = Date.now() + (opts.waitMs ?? 0);
  let waited = false;
  try {
    for (;;) {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [PG_WRITER_LOCK_KEY]);
      if (r.rows[0]?.ok) break;
      const holder = await lockHolder(client);
      if (Date.now() >= deadline || opts.signal?.aborted) {
        throw new TickerpulseError('DB_IN_USE', `another tickerpulse writer holds this PostgreSQL database${holder ? ` (${holder})` : ''}; one daemon or one active cluster writer per database`);
      }
      if (!waited) opts.onWait?.(holder);
      waited = true;
      await sleep(Math.min(opts.retryMs ?? 500, Math.max(1, deadline - Date.now())));
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgStoreError('cannot take the PostgreSQL writer lock', err);
  }
  held = true;
  return {
    get held() {
      return held && !released;
    },
    async release() {
      if (released) return;
      released = true;
      held = false;
      await client.end().catch(() => undefined);
    },
  };
}

/** "pid 123@host since …" of the session holding the lock, or null when it cannot be read. */
async function lockHolder(client: pg.Client): Promise<string | null> {
  try {
    const r = await client.query<{ app: string | null; started: Date | null; addr: string | null }>(
      `SELECT a.application_name AS app, a.backend_start AS started, host(a.client_addr) AS addr
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
      [PG_WRITER_LOCK_KEY],
    );
    const row = r.rows[0];
    if (!row) return null;
    const who = row.app?.startsWith(LOCK_APP_PREFIX) ? row.app.slice(LOCK_APP_PREFIX.length).trim() : (row.app ?? 'unknown session');
    return `${who}${row.addr ? ` from ${row.addr}` : ''}${row.started ? ` since ${row.started.toISOString()}` : ''}`;
  } catch {
    return null;
  }
}

/** How often a lost writer lock is tried again while PostgreSQL is away. */
const RELOCK_MS = 1000;

export interface KeptPgWriterLock {
  /** False between losing the lock's session and taking it again. */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * The writer lock for as long as its owner writes: taken as acquirePgWriterLock does, and taken
 * again when its session ends (PostgreSQL restarted, the connection was cut) — commits stay
 * correct meanwhile (the seq_counter lock). `onTaken` is told when another writer took it in
 * between: the owner must stop writing.
 */
export async function keepPgWriterLock(
  url: string,
  opts: Omit<PgWriterLockOptions, 'onLost'> & { onTaken: (err: TickerpulseError) => void; onRelocking?: (err: TickerpulseError) => void },
): Promise<KeptPgWriterLock> {
  let released = false;
  let relocking = false;
  let lock: PgWriterLock;
  const onLost = (err: TickerpulseError) => {
    if (released || relocking) return;
    relocking = true;
    opts.onRelocking?.(err);
    void (async () => {
      while (!released) {
        try {
          const again = await acquirePgWriterLock(url, { onLost });
          if (released) await again.release();
          else lock = again;
          break;
        } catch (e) {
          if (e instanceof TickerpulseError && e.code === 'DB_IN_USE') {
            opts.onTaken(e);
            break;
          }
          await sleep(RELOCK_MS);
        }
      }
      relocking = false;
    })();
  };
  lock = await acquirePgWriterLock(url, { ...opts, onLost });
  return {
    get held() {
      return !released && lock.held;
    },
    async release() {
      released = true;
      await lock.release();
    },
  };
}
