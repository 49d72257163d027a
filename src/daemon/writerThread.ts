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
import { AlertEngine } from '../../pipelines/alerts.js';
import { STORY_MAX_STORIES, STORY_WINDOW_MS, StoryClusterer, type StoryMatch } from '../../pipelines/storyCluster.js';
import type { AlertsConfig } from '../config/alerts.js';
import { TickerpulseError, toWireError } from '../lib/errors.js';
import { MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../lib/messages.js';
import { threadCpuMs } from '../lib/threadCpu.js';
import type { ClassifiedItem, ItemTicker, StoredAlert, StoredItem } from '../lib/types.js';
import { ItemStore, type CommitOptions } from '../store/itemStore.js';
import { Pruner } from '../store/retention.js';
import { MAX_COMMIT_SAMPLES, type CommitSamples, type WriterReply, type WriterRequest, type WriterThreadData, type WriterEvent } from './writerProtocol.js';

const data = workerData as WriterThreadData;
const port = parentPort;
if (!port) throw new Error('writerThread.ts must run as a worker thread');

const send = (m: WriterReply | WriterEvent) => port.postMessage(m);
const log = (level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => send({ type: 'log', level, obj, msg });

// Tests inject a clock into the daemon; a function cannot cross a thread, so its offset from
// the wall clock at start does (time then runs on at the wall clock's pace).
const clock = (): number => Date.now() + data.clockOffsetMs;

/** Items re-read at start to warm the story clusterer (bounded: start-up time and memory). */
const STORY_WARM_ITEMS = 50_000;
/** Items re-read at start to warm the alert windows (bounded: start-up time and memory). */
const ALERT_WARM_ITEMS = 200_000;

let store!: ItemStore;
let stories!: ReturnType<typeof startStories>;
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

/**
 * One story clusterer shared by every source. Its clock is event time: the newest publication
 * time seen (never more than 10 min ahead of the wall clock, so one bogus future date cannot
 * evict everything), so replays of old files cluster like live news. Its memory is lost on exit;
 * it is warmed from the stored items of the last 48 h (of event time) so a restart does not split
 * stories: they keep their ids and source counts.
 */
function startStories() {
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
    if (warm.length) log('info', { items: warm.length, stories: clusterer.size, ms: Date.now() - t0, max: STORY_MAX_STORIES }, 'story clusterer warmed from stored items');
  }
  return {
    match(source: string, item: ClassifiedItem, publishedAt: string): StoryMatch {
      observe(publishedAt);
      return clusterer.match({ source, title: item.title, publishedAt, tickers: item.tickers ? item.tickers.map((t) => t.symbol) : [], sig: item.storySig });
    },
    record: (m: StoryMatch, seq: number) => clusterer.record(m, seq),
  };
}

/**
 * The alert engine shared by every source, evaluated inside each commit. Its windows live in
 * memory: at start they are warmed from the stored items of the longest trailing window, and
 * cooldowns from stored alerts, so a restart neither forgets a baseline nor repeats an alert.
 */
function startAlerts(cfg: AlertsConfig | null, watchlist: string[]): AlertEngine | null {
  const rules = cfg ? cfg.rules.filter((r) => r.enabled) : [];
  if (!cfg || rules.length === 0) return null;
  const engine = new AlertEngine(cfg, { clock, watchlist });
  const horizon = Math.max(...rules.map((r) => ('trailing' in r ? r.trailing + r.recent : 0) + r.cooldown));
  const since = new Date(clock() - horizon).toISOString();
  const t0 = Date.now();
  const warm = store.tickerItemsSince(since, ALERT_WARM_ITEMS);
  engine.restore(warm, store.alertsSince(since, 100_000));
  log('info', { rules: rules.length, warmItems: warm.length, ms: Date.now() - t0 }, 'alert engine ready');
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
