import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEngine, MAX_FUTURE_MS, type Alert } from '../../pipelines/alerts.js';
import { alertsConfigSchema } from '../../src/config/alerts.js';
import type { StoredItem, Label } from '../../src/lib/types.js';

const T0 = Date.parse('2025-11-03T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (ms: number): string => new Date(ms).toISOString();

let seqCounter = 1;
let storyCounter = 1;

interface ItemOpts {
  novel?: boolean;
  storyId?: number;
  headline?: number;
  title?: string;
  extra?: { symbol: string; score: number }[];
}

/** A stored item naming `symbol` with ticker score `score`, published at `t`. */
function item(t: number, symbol: string, score: number, o: ItemOpts = {}): StoredItem {
  const label = (s: number): Label => (s <= -0.33 ? 'negative' : s >= 0.33 ? 'positive' : 'neutral');
  const tk = (sym: string, s: number) => ({ symbol: sym, via: 'cashtag', label: label(s), score: s, pNeg: Math.max(0, -s), pNeu: 1 - Math.abs(s), pPos: Math.max(0, s) });
  const headline = o.headline ?? score;
  return {
    seq: seqCounter++,
    guid: `g${seqCounter}`,
    url: null,
    title: o.title ?? `${symbol} headline ${seqCounter}`,
    summary: null,
    publishedAt: iso(t),
    source: 'test',
    fetchedAt: iso(t),
    model: 'm',
    label: label(headline),
    score: headline,
    pNeg: Math.max(0, -headline),
    pNeu: 1 - Math.abs(headline),
    pPos: Math.max(0, headline),
    tickers: [tk(symbol, score), ...(o.extra ?? []).map((e) => tk(e.symbol, e.score))],
    // number or string, whichever src/lib/types.ts currently declares: the engine only uses it as a key
    storyId: (o.storyId ?? storyCounter++) as unknown as StoredItem['storyId'],
    novel: o.novel ?? true,
  };
}

/** A deterministic "neutral" score in [-0.1, 0.1]. */
const neutral = (i: number): number => [0.05, -0.05, 0.1, -0.1, 0, 0.02, -0.02][i % 7];

function engine(rules: unknown[], extra: Record<string, unknown> = {}, watchlist?: string[]) {
  let now = T0;
  const cfg = alertsConfigSchema.parse({ rules, ...extra });
  const e = new AlertEngine(cfg, { clock: () => now, watchlist });
  return { e, setNow: (ms: number) => (now = ms) };
}

/** Feeds items one commit at a time (as the daemon does), collecting alerts. */
function feed(e: AlertEngine, items: StoredItem[], setNow?: (ms: number) => void): Alert[] {
  const out: Alert[] = [];
  for (const it of items) {
    setNow?.(Date.parse(it.publishedAt!));
    out.push(...e.evaluate([it]));
  }
  return out;
}

/** 7 days of a steady neutral baseline for `symbol`: one story every 30 minutes. */
function baseline(symbol: string, start: number, hours = 24 * 7): StoredItem[] {
  const out: StoredItem[] = [];
  for (let i = 0; i < hours * 2; i++) out.push(item(start + i * 30 * MIN, symbol, neutral(i)));
  return out;
}

test('acceptance: neutral baseline, then a negative burst → exactly one shift alert; cooldown holds; after it another can fire', () => {
  const { e, setNow } = engine([{ id: 'aapl-shift', kind: 'shift', tickers: ['AAPL'] }]);
  const base = baseline('AAPL', T0);
  assert.deepEqual(feed(e, base, setNow), [], 'a steady neutral week raises nothing');

  const t1 = T0 + 7 * 24 * HOUR + 5 * MIN;
  const burst = Array.from({ length: 8 }, (_, i) => item(t1 + i * MIN, 'AAPL', -0.8));
  const alerts = feed(e, burst, setNow);
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  const a = alerts[0];
  assert.equal(a.rule, 'aapl-shift');
  assert.equal(a.kind, 'shift');
  assert.equal(a.ticker, 'AAPL');
  assert.equal(a.direction, 'down');
  assert.ok(a.value < -0.3, `recent mean ${a.value}`);
  assert.ok(Math.abs(a.baseline!) < 0.05, `trailing mean ${a.baseline}`);
  assert.ok(a.deviation! > 3);
  // It fired on the first burst story that made the recent window big enough (≥ 5 stories).
  const fired = burst.findIndex((b) => b.publishedAt === a.at);
  assert.ok(fired >= 0 && fired < 5, `fired at burst item ${fired}`);
  for (const b of burst.slice(0, fired + 1)) assert.ok(a.seqs.includes(b.seq), 'the burst stories are in seqs');
  assert.ok(a.seqs.length >= 5 && a.seqs.length <= 50);
  assert.deepEqual([...a.seqs].sort((x, y) => x - y), a.seqs);
  assert.match(a.message, /^AAPL sentiment fell to -0\.\d\d \(1h mean of \d+ stories\) from [+-]0\.\d\d ± 0\.\d\d \(7d\): \d+\.\d sd$/);

  // Still negative within the cooldown (1h of event time): nothing more.
  const during = Array.from({ length: 5 }, (_, i) => item(t1 + 20 * MIN + i * 5 * MIN, 'AAPL', -0.9));
  assert.deepEqual(feed(e, during, setNow), []);

  // After the cooldown a further burst can fire again.
  const t2 = Date.parse(a.at) + HOUR + MIN;
  const later = Array.from({ length: 6 }, (_, i) => item(t2 + i * MIN, 'AAPL', -0.9));
  const again = feed(e, later, setNow);
  assert.equal(again.length, 1, JSON.stringify(again));
  assert.ok(Date.parse(again[0].at) >= Date.parse(a.at) + HOUR);
});

test('shift: copies of one story (novel: false) do not count; the same items as distinct stories do', () => {
  for (const novel of [false, true]) {
    const { e, setNow } = engine([{ id: 's', kind: 'shift' }]);
    feed(e, baseline('MSFT', T0), setNow);
    const t1 = T0 + 7 * 24 * HOUR + 5 * MIN;
    const first = item(t1, 'MSFT', -0.8);
    const copies = Array.from({ length: 10 }, (_, i) => item(t1 + (i + 1) * MIN, 'MSFT', -0.8, { novel, storyId: novel ? undefined : (first.storyId as unknown as number) }));
    const alerts = feed(e, [first, ...copies], setNow);
    assert.equal(alerts.length, novel ? 1 : 0, `novel=${novel}: ${JSON.stringify(alerts)}`);
  }
});

test('an item without a story (storyId null: stored before clustering) counts as a story of its own', () => {
  const { e, setNow } = engine([{ id: 'vol', kind: 'volume', minHistory: '1h' }]);
  feed(e, [item(T0, 'QQQ', 0)], setNow);
  const t1 = T0 + 3 * HOUR;
  const unclustered = Array.from({ length: 5 }, (_, i) => ({ ...item(t1 + i * MIN, 'QQQ', 0), novel: false, storyId: null }));
  assert.equal(feed(e, unclustered, setNow).length, 1);
});

test('shift: copies do not enter the baseline either', () => {
  // The baseline's copies are strongly positive; if they counted, the trailing mean would be ≫ 0.
  const { e, setNow } = engine([{ id: 's', kind: 'shift', k: 2 }]);
  const items: StoredItem[] = [];
  for (let i = 0; i < 48; i++) {
    const t = T0 + i * 30 * MIN;
    const story = item(t, 'IBM', neutral(i));
    items.push(story);
    for (let c = 0; c < 3; c++) items.push(item(t + MIN, 'IBM', 0.9, { novel: false, storyId: story.storyId as unknown as number }));
  }
  feed(e, items, setNow);
  const t1 = T0 + 24 * HOUR + 5 * MIN;
  const alerts = feed(e, Array.from({ length: 6 }, (_, i) => item(t1 + i * MIN, 'IBM', -0.6)), setNow);
  assert.equal(alerts.length, 1);
  assert.ok(Math.abs(alerts[0].baseline!) < 0.05, `baseline ${alerts[0].baseline} counts only stories`);
});

test('shift: direction filter, the ticker score (not the headline), minItems and minBaseline', () => {
  const t1 = T0 + 7 * 24 * HOUR + 5 * MIN;
  const burst = (sym: string, score: number, headline?: number) => Array.from({ length: 6 }, (_, i) => item(t1 + i * MIN, sym, score, { headline }));

  const up = engine([{ id: 'up', kind: 'shift', direction: 'up' }]);
  feed(up.e, baseline('NVDA', T0), up.setNow);
  assert.deepEqual(feed(up.e, burst('NVDA', -0.8), up.setNow), [], 'a fall does not fire an up rule');

  const both = engine([{ id: 'b', kind: 'shift' }]);
  feed(both.e, baseline('NVDA', T0), both.setNow);
  assert.deepEqual(feed(both.e, burst('NVDA', 0.0, -0.9), both.setNow), [], "a negative headline with a neutral ticker score is not a shift for that ticker");

  const few = engine([{ id: 'f', kind: 'shift', minItems: 20 }]);
  feed(few.e, baseline('NVDA', T0), few.setNow);
  assert.deepEqual(feed(few.e, burst('NVDA', -0.8), few.setNow), [], 'fewer than minItems stories in the recent window');

  const cold = engine([{ id: 'c', kind: 'shift', minBaseline: 500 }]);
  feed(cold.e, baseline('NVDA', T0), cold.setNow);
  assert.deepEqual(feed(cold.e, burst('NVDA', -0.8), cold.setNow), [], 'fewer than minBaseline stories in the trailing window');
});

test('volume: a spike of stories fires once; no alert before minHistory; copies do not count', () => {
  const rules = [{ id: 'vol', kind: 'volume' }];
  const quiet = (sym: string) => Array.from({ length: 36 }, (_, i) => item(T0 + i * 2 * HOUR, sym, 0)); // 1 story / 2h for 3 days
  const t1 = T0 + 72 * HOUR + 10 * MIN;
  const spike = (sym: string) => Array.from({ length: 8 }, (_, i) => item(t1 + i * 3 * MIN, sym, 0));

  const { e, setNow } = engine(rules);
  assert.deepEqual(feed(e, quiet('TSLA'), setNow), []);
  const alerts = feed(e, spike('TSLA'), setNow);
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  const a = alerts[0];
  assert.equal(a.kind, 'volume');
  assert.equal(a.direction, 'up');
  assert.equal(a.value, 5, 'fires at minItems (5) since 5 > 3 × 0.5');
  assert.ok(Math.abs(a.baseline! - 0.5) < 0.05, `baseline ${a.baseline}`);
  assert.ok(a.deviation! > 4);
  assert.equal(a.seqs.length, 5);
  assert.match(a.message, /^TSLA news volume: 5 stories in 1h vs 0\.5 per 1h over the previous 3d, (9\.9|10\.0)×$/);

  // Cold start: the same spike with no history is not a spike.
  const cold = engine(rules);
  assert.deepEqual(feed(cold.e, spike('TSLA'), cold.setNow), []);

  // Copies: one story syndicated 8 times is one story.
  const copies = engine(rules);
  feed(copies.e, quiet('TSLA'), copies.setNow);
  const first = item(t1, 'TSLA', 0);
  const dup = Array.from({ length: 7 }, (_, i) => item(t1 + (i + 1) * MIN, 'TSLA', 0, { novel: false, storyId: first.storyId as unknown as number }));
  assert.deepEqual(feed(copies.e, [first, ...dup], copies.setNow), []);
});

test('threshold: watched tickers only, ticker score, one alert per story (copies never fire again), cooldown', () => {
  const { e, setNow } = engine(
    [
      { id: 'tsla-low', kind: 'threshold', tickers: ['TSLA'], below: -0.6, cooldown: '0s' },
      { id: 'watch-high', kind: 'threshold', watchlist: true, above: 0.7 },
    ],
    {},
    ['nvda', 'brk-b'],
  );
  const s1 = item(T0, 'TSLA', -0.7, { title: 'Tesla recalls 2 million cars' });
  const out1 = feed(e, [s1], setNow);
  assert.equal(out1.length, 1);
  assert.deepEqual(
    { ...out1[0], message: undefined },
    { rule: 'tsla-low', kind: 'threshold', ticker: 'TSLA', at: iso(T0), direction: 'down', message: undefined, value: -0.7, baseline: null, deviation: null, seqs: [s1.seq] },
  );
  assert.equal(out1[0].message, 'TSLA story scored -0.70 (≤ -0.60): "Tesla recalls 2 million cars"');

  const copy = item(T0 + MIN, 'TSLA', -0.9, { novel: false, storyId: s1.storyId as unknown as number });
  assert.deepEqual(feed(e, [copy], setNow), [], 'a copy of a story that fired does not fire again');
  assert.equal(feed(e, [item(T0 + 2 * MIN, 'TSLA', -0.65)], setNow).length, 1, 'a new story does (cooldown 0s)');
  assert.deepEqual(feed(e, [item(T0 + 3 * MIN, 'TSLA', -0.5)], setNow), [], 'above the threshold');
  assert.deepEqual(feed(e, [item(T0 + 4 * MIN, 'AAPL', -0.99)], setNow), [], 'not a listed ticker');
  assert.deepEqual(feed(e, [item(T0 + 5 * MIN, 'TSLA', 0.1, { headline: -0.95 })], setNow), [], 'the ticker score counts, not the headline');
  // a second ticker of the same item is evaluated on its own score
  const multi = feed(e, [item(T0 + 6 * MIN, 'AAPL', 0, { extra: [{ symbol: 'TSLA', score: -0.8 }] })], setNow);
  assert.deepEqual(multi.map((a) => [a.ticker, a.value]), [['TSLA', -0.8]]);

  // watchlist rule with the default 1h cooldown
  assert.equal(feed(e, [item(T0 + 10 * MIN, 'NVDA', 0.8)], setNow).length, 1);
  assert.equal(feed(e, [item(T0 + 20 * MIN, 'NVDA', 0.9)], setNow).length, 0, 'cooldown (1h)');
  assert.equal(feed(e, [item(T0 + 71 * MIN, 'NVDA', 0.9)], setNow).length, 1, 'after the cooldown');
  assert.equal(feed(e, [item(T0 + 80 * MIN, 'BRK.B', 0.75)], setNow)[0]?.direction, 'up', 'watchlist symbols are canonicalized (brk-b → BRK.B)');
});

test('cooldowns are per (rule, ticker)', () => {
  const { e, setNow } = engine([
    { id: 'a', kind: 'threshold', tickers: ['AAA', 'BBB'], below: -0.5 },
    { id: 'b', kind: 'threshold', tickers: ['AAA'], below: -0.5 },
  ]);
  const out = feed(e, [item(T0, 'AAA', -0.9), item(T0 + MIN, 'BBB', -0.9), item(T0 + 2 * MIN, 'AAA', -0.9)], setNow);
  assert.deepEqual(out.map((a) => `${a.rule}:${a.ticker}`), ['a:AAA', 'b:AAA', 'a:BBB']);
});

test('event time is publishedAt (replays alert like live news) but never later than clock + 10 min', () => {
  // The clock is a year later: an old file replayed still raises its alert, at its own time.
  const { e, setNow } = engine([{ id: 's', kind: 'shift' }]);
  setNow(T0 + 365 * 24 * HOUR);
  for (const it of baseline('AMD', T0)) e.evaluate([it]);
  const t1 = T0 + 7 * 24 * HOUR + 5 * MIN;
  const alerts = Array.from({ length: 6 }, (_, i) => item(t1 + i * MIN, 'AMD', -0.8)).flatMap((it) => e.evaluate([it]));
  assert.equal(alerts.length, 1);
  assert.ok(Date.parse(alerts[0].at) >= t1 && Date.parse(alerts[0].at) < t1 + 10 * MIN);

  const thr = engine([{ id: 't', kind: 'threshold', tickers: ['AMD'], below: -0.5 }]);
  thr.setNow(T0);
  const future = thr.e.evaluate([item(T0 + 30 * 24 * HOUR, 'AMD', -0.9)]);
  assert.equal(future[0].at, iso(T0 + MAX_FUTURE_MS));
  // the capped time drives the cooldown too: an item at the real "now + 20 min" is still within it
  assert.deepEqual(thr.e.evaluate([item(T0 + 20 * MIN, 'AMD', -0.9)]), []);
});

test('a late item (older than the recent window) enters the baseline but cannot fire', () => {
  const { e, setNow } = engine([{ id: 's', kind: 'shift', minBaseline: 5 }]);
  feed(e, baseline('ORCL', T0, 24), setNow);
  const t = T0 + 24 * HOUR;
  // far older than the recent window: strongly negative, but late
  const late = Array.from({ length: 10 }, (_, i) => item(t - 10 * HOUR + i * MIN, 'ORCL', -0.9));
  assert.deepEqual(late.flatMap((it) => e.evaluate([it])), []);
});

test('bounded memory: at most maxTrackedTickers tickers, the least recently seen forgotten first', () => {
  const { e } = engine([{ id: 's', kind: 'shift' }], { maxTrackedTickers: 10 });
  for (let i = 0; i < 100; i++) {
    e.evaluate([item(T0 + i * MIN, `T${i}`, 0)]);
    e.evaluate([item(T0 + i * MIN, 'KEEP', 0)]);
    assert.ok(e.trackedTickers <= 10);
  }
  assert.equal(e.trackedTickers, 10);
  assert.ok(e.tracks('KEEP'), 'a ticker seen all the time stays');
  assert.ok(e.tracks('T99'));
  assert.ok(!e.tracks('T0') && !e.tracks('T50'), 'old ones were evicted');

  // Larger caps evict the least recently seen tenth at once.
  const big = engine([{ id: 's', kind: 'shift' }], { maxTrackedTickers: 100 });
  for (let i = 0; i < 1000; i++) {
    big.e.evaluate([item(T0 + i * MIN, `U${i}`, 0)]);
    if (i % 7 === 0) big.e.evaluate([item(T0 + i * MIN, 'KEEP', 0)]);
    assert.ok(big.e.trackedTickers <= 100);
  }
  assert.ok(big.e.trackedTickers >= 90);
  assert.ok(big.e.tracks('KEEP') && big.e.tracks('U999') && !big.e.tracks('U800'));

  // Tickers no rule applies to are not tracked at all.
  const only = engine([{ id: 't', kind: 'threshold', tickers: ['AAPL'], below: -0.5 }]);
  for (let i = 0; i < 50; i++) only.e.evaluate([item(T0, `X${i}`, -0.9)]);
  assert.equal(only.e.trackedTickers, 0);
});

test('bounded memory: a busy ticker over a month keeps O(buckets), and the stats stay exact', () => {
  const { e, setNow } = engine([{ id: 's', kind: 'shift', minBaseline: 2 }]);
  // 30 days, one story every 20 s, scores alternating; mean ≈ 0 and sd ≈ 0.5 must survive a month of add/subtract
  const scores = [0.5, -0.5];
  let n = 0;
  for (let t = T0; t < T0 + 30 * 24 * HOUR; t += 20_000) {
    setNow(t);
    e.evaluate([item(t, 'SPY', scores[n++ % 2])]);
  }
  const internals = (e as unknown as { tickers: Map<string, { windows: { fine: unknown[]; coarse: unknown[]; tn: number; ts: number; tq: number; rn: number }[] }> }).tickers;
  const w = internals.get('SPY')!.windows[0];
  assert.ok(w.fine.length <= 61, `fine buckets ${w.fine.length}`);
  assert.ok(w.coarse.length <= 130, `coarse buckets ${w.coarse.length}`);
  assert.ok(Math.abs(w.tn - 7 * 24 * 180) <= 79 * 3, `trailing count ${w.tn}`); // 7d of 180/h, ± one coarse bucket (79 min)
  assert.ok(Math.abs(w.ts) <= 500, 'sum of ±0.5 over the window stays near 0 (integer, exact)');
  assert.equal(w.tq, w.tn * 500 * 500, 'Σq² of ±0.5 in units of 1e-3, exactly');
});

test('restore: warm windows without alerts, and past alerts restore the cooldown', () => {
  const t1 = T0 + 7 * 24 * HOUR + 5 * MIN;
  const burst = () => Array.from({ length: 6 }, (_, i) => item(t1 + i * MIN, 'AAPL', -0.8));

  const { e, setNow } = engine([{ id: 's', kind: 'shift' }]);
  e.restore(baseline('AAPL', T0));
  assert.equal(feed(e, burst(), setNow).length, 1, 'the restored baseline makes the burst stand out');

  const again = engine([{ id: 's', kind: 'shift' }]);
  again.e.restore(baseline('AAPL', T0), [{ rule: 's', ticker: 'AAPL', at: iso(t1 - 10 * MIN) }]);
  assert.equal(feed(again.e, burst(), again.setNow).length, 0, 'an alert stored 10 min before the restart still holds its cooldown');
});

test('disabled rules and no rules cost nothing and raise nothing', () => {
  const { e } = engine([{ id: 't', kind: 'threshold', tickers: ['AAPL'], below: -0.5, enabled: false }]);
  assert.deepEqual(e.evaluate([item(T0, 'AAPL', -0.9)]), []);
  assert.equal(e.trackedTickers, 0);
  const none = engine([]);
  assert.deepEqual(none.e.evaluate([item(T0, 'AAPL', -0.9)]), []);
});
