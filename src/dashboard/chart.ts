/**
 * The per-ticker panel: sentiment over time (a rolling mean of the buckets' mean scores, each
 * weighted by its scored stories) as a line, news volume (items per bucket) as histogram bars —
 * TradingView lightweight-charts. Data from /api/series, then live `rollup` messages (protocol
 * 2) or, from a server that sends none, a throttled re-read of /api/series when an item naming
 * the ticker arrives.
 */
import { createChart, HistogramSeries, LineSeries, TickMarkType, type IChartApi, type ISeriesApi, type Time, type UTCTimestamp } from 'lightweight-charts';
import type { Bucket } from './types.js';
import { el, fmtScore, getJson } from './util.js';

export const RANGES = {
  '6h': { bucket: '1m', since: '6h', windowMs: 30 * 60_000, label: '6 h · 1 min', stepMs: 60_000, spanMs: 6 * 3_600_000 },
  '7d': { bucket: '1h', since: '7d', windowMs: 12 * 3_600_000, label: '7 d · 1 h', stepMs: 3_600_000, spanMs: 7 * 86_400_000 },
  '90d': { bucket: '1d', since: '90d', windowMs: 7 * 86_400_000, label: '90 d · 1 day', stepMs: 86_400_000, spanMs: 90 * 86_400_000 },
} as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');
/** The chart's times are the buckets' UTC starts, shown in UTC (a day bucket is a UTC day). */
const utc = (time: Time) => new Date((time as number) * 1000);
const dayLabel = (d: Date) => `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
const hhmm = (d: Date) => `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;

/**
 * Axis labels that say what they mark at every range: the library's default labels a day tick
 * with the bare day of the month, so a 90-day axis read as a lone "2".
 */
export function tickLabel(time: Time, type: TickMarkType): string {
  // Thin spaces around the label: the library measures it in the regular weight when it moves an
  // edge label inside the axis, but draws the major ticks bold, which cut their first digit off.
  return `\u2009${tickText(utc(time), type)}\u2009`;
}

function tickText(d: Date, type: TickMarkType): string {
  switch (type) {
    case TickMarkType.Year:
      return String(d.getUTCFullYear());
    case TickMarkType.Month:
      return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
    case TickMarkType.DayOfMonth:
      return dayLabel(d);
    default:
      return hhmm(d);
  }
}

/** The crosshair's time label: a bucket of a day has no time of day. */
function crosshairLabel(range: RangeId): (time: Time) => string {
  return (time) => {
    const d = utc(time);
    return range === '90d' ? `${dayLabel(d)} ${d.getUTCFullYear()}` : `${dayLabel(d)} ${hhmm(d)} UTC`;
  };
}
export type RangeId = keyof typeof RANGES;
export const isRange = (r: string | null): r is RangeId => r !== null && Object.prototype.hasOwnProperty.call(RANGES, r);

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export class TickerPanel {
  ticker: string | null = null;
  range: RangeId = '6h';
  private chart: IChartApi | null = null;
  private line: ISeriesApi<'Line'> | null = null;
  private bars: ISeriesApi<'Histogram'> | null = null;
  private buckets = new Map<number, Bucket>();
  private loadSeq = 0;
  private lastRollup = 0;
  private refetchTimer: number | undefined;
  private lastFetch = 0;
  private readonly chartBox: HTMLElement;
  private readonly title: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly note: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly onChange: () => void,
  ) {
    this.title = el('h2', {}, 'Ticker');
    this.stats = el('span.stats');
    const ranges = el('span.ranges');
    for (const [id, r] of Object.entries(RANGES)) {
      const b = el('button.range', { type: 'button', 'data-range': id, title: r.label }, id);
      b.addEventListener('click', () => this.setRange(id as RangeId));
      ranges.append(b);
    }
    const close = el('button.close', { type: 'button', title: 'Close the chart', 'aria-label': 'Close' }, '×');
    close.addEventListener('click', () => this.show(null));
    this.chartBox = el('div.chart', { id: 'chart', 'data-points': 0 });
    this.note = el('p.note');
    root.replaceChildren(el('div.panel-head', {}, this.title, this.stats, ranges, close), this.chartBox, this.note);
    root.hidden = true;
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.applyTheme());
    // Backstop for news the stream's filter leaves out: re-read the shown series every minute.
    window.setInterval(() => {
      if (this.ticker && Date.now() - this.lastFetch > 55_000) void this.load();
    }, 60_000);
  }

  /** Axis labels the chart asked for, per range (the browser test checks they are readable). */
  readonly axisLabels: Record<RangeId, Set<string>> = { '6h': new Set(), '7d': new Set(), '90d': new Set() };

  private recordLabel(label: string): string {
    const seen = this.axisLabels[this.range];
    if (seen.size < 500) seen.add(label.trim());
    return label;
  }

  /** Points currently charted (the test reads this). */
  get points(): number {
    return this.buckets.size;
  }

  /** True while the range was not picked by the user: an empty range then widens by itself. */
  private autoRange = true;

  /** Opens the panel for a ticker (null closes it). Without an explicit range it starts at 6 h and widens while empty. */
  show(ticker: string | null, range?: RangeId): void {
    this.ticker = ticker;
    this.autoRange = range === undefined;
    this.range = range ?? '6h';
    this.root.hidden = ticker === null;
    this.onChange();
    if (ticker === null) {
      this.chart?.remove();
      this.chart = this.line = this.bars = null;
      this.buckets.clear();
      return;
    }
    this.title.textContent = ticker;
    this.markRange();
    this.ensureChart();
    void this.load();
  }

  setRange(r: RangeId): void {
    if (this.ticker) this.show(this.ticker, r);
  }

  private markRange(): void {
    for (const b of this.root.querySelectorAll<HTMLElement>('button.range')) b.classList.toggle('active', b.dataset.range === this.range);
  }

  private ensureChart(): void {
    if (this.chart) return;
    this.chart = createChart(this.chartBox, {
      autoSize: true,
      layout: { attributionLogo: false, fontFamily: 'system-ui, sans-serif', fontSize: 11 },
      rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.08 } },
      // The range's whole span is charted (draw()), so nothing lies beyond its edges: with the
      // edges fixed the library also shifts the first and last labels inside instead of cutting
      // them ("p 5", "Dec 20" for Sep 5, Dec 2026). Labels are up to "Dec 2026" wide.
      // lockVisibleTimeRangeOnResize keeps the whole range in view when the panel changes width.
      timeScale: {
        timeVisible: true,
        secondsVisible: false,
        borderVisible: false,
        tickMarkFormatter: (time: Time, type: TickMarkType) => this.recordLabel(tickLabel(time, type)),
        tickMarkMaxCharacterLength: 9,
        fixLeftEdge: true,
        fixRightEdge: true,
        lockVisibleTimeRangeOnResize: true,
      },
      localization: { timeFormatter: crosshairLabel(this.range) },
      crosshair: { mode: 0 },
      handleScroll: { vertTouchDrag: false },
    });
    // Pane 0: sentiment in [-1, 1]; pane 1 (a third of the height): items per bucket.
    this.line = this.chart.addSeries(LineSeries, {
      lineWidth: 2,
      pointMarkersVisible: true,
      pointMarkersRadius: 2,
      priceLineVisible: false,
      lastValueVisible: true,
      title: 'sentiment',
      priceFormat: { type: 'custom', formatter: (p: number) => fmtScore(p), minMove: 0.01 },
      autoscaleInfoProvider: () => ({ priceRange: { minValue: -1, maxValue: 1 } }),
    });
    this.bars = this.chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false, title: 'items' }, 1);
    const panes = this.chart.panes();
    panes[0]?.setStretchFactor(2);
    panes[1]?.setStretchFactor(1);
    this.applyTheme();
  }

  private applyTheme(): void {
    if (!this.chart) return;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    this.chart.applyOptions({
      layout: { background: { color: 'transparent' }, textColor: fg, panes: { separatorColor: grid, separatorHoverColor: grid } },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
    });
    this.line?.applyOptions({ color: cssVar('--accent') });
    this.bars?.applyOptions({ color: cssVar('--bars') });
    this.draw();
  }

  private async load(): Promise<void> {
    const ticker = this.ticker;
    if (!ticker) return;
    const my = ++this.loadSeq;
    const r = RANGES[this.range];
    this.lastFetch = Date.now();
    if (this.buckets.size === 0) this.note.textContent = 'Loading…';
    try {
      const rows = await getJson<Bucket[]>(`/api/series?ticker=${encodeURIComponent(ticker)}&bucket=${r.bucket}&since=${r.since}`);
      if (my !== this.loadSeq) return;
      const ids = Object.keys(RANGES) as RangeId[];
      const wider = ids[ids.indexOf(this.range) + 1];
      if (rows.length === 0 && this.autoRange && wider) {
        this.range = wider;
        this.markRange();
        this.onChange();
        return void this.load();
      }
      this.buckets.clear();
      for (const b of rows) this.buckets.set(Date.parse(b.start), b);
      this.draw();
    } catch (err) {
      if (my !== this.loadSeq) return;
      this.note.textContent = `Could not load the series: ${(err as Error).message}`;
    }
  }

  /** A `rollup` message: the bucket's current totals (replaces the bucket). */
  rollup(ticker: string, bucket: string, b: Bucket): void {
    if (ticker !== this.ticker) return;
    this.lastRollup = Date.now();
    if (bucket !== RANGES[this.range].bucket) {
      this.itemSeen(ticker, true); // a coarser range: re-read it
      return;
    }
    const t = Date.parse(b.start);
    if (Number.isNaN(t)) return;
    this.buckets.set(t, { start: b.start, items: b.items, stories: b.stories, meanScore: b.meanScore, pos: b.pos, neu: b.neu, neg: b.neg });
    this.draw();
  }

  /**
   * An item naming the ticker arrived: unless `rollup` messages keep the chart current (the
   * server sends them only when the filter names the ticker), re-read the series, at most every 5 s.
   */
  itemSeen(ticker: string, force = false): void {
    if (ticker !== this.ticker || this.refetchTimer !== undefined) return;
    if (!force && this.range === '6h' && Date.now() - this.lastRollup < 30_000) return;
    const wait = Math.max(0, 5000 - (Date.now() - this.lastFetch));
    this.refetchTimer = window.setTimeout(() => {
      this.refetchTimer = undefined;
      void this.load();
    }, wait);
  }

  private draw(): void {
    if (!this.line || !this.bars) return;
    const r = RANGES[this.range];
    this.chart?.applyOptions({ localization: { timeFormatter: crosshairLabel(this.range) } });
    const sorted = [...this.buckets.entries()].sort((a, b) => a[0] - b[0]);
    // The time scale places bars by index, not by time: without a point for every bucket of the
    // range, two buckets a month apart sat side by side and the axis spanned only them. Empty
    // buckets are whitespace points, so the axis always shows the whole 6 h / 7 d / 90 d.
    const end = Math.floor(Date.now() / r.stepMs) * r.stepMs;
    const times = new Set<number>();
    for (let t = end - r.spanMs + r.stepMs; t <= end; t += r.stepMs) times.add(t);
    for (const [t] of sorted) times.add(t);
    const grid = [...times].sort((a, b) => a - b);
    const barData = grid.map((t) => {
      const b = this.buckets.get(t);
      return b ? { time: (t / 1000) as UTCTimestamp, value: b.items } : { time: (t / 1000) as UTCTimestamp };
    });
    // Rolling mean over windowMs, each bucket weighted by its scored stories (pos+neu+neg).
    const lineData: Array<{ time: UTCTimestamp; value: number }> = [];
    let lo = 0;
    let sum = 0;
    let n = 0;
    for (let i = 0; i < sorted.length; i++) {
      const [t, b] = sorted[i];
      const w = b.pos + b.neu + b.neg;
      if (b.meanScore !== null && w > 0) {
        sum += b.meanScore * w;
        n += w;
      }
      while (sorted[lo][0] <= t - r.windowMs) {
        const ob = sorted[lo][1];
        const ow = ob.pos + ob.neu + ob.neg;
        if (ob.meanScore !== null && ow > 0) {
          sum -= ob.meanScore * ow;
          n -= ow;
        }
        lo++;
      }
      if (n > 0) lineData.push({ time: (t / 1000) as UTCTimestamp, value: Math.max(-1, Math.min(1, sum / n)) });
    }
    const byTime = new Map(lineData.map((p) => [p.time as number, p]));
    this.line.setData(grid.map((t) => byTime.get(t / 1000) ?? { time: (t / 1000) as UTCTimestamp }));
    this.bars.setData(barData);
    this.chart?.timeScale().fitContent();
    this.chartBox.dataset.points = String(sorted.length);
    this.chartBox.dataset.linePoints = String(lineData.length);
    const items = sorted.reduce((a, [, b]) => a + b.items, 0);
    const last = lineData.length ? lineData[lineData.length - 1].value : null;
    this.stats.textContent = sorted.length ? `${items} item${items === 1 ? '' : 's'} · rolling mean ${fmtScore(last)}` : '';
    this.note.textContent = sorted.length ? '' : `No items named ${this.ticker} in the last ${r.since}. Try a longer range.`;
    this.root.dataset.ticker = this.ticker ?? '';
  }
}
