import { merge, Observable, type Subscription } from 'rxjs';
import type { Config, SourceConfig } from '../config/schema.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { PollResult, StoredAlert, StoredItem } from '../lib/types.js';
import { SourceWorker } from '../pool/sourceWorker.js';
import { validateClassifier } from '../model/hf/loadClassifier.js';
import { ItemStore } from '../store/itemStore.js';
import { startCheckpointer } from '../store/checkpointer.js';
import { startServer, type RunningServer } from '../server/server.js';
import { assertBindAllowed, resolveToken } from '../server/auth.js';
import { toWireAlert } from '../server/wire.js';
import { AlertEngine, type Alert } from '../../pipelines/alerts.js';
import { WebhookDelivery } from '../alerts/webhook.js';
import { startDemoFeed } from '../demo/demoFeed.js';
import { rssSource } from '../../sources/rss.js';
import { jsonlSource } from '../../sources/jsonl.js';
import { jsonSource } from '../../sources/json.js';
import { websocketSource } from '../../sources/websocket.js';
import type { SourceContext } from '../../sources/types.js';
import { HostBudget } from '../../sources/hostBudget.js';
import { PollGate } from '../../pipelines/gate.js';
import { ingestPolls, type IngestReport, type StoryAssigner } from '../../pipelines/ingest.js';
import { STORY_MAX_STORIES, STORY_WINDOW_MS, StoryClusterer } from '../../pipelines/storyCluster.js';
import { initialHealth, statusFor, type SourceHealth } from './sourceHealth.js';

export interface DaemonOptions {
  log: Logger;
  /** Add the offline demo source (a loopback RSS feed of the shipped demo corpus). */
  demo?: boolean;
  /** Poll interval of the demo source (default 5 s). */
  demoIntervalMs?: number;
  /** Injected clock (ms) for the alert engine and story clusterer (tests); default Date.now. */
  clock?: () => number;
}

interface RunningSource {
  cfg: SourceConfig;
  worker: SourceWorker;
  gate: PollGate;
  health: SourceHealth;
}

export interface Daemon {
  readonly port: number;
  readonly url: string;
  health(): Record<string, unknown>;
  /** Ordered graceful shutdown; idempotent (a second call returns the same promise). */
  shutdown(reason?: string): Promise<void>;
  /** Resolves when every source has completed (e.g. JSONL replays done) — used by benchmarks. */
  readonly idle: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startDaemon(cfg: Config, opts: DaemonOptions): Promise<Daemon> {
  const log = opts.log;
  // A server off loopback without a token is refused before anything starts (CONFIG_INVALID).
  const token = resolveToken(cfg.server.token);
  assertBindAllowed(cfg.server.host, token);
  // The model is loaded once here, before any source starts, so a wrong folder, a missing file
  // or an unusable model stops the daemon with one clear error (MODEL_LOAD_FAILED /
  // MODEL_UNSUPPORTED) instead of every source's worker failing on its first batch.
  const modelPath = cfg.model.path ?? cfg.model.dir;
  const modelId = await validateClassifier({ kind: cfg.model.kind, path: modelPath, intraOpNumThreads: 1, stride: cfg.model.stride });
  log.info({ model: modelId, kind: cfg.model.kind, path: modelPath ?? 'built-in' }, 'model loaded and checked');
  // 20,000 pages (~80 MB): the backstop; the checkpoint thread keeps the WAL far smaller.
  const store = ItemStore.open(cfg.db, { autoCheckpointPages: 20_000, cacheMb: cfg.limits.dbCacheMb, tickerIndexLag: cfg.limits.tickerIndexLag });
  const checkpointer = store.path === ':memory:' ? null : startCheckpointer(store.path, { intervalMs: 200, log: log.child({ component: 'checkpointer' }) });
  const abort = new AbortController();
  const sources: RunningSource[] = [];
  const startedAt = new Date().toISOString();

  let demoFeed: Awaited<ReturnType<typeof startDemoFeed>> | null = null;
  const sourceConfigs: SourceConfig[] = cfg.sources.filter((s) => s.enabled);
  if (opts.demo) {
    demoFeed = await startDemoFeed({});
    sourceConfigs.push({ id: 'demo', kind: 'rss', url: demoFeed.url, interval: opts.demoIntervalMs ?? 5000, allowPrivateNetworks: true, enabled: true });
    log.info({ url: demoFeed.url }, 'demo feed serving the shipped demo corpus on loopback');
  }

  const health = (): Record<string, unknown> => {
    const list = sources.map((s) => ({ ...s.health, queueDepth: s.gate.depth + s.worker.queueDepth }));
    // One broken feed must not make a liveness probe restart the whole monitor: the daemon
    // reports degraded only when every source is failing (the server adds the DB check).
    const degraded = list.length > 0 && list.every((s) => s.status === 'failing');
    return { status: degraded ? 'degraded' : 'ok', startedAt, sources: list };
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
    limits: {
      maxConnectionsPerIp: sv.maxConnectionsPerIp,
      maxInboundBytes: sv.maxClientMessageBytes,
      clientMessagesPerSecond: sv.clientMessagesPerSecond,
      clientMessageBurst: 2 * sv.clientMessagesPerSecond,
      maxBufferedBytes: sv.maxBufferedBytes,
      pingIntervalMs: sv.pingInterval,
      rollupIntervalMs: sv.rollupInterval,
    },
  }).catch((err: unknown) => {
    // e.g. the port is in use: release what was opened before it.
    void checkpointer?.stop().finally(() => store.close());
    if (demoFeed) void demoFeed.close();
    throw err;
  });
  /** Source status / lastError changes → `source` messages on /ws. */
  const publishSources = () => server.broadcastSources(sources.map((s) => ({ ...s.health, queueDepth: s.gate.depth + s.worker.queueDepth })));

  const clock = opts.clock ?? Date.now;
  const stories = startStories(store, log, clock);
  const alerts = startAlerts(cfg, store, server, log.child({ component: 'alerts' }), clock);

  const pipelines: Observable<StoredItem[]>[] = [];
  const hostBudget = HostBudget.fromConfig(cfg.hosts);
  for (const sc of sourceConfigs) {
    const slog = log.child({ source: sc.id });
    const persisted = store.getSourceState(sc.id);
    const worker = new SourceWorker({
      sourceId: sc.id,
      modelKind: cfg.model.kind,
      modelPath,
      windowStride: cfg.model.stride,
      intraOpNumThreads: cfg.model.intraOpNumThreads,
      maxQueue: cfg.limits.workerQueue,
      maxHeapMb: cfg.limits.workerHeapMb,
      tickers: { extraAliases: cfg.tickers.extraAliases, watchlist: cfg.tickers.watchlist },
    });
    const gate = new PollGate(cfg.limits.maxPendingPolls);
    const running: RunningSource = { cfg: sc, worker, gate, health: initialHealth(sc.id, sc.kind, persisted) };
    sources.push(running);
    const ctx: SourceContext = {
      log: slog,
      signal: abort.signal,
      state: persisted,
      parseFeed: (body, meta) => worker.parseFeed(body, meta),
      parseJson: (body, meta, mapping) => worker.parseJson(body, meta, mapping),
      parseJsonMessages: (messages, meta, mapping) => worker.parseJsonMessages(messages, meta, mapping),
      waitForRoom: () => gate.waitForRoom(),
      hostBudget,
    };
    const raw$ = createSource(sc, ctx, cfg);
    const onReport = (r: IngestReport) => {
      recordReport(running, r);
      publishSources();
    };
    pipelines.push(
      raw$.pipe(
        ingestPolls({
          sourceId: sc.id,
          classifier: worker,
          store,
          gate,
          batchSize: cfg.limits.batchSize,
          attempts: cfg.limits.classifyAttempts,
          log: slog,
          onReport,
          stories,
          alerts: alerts.engine,
        }),
      ),
    );
  }

  let resolveIdle!: () => void;
  let rejectIdle!: (e: unknown) => void;
  const idle = new Promise<void>((res, rej) => {
    resolveIdle = res;
    rejectIdle = rej;
  });
  idle.catch(() => undefined);

  const subscription: Subscription = merge(...pipelines).subscribe({
    next: (stored) => {
      if (stored.length) server.broadcast(stored);
    },
    error: (err) => {
      // Only the store can fail a pipeline (see ingestPolls): stop rather than run on a broken DB.
      log.fatal({ err }, 'pipeline failed; shutting down');
      rejectIdle(err);
      void shutdown('pipeline failure').finally(() => process.exit(1));
    },
    complete: () => {
      for (const s of sources) if (s.health.status !== 'failing') s.health.status = abort.signal.aborted ? 'stopped' : 'done';
      publishSources();
      resolveIdle();
    },
  });

  log.info({ port: server.port, url: server.url, db: cfg.db, sources: sources.map((s) => s.cfg.id) }, `tickerpulse listening on ${server.url}`);

  let stopping: Promise<void> | null = null;
  function shutdown(reason = 'shutdown'): Promise<void> {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down: stopping sources');
      // 1. Stop sources: no new polls or file reads start.
      abort.abort();
      // 2. Drain: let polls already in the pipeline finish classifying and commit.
      const drained = await Promise.race([idle.then(() => true, () => true), sleep(cfg.limits.shutdownTimeout).then(() => false)]);
      if (!drained) {
        // Their source state was not committed either, so the next start fetches them again.
        log.warn({ timeoutMs: cfg.limits.shutdownTimeout }, 'drain timed out; uncommitted polls will be fetched again on next start');
      }
      subscription.unsubscribe();
      // 3. Close the worker threads.
      await Promise.allSettled(sources.map((s) => s.worker.close()));
      // Give the webhook a moment for alerts still queued (what it cannot deliver stays
      // marked undelivered in the alerts table), before the final checkpoint.
      await alerts.close();
      // 4. Final commit is done (each poll commits itself); fold the WAL into the main file.
      await checkpointer?.stop();
      try {
        // The newest items' tickers go into the index now, so the next start's ticker reads
        // have no tail of waiting items to scan.
        store.indexTickers();
      } catch (err) {
        log.error({ err }, 'indexing the newest tickers failed (they are indexed by a later commit)');
      }
      try {
        store.checkpoint();
      } catch (err) {
        log.error({ err }, 'WAL checkpoint failed');
      }
      // 5. Close client sockets with 1001 (going away) and the HTTP server.
      await server.close();
      store.close();
      if (demoFeed) await demoFeed.close();
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
  };

  function recordReport(s: RunningSource, r: IngestReport): void {
    const h = s.health;
    const st = r.poll.state;
    if (st.lastPollAt !== undefined) h.lastPollAt = st.lastPollAt;
    if (st.nextPollAt !== undefined) h.nextPollAt = st.nextPollAt;
    h.items += r.stored.length;
    h.duplicatesSkipped += r.duplicates;
    h.deadLetters += r.failed.length;
    if (r.poll.error || r.failed.length) {
      h.errors++;
      h.lastError = r.poll.error?.code ?? r.failed[0]?.code ?? null;
    }
    if (r.poll.error) h.consecutiveErrors = st.consecutiveErrors ?? h.consecutiveErrors + 1;
    else if (r.failed.length) h.consecutiveErrors++;
    else h.consecutiveErrors = 0;
    h.status = statusFor(h.consecutiveErrors);
  }
}

/** Items re-read at start to warm the story clusterer (bounded: start-up time and memory). */
const STORY_WARM_ITEMS = 50_000;

/**
 * One story clusterer shared by every source. Its clock is event time: the newest publication
 * time seen (never more than 10 min ahead of the wall clock, so one bogus future date cannot
 * evict everything), so replays of old files cluster like live news. Its memory is lost on exit;
 * it is warmed from the stored items of the last 48 h (of event time) so a restart does not split
 * stories: they keep their ids and source counts.
 */
function startStories(store: ItemStore, log: Logger, clock: () => number): StoryAssigner {
  let eventTime = 0;
  const observe = (publishedAt: string | null): void => {
    const t = publishedAt ? Date.parse(publishedAt) : NaN;
    if (t > eventTime && t <= clock() + 600_000) eventTime = t;
  };
  // The class defaults (32 hashes in 16 bands) match the signatures the sources' workers compute.
  const clusterer = new StoryClusterer({ clock: () => eventTime || clock() });
  const t0 = Date.now();
  const latest = store.latestPublishedAt();
  if (latest !== null) {
    const end = Math.min(Date.parse(latest), clock());
    const warm = store.storyWarmItems(new Date(end - STORY_WINDOW_MS).toISOString(), STORY_WARM_ITEMS);
    for (const w of warm) {
      observe(w.publishedAt);
      clusterer.restore({ seq: w.seq, source: w.source, title: w.title, publishedAt: w.publishedAt, tickers: w.tickers }, w.storyId);
    }
    if (warm.length) log.info({ items: warm.length, stories: clusterer.size, ms: Date.now() - t0, max: STORY_MAX_STORIES }, 'story clusterer warmed from stored items');
  }
  return {
    match: (item) => {
      observe(item.publishedAt);
      return clusterer.match(item);
    },
    record: (m, seq) => clusterer.record(m, seq),
  };
}

/** Items re-read at start to warm the alert windows (bounded: start-up time and memory). */
const ALERT_WARM_ITEMS = 200_000;

interface RunningAlerts {
  engine?: { evaluate(items: readonly StoredItem[]): Alert[]; onAlerts(alerts: StoredAlert[]): void };
  close(): Promise<void>;
}

/**
 * The alert engine shared by every source (evaluated inside each commit, pipelines/alerts.ts),
 * its webhook, and the WebSocket push. The engine's windows live in memory: at start they are
 * warmed from the stored items of the longest trailing window, and cooldowns from stored alerts,
 * so a restart neither forgets a baseline nor repeats an alert.
 */
function startAlerts(cfg: Config, store: ItemStore, server: RunningServer, log: Logger, clock: () => number): RunningAlerts {
  const rules = cfg.alerts.rules.filter((r) => r.enabled);
  if (rules.length === 0) return { close: async () => undefined };
  const engine = new AlertEngine(cfg.alerts, { clock, watchlist: cfg.tickers.watchlist });
  const horizon = Math.max(...rules.map((r) => ('trailing' in r ? r.trailing + r.recent : 0) + r.cooldown));
  const since = new Date(clock() - horizon).toISOString();
  const t0 = Date.now();
  const warm = store.tickerItemsSince(since, ALERT_WARM_ITEMS);
  engine.restore(warm, store.alertsSince(since, 100_000));
  log.info({ rules: rules.length, warmItems: warm.length, ms: Date.now() - t0 }, 'alert engine ready');

  const w = cfg.alerts.webhook;
  const webhook = w
    ? new WebhookDelivery({
        url: w.url,
        headers: w.headers,
        timeoutMs: w.timeout,
        maxAttempts: w.maxAttempts,
        maxQueue: w.maxQueue,
        backoffMs: w.backoff,
        maxBackoffMs: w.maxBackoff,
        log,
        onDelivered: (payload) => markDelivery(payload, null),
        onFailed: (payload, f) => markDelivery(payload, `${f.reason}: ${f.message}`),
      })
    : null;
  function markDelivery(payload: object, failure: string | null): void {
    const id = (payload as { alert?: { id?: unknown } }).alert?.id;
    if (typeof id !== 'number') return;
    try {
      if (failure === null) store.markAlertDelivered(id);
      else store.markAlertFailed(id, failure);
    } catch (err) {
      // The store is closing (shutdown) or failing: the alert stays marked undelivered.
      log.warn({ err, alert: id }, 'could not record the webhook outcome of an alert');
    }
  }
  return {
    engine: {
      evaluate: (items) => engine.evaluate(items),
      onAlerts: (stored) => {
        for (const a of stored) {
          log.info({ alert: a.id, rule: a.rule, ticker: a.ticker, kind: a.kind }, a.message);
          server.broadcastAlert(a);
          webhook?.deliver({ type: 'alert', alert: toWireAlert(a) });
        }
      },
    },
    close: async () => {
      if (webhook) await webhook.close(2000);
    },
  };
}

function createSource(sc: SourceConfig, ctx: SourceContext, cfg: Config): Observable<PollResult> {
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
