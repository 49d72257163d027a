/**
 * The store side of `tickerpulse reclassify`: re-scored items are written back in batches, and
 * the rollup rows they touch are brought in step in the same transaction. The resume point lives
 * in `meta` and moves in the same transaction as the batch, so an interrupted run continues where
 * it stopped.
 *
 * Work per batch is proportional to the batch, never to the size of a source or a bucket (the
 * first version recomputed every touched bucket from its items in every batch, and a correlated
 * subquery scanned the whole source per row: quadratic, a 30,000-item source never committed a
 * batch):
 *   - ticker rows get the exact difference of each item's old and new contribution (its old
 *     tickers out, its new ones in), as commitPoll counts them;
 *   - a source row is recomputed from the items of its bucket the first time the run touches it
 *     (so items stored before schema version 2, which no rollup counts, are counted as before),
 *     and gets differences afterwards. Which buckets were recomputed is remembered in memory
 *     (bounded, see `rebuiltBucketsRemembered`); forgetting one only costs a second recomputation.
 * Integer columns therefore equal a from-scratch computation; `sum_score` equals it up to
 * floating-point rounding (as commitPoll's own running sums do).
 */
import type Database from 'better-sqlite3';
import { TickerpulseError } from '../lib/errors.js';
import type { Label, Prediction } from '../lib/types.js';
import { ROLLUP_BUCKETS, bucketStarts, type RollupBucket, type RollupDelta, type RollupKind } from './rollups.js';
import type { ItemStore } from './itemStore.js';
import { TICKER_VIAS } from './tickerIndex.js';

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

export interface ReclassifyStoreOptions {
  /**
   * Source rollup rows remembered as recomputed in this run (default 100,000, a few MiB); past
   * it the oldest are forgotten and recomputed again if the run touches them again.
   */
  rebuiltBucketsRemembered?: number;
}

export const DEFAULT_REBUILT_BUCKETS_REMEMBERED = 100_000;

const META_KEY = 'reclassify';
const BUCKET_MS: Record<RollupBucket, number> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

/**
 * Whether item `i` counts in its source's sentiment columns (docs/SCHEMA.md): it has no story, or
 * it is a member of its story (the novel item, or a copy) and no earlier member came from the
 * same source. The members of story X are seq = X and the copies with story_id = X, found
 * through the primary key and idx_items_story_copies (story_id, then rowid: `j.seq < i.seq` is a
 * range of it), so the cost is that of the story, not of the source.
 */
const SOURCE_SCORED_SQL = `CASE
    WHEN i.story_id IS NULL THEN 1
    WHEN NOT (i.seq = i.story_id OR i.novel = 0) THEN 0
    WHEN i.story_id < i.seq AND EXISTS (SELECT 1 FROM items AS j WHERE j.seq = i.story_id AND j.source = i.source) THEN 0
    WHEN EXISTS (SELECT 1 FROM items AS j WHERE j.novel = 0 AND j.story_id = i.story_id AND j.seq < i.seq AND j.source = i.source) THEN 0
    ELSE 1 END`;

/** Items before story clustering (story_id NULL) count as their own story. */
const NOVEL_SQL = 'CASE WHEN i.story_id IS NULL THEN 1 ELSE i.novel END';

interface OldRow {
  source: string;
  published_at: string;
  label: Label;
  score: number;
  tickers: string | null;
  novel: number;
  scored: number;
}

/** One rollup row's change (the same shape as the ingest's, src/store/rollups.ts). */
type Delta = RollupDelta;

interface TickerEntry {
  symbol: string;
  label: Label;
  score: number;
}

export class ReclassifyStore {
  private readonly db: Database.Database;
  private readonly stPage: Database.Statement;
  private readonly stCountSince: Database.Statement;
  private readonly stOld: Database.Statement;
  private readonly stUpdate: Database.Statement;
  private readonly stGetMeta: Database.Statement;
  private readonly stSetMeta: Database.Statement;
  private readonly stDelRollup: Database.Statement;
  private readonly stSourceAgg: Database.Statement;
  private readonly stPutRollup: Database.Statement;
  private readonly stAddRollup: Database.Statement;
  private readonly stDropEmpty: Database.Statement;
  private readonly applyTx: (rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress) => string[];
  /** Source rollup rows (id → true) recomputed from their items in this run; insertion order = age. */
  private readonly rebuilt = new Map<string, true>();
  private readonly rebuiltCap: number;

  constructor(store: ItemStore, opts: ReclassifyStoreOptions = {}) {
    if (store.readonly) throw new TickerpulseError('STORE_FAILED', `database ${store.path} is open read-only`);
    this.rebuiltCap = Math.max(0, Math.trunc(opts.rebuiltBucketsRemembered ?? DEFAULT_REBUILT_BUCKETS_REMEMBERED));
    const db = (this.db = store.database);
    this.stPage = db.prepare(`SELECT seq, source, title, published_at, model, tickers FROM items
      WHERE seq > @after AND seq <= @end AND (@since IS NULL OR published_at >= @since) ORDER BY seq LIMIT @limit`);
    // Covered by idx_items_published_at (published_at, then rowid): reads index entries only.
    this.stCountSince = db.prepare('SELECT count(*) FROM items WHERE published_at >= @since AND seq > @after AND seq <= @end').pluck();
    this.stOld = db.prepare(`SELECT i.source, i.published_at, i.label, i.score, i.tickers, ${NOVEL_SQL} AS novel, ${SOURCE_SCORED_SQL} AS scored
      FROM items AS i WHERE i.seq = ?`);
    // The items_tickers_update trigger rewrites an indexed item's ticker_index rows from `tickers`;
    // an item past the watermark needs nothing (item_tickers reads its JSON).
    this.stUpdate = db.prepare('UPDATE items SET label = ?, p_neg = ?, p_neu = ?, p_pos = ?, score = ?, model = ?, tickers = ? WHERE seq = ?');
    this.stGetMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.stSetMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.stDelRollup = db.prepare('DELETE FROM rollups WHERE kind = ? AND bucket = ? AND start = ? AND key = ?');
    // The same counting rules as commitPoll (docs/SCHEMA.md): items every item; stories the
    // novel ones; sentiment once per story: for a source its first copy of the story from it.
    this.stSourceAgg = db.prepare(`
      SELECT count(*) AS items, coalesce(sum(novel), 0) AS stories, coalesce(sum(scored), 0) AS scored,
             coalesce(sum(CASE WHEN scored = 1 THEN score END), 0) AS sum_score,
             coalesce(sum(scored AND label = 'positive'), 0) AS pos, coalesce(sum(scored AND label = 'neutral'), 0) AS neu,
             coalesce(sum(scored AND label = 'negative'), 0) AS neg
      FROM (SELECT i.score, i.label, ${NOVEL_SQL} AS novel, ${SOURCE_SCORED_SQL} AS scored
            FROM items AS i WHERE i.source = @key AND i.published_at >= @start AND i.published_at < @end)`);
    this.stPutRollup = db.prepare(`INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // A row left with nothing scored gets sum_score 0 exactly, as a recomputation would, not the
    // rounding residue of adding and subtracting the same scores.
    this.stAddRollup = db.prepare(`INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (kind, bucket, start, key) DO UPDATE SET
        items     = rollups.items + excluded.items,
        stories   = rollups.stories + excluded.stories,
        scored    = rollups.scored + excluded.scored,
        sum_score = CASE WHEN rollups.scored + excluded.scored = 0 THEN 0 ELSE rollups.sum_score + excluded.sum_score END,
        pos       = rollups.pos + excluded.pos,
        neu       = rollups.neu + excluded.neu,
        neg       = rollups.neg + excluded.neg`);
    // A ticker no item of the bucket names any more has no row (as after a recomputation).
    this.stDropEmpty = db.prepare('DELETE FROM rollups WHERE kind = ? AND bucket = ? AND start = ? AND key = ? AND items <= 0');
    this.applyTx = db.transaction((rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress) => this.write(rows, rescored, progress));
  }

  /** The unfinished run's progress, or null. */
  progress(): ReclassifyProgress | null {
    const v = this.stGetMeta.get(META_KEY) as string | undefined;
    return v ? (JSON.parse(v) as ReclassifyProgress) : null;
  }

  clearProgress(): void {
    this.db.prepare('DELETE FROM meta WHERE key = ?').run(META_KEY);
  }

  /**
   * Items left to do, at once: without `since` the seq span (exact unless items were deleted,
   * then an upper bound), with it a count over idx_items_published_at (index entries only).
   */
  estimateRemaining(p: ReclassifyProgress): { items: number; exact: boolean } {
    if (p.since === null) return { items: Math.max(0, p.endSeq - p.lastSeq), exact: false };
    return { items: this.stCountSince.get({ after: p.lastSeq, end: p.endSeq, since: p.since }) as number, exact: true };
  }

  /** The next `limit` items of the run after `afterSeq` (default: the resume point), seq ascending. */
  page(p: ReclassifyProgress, limit: number, afterSeq = p.lastSeq): ReclassifyRow[] {
    return this.stPage.all({ after: afterSeq, end: p.endSeq, since: p.since, limit }) as ReclassifyRow[];
  }

  /** Writes one batch and the new resume point in one transaction. */
  apply(rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress): void {
    let rebuiltNow: string[];
    try {
      rebuiltNow = this.applyTx(rows, rescored, progress);
    } catch (err) {
      if (err instanceof TickerpulseError) throw err;
      throw new TickerpulseError('STORE_FAILED', `reclassify: writing a batch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // Only once committed: a rolled-back recomputation must be done again.
    for (const id of rebuiltNow) {
      this.rebuilt.set(id, true);
      if (this.rebuilt.size > this.rebuiltCap) this.rebuilt.delete(this.rebuilt.keys().next().value as string);
    }
  }

  /** The body of apply's transaction; returns the source rows it recomputed. */
  private write(rows: ReclassifyRow[], rescored: Rescored[], progress: ReclassifyProgress): string[] {
    const deltas = new Map<string, Delta>();
    const sourceRows = new Map<string, { key: string; bucket: RollupBucket; start: string }>();
    for (let n = 0; n < rows.length; n++) {
      const r = rescored[n];
      if (r.seq !== rows[n].seq) throw new TickerpulseError('INPUT_INVALID', `reclassify: result ${r.seq} does not match item ${rows[n].seq}`);
      // Read inside the transaction: what the rollups count now, whoever wrote it.
      const old = this.stOld.get(r.seq) as OldRow | undefined;
      if (!old) continue; // deleted since the page was read
      this.stUpdate.run(r.label, r.pNeg, r.pNeu, r.pPos, r.score, r.model, r.tickers, r.seq);
      const starts = bucketStarts(old.published_at);
      const byBucket: Record<RollupBucket, string> = { '1m': starts.minute, '1h': starts.hour, '1d': starts.day };
      for (const bucket of ROLLUP_BUCKETS) sourceRows.set(rowId('source', old.source, bucket, byBucket[bucket]), { key: old.source, bucket, start: byBucket[bucket] });
      // Source rows: items and stories do not change; the sentiment does, if the item is scored.
      if (old.scored === 1 && (old.label !== r.label || old.score !== r.score)) {
        for (const bucket of ROLLUP_BUCKETS) {
          const d = delta(deltas, 'source', old.source, bucket, byBucket[bucket]);
          addSentiment(d, -1, old.score, old.label);
          addSentiment(d, 1, r.score, r.label);
        }
      }
      // Ticker rows: the old tickers' contribution out, the new ones' in (commitPoll's rules:
      // every item counts, stories and sentiment only for the story's first item).
      const novel = old.novel === 1;
      for (const [sign, json] of [[-1, old.tickers], [1, r.tickers]] as const) {
        for (const t of tickerEntries(json)) {
          for (const bucket of ROLLUP_BUCKETS) {
            const d = delta(deltas, 'ticker', t.symbol, bucket, byBucket[bucket]);
            d.items += sign;
            if (!novel) continue;
            d.stories += sign;
            d.scored += sign;
            addSentiment(d, sign, t.score, t.label);
          }
        }
      }
    }
    const rebuiltNow: string[] = [];
    for (const [id, s] of sourceRows) {
      if (this.rebuilt.has(id)) continue;
      this.recompute(s.key, s.bucket, s.start);
      deltas.delete(id);
      rebuiltNow.push(id);
    }
    for (const d of deltas.values()) {
      if (d.items === 0 && d.stories === 0 && d.scored === 0 && d.sumScore === 0 && d.pos === 0 && d.neu === 0 && d.neg === 0) continue;
      this.stAddRollup.run(d.kind, d.key, d.bucket, d.start, d.items, d.stories, d.scored, d.sumScore, d.pos, d.neu, d.neg);
      if (d.items < 0) this.stDropEmpty.run(d.kind, d.bucket, d.start, d.key);
    }
    this.stSetMeta.run(META_KEY, JSON.stringify(progress));
    return rebuiltNow;
  }

  /** Recomputes one source rollup row from the items in its bucket. */
  private recompute(key: string, bucket: RollupBucket, start: string): void {
    const end = new Date(Date.parse(start) + BUCKET_MS[bucket]).toISOString();
    const agg = this.stSourceAgg.get({ key, start, end }) as { items: number; stories: number; scored: number; sum_score: number; pos: number; neu: number; neg: number };
    this.stDelRollup.run('source', bucket, start, key);
    if (agg.items > 0) this.stPutRollup.run('source', key, bucket, start, agg.items, agg.stories, agg.scored, agg.sum_score, agg.pos, agg.neu, agg.neg);
  }
}

function rowId(kind: RollupKind, key: string, bucket: RollupBucket, start: string): string {
  return `${kind}\u0000${key}\u0000${bucket}\u0000${start}`;
}

function delta(deltas: Map<string, Delta>, kind: RollupKind, key: string, bucket: RollupBucket, start: string): Delta {
  const id = rowId(kind, key, bucket, start);
  let d = deltas.get(id);
  if (!d) deltas.set(id, (d = { kind, key, bucket, start, items: 0, stories: 0, scored: 0, sumScore: 0, pos: 0, neu: 0, neg: 0 }));
  return d;
}

function addSentiment(d: Delta, sign: number, score: number, label: Label): void {
  d.sumScore += sign * score;
  if (label === 'positive') d.pos += sign;
  else if (label === 'negative') d.neg += sign;
  else d.neu += sign;
}

const LABELS: ReadonlySet<string> = new Set(['negative', 'neutral', 'positive']);

/**
 * The entries of a tickers column that the index by ticker holds (the same well-formedness test
 * as src/store/tickerIndex.ts; the first entry of a symbol wins, as its ON CONFLICT DO NOTHING).
 */
function tickerEntries(json: string | null): TickerEntry[] {
  if (!json) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: TickerEntry[] = [];
  const seen = new Set<string>();
  for (const e of parsed as Array<Record<string, unknown> | null>) {
    if (!e || typeof e.symbol !== 'string' || typeof e.score !== 'number' || !LABELS.has(e.label as string) || !TICKER_VIAS.includes(e.via as string)) continue;
    if (seen.has(e.symbol)) continue;
    seen.add(e.symbol);
    out.push({ symbol: e.symbol, label: e.label as Label, score: e.score });
  }
  return out;
}
