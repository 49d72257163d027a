/**
 * `tickerpulse prune [--dry-run] [--vacuum]`: applies the retention settings now
 * (src/store/retention.ts). A running daemon prunes by itself every retention.interval, so a
 * real prune takes the daemon lock (refused beside a daemon, DB_IN_USE); --dry-run only reads
 * and works beside it.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { parseDuration } from '../config/units.js';
import { TickerpulseError } from '../lib/errors.js';
import { acquireDaemonLock, type DaemonLock } from '../store/daemonLock.js';
import { ItemStore } from '../store/itemStore.js';
import { addCounts, cutoffsFor, hasPolicy, NO_COUNTS, Pruner, type PruneCounts, type RetentionPolicy } from '../store/retention.js';

export const PRUNE_USAGE = `usage: tickerpulse prune [--config FILE] [--db FILE] [--items AGE] [--alerts AGE] [--dead-letters AGE] [--dry-run] [--vacuum]

  --config FILE        read retention (and db) from this config (default: built-in defaults)
  --db FILE            database (default: the config's db, data/tickerpulse.db)
  --items AGE          override retention.items (e.g. 90d; whole UTC days, rollups are kept)
  --alerts AGE         override retention.alerts (e.g. 1y)
  --dead-letters AGE   override retention.deadLetters (e.g. 30d)
  --dry-run            only count what would be deleted (works beside a running daemon)
  --vacuum             afterwards, convert the file once to auto_vacuum=INCREMENTAL (full VACUUM:
                       rewrites the whole file, needs as much free disk; databases created by
                       this version are already incremental) and give free pages back

Ages: 30m, 12h, 90d, 2w, 1y. A real prune needs the daemon stopped: a running daemon prunes by
itself every retention.interval.`;

export async function runPrune(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        items: { type: 'string' },
        alerts: { type: 'string' },
        'dead-letters': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        vacuum: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    err.write(`tickerpulse prune: ${(e as Error).message}\n${PRUNE_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(PRUNE_USAGE + '\n');
    return 0;
  }
  let cfg;
  try {
    cfg = loadConfig(values.config, { db: values.db });
  } catch (e) {
    if (e instanceof TickerpulseError && e.code === 'CONFIG_INVALID') {
      err.write(`tickerpulse: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (cfg.store.kind === 'postgres') {
    // Not the default SQLite file in its place: on PostgreSQL the daemon's (or the active
    // writer's) config `retention` prunes (docs/CLUSTER.md, "PostgreSQL store").
    err.write('tickerpulse prune: this config stores in PostgreSQL; prune works on SQLite files. On PostgreSQL, retention runs inside tickerpulse start (config retention)\n');
    return 2;
  }
  const policy: RetentionPolicy = { items: cfg.retention.items, alerts: cfg.retention.alerts, deadLetters: cfg.retention.deadLetters };
  for (const [flag, key] of [['items', 'items'], ['alerts', 'alerts'], ['dead-letters', 'deadLetters']] as const) {
    const v = values[flag];
    if (v === undefined) continue;
    const ms = parseDuration(v);
    if (ms === null || ms <= 0) {
      err.write(`tickerpulse prune: --${flag} must be an age like 90d or 1y, got "${v}"\n`);
      return 2;
    }
    policy[key] = ms;
  }
  if (!hasPolicy(policy) && !values.vacuum) {
    err.write('tickerpulse prune: nothing to prune: no retention configured (config retention.items / alerts / deadLetters, or --items / --alerts / --dead-letters)\n');
    return 2;
  }
  const cutoffs = cutoffsFor(policy, Date.now());
  const show = (n: PruneCounts) => `${n.items} items, ${n.stories} stories, ${n.alerts} alerts, ${n.deadLetters} dead letters`;

  if (values['dry-run']) {
    const store = ItemStore.open(cfg.db, { readonly: true });
    try {
      out.write(`would delete ${show(new Pruner(store.database).count(cutoffs))} (cutoffs: ${JSON.stringify(cutoffs)})\n`);
    } finally {
      store.close();
    }
    return 0;
  }

  let lock: DaemonLock;
  try {
    lock = acquireDaemonLock(cfg.db);
  } catch (e) {
    if (e instanceof TickerpulseError && e.code === 'DB_IN_USE') {
      err.write(`tickerpulse prune: ${e.message}\n(a running daemon prunes by itself every retention.interval; --dry-run works beside it)\n`);
      return 2;
    }
    throw e;
  }
  try {
    const store = ItemStore.open(cfg.db);
    try {
      const pruner = new Pruner(store.database);
      const batch = cfg.retention.batchSize;
      let total: PruneCounts = { ...NO_COUNTS };
      if (hasPolicy(policy)) {
        for (;;) {
          const n = pruner.step(cutoffs, batch);
          total = addCounts(total, n);
          if (Pruner.done(n, batch)) break;
        }
      }
      let freed = 0;
      if (values.vacuum && !pruner.incremental) {
        const t0 = Date.now();
        err.write('tickerpulse prune: converting to auto_vacuum=INCREMENTAL (one full VACUUM)...\n');
        store.database.pragma('auto_vacuum = INCREMENTAL');
        store.database.exec('VACUUM');
        err.write(`tickerpulse prune: converted in ${Date.now() - t0} ms\n`);
      }
      for (;;) {
        const f = pruner.incrementalVacuum(cfg.retention.vacuumPages);
        freed += f;
        if (f < cfg.retention.vacuumPages) break;
      }
      store.checkpoint();
      out.write(`deleted ${show(total)}; ${freed} free pages given back${pruner.incremental ? '' : ' (not incremental: run prune --vacuum once to reclaim space)'} (cutoffs: ${JSON.stringify(cutoffs)})\n`);
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
  return 0;
}
