/** Side panels: top movers (/api/tickers), alerts (/api/alerts + live), source health (/healthz + live). */
import type { Alert, SourceState, TickerRow } from './types.js';
import { el, fmtRelative, fmtScore, fmtTime, getJson, sentimentClass } from './util.js';

type TickerClick = (symbol: string) => void;

function chip(symbol: string, score: number | null, onTicker: TickerClick): HTMLElement {
  const b = el(`button.chip.${sentimentClass(score)}`, { type: 'button', 'data-ticker': symbol, title: `Chart ${symbol}` }, symbol);
  b.addEventListener('click', () => onTicker(symbol));
  return b;
}

// ------------------------------------------------------------------------------ top movers

export interface Mover {
  symbol: string;
  recent: number;
  baseline: number | null;
  move: number;
  stories: number;
}

/**
 * Tickers whose mean sentiment in the last hour differs most from the 23 hours before it
 * (derived from the 1 h and 24 h totals: 24 h minus the last hour). A ticker new in the last
 * hour is compared with neutral (0).
 */
export function computeMovers(hour: TickerRow[], day: TickerRow[], max = 6): Mover[] {
  const dayBy = new Map(day.map((d) => [d.symbol, d]));
  const out: Mover[] = [];
  for (const h of hour) {
    if (h.meanScore === null) continue;
    const hn = h.pos + h.neu + h.neg;
    if (hn === 0) continue;
    const d = dayBy.get(h.symbol);
    let baseline: number | null = null;
    if (d && d.meanScore !== null) {
      const dn = d.pos + d.neu + d.neg;
      if (dn > hn) baseline = (d.meanScore * dn - h.meanScore * hn) / (dn - hn);
    }
    out.push({ symbol: h.symbol, recent: h.meanScore, baseline, move: h.meanScore - (baseline ?? 0), stories: h.stories });
  }
  out.sort((a, b) => Math.abs(b.move) - Math.abs(a.move) || b.stories - a.stories || a.symbol.localeCompare(b.symbol));
  return out.slice(0, max);
}

export class MoversPanel {
  constructor(
    private readonly list: HTMLElement,
    private readonly onTicker: TickerClick,
  ) {}

  async refresh(): Promise<void> {
    try {
      const [hour, day] = await Promise.all([getJson<TickerRow[]>('/api/tickers?since=1h&limit=200'), getJson<TickerRow[]>('/api/tickers?since=24h&limit=1000')]);
      const movers = computeMovers(hour, day);
      if (movers.length === 0) {
        this.list.replaceChildren(el('li.empty', {}, 'No scored ticker news in the last hour.'));
        return;
      }
      this.list.replaceChildren(
        ...movers.map((m) =>
          el(
            'li.mover',
            {},
            chip(m.symbol, m.recent, this.onTicker),
            el(`span.move.${m.move >= 0 ? 'up' : 'down'}`, { title: m.baseline === null ? 'new in the last hour (compared with neutral)' : `1 h ${fmtScore(m.recent)} vs 23 h before ${fmtScore(m.baseline)}` }, `${m.move >= 0 ? '▲' : '▼'} ${fmtScore(m.move)}`),
            el('span.detail', {}, `${fmtScore(m.recent)} ${m.baseline === null ? '(new)' : `from ${fmtScore(m.baseline)}`} · ${m.stories} stor${m.stories === 1 ? 'y' : 'ies'}`),
          ),
        ),
      );
    } catch (err) {
      this.list.replaceChildren(el('li.empty', {}, `Movers unavailable: ${(err as Error).message}`));
    }
  }
}

// ------------------------------------------------------------------------------ alerts

export class AlertsPanel {
  private readonly alerts = new Map<number, Alert>();
  /** The view's ticker filter: only alerts about these (empty = all), as the server sends them. */
  private tickers: readonly string[] = [];

  setTickers(tickers: readonly string[]): void {
    this.tickers = tickers;
    this.render();
  }

  constructor(
    private readonly list: HTMLElement,
    private readonly onTicker: TickerClick,
    private readonly max = 50,
  ) {}

  async refresh(): Promise<void> {
    try {
      const rows = await getJson<Alert[]>('/api/alerts?since=24h&limit=100');
      for (const a of rows) this.alerts.set(a.id, a);
      this.render();
    } catch (err) {
      if (this.alerts.size === 0) this.list.replaceChildren(el('li.empty', {}, `Alerts unavailable: ${(err as Error).message}`));
    }
  }

  add(a: Alert): void {
    if (!a || typeof a.id !== 'number') return;
    const isNew = !this.alerts.has(a.id);
    // A failure announced before the alert itself (or re-read without it) is kept.
    const failed = a.deliveryError ?? this.alerts.get(a.id)?.deliveryError ?? this.failures.get(a.id) ?? null;
    this.failures.delete(a.id);
    this.alerts.set(a.id, { ...a, deliveryError: failed });
    this.render(isNew ? a.id : undefined);
  }

  /** Webhook failures whose alert is not (yet) in the list, by alert id; bounded like the list. */
  private readonly failures = new Map<number, string>();

  /** A `delivery` message: the webhook gave up on this alert. */
  deliveryFailed(d: { alertId: number; error: string }): void {
    if (!d || typeof d.alertId !== 'number') return;
    const a = this.alerts.get(d.alertId);
    if (a) {
      this.alerts.set(a.id, { ...a, deliveryError: String(d.error) });
      this.render();
      return;
    }
    this.failures.set(d.alertId, String(d.error));
    if (this.failures.size > 4 * this.max) this.failures.delete(this.failures.keys().next().value as number);
  }

  private render(fresh?: number): void {
    // Newest event first: ids follow the order alerts were stored, which is not the order of
    // their events (a replayed or late item raises an alert about an older time).
    const all = [...this.alerts.values()].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
    for (const a of all.slice(4 * this.max)) this.alerts.delete(a.id);
    const sorted = this.tickers.length ? all.filter((a) => this.tickers.includes(a.ticker)) : all;
    if (sorted.length === 0) {
      this.list.replaceChildren(el('li.empty', {}, this.tickers.length ? 'No alerts about these tickers in the last 24 h.' : 'No alerts in the last 24 h.'));
      return;
    }
    this.list.replaceChildren(
      ...sorted.slice(0, this.max).map((a) =>
        el(
          `li.alert${a.id === fresh ? '.fresh' : ''}${a.deliveryError ? '.delivery-failed' : ''}`,
          { 'data-alert': a.id, 'data-at': a.at },
          el('time', { datetime: a.at }, fmtTime(a.at)),
          chip(a.ticker, a.direction === 'down' ? -0.6 : a.direction === 'up' ? 0.6 : null, this.onTicker),
          el(`span.kind.k-${a.kind}`, {}, a.direction === 'up' ? `${a.kind} ▲` : a.direction === 'down' ? `${a.kind} ▼` : a.kind),
          el('span.message', { title: `rule ${a.rule} · value ${a.value}` }, a.message),
          ...(a.deliveryError ? [el('span.delivery', { title: a.deliveryError }, 'webhook failed')] : []),
        ),
      ),
    );
  }
}

// ------------------------------------------------------------------------------ sources

interface Health {
  /** ok | degraded | failing (docs/OPERATIONS.md, Health). */
  status?: string;
  reason?: string | null;
  sources?: SourceState[];
  websocket?: { clients?: number };
}

export class SourcesPanel {
  private readonly sources = new Map<string, SourceState>();
  daemonStatus = '';

  constructor(
    private readonly body: HTMLElement,
    private readonly statusEl: HTMLElement,
  ) {}

  ids(): string[] {
    return [...this.sources.keys()].sort();
  }

  async refresh(): Promise<void> {
    try {
      const h = await getJson<Health>('/healthz');
      this.daemonStatus = h.status ?? '?';
      this.sources.clear();
      for (const s of h.sources ?? []) this.sources.set(s.id, s);
      // Degraded is amber, not red: the daemon works, something in it needs a look (the reason).
      const reason = this.daemonStatus === 'ok' ? '' : (h.reason ?? '');
      this.statusEl.textContent = reason ? `daemon ${this.daemonStatus}: ${reason}` : `daemon ${this.daemonStatus}`;
      this.statusEl.title = reason;
      this.statusEl.className = `daemon st-${this.daemonStatus === 'ok' ? 'ok' : this.daemonStatus === 'degraded' ? 'degraded' : 'failing'}`;
    } catch (err) {
      this.statusEl.textContent = 'daemon unreachable';
      this.statusEl.className = 'daemon st-failing';
      this.statusEl.title = (err as Error).message;
    }
    this.render();
  }

  update(s: SourceState): void {
    if (!s || typeof s.id !== 'string') return;
    const before = this.sources.get(s.id)?.status;
    this.sources.set(s.id, { ...this.sources.get(s.id), ...s });
    this.render();
    // The header's status depends on which sources fail: re-read it now, not at the next 10 s refresh.
    if ((before === 'failing') !== (s.status === 'failing')) this.refreshSoon();
  }

  private refreshTimer = 0;
  private refreshSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = 0;
      void this.refresh();
    }, 500);
  }

  /** Re-renders the relative times ("12 s ago"). */
  render(): void {
    const list = [...this.sources.values()].sort((a, b) => a.id.localeCompare(b.id));
    if (list.length === 0) {
      this.body.replaceChildren(el('tr', {}, el('td.empty', { colspan: 5 }, 'No sources.')));
      return;
    }
    this.body.replaceChildren(
      ...list.map((s) =>
        el(
          'tr',
          { 'data-source': s.id },
          el('td', {}, el('span.src', {}, s.id), el('span.kind', {}, s.kind)),
          el('td', {}, el(`span.state.st-${/^(ok|done)$/.test(s.status) ? 'ok' : /^(failing|error)$/.test(s.status) ? 'failing' : 'other'}`, {}, s.status)),
          el('td', { title: s.lastPollAt ?? '' }, fmtRelative(s.lastPollAt)),
          el('td.num', { title: s.lastError ?? '' }, s.consecutiveErrors > 0 ? `${s.consecutiveErrors} in a row` : String(s.errors ?? 0)),
          el('td.num', {}, String(s.items)),
        ),
      ),
    );
    for (const s of list) {
      if (s.status === 'retrying' && s.retry) {
        const r = s.retry;
        const next = r.next === 'split' ? 'retrying in halves now' : `attempt ${r.attempt + 1} of ${r.attempts} ${fmtRelative(r.nextAttemptAt)}`;
        this.body.append(el('tr.err', { 'data-retry': s.id }, el('td', { colspan: 5, title: r.message }, `${s.id}: ${r.error}, ${next}`)));
      } else if (s.lastError && s.consecutiveErrors > 0) {
        // The cause (`… ENOTFOUND www.sec.gov`) says what to fix; the code alone does not.
        const cause = s.lastErrorMessage ? ` — ${s.lastErrorMessage}` : '';
        this.body.append(el('tr.err', {}, el('td', { colspan: 5 }, `${s.id}: ${s.lastError}${cause}`)));
      }
    }
  }
}
