/**
 * Test data for the query module, written with plain SQL through `store.database` (not through
 * commitPoll), so these tests do not depend on the store's write path. Rollups are computed
 * here the way docs/SCHEMA.md defines them: every item counts in `items` of its 1m/1h/1d buckets;
 * `stories` and, for tickers, the sentiment columns (scored, sum_score, pos/neu/neg) count novel
 * items only; for sources every item is scored.
 */
import type Database from 'better-sqlite3';
import type { Label } from '../../src/lib/types.js';

export interface FixtureTicker {
  symbol: string;
  label?: Label;
  score?: number;
}

export interface FixtureItem {
  source: string;
  title: string;
  publishedAt: string;
  label: Label;
  score: number;
  guid?: string;
  summary?: string | null;
  url?: string | null;
  tickers?: FixtureTicker[];
  /** Default: novel, story id = own seq. */
  novel?: boolean;
  storyId?: number | null;
  dateMissing?: boolean;
}

export interface FixtureAlert {
  rule: string;
  kind: 'shift' | 'volume' | 'threshold';
  ticker: string;
  at: string;
  direction?: 'up' | 'down' | null;
  message: string;
  value: number;
  baseline?: number | null;
  deviation?: number | null;
  seqs?: number[];
  createdAt?: string;
  deliveredAt?: string | null;
  deliveryError?: string | null;
  /** alerts.seq (its place in the stream); default the newest of `seqs`, as the migration fills it. */
  seq?: number | null;
}

let guidCounter = 0;

const probs = (label: Label, score: number) => {
  const pPos = label === 'positive' ? Math.max(score, 0.34) : Math.max(0, score) / 2;
  const pNeg = Math.max(0, pPos - score);
  return { pNeg, pNeu: Math.max(0, 1 - pNeg - pPos), pPos };
};

/** Prepared statements per connection (the bench inserts 200k items). */
const prepared = new WeakMap<Database.Database, ReturnType<typeof prepare>>();
function prepare(db: Database.Database) {
  return {
    item: db.prepare(`INSERT INTO items (source, guid, url, title, summary, published_at, fetched_at, label, p_neg, p_neu, p_pos, score, model, date_missing, story_id, novel, tickers)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'm1', ?, ?, ?, ?)`),
    setStory: db.prepare('UPDATE items SET story_id = seq WHERE seq = ?'),
    // Straight into the index, with the watermark moved past them (as a batch of ItemStore does).
    ticker: db.prepare(`INSERT INTO ticker_index (ticker, seq, via, label, score, published_at) VALUES (?, ?, 'cashtag', ?, ?, ?)`),
    through: db.prepare(`INSERT INTO meta (key, value) VALUES ('ticker_index_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
    rollup: db.prepare(`INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
      VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (kind, bucket, start, key) DO UPDATE SET
        items = items + 1, stories = stories + excluded.stories, scored = scored + excluded.scored,
        sum_score = sum_score + excluded.sum_score, pos = pos + excluded.pos, neu = neu + excluded.neu, neg = neg + excluded.neg`),
    alert: db.prepare(`INSERT INTO alerts (rule, kind, ticker, at, direction, message, value, baseline, deviation, created_at, delivered_at, delivery_error, seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    alertItem: db.prepare('INSERT INTO alert_items (alert_id, seq) VALUES (?, ?)'),
  };
}
function st(db: Database.Database) {
  let s = prepared.get(db);
  if (!s) prepared.set(db, (s = prepare(db)));
  return s;
}

function bumpRollups(db: Database.Database, kind: 'ticker' | 'source', key: string, publishedAt: string, story: boolean, scored: boolean, score: number, label: Label): void {
  const starts = { '1m': publishedAt.slice(0, 16) + ':00.000Z', '1h': publishedAt.slice(0, 13) + ':00:00.000Z', '1d': publishedAt.slice(0, 10) + 'T00:00:00.000Z' };
  for (const [bucket, start] of Object.entries(starts)) {
    st(db).rollup.run(kind, key, bucket, start, story ? 1 : 0, scored ? 1 : 0, scored ? score : 0, scored && label === 'positive' ? 1 : 0, scored && label === 'neutral' ? 1 : 0, scored && label === 'negative' ? 1 : 0);
  }
}

/** Inserts items with their ticker index rows and rollups; returns their seqs. */
export function insertItems(db: Database.Database, items: FixtureItem[]): number[] {
  const s = st(db);
  return db.transaction(() => {
    const seqs = items.map((it) => {
      const novel = it.novel ?? true;
      const p = probs(it.label, it.score);
      const tickers = (it.tickers ?? []).map((t) => {
        const label = t.label ?? it.label;
        const score = t.score ?? it.score;
        return { symbol: t.symbol, via: 'cashtag', label, score, ...probs(label, score) };
      });
      const guid = it.guid ?? `fx-${++guidCounter}`;
      const info = s.item.run(
        it.source, guid, it.url === undefined ? `https://example.com/${guid}` : it.url, it.title, it.summary === undefined ? null : it.summary,
        it.publishedAt, it.publishedAt, it.label, p.pNeg, p.pNeu, p.pPos, it.score, it.dateMissing ? 1 : 0,
        it.storyId === undefined ? null : it.storyId, novel ? 1 : 0, tickers.length ? JSON.stringify(tickers) : null,
      );
      const seq = Number(info.lastInsertRowid);
      if (it.storyId === undefined) s.setStory.run(seq);
      for (const t of tickers) s.ticker.run(t.symbol, seq, t.label, t.score, it.publishedAt);
      bumpRollups(db, 'source', it.source, it.publishedAt, novel, true, it.score, it.label);
      for (const t of tickers) bumpRollups(db, 'ticker', t.symbol, it.publishedAt, novel, novel, t.score, t.label);
      return seq;
    });
    if (seqs.length > 0) s.through.run(String(seqs[seqs.length - 1]));
    return seqs;
  })();
}

/** Inserts alerts with their alert_items; returns their ids. */
export function insertAlerts(db: Database.Database, alerts: FixtureAlert[]): number[] {
  const s = st(db);
  return db.transaction(() =>
    alerts.map((a) => {
      const seq = a.seq !== undefined ? a.seq : a.seqs?.length ? Math.max(...a.seqs) : null;
      const info = s.alert.run(a.rule, a.kind, a.ticker, a.at, a.direction ?? null, a.message, a.value, a.baseline ?? null, a.deviation ?? null, a.createdAt ?? a.at, a.deliveredAt ?? null, a.deliveryError ?? null, seq);
      const id = Number(info.lastInsertRowid);
      for (const seq of a.seqs ?? []) s.alertItem.run(id, seq);
      return id;
    }),
  )();
}

/** `minutes` before `now` as canonical ISO text. */
export const ago = (now: Date, minutes: number): string => new Date(now.getTime() - minutes * 60_000).toISOString();
