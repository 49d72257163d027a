import type { Label } from '../lib/types.js';

export type RollupKind = 'ticker' | 'source';
export type RollupBucket = '1m' | '1h' | '1d';
export const ROLLUP_BUCKETS: readonly RollupBucket[] = ['1m', '1h', '1d'];

export interface RollupDelta {
  kind: RollupKind;
  key: string;
  bucket: RollupBucket;
  start: string;
  items: number;
  stories: number;
  scored: number;
  sumScore: number;
  pos: number;
  neu: number;
  neg: number;
}

/** Bucket start of a canonical ISO time (`2024-05-01T13:45:12.345Z`), cut from the text. */
export function bucketStart(publishedAt: string, bucket: RollupBucket): string {
  if (bucket === '1m') return publishedAt.slice(0, 16) + ':00.000Z';
  if (bucket === '1h') return publishedAt.slice(0, 13) + ':00:00.000Z';
  return publishedAt.slice(0, 10) + 'T00:00:00.000Z';
}

export interface BucketStarts {
  minute: string;
  hour: string;
  day: string;
}

export function bucketStarts(publishedAt: string): BucketStarts {
  const minute = publishedAt.slice(0, 16);
  return { minute: minute + ':00.000Z', hour: minute.slice(0, 13) + ':00:00.000Z', day: minute.slice(0, 10) + 'T00:00:00.000Z' };
}

/**
 * One commit's rollup increments, summed per (kind, key, bucket, start) before they are written,
 * so a commit does one UPSERT per touched row instead of three per item and ticker.
 * `items` counts every item, `stories` the novel ones; the sentiment columns (`scored`,
 * `sumScore`, pos/neu/neg) count what the caller marks `scored` (each story once, see
 * docs/SCHEMA.md).
 */
export class RollupBatch {
  /** kind → bucket id (start + bucket, see bucketIds) → key → delta: no key string is built per add. */
  private readonly byKind = { ticker: new Map<string, Map<string, RollupDelta>>(), source: new Map<string, Map<string, RollupDelta>>() };
  private lastMinute = '';
  private lastIds: [string, string, string] = ['', '', ''];
  private count = 0;

  /** `starts`: bucketStarts(publishedAt), computed once per item and shared by its tickers. */
  add(kind: RollupKind, key: string, starts: BucketStarts, story: boolean, scored: boolean, score: number, label: Label): void {
    // Bucket starts of different buckets can coincide as text ('…T13:00:00.000Z' is a minute and
    // an hour start), hence the bucket in the id. Items of one commit mostly share a minute.
    if (starts.minute !== this.lastMinute) {
      this.lastMinute = starts.minute;
      this.lastIds = [starts.minute + '1m', starts.hour + '1h', starts.day + '1d'];
    }
    const byBucket = this.byKind[kind];
    const ids = this.lastIds;
    this.bump(byBucket, ids[0], kind, key, '1m', starts.minute, story, scored, score, label);
    this.bump(byBucket, ids[1], kind, key, '1h', starts.hour, story, scored, score, label);
    this.bump(byBucket, ids[2], kind, key, '1d', starts.day, story, scored, score, label);
  }

  /** Merges an already aggregated delta (used when rebuilding buckets). */
  merge(d: RollupDelta): void {
    const cur = this.slot(this.byKind[d.kind], d.start + d.bucket, d.kind, d.key, d.bucket, d.start);
    cur.items += d.items;
    cur.stories += d.stories;
    cur.scored += d.scored;
    cur.sumScore += d.sumScore;
    cur.pos += d.pos;
    cur.neu += d.neu;
    cur.neg += d.neg;
  }

  private slot(byBucket: Map<string, Map<string, RollupDelta>>, id: string, kind: RollupKind, key: string, bucket: RollupBucket, start: string): RollupDelta {
    let byKey = byBucket.get(id);
    if (!byKey) byBucket.set(id, (byKey = new Map()));
    let d = byKey.get(key);
    if (!d) {
      d = { kind, key, bucket, start, items: 0, stories: 0, scored: 0, sumScore: 0, pos: 0, neu: 0, neg: 0 };
      byKey.set(key, d);
      this.count++;
    }
    return d;
  }

  private bump(byBucket: Map<string, Map<string, RollupDelta>>, id: string, kind: RollupKind, key: string, bucket: RollupBucket, start: string, story: boolean, scored: boolean, score: number, label: Label): void {
    const d = this.slot(byBucket, id, kind, key, bucket, start);
    d.items++;
    if (story) d.stories++;
    if (!scored) return;
    d.scored++;
    d.sumScore += score;
    if (label === 'positive') d.pos++;
    else if (label === 'negative') d.neg++;
    else d.neu++;
  }

  get size(): number {
    return this.count;
  }

  *rows(): IterableIterator<RollupDelta> {
    for (const byBucket of [this.byKind.source, this.byKind.ticker]) for (const byKey of byBucket.values()) yield* byKey.values();
  }
}
