/**
 * The store side of `tickerpulse reclassify`: re-scored items are written back in batches, and
 * the rollup rows their old and new values touched are rebuilt from the items of just those
 * buckets (never a full rescan). The resume point lives in `meta` and moves in the same
 * transaction as the batch, so an interrupted run continues where it stopped.
 */
import type Database from 'better-sqlite3';
import { TickerpulseError } from '../lib/errors.js';
import type { ItemTicker, Prediction } from '../lib/types.js';
import { ROLLUP_BUCKETS, bucketStart, type RollupBucket, type RollupKind } from './rollups.js';
import type { ItemStore } from './itemStore.js';
import { tickerRowsSql } from './tickerIndex.js';

export interface ReclassifyRow {
  seq: number;
  source: string;
  title: string;
  published_at: string;
  model: string;
  tickers: string | null;
}

export interface Rescored extends Prediction {
  seq: number;
  model: string;
  /** New items.tickers JSON (null: none). */
  tickers: string | null;
}

export interface ReclassifyProgress {
  /** Model id the run is bringing items to. */
  model: string;
  /** published_at lower bound of the run (ISO), null = all items. */
  since: string | null;
  /** Highest seq done. */
  lastSeq: number;
  /** Highest seq when the run started (items after it were classified by the daemon already). */
  endSeq: number;
  done: number;
  startedAt: string;
}

const META_KEY = 'reclassify';
const BUCKET_MS: Record<RollupBucket, number> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

export class ReclassifyStore {
  private readonly db: Database.Database;
  private readonly stPage: Database.Statement;
  private readonly stCount: Database.Statement;
  private readonly stUpdate: Database.Statement;
  private readonly stGetMeta: Database.Statement;
  private readonly stSetMeta: Database.Statement;
  private readonly stDelRollup: Database.Statement;
  private readonly stSourceAgg: Database.Statement;
  private readonly stTickerAgg: Database.Statement;
  private readonly stPutRollup: Database.Statement;
  private readonly applyTx: (rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress) => void;

  constructor(store: ItemStore) {
    if (store.readonly) throw new TickerpulseError('STORE_FAILED', `database ${store.path} is open read-only`);
    const db = (this.db = store.database);
    this.stPage = db.prepare(`SELECT seq, source, title, published_at, model, tickers FROM items
      WHERE seq > @after AND seq <= @end AND (@since IS NULL OR published_at >= @since) ORDER BY seq LIMIT @limit`);
    this.stCount = db.prepare(`SELECT count(*) FROM items WHERE seq > @after AND seq <= @end AND (@since IS NULL OR published_at >= @since)`).pluck();
    // The items_tickers_update trigger rewrites an indexed item's ticker_index rows from `tickers`.
    this.stUpdate = db.prepare('UPDATE items SET label = ?, p_neg = ?, p_neu = ?, p_pos = ?, score = ?, model = ?, tickers = ? WHERE seq = ?');
    this.stGetMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.stSetMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.stDelRollup = db.prepare('DELETE FROM rollups WHERE kind = ? AND bucket = ? AND start = ? AND key = ?');
    // The same counting rules as commitPoll (docs/SCHEMA.md): items every item; stories the
    // novel ones (items from before story clustering count as their own story); sentiment once
    // per story: for a source its first copy of the story from that source.
    this.stSourceAgg = db.prepare(`
      SELECT count(*) AS items, sum(novel) AS stories, sum(scored) AS scored,
             coalesce(sum(CASE WHEN scored = 1 THEN score END), 0) AS sum_score,
             sum(scored AND label = 'positive') AS pos, sum(scored AND label = 'neutral') AS neu, sum(scored AND label = 'negative') AS neg
      FROM (SELECT i.score, i.label,
                   CASE WHEN i.story_id IS NULL THEN 1 ELSE i.novel END AS novel,
                   CASE WHEN i.story_id IS NULL OR i.seq = (SELECT min(j.seq) FROM items j
                          WHERE (j.seq = i.story_id OR (j.novel = 0 AND j.story_id = i.story_id)) AND j.source = i.source)
                        THEN 1 ELSE 0 END AS scored
            FROM items i WHERE i.source = @key AND i.published_at >= @start AND i.published_at < @end)`);
    this.stTickerAgg = db.prepare(`
      SELECT count(*) AS items, sum(novel) AS stories, sum(novel) AS scored,
             coalesce(sum(CASE WHEN novel = 1 THEN score END), 0) AS sum_score,
             sum(novel AND label = 'positive') AS pos, sum(novel AND label = 'neutral') AS neu, sum(novel AND label = 'negative') AS neg
      FROM (SELECT t.score, t.label, CASE WHEN i.story_id IS NULL THEN 1 ELSE i.novel END AS novel
            FROM (${tickerRowsSql('@key')}) AS t JOIN items i ON i.seq = t.seq
            WHERE t.published_at >= @start AND t.published_at < @end)`);
    this.stPutRollup = db.prepare(`INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.applyTx = db.transaction((rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress) => {
      const touched = new Map<string, { kind: RollupKind; key: string; bucket: RollupBucket; start: string }>();
      const touch = (kind: RollupKind, key: string, publishedAt: string) => {
        for (const bucket of ROLLUP_BUCKETS) {
          const start = bucketStart(publishedAt, bucket);
          touched.set(`${kind}\u0000${key}\u0000${bucket}\u0000${start}`, { kind, key, bucket, start });
        }
      };
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const r = rescored[i];
        if (r.seq !== row.seq) throw new TickerpulseError('INPUT_INVALID', `reclassify: result ${r.seq} does not match item ${row.seq}`);
        this.stUpdate.run(r.label, r.pNeg, r.pNeu, r.pPos, r.score, r.model, r.tickers, r.seq);
        touch('source', row.source, row.published_at);
        for (const t of symbolsOf(row.tickers)) touch('ticker', t, row.published_at);
        for (const t of symbolsOf(r.tickers)) touch('ticker', t, row.published_at);
      }
      for (const b of touched.values()) this.rebuild(b.kind, b.key, b.bucket, b.start);
      this.stSetMeta.run(META_KEY, JSON.stringify(progress));
    });
  }

  /** The unfinished run's progress, or null. */
  progress(): ReclassifyProgress | null {
    const v = this.stGetMeta.get(META_KEY) as string | undefined;
    return v ? (JSON.parse(v) as ReclassifyProgress) : null;
  }

  clearProgress(): void {
    this.db.prepare('DELETE FROM meta WHERE key = ?').run(META_KEY);
  }

  remaining(p: ReclassifyProgress): number {
    return this.stCount.get({ after: p.lastSeq, end: p.endSeq, since: p.since }) as number;
  }

  page(p: ReclassifyProgress, limit: number): ReclassifyRow[] {
    return this.stPage.all({ after: p.lastSeq, end: p.endSeq, since: p.since, limit }) as ReclassifyRow[];
  }

  /** Writes one batch and the new resume point in one transaction. */
  apply(rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress): void {
    try {
      this.applyTx(rows, rescored, progress);
    } catch (err) {
      if (err instanceof TickerpulseError) throw err;
      throw new TickerpulseError('STORE_FAILED', `reclassify: writing a batch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Recomputes one rollup row from the items in its bucket. */
  private rebuild(kind: RollupKind, key: string, bucket: RollupBucket, start: string): void {
    const end = new Date(Date.parse(start) + BUCKET_MS[bucket]).toISOString();
    const agg = (kind === 'source' ? this.stSourceAgg : this.stTickerAgg).get({ key, start, end }) as {
      items: number;
      stories: number | null;
      scored: number | null;
      sum_score: number;
      pos: number | null;
      neu: number | null;
      neg: number | null;
    };
    this.stDelRollup.run(kind, bucket, start, key);
    if (agg.items > 0) this.stPutRollup.run(kind, key, bucket, start, agg.items, agg.stories ?? 0, agg.scored ?? 0, agg.sum_score, agg.pos ?? 0, agg.neu ?? 0, agg.neg ?? 0);
  }
}

function symbolsOf(json: string | null): string[] {
  if (!json) return [];
  return (JSON.parse(json) as ItemTicker[]).map((t) => t.symbol);
}

