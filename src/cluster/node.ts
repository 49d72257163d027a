/**
 * A cluster node (config `cluster`): the roles given with --role over NATS JetStream, on the
 * same stages as the single-node daemon (src/daemon/daemon.ts), which stays the default.
 *
 *  poll:  the sources this node holds leases for → their worker threads → ItemBatches on JetStream
 *  write: (while it holds the writer lease) JetStream → the writer stage → StoredBatches on tp.stored
 *  serve: /ws, /api/*, the dashboard over the store, live from tp.stored
 * Every node answers /healthz (a node without serve on a small server of its own).
 */
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { validateClassifier } from '../model/hf/loadClassifier.js';
import { ItemStore } from '../store/itemStore.js';
import { startCheckpointer } from '../store/checkpointer.js';
import { startServer, type RunningServer } from '../server/server.js';
import { assertBindAllowed, resolveToken } from '../server/auth.js';
import { StoreWriter } from '../daemon/writer.js';
import { serverLimits } from '../daemon/configOptions.js';
import { daemonHealth } from '../daemon/healthStatus.js';
import { DaemonMetrics } from '../daemon/metrics.js';
import { startHealthServer, type HealthServer } from './healthServer.js';
import { openNatsLink, type NatsLink } from './natsLink.js';
import { startPollRole, type PollRole } from './pollRole.js';
import type { Role } from './roles.js';
import { startStoredFeed, type StoredFeed } from './storedFeed.js';
import { sqlitePollStateReader, sqliteStoreTail, type ClusterWriter, type ClusterWriterFactory } from './stores.js';
import type { PgRoleStore } from './pgStores.js';
import { startWriteRole, type WriteRole } from './writeRole.js';

export interface ClusterNodeOptions {
  log: Logger;
  /** The write role's store (default: the SQLite writer thread on cfg.db). */
  makeWriter?: ClusterWriterFactory;
  /** Called on a failure the node cannot run on (the store failed); default: shut down and exit 1. */
  onFatal?: (err: unknown) => void;
}

export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  health(): Record<string, unknown>;
  shutdown(reason?: string): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How often a poll or serve node retries opening a store the writer has not created yet. */
const STORE_WAIT_MS = 500;

async function openReadStore(cfg: Config, log: Logger): Promise<ItemStore> {
  for (let logged = false; ; ) {
    if (existsSync(cfg.db)) {
      try {
        return ItemStore.open(cfg.db, { readonly: true, cacheMb: cfg.limits.dbCacheMb });
      } catch (err) {
        if (!logged) log.info({ err, db: cfg.db }, 'store not ready yet (the writer creates and migrates it); waiting');
        logged = true;
      }
    } else if (!logged) {
      log.info({ db: cfg.db }, 'store not created yet (the writer creates it); waiting');
      logged = true;
    }
    await sleep(STORE_WAIT_MS);
  }
}

export async function startClusterNode(cfg: Config, roles: Set<Role>, opts: ClusterNodeOptions): Promise<ClusterNode> {
  const cl = cfg.cluster;
  if (!cl) throw new TickerpulseError('CONFIG_INVALID', 'cluster mode needs a cluster: section in the config (docs/CLUSTER.md)');
  const pgUrl = cfg.store.kind === 'postgres' ? cfg.store.url : null;
  if (pgUrl === null && cfg.db === ':memory:') throw new TickerpulseError('CONFIG_INVALID', 'db: ":memory:" cannot be shared by cluster roles; give a file path');
  const log = opts.log.child({ node: cl.node });
  const token = resolveToken(cfg.server.token);
  if (roles.has('serve')) assertBindAllowed(cfg.server.host, token);
  const startedAt = new Date().toISOString();
  const sources = cfg.sources.filter((s) => s.enabled);
  if (roles.has('poll')) {
    const modelPath = cfg.model.path ?? cfg.model.dir;
    const modelId = await validateClassifier({ kind: cfg.model.kind, path: modelPath, intraOpNumThreads: 1, stride: cfg.model.stride });
    log.info({ model: modelId }, 'model loaded and checked');
  }

  // A cluster node stops and restarts sources at run time (leases lost and taken again), which
  // the single-node daemon only does at exit; a promise a stopped source left behind may then
  // reject with no one listening: logged with its stack rather than taking the node down. (One
  // poll node exited once in the multi-process test mid-outage, cause not captured; this is a
  // candidate, not a proven one.)
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection (a stopped source?); continuing'));
  const link: NatsLink = await openNatsLink(cl, log.child({ component: 'nats' }));
  let stopping: Promise<void> | null = null;
  const fatal =
    opts.onFatal ??
    ((err: unknown) => {
      if (stopping) return;
      log.fatal({ err }, 'cluster node cannot continue; shutting down');
      void shutdown('fatal').finally(() => process.exit(1));
    });

  let writeRole: WriteRole | null = null;
  let pollRole: PollRole | null = null;
  let store: ItemStore | null = null;
  // PostgreSQL (pgStores.ts): the read side of poll and serve roles; loaded only for that store.
  let pgStore: PgRoleStore | null = null;
  const opening = new AbortController();
  let server: RunningServer | null = null;
  let healthServer: HealthServer | null = null;
  let feed: StoredFeed | null = null;

  const health = (): Record<string, unknown> => {
    const nats = link.state();
    const poll = pollRole?.health();
    // The single-node rules (docs/OPERATIONS.md, Health) for this node's sources; without NATS
    // a node can do none of its roles: failing (503).
    const own = daemonHealth({ sources: poll?.sources ?? [], webhook: null, writer: { alive: true, lagMs: 0 }, writerLagLimitMs: Infinity });
    // PostgreSQL away: poll nodes go on publishing into JetStream, the writer retries, servers
    // answer what needs no store — degraded, not failing (a serve node's /healthz adds its own db check).
    const pgDown = (pgStore !== null && !pgStore.ok()) || writeRole?.health().storeOk === false;
    const reasons = [nats.connected ? null : 'not connected to NATS', pgDown ? 'the store does not answer' : null, own.reason].filter((r): r is string => r !== null);
    return {
      status: nats.connected ? (pgDown && own.status === 'ok' ? 'degraded' : own.status) : 'failing',
      reason: reasons.length ? reasons.join('; ') : null,
      startedAt,
      ...(poll ? { sources: poll.sources } : {}),
      cluster: {
        node: cl.node,
        roles: [...roles],
        nats,
        ...(pgStore ? { store: { kind: 'postgres', ok: pgStore.ok() } } : {}),
        ...(poll ? { poll: { owned: poll.owned, liveNodes: poll.liveNodes, publishSlotsInUse: poll.publishSlotsInUse } } : {}),
        ...(writeRole ? { write: writeRole.health() } : {}),
        ...(feed ? { serve: { lastSeq: feed.lastSeq, filledFromStore: feed.filledFromStore } } : {}),
      },
    };
  };

  try {
    if (roles.has('write')) {
      const makeWriter: ClusterWriterFactory =
        opts.makeWriter ?? (pgUrl !== null ? (await import('./pgStores.js')).pgWriterFactory(cfg, pgUrl, log) : () => startSqliteWriter(cfg, log));
      writeRole = await startWriteRole(cfg, link, makeWriter, log.child({ component: 'write' }), fatal);
    }
    if (roles.has('poll') || roles.has('serve')) {
      if (pgUrl !== null) pgStore = await (await import('./pgStores.js')).openPgRoleStore(pgUrl, log, opening.signal);
      else store = await openReadStore(cfg, log);
    }
    if (roles.has('poll')) pollRole = await startPollRole(cfg, sources, link, pgStore ? pgStore.pollState : sqlitePollStateReader(store!), log.child({ component: 'poll' }));
    if (roles.has('serve')) {
      const sv = cfg.server;
      const metrics = new DaemonMetrics();
      server = await startServer({
        host: sv.host,
        port: sv.port,
        store: pgStore ? pgStore.reader : store!,
        health,
        log: log.child({ component: 'server' }),
        token,
        allowedOrigins: sv.allowedOrigins,
        // The same DNS-rebinding guard and /metrics as a single daemon's server.
        allowedHosts: sv.allowedHosts,
        metrics,
        limits: serverLimits(sv),
      });
      const running = server;
      // What a serve node can tell: its WebSocket clients, the sources this node polls (when it
      // also has the poll role) and the process. Commit and ingest counters belong to the write
      // and poll roles' own processes (docs/CLUSTER.md, "Health and metrics").
      metrics.attach({
        sources: () => pollRole?.health().sources ?? [],
        writer: () => ({ queueDepth: 0, lagMs: 0 }),
        websocket: () => running.stats(),
        dbPath: pgStore ? null : cfg.db,
      });
      feed = await startStoredFeed(link, pgStore ? pgStore.tail : sqliteStoreTail(store!), server, cl.serve.catchUpInterval, log.child({ component: 'feed' }));
    } else {
      healthServer = await startHealthServer(cfg.server.host, cfg.server.port, health);
    }
  } catch (err) {
    await release();
    throw err;
  }

  async function release(): Promise<void> {
    feed?.stop();
    await pollRole?.stop();
    await writeRole?.stop();
    await server?.close();
    await healthServer?.close();
    store?.close();
    await pgStore?.close();
    await link.close();
  }

  function shutdown(reason = 'shutdown'): Promise<void> {
    opening.abort();
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down: releasing leases, draining');
      await release();
      log.info('shutdown complete');
    })();
    return stopping;
  }

  const port = server?.port ?? healthServer!.port;
  const url = server?.url ?? healthServer!.url;
  log.info({ port, url, store: pgUrl !== null ? 'postgres' : cfg.db, roles: [...roles] }, `tickerpulse cluster node ${cl.node} (${[...roles].join(',')}) listening on ${url}`);
  return { port, url, health, shutdown };
}

/**
 * The SQLite writer stage for the active writer, with the checkpoint thread the single-node
 * daemon runs beside it (folds the WAL into the file); both stop when the node stops being writer.
 */
async function startSqliteWriter(cfg: Config, log: Logger): Promise<ClusterWriter> {
  const writer = await StoreWriter.start(
    {
      path: cfg.db,
      autoCheckpointPages: 20_000,
      cacheMb: cfg.limits.dbCacheMb,
      tickerIndexLag: cfg.limits.tickerIndexLag,
      alerts: cfg.alerts.rules.some((r) => r.enabled) ? cfg.alerts : null,
      watchlist: cfg.tickers.watchlist,
      clockOffsetMs: 0,
      statsIntervalMs: 500,
    },
    log.child({ component: 'writer' }),
  );
  const checkpointer = startCheckpointer(cfg.db, { intervalMs: 200, log: log.child({ component: 'checkpointer' }) });
  let checkpointerStopped: Promise<void> | null = null;
  const stopCheckpointer = () => (checkpointerStopped ??= checkpointer.stop());
  return {
    knownGuids: (id, guids) => writer.knownGuids(id, guids),
    commit: (b) => writer.commit(b),
    markAlert: (id, failure) => writer.markAlert(id, failure),
    get onFatal() {
      return writer.onFatal;
    },
    set onFatal(f) {
      writer.onFatal = f;
    },
    prune: (cutoffs, batch) => writer.prune(cutoffs, batch),
    vacuum: (pages) => writer.vacuum(pages),
    finish: async () => {
      await stopCheckpointer();
      return writer.finish();
    },
    close: async () => {
      await stopCheckpointer();
      await writer.close();
    },
  };
}
