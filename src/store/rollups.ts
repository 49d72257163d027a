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
  private readonly map = new Map<string, RollupDelta>();

  /** `starts`: bucketStarts(publishedAt), computed once per item and shared by its tickers. */
  add(kind: RollupKind, key: string, starts: BucketStarts, story: boolean, scored: boolean, score: number, label: Label): void {
    const prefix = (kind === 'ticker' ? 't' : 's') + key;
    this.bump(kind, key, '1m', prefix, starts.minute, story, scored, score, label);
    this.bump(kind, key, '1h', prefix, starts.hour, story, scored, score, label);
    this.bump(kind, key, '1d', prefix, starts.day, story, scored, score, label);
  }

  /** Merges an already aggregated delta (used when rebuilding buckets). */
  merge(d: RollupDelta): void {
    const id = (d.kind === 'ticker' ? 't' : 's') + d.key + '\u0000' + d.start + d.bucket;
    const cur = this.map.get(id);
    if (!cur) {
      this.map.set(id, { ...d });
      return;
    }
    cur.items += d.items;
    cur.stories += d.stories;
    cur.scored += d.scored;
    cur.sumScore += d.sumScore;
    cur.pos += d.pos;
    cur.neu += d.neu;
    cur.neg += d.neg;
  }

  private bump(kind: RollupKind, key: string, bucket: RollupBucket, prefix: string, start: string, story: boolean, scored: boolean, score: number, label: Label): void {
    // Bucket starts of different buckets never coincide as text ('…T13:00:00.000Z' is both a
    // minute and an hour start), hence the bucket in the key.
    const id = prefix + '\u0000' + start + bucket;
    let d = this.map.get(id);
    if (!d) {
      d = { kind, key, bucket, start, items: 0, stories: 0, scored: 0, sumScore: 0, pos: 0, neu: 0, neg: 0 };
      this.map.set(id, d);
    }
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
    return this.map.size;
  }

  rows(): IterableIterator<RollupDelta> {
    return this.map.values();
  }
}
