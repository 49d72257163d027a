/**
 * The multi-process cluster scenario (clusterScenario.ts) on PostgreSQL: the same failovers
 * (kill -9 of the active writer and of a poll node, a NATS restart) plus PostgreSQL itself
 * going down (immediate shutdown) while lines arrive and coming back; the same invariants.
 */
import { after, before, test } from 'node:test';
import pg from 'pg';
import { pgSkipReason, startPgServer, type PgServer } from '../store/pg/pgServer.js';
import { SKIP_NO_NATS } from './natsServer.js';
import { runClusterScenario, SCENARIO } from './clusterScenario.js';

const skip = SKIP_NO_NATS || pgSkipReason() || false;
let server: PgServer | undefined;
before(async () => {
  if (!skip) server = await startPgServer();
});
after(() => server?.stop());

test(`PostgreSQL: ${SCENARIO}`, { skip, timeout: 400_000 }, async (t) => {
  const url = await server!.createDatabase('cluster');
  const db = new pg.Pool({ connectionString: url, max: 1 });
  // The outage cuts this pool's idle connection too; the next query opens a new one.
  db.on('error', () => undefined);
  try {
    await runClusterScenario(t, {
      config: { store: { kind: 'postgres', url } },
      spec: url,
      outage: { kill: () => server!.kill(), restart: () => server!.restart() },
      count: async () => {
        try {
          return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM items')).rows[0].n);
        } catch {
          return 0; // the schema is not there yet
        }
      },
      all: async () => (await db.query<{ seq: string; source: string; guid: string }>('SELECT seq, source, guid FROM items ORDER BY seq')).rows.map((r) => ({ seq: Number(r.seq), source: r.source, guid: r.guid })),
    });
  } finally {
    await db.end();
  }
});
