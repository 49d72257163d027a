/**
 * The cluster roles on PostgreSQL (config `store: { kind: postgres, url }`): the three narrow
 * store interfaces of stores.ts, plus the serve role's StoreReader. Loaded only for a postgres
 * store (node.ts imports it dynamically).
 *
 *  - write: PgWriter as the ClusterWriter, opened only while this node holds the writer lease,
 *    and only once it also holds the database's writer lock (src/store/pg/writerLock.ts): a
 *    writer cut off from NATS that has not noticed yet keeps its session, and its successor
 *    waits for that session to end instead of committing beside it.
 *  - poll: a source's stored poll state, and which guids are stored (a lookup that only saves
 *    classifying known items again: while PostgreSQL does not answer it says "none", the
 *    writer drops them anyway, and the poll node keeps publishing into JetStream).
 *  - serve: a StoreReader pool for /api/*, the ?since replay and the feed's gap fill.
 */
import type { Config } from '../config/schema.js';
import type { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { PgWriter } from '../daemon/pgWriter.js';
import { pgReader as wrapPgReader, type StoreReader } from '../query/storeReader.js';
import { createPgPool } from '../store/pg/pool.js';
import { PgReader } from '../store/pg/reader.js';
import { PgItemWriter } from '../store/pg/writer.js';
import { keepPgWriterLock } from '../store/pg/writerLock.js';
import type { ClusterWriter, ClusterWriterFactory, PollStateReader, StoreTail } from './stores.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How often a poll or serve node retries a store the writer has not created (or that is down). */
const STORE_WAIT_MS = 500;
/** At most one warning per this long about known-guid lookups failing. */
const WARN_EVERY_MS = 10_000;

export interface PgRoleStore {
  reader: StoreReader;
  pollState: PollStateReader;
  tail: StoreTail;
  /** The last health probe's answer (refreshed in the background; /healthz must not wait). */
  ok(): boolean;
  close(): Promise<void>;
}

/**
 * Opens the read side for poll and serve roles, waiting (forever, logging once) until PostgreSQL
 * answers and a writer has created the schema. `signal` ends the wait (the node shuts down).
 */
export async function openPgRoleStore(url: string, log: Logger, signal?: AbortSignal): Promise<PgRoleStore> {
  const pool = createPgPool(url, { max: 4, applicationName: 'tickerpulse-reader', onIdleError: (err) => log.warn({ err }, 'an idle PostgreSQL connection failed (it is replaced on next use)') });
  const pg = new PgReader(pool);
  for (let logged = false; ; ) {
    try {
      await pg.ready(false);
      break;
    } catch (err) {
      if (signal?.aborted) {
        await pool.end().catch(() => undefined);
        throw err;
      }
      if (!logged) log.info({ err }, 'PostgreSQL store not ready yet (down, or no write node has created the schema); waiting');
      logged = true;
      await sleep(STORE_WAIT_MS);
    }
  }
  const reader = wrapPgReader(pg);
  const known = new PgItemWriter(pool);
  let ok = true;
  const probe = setInterval(() => {
    void pg.healthy().then((v) => {
      if (v !== ok) log[v ? 'info' : 'warn'](v ? 'PostgreSQL answers again' : 'PostgreSQL does not answer');
      ok = v;
    });
  }, 2000);
  probe.unref();
  let warnedAt = 0;
  return {
    reader,
    pollState: {
      getSourceState: (id) => pg.getSourceState(id),
      knownGuids: async (id, guids) => {
        if (guids.length === 0) return new Set();
        try {
          return await known.knownGuids(id, guids);
        } catch (err) {
          if (Date.now() - warnedAt > WARN_EVERY_MS) {
            warnedAt = Date.now();
            log.warn({ err, source: id }, 'known-guid lookup failed; publishing the items unchecked (the writer drops stored ones)');
          }
          return new Set();
        }
      },
    },
    tail: { latestSeq: () => pg.latestSeq(), itemsAfter: (seq, limit) => pg.itemsAfter(seq, limit) },
    ok: () => ok,
    close: async () => {
      clearInterval(probe);
      await reader.close();
    },
  };
}

/** The active writer's store: the writer lock, then PgWriter (schema created or upgraded, state warmed). */
export function pgWriterFactory(cfg: Config, url: string, log: Logger): ClusterWriterFactory {
  const cl = cfg.cluster!;
  return async (): Promise<ClusterWriter> => {
    let writer: PgWriter | null = null;
    let onFatal: ((err: TickerpulseError) => void) | null = null;
    const lock = await keepPgWriterLock(url, {
      // The previous writer's session ends when it closes its store or its process dies; past
      // this the write role stands by and tries again (a writer that keeps it is still writing).
      waitMs: cl.lease.ttl * 2,
      onWait: (holder) => log.info({ holder }, 'waiting for the previous writer to release the PostgreSQL writer lock'),
      onRelocking: (err) => log.warn({ err }, 'PostgreSQL writer lock lost with its session; taking it again'),
      onTaken: (err) => onFatal?.(err),
    });
    try {
      writer = await PgWriter.start({ url, alerts: cfg.alerts.rules.some((r) => r.enabled) ? cfg.alerts : null, watchlist: cfg.tickers.watchlist }, log.child({ component: 'writer' }));
    } catch (err) {
      await lock.release();
      throw err;
    }
    const w = writer;
    return {
      knownGuids: (id, guids) => w.knownGuids(id, guids),
      commit: (b) => w.commit(b),
      markAlert: (id, failure) => w.markAlert(id, failure),
      get onFatal() {
        return onFatal;
      },
      set onFatal(f) {
        onFatal = f;
        w.onFatal = f;
      },
      finish: () => w.finish(),
      prune: (cutoffs, batch) => w.prune(cutoffs, batch),
      vacuum: (pages) => w.vacuum(pages),
      close: async () => {
        await w.close();
        await lock.release();
      },
    };
  };
}
