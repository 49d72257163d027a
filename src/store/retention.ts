/**
 * Retention: deleting items, alerts and dead letters older than the configured ages, in small
 * transactions (docs/OPERATIONS.md, "Retention").
 *
 * Consistency rules (decided here, documented in docs/OPERATIONS.md and docs/SCHEMA.md):
 * - Items are pruned by publication time in whole UTC days: the cutoff is rounded down to a day
 *   start, the largest rollup bucket. Every rollup bucket is then either entirely kept (its
 *   items are all there, so `tickerpulse reclassify` can still rebuild it exactly) or entirely
 *   pruned.
 * - Rollups are aggregates and are kept: charts and series of pruned days still show what was
 *   ingested then. They are tiny next to the items they summarize.
 * - A story row goes with its last item (its last_published_at is before the cutoff); a story
 *   with items left keeps its row and its counts (item_count, source_count say what it was).
 * - The ticker index follows the items (the items_tickers_delete trigger); alert_items rows go
 *   with their alert (ON DELETE CASCADE), so an alert kept longer than its items may name seqs
 *   that are gone.
 * - seq is AUTOINCREMENT: pruning never lets a seq be handed out again (ws ?since= stays valid).
 */
import type Database from 'better-sqlite3';

export interface RetentionPolicy {
  /** Ages in ms; undefined keeps everything of that kind. */
  items?: number;
  alerts?: number;
  deadLetters?: number;
}

/** Delete what is strictly older than these canonical ISO times. */
export interface PruneCutoffs {
  items?: string;
  alerts?: string;
  deadLetters?: string;
}

export interface PruneCounts {
  items: number;
  stories: number;
  alerts: number;
  deadLetters: number;
}

const DAY_MS = 86_400_000;

export function cutoffsFor(policy: RetentionPolicy, now: number): PruneCutoffs {
  const out: PruneCutoffs = {};
  if (policy.items !== undefined) out.items = new Date(Math.floor((now - policy.items) / DAY_MS) * DAY_MS).toISOString();
  if (policy.alerts !== undefined) out.alerts = new Date(now - policy.alerts).toISOString();
  if (policy.deadLetters !== undefined) out.deadLetters = new Date(now - policy.deadLetters).toISOString();
  return out;
}

export const hasPolicy = (p: RetentionPolicy): boolean => p.items !== undefined || p.alerts !== undefined || p.deadLetters !== undefined;

export const NO_COUNTS: Readonly<PruneCounts> = { items: 0, stories: 0, alerts: 0, deadLetters: 0 };

export function addCounts(a: PruneCounts, b: PruneCounts): PruneCounts {
  return { items: a.items + b.items, stories: a.stories + b.stories, alerts: a.alerts + b.alerts, deadLetters: a.deadLetters + b.deadLetters };
}

/** The prune statements of one connection (the daemon's writer, or `tickerpulse prune`'s). */
export class Pruner {
  private readonly stItems: Database.Statement;
  private readonly stStory: Database.Statement;
  private readonly stAlerts: Database.Statement;
  private readonly stDead: Database.Statement;
  private readonly stepTx: Database.Transaction<(c: PruneCutoffs, batch: number) => PruneCounts>;

  constructor(private readonly db: Database.Database) {
    // Oldest first along idx_items_published_at; RETURNING gives the stories to check.
    this.stItems = db.prepare('DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE published_at < ? ORDER BY published_at LIMIT ?) RETURNING story_id').pluck();
    this.stStory = db.prepare('DELETE FROM stories WHERE id = ? AND last_published_at < ?');
    this.stAlerts = db.prepare('DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < ? ORDER BY at LIMIT ?)');
    // ids grow with created_at (both assigned at insert), so the oldest come first.
    this.stDead = db.prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE created_at < ? ORDER BY id LIMIT ?)');
    this.stepTx = db.transaction((c: PruneCutoffs, batch: number): PruneCounts => {
      const n = { ...NO_COUNTS };
      if (c.items) {
        const storyIds = new Set<number>();
        for (const id of this.stItems.all(c.items, batch) as (number | null)[]) {
          n.items++;
          if (id !== null) storyIds.add(id);
        }
        for (const id of storyIds) n.stories += this.stStory.run(id, c.items).changes;
      }
      if (c.alerts) n.alerts = this.stAlerts.run(c.alerts, batch).changes;
      if (c.deadLetters) n.deadLetters = this.stDead.run(c.deadLetters, batch).changes;
      return n;
    });
  }

  /**
   * One transaction deleting at most `batch` rows of each kind. Done when every count is below
   * `batch` (stories are not limited by it: they follow their items).
   */
  step(cutoffs: PruneCutoffs, batch: number): PruneCounts {
    return this.stepTx.immediate(cutoffs, batch);
  }

  static done(n: PruneCounts, batch: number): boolean {
    return n.items < batch && n.alerts < batch && n.deadLetters < batch;
  }

  /** What a prune with these cutoffs would delete (read-only; `prune --dry-run`). */
  count(c: PruneCutoffs): PruneCounts {
    const one = (sql: string, v: string | undefined) => (v === undefined ? 0 : (this.db.prepare(sql).pluck().get(v) as number));
    return {
      items: one('SELECT count(*) FROM items WHERE published_at < ?', c.items),
      stories: one('SELECT count(*) FROM stories WHERE last_published_at < ?', c.items),
      alerts: one('SELECT count(*) FROM alerts WHERE at < ?', c.alerts),
      deadLetters: one('SELECT count(*) FROM dead_letters WHERE created_at < ?', c.deadLetters),
    };
  }

  /** True when the file can give pages back (auto_vacuum = INCREMENTAL, see incrementalVacuum). */
  get incremental(): boolean {
    return this.db.pragma('auto_vacuum', { simple: true }) === 2;
  }

  get freePages(): number {
    return this.db.pragma('freelist_count', { simple: true }) as number;
  }

  /**
   * Gives up to `pages` free pages back to the file system; returns how many were freed. A no-op
   * on a database created before auto_vacuum = INCREMENTAL (its free pages are reused by new
   * rows instead; `tickerpulse prune --vacuum` converts it once).
   */
  incrementalVacuum(pages: number): number {
    if (!this.incremental) return 0;
    const before = this.freePages;
    this.db.pragma(`incremental_vacuum(${Math.max(1, Math.trunc(pages))})`);
    return before - this.freePages;
  }
}
