import type { Observable } from 'rxjs';
import type { Config, SourceConfig } from '../config/schema.js';
import { prepareDbPath } from '../config/dbPath.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { StoredBatch } from '../lib/messages.js';
import { threadCpuMs } from '../lib/threadCpu.js';
import type { PollResult, StoredAlert } from '../lib/types.js';
import { validateClassifier } from '../model/hf/loadClassifier.js';
import { ItemStore } from '../store/itemStore.js';
import { startCheckpointer } from '../store/checkpointer.js';
import { acquireDaemonLock, type DaemonLock } from '../store/daemonLock.js';
import { startServer, type RunningServer } from '../server/server.js';
import { assertBindAllowed, resolveToken } from '../server/auth.js';
import { toWireAlert } from '../server/wire.js';
import { WebhookDelivery, type WebhookStats } from '../alerts/webhook.js';
import { startDemoFeed } from '../demo/demoFeed.js';
import { rssSource } from '../../sources/rss.js';
import { jsonlSource } from '../../sources/jsonl.js';
import { jsonSource } from '../../sources/json.js';
import { websocketSource } from '../../sources/websocket.js';
import type { SourceContext } from '../../sources/types.js';
import { HostBudget } from '../../sources/hostBudget.js';
import type { RetryNotice } from '../../pipelines/classify.js';
import { serverLimits, webhookOptions } from './configOptions.js';
import { applyRetry } from './sourceHealth.js';
import { DaemonMetrics } from './metrics.js';
import { daemonHealth } from './healthStatus.js';
import { redactUrls } from '../lib/redactUrls.js';
import { StoreWriter } from './writer.js';
import { startRetention, type RetentionTask } from './retentionTask.js';
import type { DaemonSource } from './daemonSource.js';
import { SourceSet } from './sourceSet.js';
import { Reloader } from './reload.js';
import { reloadStatusPath } from './reloadStatus.js';
import type { StoreReader } from '../query/storeReader.js';
import type { DaemonPgStore } from './pgStore.js';
import type { PgWriter } from './pgWriter.js';

export interface DaemonOptions {
  log: Logger;
  /** Add the offline demo source (a loopback RSS feed of the shipped demo corpus). */
  demo?: boolean;
  /** Delay of the first retention run (default 1 min; tests push it out and call `retention.run()`). */
  retentionFirstDelayMs?: number;
  /** Poll interval of the demo source (default 5 s). */
  demoIntervalMs?: number;
  /**
   * Injected clock (ms) for the alert engine and story clusterer (tests); default Date.now. They
   * run on the writer thread, which gets the clock's offset from the wall clock at start.
   */
  clock?: () => number;
  /**
   * Reads and validates the config file again, for reload() (SIGHUP); without it a reload
   * re-applies the config the daemon was started with.
   */
  loadConfig?: () => Config;
}

export interface Daemon {
  readonly port: number;
  readonly url: string;
  health(): Record<string, unknown>;
  /** Ordered graceful shutdown; idempotent (a second call returns the same promise). */
  shutdown(reason?: string): Promise<void>;
  /** The retention task (null when config `retention` keeps everything). */
  readonly retention: RetentionTask | null;
  /** Resolves when every source has completed (e.g. JSONL replays done) — used by benchmarks. */
  readonly idle: Promise<void>;
  /**
   * Re-reads the config and applies it (src/daemon/reload.ts): returns at once; serialized
   * (one more is queued while one runs), ignored during the shutdown.
   */
  reload(): void;
  /** Resolves once no reload is running or queued (tests). */
  reloadSettled(): Promise<void>;
}

/**
 * The daemon's stages (README, Architecture): per source, its observable (network and file I/O
 * on the main thread) and its worker thread (parse, classify, link, sign); one writer thread
 * that owns SQLite (dedupe, stories, rollups, alerts, commit); the main thread keeps
 * orchestration, HTTP and WebSocket, and reads through a read-only connection of its own.
 */
export async function startDaemon(cfg: Config, opts: DaemonOptions): Promise<Daemon> {
  // A server off loopback without a token is refused before anything starts (CONFIG_INVALID).
  const token = resolveToken(cfg.server.token);
  assertBindAllowed(cfg.server.host, token);
  if (cfg.store.kind === 'postgres') return startLocked(cfg, opts, token, null);
  if (cfg.db === ':memory:') {
    throw new TickerpulseError('CONFIG_INVALID', 'db: ":memory:" cannot be used by the daemon (its writer thread and its server read the same file); give a file path');
  }
  prepareDbPath(cfg.db);
  // One daemon per database (DB_IN_USE), taken before anything opens the file for writing.
  const lock = acquireDaemonLock(cfg.db);
  try {
    return await startLocked(cfg, opts, token, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * `lock`: SQLite's `<db>.lock`, taken by the caller; null for PostgreSQL, whose writer lock is
 * taken with the rest of its store (pgStore.ts).
 */
async function startLocked(cfg: Config, opts: DaemonOptions, token: string | undefined, lock: DaemonLock | null): Promise<Daemon> {
  const log = opts.log;
  // The model is loaded once here, before any source starts, so a wrong folder, a missing file
  // or an unusable model stops the daemon with one clear error (MODEL_LOAD_FAILED /
  // MODEL_UNSUPPORTED) instead of every source's worker failing on its first batch.
  const modelPath = cfg.model.path ?? cfg.model.dir;
  const modelId = await validateClassifier({ kind: cfg.model.kind, path: modelPath, intraOpNumThreads: 1, stride: cfg.model.stride });
  log.info({ model: modelId, kind: cfg.model.kind, path: modelPath ?? 'built-in' }, 'model loaded and checked');
  const clock = opts.clock ?? Date.now;
  // The writer creates and migrates the database, then warms the story clusterer and the alert
  // windows from it, before anything else opens it.
  const rules = cfg.alerts.rules.filter((r) => r.enabled);
  // PostgreSQL (docs/CLUSTER.md): its writer lock, PgWriter and a reader pool instead of the
  // file's lock, writer thread and read-only connection; loaded only then.
  const pgStore: DaemonPgStore | null = cfg.store.kind === 'postgres' ? await (await import('./pgStore.js')).openDaemonPgStore(cfg, cfg.store.url, log, clock) : null;
  const writer: StoreWriter | PgWriter = pgStore ? pgStore.writer : await StoreWriter.start(
    {
      path: cfg.db,
      // 20,000 pages (~80 MB): the backstop; the checkpoint thread keeps the WAL far smaller.
      autoCheckpointPages: 20_000,
      cacheMb: cfg.limits.dbCacheMb,
      tickerIndexLag: cfg.limits.tickerIndexLag,
      alerts: rules.length ? cfg.alerts : null,
      watchlist: cfg.tickers.watchlist,
      clockOffsetMs: clock() - Date.now(),
      statsIntervalMs: 500,
    },
    log.child({ component: 'writer' }),
  );
  // Per daemon, not prom-client's global registry: tests run several daemons in one process.
  const metrics = new DaemonMetrics();
  if (writer instanceof StoreWriter) writer.onCommitSamples = (samples) => metrics.onCommitSamples(samples);
  /** The webhook's latest outcome (/healthz degraded while its last delivery failed). */
  const webhookState = { lastFailed: false, lastError: null as string | null };
  let store: ItemStore | StoreReader;
  try {
    // The server's own read-only connection (WAL: readers never wait for the writer).
    store = pgStore ? pgStore.reader : ItemStore.open(cfg.db, { readonly: true, cacheMb: cfg.limits.dbCacheMb });
  } catch (err) {
    await writer.close();
    throw err;
  }
  const closeStore = async () => {
    if (store instanceof ItemStore) store.close();
    else await store.close();
  };
  const checkpointer = store instanceof ItemStore ? startCheckpointer(store.path, { intervalMs: 200, log: log.child({ component: 'checkpointer' }) }) : null;
  let stopping: Promise<void> | null = null;
  const sources = new SourceSet({
    log,
    // PostgreSQL: whoever polled the source last stored its state there.
    readState: (id) => (pgStore ? pgStore.getSourceState(id) : (store as ItemStore).getSourceState(id)),
    store: writer,
    metrics,
    hostBudget: HostBudget.fromConfig(cfg.hosts),
    onChange: () => publishSources(),
    onRetry: (s, n, slog) => noteRetry(s, n, slog),
    onFatal: (err) => fatal(err, 'pipeline failed'),
    onAllDone: () => resolveIdle(),
  });
  const startedAt = new Date().toISOString();

  let demoFeed: Awaited<ReturnType<typeof startDemoFeed>> | null = null;
  const sourceConfigs: SourceConfig[] = cfg.sources.filter((s) => s.enabled);
  if (opts.demo) {
    demoFeed = await startDemoFeed({});
    sourceConfigs.push({ id: 'demo', kind: 'rss', url: demoFeed.url, interval: opts.demoIntervalMs ?? 5000, allowPrivateNetworks: true, enabled: true });
    log.info({ url: demoFeed.url }, 'demo feed serving the shipped demo corpus on loopback');
  }

  const health = (): Record<string, unknown> => {
    const list = sources.reports();
    // Degraded (HTTP 200) for one broken feed, failing (503) only when nothing works: a probe
    // must not restart the whole monitor for one feed (the server adds the database check).
    const { status, reason } = daemonHealth({
      sources: list,
      webhook: cfg.alerts.webhook ? webhookState : null,
      writer: { alive: writer.alive, lagMs: writer.lagMs() },
      writerLagLimitMs: cfg.limits.writerLagDegraded,
    });
    return { status, reason, startedAt, ...(pgStore ? { db: pgStore.health() } : {}), sources: list, alerts: { webhook: alerts.health() }, stages: { main: { cpuMs: threadCpuMs() }, writer: writer.stats() } };
  };

  const sv = cfg.server;
  const server = await startServer({
    host: sv.host,
    port: sv.port,
    store,
    health,
    log: log.child({ component: 'server' }),
    token,
    allowedOrigins: sv.allowedOrigins,
    metrics,
    allowedHosts: sv.allowedHosts,
    limits: serverLimits(sv),
  }).catch(async (err: unknown) => {
    // e.g. the port is in use: release what was opened before it.
    await checkpointer?.stop();
    await closeStore();
    await writer.close();
    await pgStore?.release();
    if (demoFeed) await demoFeed.close();
    throw err;
  });
  metrics.attach({
    sources: () => sources.reports(),
    writer: () => ({ queueDepth: writer.stats().queueDepth, lagMs: writer.lagMs() }),
    websocket: () => server.stats(),
    dbPath: store instanceof ItemStore ? store.path : null,
  });
  /** Source status / lastError changes → `source` messages on /ws. */
  const publishSources = () => server.broadcastSources(sources.reports());

  const alerts = startWebhook(cfg, server, writer, log.child({ component: 'alerts' }), (delivered, error) => {
    metrics.onWebhook(delivered);
    webhookState.lastFailed = !delivered;
    webhookState.lastError = error;
  });
  // The fan-out: every committed batch, in commit order (= seq order), straight from the writer.
  writer.onStored = (batch: StoredBatch) => {
    if (batch.items.length) server.broadcast(batch.items);
    if (batch.alerts.length) {
      metrics.onAlerts(batch.alerts);
      alerts.onAlerts(batch.alerts);
    }
  };

  const retention = startRetention(cfg.retention, writer, log.child({ component: 'retention' }), { clock, firstDelayMs: opts.retentionFirstDelayMs });

  let resolveIdle!: () => void;
  let rejectIdle!: (e: unknown) => void;
  const idle = new Promise<void>((res, rej) => {
    resolveIdle = res;
    rejectIdle = rej;
  });
  idle.catch(() => undefined);

  const fatal = (err: unknown, what: string) => {
    if (stopping) return;
    log.fatal({ err }, `${what}; shutting down`);
    rejectIdle(err);
    void shutdown(what).finally(() => process.exit(1));
  };
  // The writer thread died (or its store failed outside a commit): stop rather than run on a broken DB.
  writer.onFatal = (err) => fatal(err, 'writer thread failed');
  if (pgStore) pgStore.onFatal = (err) => fatal(err, 'another writer took the PostgreSQL writer lock');

  const reloader = new Reloader({
    log: log.child({ component: 'reload' }),
    load: opts.loadConfig ?? (() => cfg),
    config: cfg,
    sources,
    extra: demoFeed ? ['demo'] : [],
    onOutcome: (outcome) => {
      metrics.onReload(outcome);
      // The dashboard's sources panel follows additions and removals at once, not at their first poll.
      publishSources();
    },
    // Beside the SQLite file, for `tickerpulse reload`; on PostgreSQL there is no file to put it beside (send SIGHUP).
    statusFile: pgStore ? null : reloadStatusPath(cfg.db),
    stopping: () => stopping !== null,
  });
  for (const sc of sourceConfigs) await sources.start(sc, cfg);
  sources.checkAllDone();

  log.info({ port: server.port, url: server.url, store: pgStore ? 'postgres' : cfg.db, sources: sources.ids }, `tickerpulse listening on ${server.url}`);

  function shutdown(reason = 'shutdown'): Promise<void> {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down: stopping sources');
      // 1. Stop sources: no new polls or file reads start (nor sources, should a reload run).
      // 2. Drain: let polls already in the pipeline finish classifying and commit.
      // 3. Close the worker threads.
      const drainMs = reloader.config.limits.shutdownTimeout;
      if (!(await sources.close(drainMs))) {
        // Their source state was not committed either, so the next start fetches them again.
        log.warn({ timeoutMs: drainMs }, 'drain timed out; uncommitted polls will be fetched again on next start');
      }
      // Give the webhook a moment for alerts still queued (what it cannot deliver stays
      // marked undelivered in the alerts table), before the final checkpoint.
      await alerts.close();
      await retention?.stop();
      // 4. Final commit: batches already sent are committed in order before this request; then
      // the newest tickers are indexed and the WAL folded into the main file.
      await checkpointer?.stop();
      try {
        await writer.finish();
      } catch (err) {
        log.error({ err }, 'final index/WAL checkpoint failed');
      }
      // 5. Close client sockets with 1001 (going away) and the HTTP server.
      await server.close();
      await closeStore();
      // The last connection to close removes the -wal/-shm files.
      await writer.close();
      // PostgreSQL: no other writer may start before this one's last commit.
      await pgStore?.release();
      if (demoFeed) await demoFeed.close();
      lock?.release();
      log.info('shutdown complete');
    })();
    return stopping;
  }

  return {
    port: server.port,
    url: server.url,
    health,
    shutdown,
    idle,
    retention,
    reload: () => reloader.request(),
    reloadSettled: () => reloader.settled(),
  };

  /**
   * A classify batch of the source failed and is tried again (its worker crashed and piscina is
   * replacing the thread, or the model failed): until the poll's report arrives, which can take
   * half a minute of retries and splits, /healthz and the dashboard show the source as retrying.
   * Logged once per episode (its end is logged by the report: dead letters or nothing wrong).
   */
  function noteRetry(s: DaemonSource, n: RetryNotice, slog: Logger): void {
    const first = applyRetry(s.health, n, Date.now());
    const r = s.health.retry!;
    const fields = { code: n.code, err: n.message, items: n.items, attempt: n.attempt, attempts: n.attempts, next: n.next, nextAttemptAt: r.nextAttemptAt };
    if (first) slog.warn(fields, n.next === 'split' ? 'classification failed; retrying the batch in halves' : 'classification failed; retrying');
    else slog.debug({ ...fields, retries: r.retries }, 'classification retry');
    publishSources();
  }
}

interface RunningWebhook {
  /** Stored alerts of a committed batch (after its items were broadcast): push on /ws, POST. */
  onAlerts(alerts: StoredAlert[]): void;
  /** /healthz `alerts.webhook`: null without a webhook. */
  health(): WebhookHealth | null;
  close(): Promise<void>;
}

/** No URL: /healthz needs no token, and a webhook URL's path often is the secret (e.g. Slack's). */
interface WebhookHealth extends WebhookStats {
  /** The newest delivery the webhook gave up on (the log has every one). */
  lastFailure: { alertId: number; ticker: string; error: string; at: string } | null;
}

/**
 * Alerts are raised and stored by the writer thread (inside the commit of the items that raised
 * them); here, on the main thread, they are pushed to WebSocket clients and POSTed to the
 * webhook, whose outcome goes back to the writer.
 */
function startWebhook(cfg: Config, server: RunningServer, writer: StoreWriter | PgWriter, log: Logger, onOutcome: (delivered: boolean, error: string | null) => void): RunningWebhook {
  const w = cfg.alerts.webhook;
  const webhook = w
    ? new WebhookDelivery({
        ...webhookOptions(w),
        log,
        onDelivered: (payload) => {
          onOutcome(true, null);
          markDelivery(payload, null);
        },
        onFailed: (payload, f) => {
          onOutcome(false, redactUrls(`${f.reason}: ${f.message}`));
          markDelivery(payload, `${f.reason}: ${f.message}`);
        },
      })
    : null;
  let lastFailure: WebhookHealth['lastFailure'] = null;
  function markDelivery(payload: object, failure: string | null): void {
    const alert = (payload as { alert?: { id?: unknown; ticker?: unknown } }).alert;
    const id = alert?.id;
    if (typeof id !== 'number') return;
    writer.markAlert(id, failure);
    if (failure === null) return;
    // Until now a failed delivery was visible only in the log: /healthz and the dashboard show it.
    lastFailure = { alertId: id, ticker: typeof alert?.ticker === 'string' ? alert.ticker : '', error: failure, at: new Date().toISOString() };
    server.broadcastDeliveryFailure({ alertId: id, ticker: lastFailure.ticker, delivered: false, error: failure, at: lastFailure.at });
  }
  return {
    onAlerts: (stored) => {
      for (const a of stored) {
        log.info({ alert: a.id, rule: a.rule, ticker: a.ticker, kind: a.kind }, a.message);
        server.broadcastAlert(a);
        webhook?.deliver({ type: 'alert', alert: toWireAlert(a) });
      }
    },
    health: () => (webhook ? { ...webhook.stats(), lastFailure } : null),
    close: async () => {
      if (webhook) await webhook.close(2000);
    },
  };
}

export function createSource(sc: SourceConfig, ctx: SourceContext, cfg: Config): Observable<PollResult> {
  switch (sc.kind) {
    case 'rss':
    case 'json': {
      const polling = {
        id: sc.id,
        url: sc.url,
        intervalMs: sc.interval,
        userAgent: sc.userAgent ?? cfg.userAgent,
        allowPrivateNetworks: sc.allowPrivateNetworks,
        maxBackoffMs: cfg.limits.maxBackoff,
        limits: {
          timeoutMs: sc.timeout ?? cfg.limits.fetchTimeout,
          connectTimeoutMs: sc.connectTimeout ?? cfg.limits.connectTimeout,
          maxBodyBytes: sc.maxBodyBytes ?? cfg.limits.maxBodyBytes,
        },
      };
      return sc.kind === 'rss' ? rssSource(polling, ctx) : jsonSource({ ...polling, items: sc.items ?? null, fields: sc.fields }, ctx);
    }
    case 'websocket':
      return websocketSource(
        {
          id: sc.id,
          url: sc.url,
          subscribe: sc.subscribe,
          items: sc.items ?? null,
          fields: sc.fields,
          userAgent: sc.userAgent ?? cfg.userAgent,
          allowPrivateNetworks: sc.allowPrivateNetworks,
          connectTimeoutMs: sc.connectTimeout ?? cfg.limits.connectTimeout,
          reconnectDelayMs: sc.reconnectDelay,
          maxReconnectDelayMs: sc.maxReconnectDelay,
          pingIntervalMs: sc.pingInterval,
          pongTimeoutMs: sc.pongTimeout,
          maxPayloadBytes: sc.maxPayload,
          batchSize: sc.batchSize ?? cfg.limits.batchSize,
          batchWaitMs: sc.batchWait ?? cfg.limits.batchWait,
          maxBufferedMessages: sc.maxBufferedMessages,
          maxBufferedBytes: sc.maxBufferedBytes,
        },
        ctx,
      );
    case 'jsonl':
      return jsonlSource({ id: sc.id, path: sc.stdin ? '-' : sc.path, chunkSize: sc.chunkSize, follow: sc.follow, pollIntervalMs: sc.pollInterval }, ctx);
    default:
      throw new TickerpulseError('CONFIG_INVALID', `unknown source kind ${(sc as { kind: string }).kind}`);
  }
}
