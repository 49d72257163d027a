/**
 * One source of the single-node daemon, startable and stoppable on its own (a config reload
 * adds, removes and restarts sources without touching the others): its observable (network and
 * file I/O on the main thread), its worker thread (parse, classify, link, sign), its PollGate
 * and its pipeline into the writer (pipelines/ingest.ts).
 */
import { tap, type Subscription } from 'rxjs';
import type { Config, SourceConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { SourceState } from '../lib/types.js';
import { SourceWorker } from '../pool/sourceWorker.js';
import type { SourceContext } from '../../sources/types.js';
import type { HostBudget } from '../../sources/hostBudget.js';
import { PollGate } from '../../pipelines/gate.js';
import { ingestPolls, type IngestStore } from '../../pipelines/ingest.js';
import type { RetryNotice } from '../../pipelines/classify.js';
import { sourceWorkerOptions } from './configOptions.js';
import { applyErrorCause, applyReport, initialHealth, type SourceHealth } from './sourceHealth.js';
import type { DaemonMetrics } from './metrics.js';
import { COMMITS_IN_FLIGHT_PER_POLL } from './writer.js';
import { createSource } from './daemon.js';

export interface DaemonSourceDeps {
  store: IngestStore;
  metrics: DaemonMetrics;
  hostBudget: HostBudget;
  /** After each report and at the end: the source's health changed. */
  onChange(): void;
  onRetry(s: DaemonSource, n: RetryNotice, log: Logger): void;
  /** The pipeline failed (only the store can fail it): the daemon cannot go on. */
  onFatal(err: unknown): void;
}

export class DaemonSource {
  readonly health: SourceHealth;
  /** Settles when the source completed (a JSONL replay done), was stopped, or failed. */
  readonly done: Promise<void>;
  private readonly abort = new AbortController();
  private subscription: Subscription | null = null;
  private stopping: Promise<boolean> | null = null;
  private readonly worker: SourceWorker;
  private readonly gate: PollGate;

  constructor(
    readonly cfg: SourceConfig,
    /** The daemon config the source was built from (its inherited settings). */
    readonly daemonCfg: Config,
    persisted: (SourceState & { itemsTotal?: number }) | null,
    deps: DaemonSourceDeps,
    readonly log: Logger,
  ) {
    const sc = cfg;
    const worker = (this.worker = new SourceWorker(sourceWorkerOptions(daemonCfg, sc.id)));
    const gate = (this.gate = new PollGate(daemonCfg.limits.maxPendingPolls));
    this.health = initialHealth(sc.id, sc.kind, persisted);
    const limits = daemonCfg.limits;
    const ctx: SourceContext = {
      log,
      signal: this.abort.signal,
      state: persisted,
      // A document of more than limits.commitChunk items comes back page by page (PagedItems).
      parseFeed: (body, meta) => worker.parseFeed(body, meta, limits.commitChunk),
      parseJson: (body, meta, mapping) => worker.parseJson(body, meta, mapping, limits.commitChunk),
      parseJsonMessages: (messages, meta, mapping) => worker.parseJsonMessages(messages, meta, mapping),
      parseJsonlLines: (task) => worker.parseJsonlLines(task),
      waitForRoom: () => gate.waitForRoom(),
      hostBudget: deps.hostBudget,
    };
    let raw$: ReturnType<typeof createSource>;
    try {
      raw$ = createSource(sc, ctx, daemonCfg);
    } catch (err) {
      // Thrown to the caller (a reload reports the source as not started), not left running half-built.
      void worker.close().catch(() => undefined);
      throw err;
    }
    this.done = new Promise<void>((resolve, reject) => {
      this.subscription = raw$
        .pipe(
          ingestPolls({
            sourceId: sc.id,
            classifier: deps.metrics.timeClassifier(sc.id, worker),
            store: deps.store,
            gate,
            batchSize: limits.batchSize,
            attempts: limits.classifyAttempts,
            commitChunk: limits.commitChunk,
            chunksInFlight: COMMITS_IN_FLIGHT_PER_POLL,
            // A push stream's items are new: no known-guid round trip before classifying them.
            checkKnown: sc.kind !== 'websocket',
            log,
            onRetry: (n) => deps.onRetry(this, n, log),
          }),
          tap((report) => {
            applyReport(this.health, report);
            applyErrorCause(this.health, report);
            deps.metrics.onReport(sc.id, report);
          }),
        )
        .subscribe({
          next: () => deps.onChange(),
          error: (err) => {
            this.health.status = 'failing';
            deps.onChange();
            reject(err);
            deps.onFatal(err);
          },
          complete: () => {
            if (this.health.status !== 'failing') this.health.status = this.abort.signal.aborted ? 'stopped' : 'done';
            deps.onChange();
            resolve();
          },
        });
    });
    this.done.catch(() => undefined);
    deps.metrics.addSource(sc.id, persisted && persisted.consecutiveErrors === 0 ? persisted.lastPollAt : null);
    log.info({ kind: sc.kind }, 'source started');
  }

  get id(): string {
    return this.cfg.id;
  }

  report() {
    return { ...this.health, queueDepth: this.gate.depth + this.worker.queueDepth };
  }

  /** Stop polling and reading; what is in the pipeline goes on to its commit. */
  halt(): void {
    this.abort.abort();
  }

  /**
   * Stops the source: no new polls or file reads; polls already in the pipeline classify and
   * commit for up to `drainMs` (their source state with them); then the worker thread closes.
   * Resolves false when the drain timed out (those polls were not committed, so they are fetched
   * again by the next start of the source). Idempotent.
   */
  stop(drainMs: number): Promise<boolean> {
    this.stopping ??= (async () => {
      this.halt();
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([this.done.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs)))]);
      clearTimeout(timer);
      this.subscription?.unsubscribe();
      await this.worker.close().catch(() => undefined);
      this.log.info({ drained }, 'source stopped');
      return drained;
    })();
    return this.stopping;
  }
}
