/**
 * One source run by the poll node that holds its lease: exactly the single-node source — its
 * observable, its worker thread (parse, classify, link, sign), its PollGate and its pipeline
 * (pipelines/ingest.ts) — except that the pipeline's store is an ItemPublisher: batches go to
 * JetStream and the writer node commits them with their poll state.
 *
 * Started with the state the store holds for the source (the previous owner's last committed
 * ETag / cursor); stopped when the lease is lost or the node shuts down.
 */
import { tap, type Subscription } from 'rxjs';
import type { Config, SourceConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import { SourceWorker } from '../pool/sourceWorker.js';
import { createSource } from '../daemon/daemon.js';
import { initialHealth, statusFor, type SourceHealth } from '../daemon/sourceHealth.js';
import { COMMITS_IN_FLIGHT_PER_POLL } from '../daemon/writer.js';
import type { SourceContext } from '../../sources/types.js';
import type { HostBudget } from '../../sources/hostBudget.js';
import { PollGate } from '../../pipelines/gate.js';
import { ingestPolls, type IngestReport } from '../../pipelines/ingest.js';
import type { ItemPublisher } from './itemPublisher.js';
import type { PollStateReader } from './stores.js';
import { sourceWorkerOptions } from '../daemon/configOptions.js';

export interface SourceRunnerOptions {
  cfg: Config;
  source: SourceConfig;
  reader: PollStateReader;
  publisher: ItemPublisher;
  hostBudget: HostBudget;
  log: Logger;
}

export class SourceRunner {
  readonly health: SourceHealth;
  /** Settles when the source completed (e.g. a JSONL replay done), failed, or was stopped. */
  readonly done: Promise<void>;
  private readonly abort = new AbortController();
  private subscription: Subscription | null = null;
  private failed: unknown = null;

  private constructor(
    private readonly opts: SourceRunnerOptions,
    private readonly worker: SourceWorker,
    private readonly gate: PollGate,
    health: SourceHealth,
    start: (r: SourceRunner) => Promise<void>,
  ) {
    this.health = health;
    this.done = start(this);
    this.done.catch(() => undefined);
  }

  static async start(opts: SourceRunnerOptions): Promise<SourceRunner> {
    const { cfg, source: sc, log } = opts;
    const persisted = await opts.reader.getSourceState(sc.id);
    const worker = new SourceWorker(sourceWorkerOptions(cfg, sc.id));
    const gate = new PollGate(cfg.limits.maxPendingPolls);
    return new SourceRunner(opts, worker, gate, initialHealth(sc.id, sc.kind, persisted), (r) =>
      new Promise<void>((resolve, reject) => {
        const ctx: SourceContext = {
          log,
          signal: r.abort.signal,
          state: persisted,
          parseFeed: (body, meta) => worker.parseFeed(body, meta, cfg.limits.commitChunk),
          parseJson: (body, meta, mapping) => worker.parseJson(body, meta, mapping, cfg.limits.commitChunk),
          parseJsonMessages: (messages, meta, mapping) => worker.parseJsonMessages(messages, meta, mapping),
          waitForRoom: () => gate.waitForRoom(),
          hostBudget: opts.hostBudget,
        };
        r.subscription = createSource(sc, ctx, cfg)
          .pipe(
            ingestPolls({
              sourceId: sc.id,
              classifier: worker,
              store: { knownGuids: (id, guids) => opts.reader.knownGuids(id, guids), commit: (b) => opts.publisher.commit(b) },
              gate,
              batchSize: cfg.limits.batchSize,
              attempts: cfg.limits.classifyAttempts,
              commitChunk: cfg.limits.commitChunk,
              chunksInFlight: COMMITS_IN_FLIGHT_PER_POLL,
              log,
            }),
            tap((report) => r.record(report)),
          )
          .subscribe({
            error: (err) => {
              r.failed = err;
              r.health.status = r.abort.signal.aborted ? 'stopped' : 'failing';
              reject(err);
            },
            complete: () => {
              if (r.health.status !== 'failing') r.health.status = r.abort.signal.aborted ? 'stopped' : 'done';
              resolve();
            },
          });
      }),
    );
  }

  get id(): string {
    return this.opts.source.id;
  }

  report(): SourceHealth {
    return { ...this.health, queueDepth: this.gate.depth + this.worker.queueDepth };
  }

  /**
   * Stops polling, lets batches already in the pipeline publish for up to `drainMs`, then stops
   * the publisher (what it had not published is fetched again by the next owner) and the worker.
   */
  async stop(drainMs: number): Promise<void> {
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    this.opts.publisher.stop();
    await this.done.catch(() => undefined);
    this.subscription?.unsubscribe();
    await this.worker.close().catch(() => undefined);
  }

  private record(r: IngestReport): void {
    const h = this.health;
    const st = r.poll.state;
    if (st.lastPollAt !== undefined) h.lastPollAt = st.lastPollAt;
    if (st.nextPollAt !== undefined) h.nextPollAt = st.nextPollAt;
    // Published, not stored: the writer node counts what its store kept.
    h.items += r.poll.items.length - r.failed.length;
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
