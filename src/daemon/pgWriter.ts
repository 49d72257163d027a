/**
 * The writer stage on PostgreSQL (cluster mode, docs/CLUSTER.md): the same WriterBackend contract
 * as the SQLite writer thread (writer.ts + writerThread.ts) — dedupe, stories, rollups, alerts,
 * the commit and, on a poll's final chunk, its state, in one transaction per ItemBatch — over a
 * pg pool instead of a thread. The work is I/O-bound (one round trip per statement, not per
 * item), so it runs on the caller's event loop.
 *
 * Commits of this process run one at a time, in arrival order, so StoredBatches reach `onStored`
 * in seq order; commits of other processes are ordered by the store's seq_counter lock (see
 * src/store/pg/writer.ts), so several PgWriters on one database stay exactly-once and gap-free.
 *
 * Queue bound: as for the SQLite writer, the callers' in-flight batches (PollGate per source, or
 * the cluster consumer's max-ack-pending); nothing is dropped, callers wait.
 *
 * The story clusterer and the alert engine are warmed from the store at start and again after a
 * failed commit (which may have advanced them for rows that were rolled back), so a standby that
 * takes over, or a writer that lost its connection, continues from what is committed.
 */
import type pg from 'pg';
import type { AlertEngine } from '../../pipelines/alerts.js';
import type { StoryMatch } from '../../pipelines/storyCluster.js';
import type { AlertsConfig } from '../config/alerts.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../lib/messages.js';
import type { ItemTicker, StoredAlert, StoredItem } from '../lib/types.js';
import type { CommitOptions } from '../store/itemStore.js';
import { createPgPool } from '../store/pg/pool.js';
import { PgReader } from '../store/pg/reader.js';
import { PgItemWriter } from '../store/pg/writer.js';
import { pgPruneStep } from '../store/pg/retention.js';
import type { PruneCounts, PruneCutoffs } from '../store/retention.js';
import type { WriterStats } from './writer.js';
import type { WriterBackend } from './writerBackend.js';
import { ALERT_WARM_ALERTS, ALERT_WARM_ITEMS, STORY_WARM_ITEMS, alertWarmSince, createAlerts, createStories, storyWarmSince, type WriterStories } from './writerState.js';

export interface PgWriterOptions {
  url: string;
  /** Config `alerts` (null: no rules). */
  alerts: AlertsConfig | null;
  watchlist: string[];
  clock?: () => number;
  /** Connections (default 2: commits, plus known-guid lookups and alert outcomes beside them). */
  poolSize?: number;
  /**
   * Retry a retryable failure (PostgreSQL restarting, a cut connection) of a commit or a
   * known-guid lookup, with backoff up to this many ms, until it succeeds or the writer is
   * closed: the single-process daemon, which has nobody to hand the batch to. Unset (a
   * cluster's write role, which retries while it holds the writer lease): fail at once.
   */
  retryRetryableUpToMs?: number;
  /** Told of the first retryable failure of an episode, and of the recovery. */
  onStoreState?: (ok: boolean, err?: TickerpulseError) => void;
  /**
   * This writer is the database's only one (the single-process daemon, under its writer lock):
   * every seq committed is this writer's, so a commit whose rows start past the last seq handed
   * to `onStored` + 1 means a commit succeeded whose answer was lost (the connection died during
   * COMMIT; its retry then found the items stored). Those rows are read back and handed to
   * `onStored` first, so live clients get every seq. (A cluster's serve nodes fill such gaps
   * themselves, src/cluster/storedFeed.ts.)
   */
  soleWriter?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PgWriter implements WriterBackend {
  onStored: ((batch: StoredBatch) => void) | null = null;
  onFatal: ((err: TickerpulseError) => void) | null = null;
  private readonly writer: PgItemWriter;
  private readonly reader: PgReader;
  private stories!: WriterStories;
  private alerts: AlertEngine | null = null;
  /** The in-memory state may be ahead of the store (a commit failed): warm again before the next. */
  private stale = false;
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  /** soleWriter: the newest seq handed to onStored. */
  private emittedSeq = 0;
  /** When each queued commit was asked for (Date.now()), oldest first: commits finish in order. */
  private readonly queuedAt: number[] = [];
  private closed: Promise<void> | null = null;
  private commits = 0;
  private items = 0;
  private busyMs = 0;
  private readonly clock: () => number;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PgWriterOptions,
    private readonly log: Logger,
  ) {
    this.writer = new PgItemWriter(pool);
    this.reader = new PgReader(pool);
    this.clock = opts.clock ?? Date.now;
  }

  /** Connects, creates or upgrades the schema, warms the story/alert state. Throws STORE_FAILED. */
  static async start(opts: PgWriterOptions, log: Logger): Promise<PgWriter> {
    const pool = createPgPool(opts.url, { max: opts.poolSize ?? 2, applicationName: 'tickerpulse-writer', onIdleError: (err) => log.warn({ err }, 'an idle PostgreSQL connection failed (it is replaced on next use)') });
    const w = new PgWriter(pool, opts, log);
    try {
      await w.reader.ready(true);
      await w.warm();
      if (opts.soleWriter) w.emittedSeq = await w.reader.latestSeq();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return w;
  }

  private async warm(): Promise<void> {
    const t0 = Date.now();
    const storySince = storyWarmSince(await this.reader.latestPublishedAt(), this.clock);
    const warmItems = storySince === null ? [] : await this.reader.storyWarmItems(storySince, STORY_WARM_ITEMS);
    this.stories = createStories(this.clock, warmItems);
    const cfg = this.opts.alerts;
    const alertSince = alertWarmSince(cfg, this.clock);
    this.alerts =
      cfg && alertSince !== null
        ? createAlerts(cfg, this.opts.watchlist, this.clock, await this.reader.tickerItemsSince(alertSince, ALERT_WARM_ITEMS), await this.reader.alertsSince(alertSince, ALERT_WARM_ALERTS))
        : null;
    this.stale = false;
    this.log.info({ storyItems: warmItems.length, stories: this.stories.size, alerts: this.alerts !== null, ms: Date.now() - t0 }, 'PostgreSQL writer state warmed from the store');
  }

  knownGuids(sourceId: string, guids: string[]): Promise<Set<string>> {
    if (this.closed) return Promise.reject(new TickerpulseError('STORE_FAILED', 'the writer is closed'));
    if (guids.length === 0) return Promise.resolve(new Set());
    return this.retrying(() => this.writer.knownGuids(sourceId, guids));
  }

  /** Runs `fn`, again and again on retryable failures when configured (retryRetryableUpToMs). */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.opts.retryRetryableUpToMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 0) this.storeState(true);
        return out;
      } catch (err) {
        if (max === undefined || this.closed || !(err instanceof TickerpulseError && err.retryable)) throw err;
        if (attempt === 0) this.storeState(false, err);
        await sleep(Math.min(max, 100 * 2 ** Math.min(attempt, 10)));
        if (this.closed) throw err;
      }
    }
  }

  private storeFailing = false;
  private storeState(ok: boolean, err?: TickerpulseError): void {
    if (this.storeFailing === !ok) return;
    this.storeFailing = !ok;
    if (ok) this.log.info('PostgreSQL answers again; continuing');
    else this.log.warn({ err }, 'PostgreSQL failed (retryable); retrying until it answers');
    this.opts.onStoreState?.(ok, err);
  }

  commit(batch: ItemBatch): Promise<StoredBatch> {
    if (this.closed) return Promise.reject(new TickerpulseError('STORE_FAILED', 'the writer is closed'));
    this.queued++;
    this.queuedAt.push(Date.now());
    const run = this.chain.then(() => this.retrying(() => this.commitNow(batch)));
    this.chain = run.catch(() => undefined);
    return run.finally(() => {
      this.queued--;
      this.queuedAt.shift();
    });
  }

  private async commitNow(batch: ItemBatch): Promise<StoredBatch> {
    if (batch?.v !== MESSAGE_VERSION || batch.type !== 'ItemBatch') {
      throw new TickerpulseError('INPUT_INVALID', `writer: unsupported message ${JSON.stringify({ v: batch?.v, type: batch?.type })} (this writer speaks ItemBatch v${MESSAGE_VERSION})`);
    }
    const t0 = performance.now();
    try {
      if (this.stale) await this.warm();
      for (const item of batch.items) {
        if (item.tickers === undefined && typeof item.tickersJson === 'string') item.tickers = JSON.parse(item.tickersJson) as ItemTicker[];
      }
      let committedAlerts: StoredAlert[] = [];
      const stories = this.stories;
      const alerts = this.alerts;
      const opts: CommitOptions = {
        stories: { match: (item, publishedAt) => stories.match(batch.sourceId, item, publishedAt), record: (m, seq) => stories.record(m as StoryMatch, seq) },
        evaluateAlerts: alerts ? (items: StoredItem[]) => alerts.evaluate(items) : undefined,
        onAlerts: (a) => {
          committedAlerts = a;
        },
      };
      let result;
      try {
        result = await this.writer.commitPoll(batch.sourceId, batch.items, batch.final ? batch.state : {}, batch.final ? batch.error : undefined, opts, batch.deadLetters ?? []);
      } catch (err) {
        this.stale = true;
        throw err;
      }
      this.commits++;
      this.items += result.inserted.length;
      if (this.opts.soleWriter && result.inserted.length) {
        const first = result.inserted[0].seq;
        if (first > this.emittedSeq + 1) await this.emitCommittedBefore(first);
        this.emittedSeq = result.inserted[result.inserted.length - 1].seq;
      }
      const stored: StoredBatch = { v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: batch.sourceId, items: result.inserted, alerts: committedAlerts, offered: batch.items.length };
      try {
        this.onStored?.(stored);
      } catch (err) {
        this.log.error({ err }, 'fan-out of a stored batch failed');
      }
      return stored;
    } finally {
      this.busyMs += performance.now() - t0;
    }
  }

  /** Hands `onStored` the rows (emittedSeq, before) — committed, their answer lost — one source's run at a time. */
  private async emitCommittedBefore(before: number): Promise<void> {
    let rows: StoredItem[];
    try {
      rows = await this.reader.itemsAfter(this.emittedSeq, before - 1 - this.emittedSeq);
    } catch (err) {
      this.log.warn({ err, from: this.emittedSeq + 1, to: before - 1 }, 'could not read back commits whose answer was lost; live clients get them on their next ?since');
      return;
    }
    this.log.warn({ from: this.emittedSeq + 1, to: before - 1 }, 'commits whose answer was lost were stored: handing them to the fan-out now');
    for (let i = 0; i < rows.length; ) {
      let j = i + 1;
      while (j < rows.length && rows[j].source === rows[i].source) j++;
      const items = rows.slice(i, j);
      try {
        this.onStored?.({ v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: items[0].source, items, alerts: [], offered: 0 });
      } catch (err) {
        this.log.error({ err }, 'fan-out of a stored batch failed');
      }
      i = j;
    }
  }

  markAlert(alertId: number, failure: string | null): void {
    const done = failure === null ? this.writer.markAlertDelivered(alertId) : this.writer.markAlertFailed(alertId, failure);
    done.catch((err: unknown) => this.log.warn({ err, alert: alertId }, 'could not record the webhook outcome of an alert'));
  }

  /** Retention (src/daemon/retentionTask.ts): one prune transaction, queued on the store's seq lock like a commit. */
  prune(cutoffs: PruneCutoffs, batch: number): Promise<PruneCounts> {
    if (this.closed) return Promise.reject(new TickerpulseError('STORE_FAILED', 'the writer is closed'));
    return pgPruneStep(this.pool, cutoffs, batch);
  }

  /** PostgreSQL's autovacuum reclaims what retention deleted: no pages for the daemon to give back. */
  async vacuum(_pages: number): Promise<number> {
    return 0;
  }

  /** Age (ms) of the oldest commit not answered yet; 0 when none waits (/healthz writer lag). */
  lagMs(now = Date.now()): number {
    return this.queuedAt.length ? Math.max(0, now - this.queuedAt[0]) : 0;
  }

  /** False once closed. */
  get alive(): boolean {
    return this.closed === null;
  }

  stats(): WriterStats {
    return { cpuMs: null, busyMs: Math.round(this.busyMs), commits: this.commits, items: this.items, queueDepth: this.queued };
  }

  /** Nothing to fold or checkpoint: PostgreSQL's own checkpoints do that. Waits for queued commits. */
  async finish(): Promise<null> {
    await this.chain;
    return null;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.chain;
      await this.pool.end().catch(() => undefined);
    })();
    return this.closed;
  }
}
