/**
 * The single-process daemon's store on PostgreSQL (config `store: { kind: postgres, url }`):
 * what daemon.ts opens instead of the SQLite file, its writer thread and its checkpointer.
 *
 *  - the writer lock (src/store/pg/writerLock.ts): one daemon per database, as `<db>.lock` is
 *    for SQLite (DB_IN_USE otherwise); a lock lost with its session (PostgreSQL restarted) is
 *    taken again, and the daemon stops only if another writer took it meanwhile;
 *  - PgWriter (pgWriter.ts) as the writer stage, on this thread (its work is round trips),
 *    retrying commits through a PostgreSQL outage;
 *  - a PostgreSQL StoreReader for the server (/api/*, /ws ?since replay, /healthz);
 *  - each source's stored poll state, read when the source starts.
 *
 * Loaded only for a postgres store (a dynamic import in daemon.ts): the SQLite daemon never
 * loads the pg driver.
 */
import type { Config } from '../config/schema.js';
import type { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { pgReader, type StoreReader } from '../query/storeReader.js';
import { createPgPool } from '../store/pg/pool.js';
import { PgReader } from '../store/pg/reader.js';
import type { StoredSourceState } from '../store/itemStore.js';
import { keepPgWriterLock } from '../store/pg/writerLock.js';
import { PgWriter } from './pgWriter.js';

/** Longest pause between two attempts of a commit while PostgreSQL does not answer. */
const PG_RETRY_MAX_MS = 5000;

export interface DaemonPgStore {
  writer: PgWriter;
  reader: StoreReader;
  /** A source's stored poll state, read when it starts (at start and when a reload adds it). */
  getSourceState(id: string): Promise<StoredSourceState | null>;
  /** For /healthz `db`. */
  health(): { kind: 'postgres'; writerLock: boolean };
  /** Called when the daemon cannot go on (another writer took the lock). */
  onFatal: ((err: TickerpulseError) => void) | null;
  /** Releases the lock (after writer and reader were closed). Idempotent. */
  release(): Promise<void>;
}

export async function openDaemonPgStore(cfg: Config, url: string, log: Logger, clock: () => number): Promise<DaemonPgStore> {
  let pg: PgReader | null = null;
  const out: DaemonPgStore = {
    writer: null as unknown as PgWriter,
    reader: null as unknown as StoreReader,
    getSourceState: (id) => pg!.getSourceState(id),
    health: () => ({ kind: 'postgres', writerLock: lock.held }),
    onFatal: null,
    release: () => lock.release(),
  };
  const lock = await keepPgWriterLock(url, {
    onRelocking: (err) => log.warn({ err }, 'PostgreSQL writer lock lost with its session; taking it again'),
    onTaken: (err) => out.onFatal?.(err),
  });
  try {
    const rules = cfg.alerts.rules.filter((r) => r.enabled);
    // Creates or upgrades the schema, then warms the story clusterer and alert windows from it.
    // A PostgreSQL restart is waited out (sources pause behind their PollGates) rather than
    // taking the daemon down: nothing is lost, nothing is stored twice.
    out.writer = await PgWriter.start({ url, alerts: rules.length ? cfg.alerts : null, watchlist: cfg.tickers.watchlist, clock, retryRetryableUpToMs: PG_RETRY_MAX_MS, soleWriter: true }, log.child({ component: 'writer' }));
    // The server's reads: a pool of their own (the schema is current: the writer just saw to it).
    pg = new PgReader(createPgPool(url, { max: 4, applicationName: 'tickerpulse-reader', onIdleError: (err) => log.warn({ err }, 'an idle PostgreSQL connection failed (it is replaced on next use)') }));
    out.reader = pgReader(pg);
  } catch (err) {
    await lock.release();
    throw err;
  }
  return out;
}
