/**
 * `rollup` messages: which (ticker, 1-minute bucket) pairs broadcast items touched since the
 * last flush, for the tickers some client subscribed to, and their current values read back
 * from the `rollups` table (committed before the items were broadcast, so always up to date).
 */
import type Database from 'better-sqlite3';
import type { StoredItem } from '../lib/types.js';
import { bucketStart } from '../store/rollups.js';
import type { RollupAggregate } from '../query/queries.js';
import type { RollupMessage } from './wire.js';

/** Buckets sent per ticker per flush at most (the newest ones; older ones are in /api/series). */
export const MAX_BUCKETS_PER_TICKER = 16;

export class RollupFeed {
  /** Subscribed ticker → number of clients whose filter names it. */
  private readonly interest = new Map<string, number>();
  /** Ticker → bucket starts touched since the last flush. */
  private dirty = new Map<string, Set<string>>();
  private stmt: Database.Statement | null = null;

  /** `db`: the SQLite connection flush() reads; null when the rows come from a StoreReader. */
  constructor(private readonly db: (() => Database.Database) | null) {}

  watch(tickers: Iterable<string> | null): void {
    if (tickers) for (const t of tickers) this.interest.set(t, (this.interest.get(t) ?? 0) + 1);
  }

  unwatch(tickers: Iterable<string> | null): void {
    if (!tickers) return;
    for (const t of tickers) {
      const n = (this.interest.get(t) ?? 0) - 1;
      if (n > 0) this.interest.set(t, n);
      else {
        this.interest.delete(t);
        this.dirty.delete(t);
      }
    }
  }

  /** Called with every broadcast batch (cheap when nobody subscribed to tickers). */
  observe(items: readonly StoredItem[]): void {
    if (this.interest.size === 0) return;
    for (const item of items) {
      const ts = item.tickers;
      if (!ts || ts.length === 0) continue;
      const published = item.publishedAt ?? item.fetchedAt;
      for (const t of ts) {
        if (!this.interest.has(t.symbol)) continue;
        let set = this.dirty.get(t.symbol);
        if (!set) this.dirty.set(t.symbol, (set = new Set()));
        set.add(bucketStart(published, '1m'));
      }
    }
  }

  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /** The changed (ticker, 1m bucket start) pairs, per ticker ascending by start (the newest MAX_BUCKETS_PER_TICKER); resets the change set. */
  takeChanged(): { ticker: string; start: string }[] {
    const dirty = this.dirty;
    this.dirty = new Map();
    const out: { ticker: string; start: string }[] = [];
    for (const [ticker, starts] of dirty) for (const start of [...starts].sort().slice(-MAX_BUCKETS_PER_TICKER)) out.push({ ticker, start });
    return out;
  }

  /** The changed buckets' current rows (SQLite, synchronous), per ticker ascending by start; resets the change set. Throws when the store fails. */
  flush(): RollupMessage[] {
    if (this.dirty.size === 0) return [];
    const changed = this.takeChanged();
    const db = this.db;
    if (!db) throw new Error('RollupFeed.flush needs the SQLite connection; with a StoreReader use takeChanged + rollupMessage');
    this.stmt ??= db().prepare(`
      SELECT items, stories, CASE WHEN scored > 0 THEN sum_score / scored END AS mean_score, pos, neu, neg
      FROM rollups WHERE kind = 'ticker' AND key = ? AND bucket = '1m' AND start = ?`);
    const out: RollupMessage[] = [];
    for (const { ticker, start } of changed) {
      const r = this.stmt.get(ticker, start) as RollupAggregate | undefined;
      if (r) out.push(rollupMessage(ticker, start, r));
    }
    return out;
  }
}

export function rollupMessage(ticker: string, start: string, r: RollupAggregate): RollupMessage {
  return { type: 'rollup', ticker, bucket: '1m', start, items: r.items, stories: r.stories, meanScore: r.mean_score, pos: r.pos, neu: r.neu, neg: r.neg };
}
