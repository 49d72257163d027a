/**
 * The single-process daemon's store on PostgreSQL (config `store: { kind: postgres, url }`):
 * what daemon.ts opens instead of the SQLite file, its writer thread and its checkpointer.
 *
 *  - the writer lock (src/store/pg/writerLock.ts): one daemon per database, as `<db>.lock` is
 *    for SQLite (DB_IN_USE otherwise); a lock lost with its session (PostgreSQL restarted) is
 *    taken again, and the daemon stops only if another writer took it meanwhile;
 *  - PgWriter (pgWriter.ts) as the writer stage, on this thread (its work is round trips);
 *  - a PostgreSQL StoreReader for the server (/api/*, /ws ?since replay, /healthz);
 *  - every source's stored poll state, read once at start.
 *
 * Loaded only for a postgres store (a dynamic import in daemon.ts): the SQLite daemon never
 * loads the pg driver.
 */
import type { Config } from '../config/schema.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { openStoreReader, type StoreReader } from '../query/storeReader.js';
import type { StoredSourceState } from '../store/itemStore.js';
import { acquirePgWriterLock, type PgWriterLock } from '../store/pg/writerLock.js';
import { PgWriter } from './pgWriter.js';

/** How often a lost writer lock is tried again while PostgreSQL is away. */
const RELOCK_MS = 1000;

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
  let released = false;
  let lock: PgWriterLock;
  let relocking = false;
  const out: DaemonPgStore = {
    writer: null as unknown as PgWriter,
    reader: null as unknown as StoreReader,
    sourceStates: new Map(),
    health: () => ({ kind: 'postgres', writerLock: lock.held }),
    onFatal: null,
    release: async () => {
      released = true;
      await lock.release();
    },
  };
  const onLost = (err: TickerpulseError) => {
    if (released || relocking) return;
    relocking = true;
    log.warn({ err }, 'PostgreSQL writer lock lost with its session; taking it again');
    void (async () => {
      while (!released) {
        try {
          lock = await acquirePgWriterLock(url, { onLost });
          log.info('PostgreSQL writer lock taken again');
          break;
        } catch (e) {
          if (e instanceof TickerpulseError && e.code === 'DB_IN_USE') {
            out.onFatal?.(e);
            break;
          }
          await new Promise((r) => setTimeout(r, RELOCK_MS));
        }
      }
      relocking = false;
    })();
  };
  lock = await acquirePgWriterLock(url, { onLost });
  try {
    const rules = cfg.alerts.rules.filter((r) => r.enabled);
    // Creates or upgrades the schema, then warms the story clusterer and alert windows from it.
    out.writer = await PgWriter.start({ url, alerts: rules.length ? cfg.alerts : null, watchlist: cfg.tickers.watchlist, clock }, log.child({ component: 'writer' }));
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
    await out.release();
    throw err;
  }
  return out;
}
