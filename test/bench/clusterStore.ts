/**
 * The store a benchmark cluster writes to, as a parameter (`--cluster-store sqlite|postgres`):
 * the config keys every node gets, the stored items' summary (count, distinct (source, guid),
 * seq range) for the end checks, and the store server's processes for CPU / RSS figures.
 *
 *  - sqlite: one file in the run's temp dir, shared by every node (one machine);
 *  - postgres: a throwaway server from Debian's binaries (test/store/pg/pgServer.ts) and a fresh
 *    database in it. Whether the cluster roles accept it is the first writer's business: a node
 *    that refuses the store at start (exit code 2) makes the run report it as not available.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pgSkipReason, startPgServer } from '../store/pg/pgServer.js';

export type ClusterStoreKind = 'sqlite' | 'postgres';
export const CLUSTER_STORE_KINDS: readonly ClusterStoreKind[] = ['sqlite', 'postgres'];

export interface StoredSummary {
  items: number;
  /** Distinct (source, guid): equal to items when nothing is stored twice. */
  distinct: number;
  minSeq: number | null;
  maxSeq: number | null;
}

export interface BenchStore {
  readonly kind: ClusterStoreKind;
  /** Merged into every node's config. */
  readonly config: Record<string, unknown>;
  summary(): Promise<StoredSummary>;
  /** The store's own server processes (none for SQLite: it lives in the nodes). */
  serverPid(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** The store kind cannot be run here; the reason says why (and what to install). */
export class StoreUnavailable extends Error {}

const EMPTY: StoredSummary = { items: 0, distinct: 0, minSeq: null, maxSeq: null };
const SUMMARY_SQL = 'SELECT count(*) AS items, count(DISTINCT source || char(31) || guid) AS distinct_, min(seq) AS min_seq, max(seq) AS max_seq FROM items';

export async function openBenchStore(kind: ClusterStoreKind, dir: string): Promise<BenchStore> {
  if (kind === 'sqlite') {
    const db = join(dir, 'cluster.db');
    return {
      kind,
      config: { db },
      summary: async () => {
        if (!existsSync(db)) return EMPTY;
        const d = new Database(db, { readonly: true, fileMustExist: true });
        try {
          const r = d.prepare(SUMMARY_SQL).get() as { items: number; distinct_: number; min_seq: number | null; max_seq: number | null };
          return { items: r.items, distinct: r.distinct_, minSeq: r.min_seq, maxSeq: r.max_seq };
        } catch {
          return EMPTY; // the writer has not created the schema yet
        } finally {
          d.close();
        }
      },
      serverPid: async () => undefined,
      stop: async () => undefined,
    };
  }
  const skip = pgSkipReason();
  if (skip) throw new StoreUnavailable(skip);
  const server = await startPgServer();
  try {
    const url = await server.createDatabase('tickerpulse_bench');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return {
      kind,
      config: { store: { kind: 'postgres', url } },
      summary: async () => {
        try {
          const r = (await client.query(SUMMARY_SQL.replace('char(31)', 'chr(31)'))).rows[0] as { items: string; distinct_: string; min_seq: string | null; max_seq: string | null };
          return { items: Number(r.items), distinct: Number(r.distinct_), minSeq: r.min_seq === null ? null : Number(r.min_seq), maxSeq: r.max_seq === null ? null : Number(r.max_seq) };
        } catch {
          return EMPTY; // no items table yet: the writer creates it on its first start
        }
      },
      serverPid: async () => {
        // postmaster.pid's first line; the data directory is the server's to say.
        const dataDir = (await client.query('SHOW data_directory')).rows[0].data_directory as string;
        const { readFileSync } = await import('node:fs');
        return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
      },
      stop: async () => {
        await client.end().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
