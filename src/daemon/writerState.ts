/**
 * The in-memory state of the writer stage, shared by both writer backends (the SQLite writer
 * thread, writerThread.ts, and the PostgreSQL writer, pgWriter.ts): one story clusterer and one
 * alert engine for every source, warmed from the store at start so a restart (or a standby
 * taking over) neither splits stories nor forgets alert baselines and cooldowns.
 *
 * The store reads themselves are the caller's (sync for SQLite, async for PostgreSQL): these
 * functions say what to read (`…WarmSince`) and build the state from what was read.
 */
import { AlertEngine } from '../../pipelines/alerts.js';
import { STORY_WINDOW_MS, StoryClusterer, type StoryMatch } from '../../pipelines/storyCluster.js';
import type { AlertsConfig } from '../config/alerts.js';
import type { ClassifiedItem, StoredAlert, StoredItem } from '../lib/types.js';
import type { StoryWarmItem } from '../store/itemStore.js';

/** Items re-read at start to warm the story clusterer (bounded: start-up time and memory). */
export const STORY_WARM_ITEMS = 50_000;
/** Items re-read at start to warm the alert windows (bounded: start-up time and memory). */
export const ALERT_WARM_ITEMS = 200_000;
/** Stored alerts re-read at start to restore cooldowns. */
export const ALERT_WARM_ALERTS = 100_000;

export interface WriterStories {
  match(source: string, item: ClassifiedItem, publishedAt: string): StoryMatch;
  record(m: StoryMatch, seq: number): ReturnType<StoryClusterer['record']>;
  readonly size: number;
}

/** Where the story warm-up starts (null: the store is empty, nothing to warm). */
export function storyWarmSince(latestPublishedAt: string | null, clock: () => number): string | null {
  if (latestPublishedAt === null) return null;
  const end = Math.min(Date.parse(latestPublishedAt), clock());
  return new Date(end - STORY_WINDOW_MS).toISOString();
}

/**
 * One story clusterer shared by every source. Its clock is event time: the newest publication
 * time seen (never more than 10 min ahead of the wall clock, so one bogus future date cannot
 * evict everything), so replays of old files cluster like live news. `warm`: the stored items
 * of the last 48 h of event time (storyWarmSince), oldest first.
 */
export function createStories(clock: () => number, warm: readonly StoryWarmItem[]): WriterStories {
  let eventTime = 0;
  const observe = (publishedAt: string | null): void => {
    const t = publishedAt ? Date.parse(publishedAt) : NaN;
    if (t > eventTime && t <= clock() + 600_000) eventTime = t;
  };
  // The class defaults (32 hashes in 16 bands) match the signatures the sources' workers compute.
  const clusterer = new StoryClusterer({ clock: () => eventTime || clock() });
  for (const w of warm) {
    observe(w.publishedAt);
    clusterer.restore({ seq: w.seq, source: w.source, title: w.title, publishedAt: w.publishedAt, tickers: w.tickers }, w.storyId);
  }
  return {
    match(source: string, item: ClassifiedItem, publishedAt: string): StoryMatch {
      observe(publishedAt);
      return clusterer.match({ source, title: item.title, publishedAt, tickers: item.tickers ? item.tickers.map((t) => t.symbol) : [], sig: item.storySig });
    },
    record: (m: StoryMatch, seq: number) => clusterer.record(m, seq),
    get size() {
      return clusterer.size;
    },
  };
}

/** The enabled rules' longest look-back: where the alert warm-up starts (null: no rules, no engine). */
export function alertWarmSince(cfg: AlertsConfig | null, clock: () => number): string | null {
  const rules = cfg ? cfg.rules.filter((r) => r.enabled) : [];
  if (!cfg || rules.length === 0) return null;
  const horizon = Math.max(...rules.map((r) => ('trailing' in r ? r.trailing + r.recent : 0) + r.cooldown));
  return new Date(clock() - horizon).toISOString();
}

/**
 * The alert engine shared by every source, evaluated inside each commit. Its windows live in
 * memory, warmed from the stored items of the longest trailing window and the cooldowns from
 * stored alerts (both read from alertWarmSince on).
 */
export function createAlerts(
  cfg: AlertsConfig,
  watchlist: string[],
  clock: () => number,
  warmItems: StoredItem[],
  warmAlerts: Pick<StoredAlert, 'rule' | 'ticker' | 'at'>[],
): AlertEngine {
  const engine = new AlertEngine(cfg, { clock, watchlist });
  engine.restore(warmItems, warmAlerts);
  return engine;
}
