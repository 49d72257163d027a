/**
 * Entry point of the writer stage: the one thread that owns the daemon's SQLite write connection
 * (see writer.ts for the main thread's side and the message protocol). Everything that needs
 * global state and the database runs here, off the event loop that answers clients: dedupe
 * against the store, story assignment (one StoryClusterer for every source), rollups, alert
 * rules, the commit itself and the ticker index. Requests are handled strictly one at a time in
 * arrival order, which is what makes seq order = commit order = the order StoredBatches reach
 * the fan-out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { AlertEngine } from '../../pipelines/alerts.js';
import { STORY_MAX_STORIES, type StoryMatch } from '../../pipelines/storyCluster.js';
import type { AlertsConfig } from '../config/alerts.js';
import { TickerpulseError, toWireError } from '../lib/errors.js';
import { MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../lib/messages.js';
import { threadCpuMs } from '../lib/threadCpu.js';
import type { ClassifiedItem, ItemTicker, StoredAlert, StoredItem } from '../lib/types.js';
import { ItemStore, type CommitOptions } from '../store/itemStore.js';
import { Pruner } from '../store/retention.js';
import { MAX_COMMIT_SAMPLES, type CommitSamples, type WriterReply, type WriterRequest, type WriterThreadData, type WriterEvent } from './writerProtocol.js';
import { ALERT_WARM_ALERTS, ALERT_WARM_ITEMS, STORY_WARM_ITEMS, alertWarmSince, createAlerts, createStories, storyWarmSince, type WriterStories } from './writerState.js';

const data = workerData as WriterThreadData;
const port = parentPort;
if (!port) throw new Error('writerThread.ts must run as a worker thread');

const send = (m: WriterReply | WriterEvent) => port.postMessage(m);
const log = (level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => send({ type: 'log', level, obj, msg });

// Tests inject a clock into the daemon; a function cannot cross a thread, so its offset from
// the wall clock at start does (time then runs on at the wall clock's pace).
const clock = (): number => Date.now() + data.clockOffsetMs;

let store!: ItemStore;
let stories!: WriterStories;
let alerts: AlertEngine | null = null;
try {
  store = ItemStore.open(data.path, { autoCheckpointPages: data.autoCheckpointPages, cacheMb: data.cacheMb, tickerIndexLag: data.tickerIndexLag });
  stories = startStories();
  alerts = startAlerts(data.alerts, data.watchlist);
} catch (err) {
  // A typed error (STORE_FAILED with the path, …) for the daemon to report; error classes do not
  // survive postMessage, so it travels as a plain WireError.
  send({ type: 'failed', error: toWireError(err, 'STORE_FAILED') });
  try {
    store?.close();
  } catch {
    /* already failing */
  }
  port.close();
  process.exit(0);
}
let pruner: Pruner | undefined;
/** Per source: the commit options (built once, not per commit). */
const commitOptions = new Map<string, CommitOptions>();
let commits = 0;
let itemsStored = 0;
let busyMs = 0;
/** Commits since the last stats message (see CommitSamples). */
let samples: CommitSamples = { ms: [], items: [], dropped: 0 };

/** The shared story clusterer (writerState.ts), warmed from the stored items of the last 48 h. */
function startStories(): WriterStories {
  const t0 = Date.now();
  const since = storyWarmSince(store.latestPublishedAt(), clock);
  const warm = since === null ? [] : store.storyWarmItems(since, STORY_WARM_ITEMS);
  const stories = createStories(clock, warm);
  if (warm.length) log('info', { items: warm.length, stories: stories.size, ms: Date.now() - t0, max: STORY_MAX_STORIES }, 'story clusterer warmed from stored items');
  return stories;
}

/** The shared alert engine (writerState.ts), its windows and cooldowns warmed from the store. */
function startAlerts(cfg: AlertsConfig | null, watchlist: string[]): AlertEngine | null {
  const since = alertWarmSince(cfg, clock);
  if (!cfg || since === null) return null;
  const t0 = Date.now();
  const warm = store.tickerItemsSince(since, ALERT_WARM_ITEMS);
  const engine = createAlerts(cfg, watchlist, clock, warm, store.alertsSince(since, ALERT_WARM_ALERTS));
  log('info', { rules: cfg.rules.filter((r) => r.enabled).length, warmItems: warm.length, ms: Date.now() - t0 }, 'alert engine ready');
  return engine;
}

/** The alerts the running commit stored (its onAlerts sets them; one commit at a time on this thread). */
let committedAlerts: StoredAlert[] = [];

function optionsFor(sourceId: string): CommitOptions {
  let o = commitOptions.get(sourceId);
  if (!o) {
    o = {
      stories: { match: (item, publishedAt) => stories.match(sourceId, item, publishedAt), record: (m, seq) => stories.record(m as StoryMatch, seq) },
      evaluateAlerts: alerts ? (items: StoredItem[]) => alerts.evaluate(items) : undefined,
      onAlerts: (a: StoredAlert[]) => {
        committedAlerts = a;
      },
    };
    commitOptions.set(sourceId, o);
  }
  return o;
}

function commit(batch: ItemBatch): StoredBatch {
  if (batch?.v !== MESSAGE_VERSION || batch.type !== 'ItemBatch') {
    throw new TickerpulseError('INPUT_INVALID', `writer: unsupported message ${JSON.stringify({ v: batch?.v, type: batch?.type })} (this writer speaks ItemBatch v${MESSAGE_VERSION})`);
  }
  if (batch.deadLetters?.length) store.addDeadLetters(batch.sourceId, batch.deadLetters);
  // The source stage sends each item's tickers as the JSON the store writes (tickersJson); the
  // objects are built here, on this thread, for rollups, story matching and alerts.
  for (const item of batch.items) {
    if (item.tickers === undefined && typeof item.tickersJson === 'string') item.tickers = JSON.parse(item.tickersJson) as ItemTicker[];
  }
  committedAlerts = [];
  const t0 = performance.now();
  const stored = store.commitPoll(batch.sourceId, batch.items, batch.final ? batch.state : {}, batch.final ? batch.error : undefined, optionsFor(batch.sourceId));
  if (samples.ms.length < MAX_COMMIT_SAMPLES) {
    samples.ms.push(performance.now() - t0);
    samples.items.push(batch.items.length);
  } else samples.dropped++;
  commits++;
  itemsStored += stored.length;
  return { v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: batch.sourceId, items: stored, alerts: committedAlerts, offered: batch.items.length };
}

function handle(req: WriterRequest): unknown {
  switch (req.op) {
    case 'known':
      return [...store.knownGuids(req.sourceId, req.guids)];
    case 'commit':
      return commit(req.batch);
    case 'alertDelivered':
      store.markAlertDelivered(req.alertId);
      return null;
    case 'alertFailed':
      store.markAlertFailed(req.alertId, req.reason);
      return null;
    case 'prune':
      // Between two commits: the writer handles requests one at a time, so a batch delays the
      // next commit by its own length at most (docs/OPERATIONS.md, Retention).
      return (pruner ??= new Pruner(store.database)).step(req.cutoffs, req.batch);
    case 'vacuum':
      return (pruner ??= new Pruner(store.database)).incrementalVacuum(req.pages);
    case 'finish':
      // Shutdown: the newest items' tickers go into the index now (so the next start's ticker
      // reads have no tail to scan), then the WAL is folded into the main file.
      try {
        store.indexTickers();
      } catch (err) {
        log('error', { err: String(err) }, 'indexing the newest tickers failed (they are indexed by a later commit)');
      }
      return store.checkpoint();
    case 'close':
      store.close();
      return null;
    default:
      throw new TickerpulseError('INTERNAL', `writer: unknown request ${JSON.stringify((req as { op?: unknown }).op)}`);
  }
}

port.on('message', (req: WriterRequest) => {
  const t0 = performance.now();
  try {
    const result = handle(req);
    send({ type: 'reply', id: req.id, ok: true, result } as WriterReply);
  } catch (err) {
    send({ type: 'reply', id: req.id, ok: false, error: toWireError(err, 'STORE_FAILED') });
  }
  busyMs += performance.now() - t0;
  if (req.op === 'close') {
    clearInterval(statsTimer);
    port.close();
  }
});

function postStats(): void {
  send({ type: 'stats', cpuMs: threadCpuMs(), busyMs: Math.round(busyMs), commits, items: itemsStored, samples });
  samples = { ms: [], items: [], dropped: 0 };
}
const statsTimer = setInterval(postStats, data.statsIntervalMs);
postStats();
send({ type: 'ready', latestSeq: store.latestSeq() });
