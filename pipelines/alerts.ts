/**
 * Alert engine: rules from config `alerts.rules` evaluated on stored items as they are committed.
 * Pure and synchronous: `evaluate(items)` returns the alerts the items raise; storing, pushing on
 * the WebSocket and webhook delivery are the caller's (the daemon's) business.
 *
 * Rules (src/config/alerts.ts has every option and default):
 * - `shift`: a ticker's mean ticker-score over the recent window (default 1h) vs its mean and
 *   standard deviation over the trailing window just before it (default 7d). Fires when
 *   |recent − trailing| > k · max(sd, minSd), recent has ≥ minItems stories and trailing ≥
 *   minBaseline stories, in the configured direction. `deviation` = |z|, `value` = recent mean,
 *   `baseline` = trailing mean. The sd is that of single stories' scores (not of window means),
 *   as specified: conservative, a move must stand out against the spread of individual headlines.
 * - `volume`: stories about a ticker in the recent window vs the trailing average per recent-sized
 *   window (`baseline`, = trailing count × recent / trailing span). Fires when count ≥ minItems
 *   and count > factor × baseline. Chosen over a z test because a Poisson z with a near-zero
 *   baseline is huge for any count, so the factor plus minItems is the easier knob to reason
 *   about; `deviation` still reports the Poisson-ish z = (count − baseline) / √max(baseline, 1).
 *   Cold start: until the engine has seen `minHistory` of event time (earliest item it saw → the
 *   recent window's start) the rule is silent, and the trailing span used is only what was seen.
 * - `threshold`: a story naming a listed ticker (rule `tickers` and/or the global watchlist with
 *   `watchlist: true`) with that ticker's score ≤ below or ≥ above. Once a story fired for a
 *   rule + ticker, its copies (same storyId) never fire it again, even after the cooldown.
 *
 * Stories, not copies: only the first item of each story (`novel`) enters the shift/volume
 * windows; an item with no `storyId` (stored before clustering) counts as a story of its own. Threshold looks at every item but dedupes by story as above.
 * Always the ticker's own score (`tickers[i].score`), never the headline's.
 *
 * Time: event time = the item's publishedAt, but never later than clock() + 10 min (a feed that
 * dates items in the future cannot push the windows ahead), and clock() when it is missing or
 * unparseable. Windows and cooldowns are measured in event time, so replaying an old JSONL file
 * raises the alerts its news would have raised live. Each ticker's windows end at the latest event
 * time seen for it (its watermark): a late item (older than the recent window) only enters the
 * trailing baseline and cannot fire shift/volume; one older than the trailing window is ignored.
 * Cooldown per (rule, ticker): no alert while event time < last alert's event time + cooldown
 * (a late item older than the last alert is therefore suppressed too).
 *
 * Cost and memory:
 * - Windows are bucketed: ~60 fine buckets cover the recent window (1 min each for 1h), and the
 *   trailing window is ≤ ~128 coarse buckets (79 min each for 7d). Buckets are sparse (only
 *   buckets with stories exist), kept in order, and hold integer sums of scores quantized to
 *   1e-3 (n, Σq, Σq²): adding and removing is exact, so the rolling sums never drift (no
 *   catastrophic cancellation over weeks of add/subtract). An item is O(1) amortized; a window
 *   moving on costs O(buckets that leave), never O(items).
 * - The recent window's effective length is `recent` rounded to whole fine buckets (between
 *   recent − bucket and recent); the trailing window ends where recent starts and its far end
 *   moves in coarse buckets (≈ 0.8 % of its length).
 * - At most `maxTrackedTickers` tickers are tracked (only tickers some enabled rule applies to);
 *   when a new one would exceed that, the least recently seen tenth (in arrival order) is
 *   forgotten with its windows and cooldowns. Per ticker: O(buckets) numbers and the last 50 story seqs:
 *   ~2 KiB for a typical ticker, at most ~10 KiB per window pair for one with stories in every
 *   bucket (measured: 10,000 tickers each with a story every 10 min for 8 days = 103 MB).
 */
import type { Alert, StoredItem } from '../src/lib/types.js';
import { TickerpulseError } from '../src/lib/errors.js';

export type { Alert } from '../src/lib/types.js';

/*
 * Rule shapes as alertsConfigSchema (src/config/alerts.ts) outputs them: durations in ms, defaults
 * applied. Declared structurally here because pipelines/ may import only src/lib; the config test
 * checks that AlertsConfig is assignable to AlertEngineConfig.
 */
interface RuleCommon {
  id: string;
  tickers?: readonly string[];
  watchlist: boolean;
  cooldown: number;
  enabled: boolean;
}
export interface ShiftRule extends RuleCommon {
  kind: 'shift';
  recent: number;
  trailing: number;
  direction: 'down' | 'up' | 'both';
  k: number;
  minSd: number;
  minItems: number;
  minBaseline: number;
}
export interface VolumeRule extends RuleCommon {
  kind: 'volume';
  recent: number;
  trailing: number;
  factor: number;
  minItems: number;
  minHistory: number;
}
export interface ThresholdRule extends RuleCommon {
  kind: 'threshold';
  below?: number;
  above?: number;
}
export type AlertRule = ShiftRule | VolumeRule | ThresholdRule;

export interface AlertEngineConfig {
  rules: readonly AlertRule[];
  maxTrackedTickers: number;
}

export interface AlertEngineOptions {
  /** Injected clock, ms since epoch (default Date.now). Only caps event times (clock + 10 min). */
  clock?: () => number;
  /** The global watchlist (config `tickers.watchlist`), used by rules with `watchlist: true`. */
  watchlist?: Iterable<string>;
}

/** An item's event time is never later than clock() + this. */
export const MAX_FUTURE_MS = 10 * 60_000;
/** Most seqs an alert carries (the newest stories of the recent window). */
export const MAX_ALERT_SEQS = 50;
/** (rule, ticker, story) triples remembered so a story's copies cannot fire a threshold rule again. */
const MAX_FIRED_STORIES = 20_000;
/** Scores are summed as integers in units of 1e-3 (exact add/subtract; small-integer fields stay unboxed in V8). */
const Q = 1000;

interface Bucket {
  i: number;
  n: number;
  s: number;
  q: number;
}

/** A (recent, trailing) window pair; shift and volume rules with the same windows share it. */
interface Group {
  recentMs: number;
  trailingMs: number;
  fineMs: number;
  /** Fine buckets in the recent window. */
  rb: number;
  /** Fine buckets in the trailing window. */
  tb: number;
  /** Fine buckets per coarse bucket. */
  cw: number;
  /** Index of this group's rules in the engine's rule list. */
  rules: number[];
  /** Some rule of the group applies to every ticker. */
  all: boolean;
  /** Otherwise: the union of its rules' ticker sets. */
  symbols: Set<string>;
}

/** One ticker's windows for one group: sparse ordered buckets with exact integer sums. */
class Windows {
  /** Watermark: fine bucket index of the latest event time seen. */
  f = -Infinity;
  readonly fine: Bucket[] = [];
  readonly coarse: Bucket[] = [];
  rn = 0;
  rs = 0;
  rq = 0;
  tn = 0;
  ts = 0;
  tq = 0;

  constructor(private readonly g: Group) {}

  private advance(f: number): void {
    const g = this.g;
    this.f = f;
    const recentStart = f - g.rb + 1;
    const fine = this.fine;
    while (fine.length > 0 && fine[0].i < recentStart) {
      const b = fine.shift()!;
      this.rn -= b.n;
      this.rs -= b.s;
      this.rq -= b.q;
      // Fine buckets leaving recent are newer than every coarse bucket: append or merge at the end.
      const c = Math.floor(b.i / g.cw);
      const last = this.coarse.length > 0 ? this.coarse[this.coarse.length - 1] : undefined;
      if (last !== undefined && last.i === c) {
        last.n += b.n;
        last.s += b.s;
        last.q += b.q;
      } else {
        b.i = c; // reuse the object
        this.coarse.push(b);
      }
      this.tn += b.n;
      this.ts += b.s;
      this.tq += b.q;
    }
    const trailingStart = recentStart - g.tb;
    const coarse = this.coarse;
    // A coarse bucket goes when all of it is older than the trailing window.
    while (coarse.length > 0 && (coarse[0].i + 1) * g.cw <= trailingStart) {
      const b = coarse.shift()!;
      this.tn -= b.n;
      this.ts -= b.s;
      this.tq -= b.q;
    }
    if (this.tn === 0) this.ts = this.tq = 0;
  }

  /** Adds one story; true when it landed in the recent window (only then can a rule fire). */
  add(t: number, qs: number): boolean {
    const g = this.g;
    const f = Math.floor(t / g.fineMs);
    if (f > this.f) this.advance(f);
    const recentStart = this.f - g.rb + 1;
    if (f >= recentStart) {
      insert(this.fine, f, qs);
      this.rn += 1;
      this.rs += qs;
      this.rq += qs * qs;
      return true;
    }
    if (f >= recentStart - g.tb) {
      insert(this.coarse, Math.floor(f / g.cw), qs);
      this.tn += 1;
      this.ts += qs;
      this.tq += qs * qs;
    }
    return false;
  }

  /** Start of the recent window, ms. */
  recentStartMs(): number {
    return (this.f - this.g.rb + 1) * this.g.fineMs;
  }
}

/** Adds a value to bucket i of an ascending bucket list, creating it in place; searches from the end (usual case: the last). */
function insert(list: Bucket[], i: number, qs: number): void {
  let k = list.length - 1;
  while (k >= 0 && list[k].i > i) k--;
  if (k >= 0 && list[k].i === i) {
    const b = list[k];
    b.n += 1;
    b.s += qs;
    b.q += qs * qs;
    return;
  }
  const b = { i, n: 1, s: qs, q: qs * qs };
  if (k === list.length - 1) list.push(b);
  else list.splice(k + 1, 0, b);
}

interface TickerState {
  symbol: string;
  /** Touch stamp (engine tick) of the last item naming it. */
  seen: number;
  /** Per group (null: no rule of the group applies to this ticker). */
  windows: (Windows | null)[];
  /** Per rule: event time (ms) of its last alert for this ticker. */
  last: Float64Array;
  /** Ring of the newest stories: [seq, event time] pairs (allocated with the first story). */
  ring: Float64Array | null;
  /** Next slot, and slots filled. */
  ringPos: number;
  ringLen: number;
}

interface CompiledRule {
  rule: AlertRule;
  index: number;
  /** null: every ticker. */
  symbols: Set<string> | null;
  group: number;
}

export class AlertEngine {
  private readonly rules: CompiledRule[] = [];
  private readonly threshold: CompiledRule[] = [];
  private readonly groups: Group[] = [];
  private readonly clock: () => number;
  private readonly maxTracked: number;
  private readonly tickers = new Map<string, TickerState>();
  /** Monotonic touch counter: TickerState.seen orders tickers by how recently they were seen. */
  private tick = 0;
  /** Earliest event time of any story seen (volume's history); Infinity before the first. */
  private historyStart = Infinity;
  private readonly firedStories = new Set<string>();

  constructor(config: AlertEngineConfig, opts: AlertEngineOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.maxTracked = config.maxTrackedTickers;
    if (!Number.isInteger(this.maxTracked) || this.maxTracked < 1) {
      throw new TickerpulseError('CONFIG_INVALID', `alerts.maxTrackedTickers must be a positive integer, got ${String(this.maxTracked)}`);
    }
    const watchlist = new Set<string>();
    for (const s of opts.watchlist ?? []) watchlist.add(canonical(s));
    const ids = new Set<string>();
    for (const rule of config.rules) {
      if (ids.has(rule.id)) throw new TickerpulseError('CONFIG_INVALID', `duplicate alert rule id "${rule.id}"`);
      ids.add(rule.id);
      if (!rule.enabled) continue;
      let symbols: Set<string> | null = null;
      if (rule.tickers || rule.watchlist) {
        symbols = new Set((rule.tickers ?? []).map(canonical));
        if (rule.watchlist) for (const s of watchlist) symbols.add(s);
      }
      const compiled: CompiledRule = { rule, index: this.rules.length, symbols, group: -1 };
      if (rule.kind === 'shift' || rule.kind === 'volume') {
        compiled.group = this.groupFor(rule.recent, rule.trailing);
        const g = this.groups[compiled.group];
        g.rules.push(compiled.index);
        if (symbols === null) g.all = true;
        else for (const s of symbols) g.symbols.add(s);
      } else if (rule.kind === 'threshold') {
        if (rule.below === undefined && rule.above === undefined) {
          throw new TickerpulseError('CONFIG_INVALID', `alert rule "${rule.id}": a threshold rule needs below or above`);
        }
        this.threshold.push(compiled);
      } else {
        throw new TickerpulseError('CONFIG_INVALID', `alert rule "${(rule as AlertRule).id}": unknown kind "${(rule as { kind: string }).kind}"`);
      }
      this.rules.push(compiled);
    }
  }

  private groupFor(recentMs: number, trailingMs: number): number {
    const found = this.groups.findIndex((g) => g.recentMs === recentMs && g.trailingMs === trailingMs);
    if (found >= 0) return found;
    // ~60 fine buckets over the recent window (whole seconds), ≤ ~128 coarse ones over the trailing.
    const fineMs = Math.max(1000, Math.round(recentMs / 60 / 1000) * 1000);
    const tb = Math.ceil(trailingMs / fineMs);
    this.groups.push({
      recentMs,
      trailingMs,
      fineMs,
      rb: Math.max(1, Math.ceil(recentMs / fineMs)),
      tb,
      cw: Math.max(1, Math.ceil(tb / 128)),
      rules: [],
      all: false,
      symbols: new Set(),
    });
    return this.groups.length - 1;
  }

  /** Tickers currently tracked (≤ maxTrackedTickers). */
  get trackedTickers(): number {
    return this.tickers.size;
  }

  /** Whether a ticker's windows and cooldowns are currently kept. */
  tracks(symbol: string): boolean {
    return this.tickers.has(canonical(symbol));
  }

  /**
   * Evaluates newly stored items (in seq order) and returns the alerts they raise, in order.
   * Synchronous; cheap enough to run inside every commit on the main thread.
   */
  evaluate(items: readonly StoredItem[]): Alert[] {
    const out: Alert[] = [];
    if (this.rules.length === 0) return out;
    const cap = this.clock() + MAX_FUTURE_MS;
    for (const item of items) {
      const tickers = item.tickers;
      if (!tickers || tickers.length === 0) continue;
      this.process(item, eventTime(item.publishedAt, cap), out);
    }
    return out;
  }

  /**
   * Warms the windows from already stored items (e.g. the last trailing window's, in seq order, at
   * start) without raising alerts, and restores cooldowns from alerts stored before a restart.
   */
  restore(items: readonly StoredItem[], pastAlerts: readonly Pick<Alert, 'rule' | 'ticker' | 'at'>[] = []): void {
    if (this.rules.length === 0) return;
    const cap = this.clock() + MAX_FUTURE_MS;
    for (const item of items) {
      if (!item.tickers || item.tickers.length === 0) continue;
      this.process(item, eventTime(item.publishedAt, cap), null);
    }
    for (const a of pastAlerts) {
      const rule = this.rules.find((r) => r.rule.id === a.rule);
      const at = Date.parse(a.at);
      if (!rule || Number.isNaN(at)) continue;
      const state = this.state(canonical(a.ticker));
      if (state && at > state.last[rule.index]) state.last[rule.index] = at;
    }
  }

  /** `out` null: update windows only (restore). */
  private process(item: StoredItem, t: number, out: Alert[] | null): void {
    const tickers = item.tickers!;
    // A copy is an item of a known story that did not start it; an item without a story (stored
    // before clustering, or by a store running without it) is its own story.
    const novel = item.novel !== false || item.storyId === null || item.storyId === undefined;
    if (novel && t < this.historyStart) this.historyStart = t;
    for (let k = 0; k < tickers.length; k++) {
      const tk = tickers[k];
      const symbol = tk.symbol;
      let dup = false;
      for (let j = 0; j < k; j++) if (tickers[j].symbol === symbol) dup = true;
      if (dup) continue;
      let score = tk.score;
      if (typeof score !== 'number' || Number.isNaN(score)) continue;
      score = score < -1 ? -1 : score > 1 ? 1 : score;
      const state = this.state(symbol);
      if (state === null) continue;
      if (out !== null && this.threshold.length > 0) this.checkThreshold(item, state, score, t, out);
      if (!novel) continue;
      const qs = Math.round(score * Q);
      let recorded = false;
      for (let gi = 0; gi < this.groups.length; gi++) {
        const w = state.windows[gi];
        if (w === null) continue;
        const inRecent = w.add(t, qs);
        if (!recorded) {
          recorded = true;
          const ring = (state.ring ??= new Float64Array(2 * MAX_ALERT_SEQS));
          ring[2 * state.ringPos] = item.seq;
          ring[2 * state.ringPos + 1] = t;
          state.ringPos = (state.ringPos + 1) % MAX_ALERT_SEQS;
          if (state.ringLen < MAX_ALERT_SEQS) state.ringLen++;
        }
        if (!inRecent || out === null) continue;
        const rules = this.groups[gi].rules;
        for (let ri = 0; ri < rules.length; ri++) {
          const cr = this.rules[rules[ri]];
          if (cr.symbols !== null && !cr.symbols.has(symbol)) continue;
          if (t < state.last[cr.index] + cr.rule.cooldown) continue;
          const alert = cr.rule.kind === 'shift' ? this.checkShift(cr.rule, state, w, t) : this.checkVolume(cr.rule as VolumeRule, state, w, t);
          if (alert !== null) {
            state.last[cr.index] = t;
            out.push(alert);
          }
        }
      }
    }
  }

  /** The ticker's state, stamped as most recently seen; created when some rule applies; null otherwise. */
  private state(symbol: string): TickerState | null {
    let state = this.tickers.get(symbol);
    if (state !== undefined) {
      state.seen = ++this.tick;
      return state;
    }
    let any = false;
    const windows: (Windows | null)[] = [];
    for (const g of this.groups) {
      const applies = g.all || g.symbols.has(symbol);
      windows.push(applies ? new Windows(g) : null);
      any ||= applies;
    }
    if (!any) for (const r of this.threshold) if (r.symbols === null || r.symbols.has(symbol)) any = true;
    if (!any) return null;
    if (this.tickers.size >= this.maxTracked) this.evict();
    state = { symbol, seen: ++this.tick, windows, last: new Float64Array(this.rules.length).fill(-Infinity), ring: null, ringPos: 0, ringLen: 0 };
    this.tickers.set(symbol, state);
    return state;
  }

  /**
   * Forgets the least recently seen tenth of the tracked tickers (at least one). Batched so that a
   * touch is one counter store (a Map kept in LRU order by delete + set is slow in V8: the deleted
   * entries pile up at the front of its table), at O(n log n) once per n/10 new tickers.
   */
  private evict(): void {
    const n = this.tickers.size;
    const drop = Math.max(1, Math.floor(this.maxTracked / 10));
    const stamps = new Float64Array(n);
    let k = 0;
    for (const s of this.tickers.values()) stamps[k++] = s.seen;
    stamps.sort();
    const cutoff = stamps[Math.min(drop, n) - 1];
    for (const [symbol, s] of this.tickers) if (s.seen <= cutoff) this.tickers.delete(symbol);
  }

  private checkThreshold(item: StoredItem, state: TickerState, score: number, t: number, out: Alert[]): void {
    for (const cr of this.threshold) {
      if (cr.symbols !== null && !cr.symbols.has(state.symbol)) continue;
      const rule = cr.rule as ThresholdRule;
      const down = rule.below !== undefined && score <= rule.below;
      const up = !down && rule.above !== undefined && score >= rule.above;
      if (!down && !up) continue;
      if (t < state.last[cr.index] + rule.cooldown) continue;
      const key = `${cr.index}|${state.symbol}|${item.storyId ?? `seq:${item.seq}`}`;
      if (this.firedStories.has(key)) continue;
      this.firedStories.add(key);
      if (this.firedStories.size > MAX_FIRED_STORIES) this.firedStories.delete(this.firedStories.values().next().value as string);
      state.last[cr.index] = t;
      const title = item.title.length > 120 ? `${item.title.slice(0, 117)}...` : item.title;
      out.push({
        rule: rule.id,
        kind: 'threshold',
        ticker: state.symbol,
        at: new Date(t).toISOString(),
        direction: down ? 'down' : 'up',
        message: `${state.symbol} story scored ${signed(score)} (${down ? `≤ ${signed(rule.below!)}` : `≥ ${signed(rule.above!)}`}): "${title}"`,
        value: score,
        baseline: null,
        deviation: null,
        seqs: [item.seq],
      });
    }
  }

  private checkShift(rule: ShiftRule, state: TickerState, w: Windows, t: number): Alert | null {
    if (w.rn < rule.minItems || w.tn < rule.minBaseline) return null;
    const recent = w.rs / w.rn / Q;
    const base = w.ts / w.tn / Q;
    // Integer sums: tq − ts²/tn is exact up to the final division.
    const variance = Math.max(0, (w.tq - (w.ts * w.ts) / w.tn) / (w.tn - 1)) / (Q * Q);
    const sd = Math.sqrt(variance);
    const z = (recent - base) / Math.max(sd, rule.minSd);
    const dev = Math.abs(z);
    if (!(dev > rule.k)) return null;
    const direction = z < 0 ? 'down' : 'up';
    if (rule.direction !== 'both' && rule.direction !== direction) return null;
    return {
      rule: rule.id,
      kind: 'shift',
      ticker: state.symbol,
      at: new Date(t).toISOString(),
      direction,
      message:
        `${state.symbol} sentiment ${direction === 'down' ? 'fell' : 'rose'} to ${signed(recent)} ` +
        `(${humanDuration(rule.recent)} mean of ${w.rn} ${w.rn === 1 ? 'story' : 'stories'}) from ${signed(base)} ± ${sd.toFixed(2)} ` +
        `(${humanDuration(rule.trailing)}): ${dev.toFixed(1)} sd`,
      value: round4(recent),
      baseline: round4(base),
      deviation: round4(dev),
      seqs: recentSeqs(state, w.recentStartMs()),
    };
  }

  private checkVolume(rule: VolumeRule, state: TickerState, w: Windows, t: number): Alert | null {
    if (w.rn < rule.minItems) return null;
    const recentStart = w.recentStartMs();
    const span = Math.min(rule.trailing, recentStart - this.historyStart);
    if (!(span >= rule.minHistory)) return null;
    const baseline = (w.tn * rule.recent) / span;
    if (!(w.rn > rule.factor * baseline)) return null;
    const dev = (w.rn - baseline) / Math.sqrt(Math.max(baseline, 1));
    const per = humanDuration(rule.recent);
    const ratio = baseline > 0 ? `, ${(w.rn / baseline).toFixed(1)}×` : '';
    return {
      rule: rule.id,
      kind: 'volume',
      ticker: state.symbol,
      at: new Date(t).toISOString(),
      direction: 'up',
      message:
        `${state.symbol} news volume: ${w.rn} ${w.rn === 1 ? 'story' : 'stories'} in ${per} vs ` +
        `${baseline.toFixed(1)} per ${per} over the previous ${humanDuration(span)}${ratio}`,
      value: w.rn,
      baseline: round4(baseline),
      deviation: round4(dev),
      seqs: recentSeqs(state, recentStart),
    };
  }
}

/** Seqs (ascending) of the ticker's newest stories with event time ≥ startMs. */
function recentSeqs(state: TickerState, startMs: number): number[] {
  const out: number[] = [];
  const ring = state.ring;
  if (ring === null) return out;
  for (let k = 0; k < MAX_ALERT_SEQS; k++) if (k < state.ringLen && ring[2 * k + 1] >= startMs) out.push(ring[2 * k]);
  return out.sort((a, b) => a - b);
}

function eventTime(publishedAt: string | null | undefined, cap: number): number {
  const t = publishedAt ? Date.parse(publishedAt) : NaN;
  if (Number.isNaN(t)) return cap - MAX_FUTURE_MS;
  return t > cap ? cap : t;
}

function canonical(s: string): string {
  return s.trim().toUpperCase().replace(/[-/]/g, '.');
}

/** -0.724 → "-0.72", 0.02 → "+0.02", -0.001 → "+0.00". */
function signed(x: number): string {
  const r = Math.abs(x).toFixed(2);
  return r === '0.00' || x > 0 ? `+${r}` : `-${r}`;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** 3600000 → "1h", 604800000 → "7d", 129600000 → "1.5d". */
export function humanDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) return `${Math.round((ms / size) * 10) / 10}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}
