/**
 * The daemon's Prometheus metrics (/metrics, docs/OPERATIONS.md "Metrics"). One Registry per
 * daemon, not prom-client's global one, so several daemons (tests) can run in one process.
 *
 * Counters are fed where the daemon already counts things (a poll's IngestReport, the writer's
 * stats message, WebSocket closes, alerts, webhook outcomes); gauges are read at scrape time
 * from the live state (source health, writer queue, WAL file, WebSocket clients).
 */
import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchClassifier } from '../../pipelines/classify.js';
import type { IngestReport } from '../../pipelines/ingest.js';
import type { StoredAlert } from '../lib/types.js';
import type { SourceHealth } from './sourceHealth.js';
import type { CommitSamples } from './writerProtocol.js';
import { RELOAD_OUTCOMES, type ReloadOutcome } from './reloadStatus.js';

/** What the scrape-time gauges read; set once the daemon's parts exist. */
export interface MetricsSources {
  /** Every source's health, queueDepth filled in. */
  sources(): readonly SourceHealth[];
  writer(): { queueDepth: number; lagMs: number };
  /** The server's stats (its counters run from the start of the daemon). */
  websocket(): { clients: number; replaying: number; replayBacklog: number; messagesSent: number; bytesSent: number; closedByCode: Record<string, number> };
  /** The SQLite database file (its `-wal` file is measured); null on PostgreSQL (the gauge stays 0). */
  dbPath: string | null;
}

/** The source statuses exported as a state set (one series per status, 1 for the current one). */
const SOURCE_STATUSES = ['starting', 'ok', 'retrying', 'backing-off', 'failing', 'done', 'stopped'] as const;

export class DaemonMetrics {
  readonly registry = new Registry();
  private live: MetricsSources | null = null;

  private readonly polls = new Counter({ name: 'tickerpulse_source_polls_total', help: 'Polls (file chunks, websocket batches) whose pipeline finished, by outcome: ok, partial (some items dead-lettered or a partly failed poll), error (the poll failed).', labelNames: ['source', 'outcome'], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'tickerpulse_source_errors_total', help: 'Failed polls by error code, plus polls with dead letters by the dead letters\' code.', labelNames: ['source', 'code'], registers: [this.registry] });
  private readonly ingested = new Counter({ name: 'tickerpulse_source_items_ingested_total', help: 'New items stored.', labelNames: ['source'], registers: [this.registry] });
  private readonly deduplicated = new Counter({ name: 'tickerpulse_source_items_deduplicated_total', help: 'Items skipped because they were already stored.', labelNames: ['source'], registers: [this.registry] });
  private readonly deadLettered = new Counter({ name: 'tickerpulse_source_items_dead_lettered_total', help: 'Items that could not be classified and went to the dead-letter table.', labelNames: ['source'], registers: [this.registry] });
  private readonly lastSuccess = new Gauge({ name: 'tickerpulse_source_last_success_timestamp_seconds', help: 'When the source last completed a poll without error (Unix time).', labelNames: ['source'], registers: [this.registry] });
  private readonly classifySeconds = new Histogram({ name: 'tickerpulse_classify_batch_seconds', help: 'Time of one classification batch on the source\'s worker thread (parse excluded), successful or not.', labelNames: ['source'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  private readonly commitSeconds = new Histogram({ name: 'tickerpulse_commit_seconds', help: 'Time of one writer transaction (dedupe, stories, rollups, alerts, insert).', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
  private readonly commitItems = new Histogram({ name: 'tickerpulse_commit_items', help: 'Items offered to one writer transaction.', buckets: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000], registers: [this.registry] });
  private readonly commitSamplesDropped = new Counter({ name: 'tickerpulse_commit_samples_dropped_total', help: 'Commits left out of the commit histograms (more than 10,000 in one 500 ms stats interval).', registers: [this.registry] });
  private readonly alertsFired = new Counter({ name: 'tickerpulse_alerts_fired_total', help: 'Alerts raised and stored, by rule id.', labelNames: ['rule'], registers: [this.registry] });
  private readonly webhookDelivered = new Counter({ name: 'tickerpulse_webhook_deliveries_total', help: 'Alerts the webhook accepted.', registers: [this.registry] });
  private readonly webhookFailed = new Counter({ name: 'tickerpulse_webhook_failures_total', help: 'Alerts the webhook delivery gave up on (after its retries, or dropped from a full queue).', registers: [this.registry] });
  private readonly configReloads = new Counter({ name: 'tickerpulse_config_reloads_total', help: 'Config reloads (SIGHUP, tickerpulse reload) by outcome: ok (applied), invalid (refused, the running config kept), error (applied in part: a source could not start).', labelNames: ['outcome'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of RELOAD_OUTCOMES) this.configReloads.inc({ outcome }, 0);
    const reg = [this.registry];
    // Scrape-time gauges: `this.live` is read in collect(), so no state is copied between scrapes.
    const self = this;
    new Gauge({
      name: 'tickerpulse_source_consecutive_errors',
      help: 'Failed polls in a row (0: healthy; the source backs off after each; failing from 3).',
      labelNames: ['source'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of self.live?.sources() ?? []) this.set({ source: s.id }, s.consecutiveErrors);
      },
    });
    new Gauge({
      name: 'tickerpulse_source_status',
      help: 'The source\'s status as a state set: 1 for its current status, 0 for the others.',
      labelNames: ['source', 'status'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of self.live?.sources() ?? []) for (const st of SOURCE_STATUSES) this.set({ source: s.id, status: st }, s.status === st ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tickerpulse_source_next_poll_timestamp_seconds',
      help: 'When the source polls next (Unix time; after an error, the end of its backoff).',
      labelNames: ['source'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of self.live?.sources() ?? []) {
          const t = s.nextPollAt ? Date.parse(s.nextPollAt) : NaN;
          if (Number.isFinite(t)) this.set({ source: s.id }, t / 1000);
        }
      },
    });
    new Gauge({
      name: 'tickerpulse_source_queue_depth',
      help: 'Polls waiting in the source\'s pipeline plus tasks queued on its worker thread.',
      labelNames: ['source'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of self.live?.sources() ?? []) this.set({ source: s.id }, s.queueDepth);
      },
    });
    new Gauge({
      name: 'tickerpulse_writer_queue_depth',
      help: 'Requests sent to the writer thread and not yet answered.',
      registers: reg,
      collect() {
        this.set(self.live?.writer().queueDepth ?? 0);
      },
    });
    new Gauge({
      name: 'tickerpulse_writer_lag_seconds',
      help: 'Age of the oldest request the writer thread has not answered (0 when idle).',
      registers: reg,
      collect() {
        this.set((self.live?.writer().lagMs ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'tickerpulse_db_wal_bytes',
      help: 'Size of the database\'s write-ahead log file (0 when absent).',
      registers: reg,
      collect() {
        this.set(self.live?.dbPath ? walBytes(self.live.dbPath) : 0);
      },
    });
    // The server counts these itself (it has no metrics dependency); copied at scrape time.
    new Counter({
      name: 'tickerpulse_ws_messages_sent_total',
      help: 'WebSocket messages queued to clients (items, alerts, rollups, source updates, replies).',
      registers: reg,
      collect() {
        this.reset();
        this.inc(self.live?.websocket().messagesSent ?? 0);
      },
    });
    new Counter({
      name: 'tickerpulse_ws_sent_bytes_total',
      help: 'Bytes of those messages (WebSocket framing included).',
      registers: reg,
      collect() {
        this.reset();
        this.inc(self.live?.websocket().bytesSent ?? 0);
      },
    });
    new Counter({
      name: 'tickerpulse_ws_closed_total',
      help: 'WebSocket connections closed, by close code (4008 too slow, 1008 policy violation, 1009 message too big, 1001 going away, 1000 normal, 1006 dropped).',
      labelNames: ['code'],
      registers: reg,
      collect() {
        this.reset();
        // Always present, so rate() over them works before the first such close.
        for (const code of ['4008', '1008', '1009']) this.inc({ code }, 0);
        for (const [code, n] of Object.entries(self.live?.websocket().closedByCode ?? {})) this.inc({ code }, n);
      },
    });
    new Gauge({
      name: 'tickerpulse_ws_clients',
      help: 'Open WebSocket connections.',
      registers: reg,
      collect() {
        this.set(self.live?.websocket().clients ?? 0);
      },
    });
    new Gauge({
      name: 'tickerpulse_ws_replaying_clients',
      help: 'WebSocket connections still replaying history (?since).',
      registers: reg,
      collect() {
        this.set(self.live?.websocket().replaying ?? 0);
      },
    });
    new Gauge({
      name: 'tickerpulse_ws_replay_backlog_items',
      help: 'Items the replaying connections have yet to be sent (sum over them of newest seq minus their position).',
      registers: reg,
      collect() {
        this.set(self.live?.websocket().replayBacklog ?? 0);
      },
    });
  }

  /** Connects the scrape-time gauges to the running daemon. */
  attach(live: MetricsSources): void {
    this.live = live;
  }

  /** Prometheus text exposition (version 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** A poll's report (its last chunk committed). */
  onReport(source: string, r: IngestReport, now = Date.now()): void {
    const failedPoll = r.poll.error !== undefined;
    const outcome = failedPoll && r.poll.items.length === 0 ? 'error' : failedPoll || r.failed.length ? 'partial' : 'ok';
    this.polls.inc({ source, outcome });
    if (r.poll.error) this.errors.inc({ source, code: r.poll.error.code });
    for (const code of new Set(r.failed.map((f) => f.code))) this.errors.inc({ source, code });
    if (r.stored) this.ingested.inc({ source }, r.stored);
    if (r.duplicates) this.deduplicated.inc({ source }, r.duplicates);
    if (r.failed.length) this.deadLettered.inc({ source }, r.failed.length);
    if (!failedPoll) this.lastSuccess.set({ source }, now / 1000);
  }

  /** Creates every per-source series at 0, so rate() and absent() work before the first poll. */
  addSource(source: string, lastSuccessAt: string | null): void {
    for (const outcome of ['ok', 'partial', 'error']) this.polls.inc({ source, outcome }, 0);
    this.ingested.inc({ source }, 0);
    this.deduplicated.inc({ source }, 0);
    this.deadLettered.inc({ source }, 0);
    const t = lastSuccessAt ? Date.parse(lastSuccessAt) : NaN;
    if (Number.isFinite(t)) this.lastSuccess.set({ source }, t / 1000);
  }

  /** The same classifier, each batch timed into tickerpulse_classify_batch_seconds. */
  timeClassifier<C extends BatchClassifier>(source: string, classifier: C): BatchClassifier {
    const hist = this.classifySeconds;
    return {
      async classify(texts) {
        const end = hist.startTimer({ source });
        try {
          return await classifier.classify(texts);
        } finally {
          end();
        }
      },
    };
  }

  onCommitSamples(s: CommitSamples): void {
    for (let i = 0; i < s.ms.length; i++) {
      this.commitSeconds.observe(s.ms[i] / 1000);
      this.commitItems.observe(s.items[i]);
    }
    if (s.dropped) this.commitSamplesDropped.inc(s.dropped);
  }

  onAlerts(alerts: readonly StoredAlert[]): void {
    for (const a of alerts) this.alertsFired.inc({ rule: a.rule });
  }

  onReload(outcome: ReloadOutcome): void {
    this.configReloads.inc({ outcome });
  }

  onWebhook(delivered: boolean): void {
    (delivered ? this.webhookDelivered : this.webhookFailed).inc();
  }
}

function walBytes(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
}
