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
 *  - every source's stored poll state, read once at start.
 *
 * Loaded only for a postgres store (a dynamic import in daemon.ts): the SQLite daemon never
 * loads the pg driver.
 */
import type { Config } from '../config/schema.js';
import type { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { openStoreReader, type StoreReader } from '../query/storeReader.js';
import type { StoredSourceState } from '../store/itemStore.js';
import { keepPgWriterLock } from '../store/pg/writerLock.js';
import { PgWriter } from './pgWriter.js';

/** Longest pause between two attempts of a commit while PostgreSQL does not answer. */
const PG_RETRY_MAX_MS = 5000;

export interface DaemonPgStore {
  writer: PgWriter;
  reader: StoreReader;
  sourceStates: Map<string, StoredSourceState>;
  /** For /healthz `db`. */
  health(): { kind: 'postgres'; writerLock: boolean };
  /** Called when the daemon cannot go on (another writer took the lock). */
  onFatal: ((err: TickerpulseError) => void) | null;
  /** Releases the lock (after writer and reader were closed). Idempotent. */
  release(): Promise<void>;
}

export async function openDaemonPgStore(cfg: Config, url: string, log: Logger, clock: () => number): Promise<DaemonPgStore> {
  const out: DaemonPgStore = {
    writer: null as unknown as PgWriter,
    reader: null as unknown as StoreReader,
    sourceStates: new Map(),
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
    out.writer = await PgWriter.start({ url, alerts: rules.length ? cfg.alerts : null, watchlist: cfg.tickers.watchlist, clock, retryRetryableUpToMs: PG_RETRY_MAX_MS }, log.child({ component: 'writer' }));
    try {
      out.reader = await openStoreReader(url, { poolSize: 4 });
      // Each source continues from the poll state stored by whoever polled it last.
      out.sourceStates = new Map((await out.reader.listSourceStates()).map((st) => [st.id, st]));
    } catch (err) {
      await out.reader?.close();
      await out.writer.close();
      throw err;
    }
  } catch (err) {
    await lock.release();
    throw err;
  }
  return out;
}
