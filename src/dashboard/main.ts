/**
 * tickerpulse dashboard: wires the /ws stream, the HTTP API and the panels together.
 *
 * Stream position: `cursor` is the seq of the last item received on /ws (or, before the first
 * connect, the latest stored seq when the backfill was read). Every (re)connect asks for
 * ?since=<cursor>, so a drop loses nothing; items are de-duplicated by seq. The filter is
 * applied here too, so a server that does not filter (protocol 1) shows the same view.
 */
import { Connection, type ConnState } from './connection.js';
import { TickerPanel, isRange, type RangeId } from './chart.js';
import { apiNarrowing, isEmpty, matches, normalizeTicker, parseFilter, sameFilter, toParams, toSubscribe, type Filter } from './filters.js';
import { AlertsPanel, MoversPanel, SourcesPanel } from './panels.js';
import { StoryList } from './stories.js';
import { LABELS, type Item, type ServerMessage } from './types.js';
import { byId, getJson } from './util.js';

const MAX_ROWS = 300;

const initial = parseFilter(new URLSearchParams(location.search));
let filter: Filter = initial.filter;
let cursor = 0;
let ready = false;
/** Bumped on every filter change: answers for an older filter are dropped. */
let generation = 0;
/** Live items that arrived while a backfill was being read (merged when it lands). */
let pending: Item[] | null = null;
let waitingSubscribed: { generation: number; timer: number } | null = null;
const stats = { received: 0, duplicates: 0, outOfOrder: 0, backfills: 0, lastHello: 0 };

const stateEl = byId('conn');
const stateDetail = byId('conn-detail');
const seqEl = byId('seq');
const filterNote = byId('filter-note');

const openTicker = (symbol: string) => {
  panel.show(symbol);
  byId('ticker-panel').scrollIntoView({ block: 'nearest' });
};
const stories = new StoryList(byId('stories'), openTicker, MAX_ROWS);
const panel = new TickerPanel(byId('ticker-panel'), () => writeUrl());
const movers = new MoversPanel(byId('movers'), openTicker);
const alerts = new AlertsPanel(byId('alerts'), openTicker);
const sources = new SourcesPanel(byId('sources'), byId('daemon'));

const conn = new Connection({
  query: () => {
    const p = toParams(filter);
    p.set('since', String(cursor));
    return p.toString();
  },
  onMessage,
  onState,
});

// ------------------------------------------------------------------------------ stream

function onState(s: ConnState, detail: string): void {
  stateEl.textContent = s;
  stateEl.className = `conn c-${s}`;
  stateEl.dataset.state = s;
  stateDetail.textContent = detail;
  document.body.dataset.conn = s;
}

function onMessage(m: ServerMessage): void {
  switch (m.type) {
    case 'hello':
      stats.lastHello = m.seq;
      if (m.seq < cursor) {
        // The database was replaced (the server treats since > its latest as its latest).
        cursor = m.seq;
        void backfill('The database was replaced; reloading…');
      }
      seqEl.textContent = `seq ${cursor}`;
      byId('version').textContent = `v${m.version} · protocol ${m.protocol}`;
      if (m.protocol >= 2 && m.filter && !sameFilterWire(m.filter)) conn.send(toSubscribe(filter));
      return;
    case 'item':
      return onItem(m.item);
    case 'alert':
      return alerts.add(m.alert);
    case 'delivery':
      return alerts.deliveryFailed(m.delivery);
    case 'rollup':
      return panel.rollup(m.ticker, m.bucket, m);
    case 'source':
      return sources.update(m.source);
    case 'subscribed':
      if (waitingSubscribed) {
        const g = waitingSubscribed.generation;
        clearTimeout(waitingSubscribed.timer);
        waitingSubscribed = null;
        if (g === generation) void backfill();
      }
      return;
    case 'error':
      filterNote.textContent = `server: ${m.message}`;
      if (waitingSubscribed) {
        clearTimeout(waitingSubscribed.timer);
        waitingSubscribed = null;
        void backfill();
      }
      return;
    default:
      return; // pong, and message types of later protocol versions
  }
}

function sameFilterWire(w: { tickers?: string[]; sources?: string[]; labels?: string[]; minAbsScore?: number }): boolean {
  const p = new URLSearchParams();
  if (w.tickers?.length) p.set('tickers', w.tickers.join(','));
  if (w.sources?.length) p.set('sources', w.sources.join(','));
  if (w.labels?.length) p.set('labels', [...w.labels].sort().join(','));
  if (w.minAbsScore) p.set('minAbsScore', String(w.minAbsScore));
  return sameFilter(parseFilter(p).filter, filter);
}

function onItem(it: Item): void {
  if (!it || typeof it.seq !== 'number') return;
  stats.received++;
  if (it.seq <= cursor) {
    // Within a connection seqs only increase and every reconnect resumes after cursor.
    stats.duplicates++;
    return;
  }
  cursor = it.seq;
  seqEl.textContent = `seq ${cursor}`;
  if (!Array.isArray(it.tickers)) it.tickers = [];
  for (const t of it.tickers) panel.itemSeen(t.symbol);
  if (!matches(filter, it)) return;
  if (pending) pending.push(it);
  else stories.add([it]);
}

// ------------------------------------------------------------------------------ backfill

/**
 * Reads the newest matching items from /api/items into the (cleared) list. Live items that
 * arrive meanwhile are held and merged after it, de-duplicated by seq.
 */
async function backfill(note = 'Loading…'): Promise<void> {
  const my = generation;
  pending = pending ?? [];
  stories.clear(note);
  const narrowing = apiNarrowing(filter);
  const exact = filter.tickers.length <= 1 && filter.sources.length <= 1 && filter.labels.length <= 1 && filter.minAbsScore === 0;
  narrowing.set('sort', 'seq');
  narrowing.set('limit', String(exact ? MAX_ROWS : 1000));
  try {
    const rows = await getJson<Item[]>(`/api/items?${narrowing.toString()}`);
    if (my !== generation) return;
    stats.backfills++;
    const held = pending ?? [];
    pending = null;
    const maxRaw = rows.reduce((m, r) => Math.max(m, r.seq), 0);
    if (!ready) cursor = Math.max(cursor, maxRaw);
    stories.add(rows.filter((r) => matches(filter, r)));
    stories.add(held);
    stories.setEmptyText(isEmpty(filter) ? 'No stories yet — waiting for the first ones.' : 'No stories match this filter yet.');
  } catch (err) {
    if (my !== generation) return;
    const held = pending ?? [];
    pending = null;
    stories.add(held);
    stories.setEmptyText(`Could not load stories: ${(err as Error).message}`);
  }
}

// ------------------------------------------------------------------------------ filters

const form = byId<HTMLFormElement>('filters');
const fTickers = byId<HTMLInputElement>('f-tickers');
const fSources = byId<HTMLInputElement>('f-sources');
const fMin = byId<HTMLInputElement>('f-min');
const labelBoxes = LABELS.map((l) => byId<HTMLInputElement>(`f-${l}`));

function fillForm(f: Filter): void {
  fTickers.value = f.tickers.join(', ');
  fSources.value = f.sources.join(', ');
  fMin.value = f.minAbsScore > 0 ? String(f.minAbsScore) : '';
  LABELS.forEach((l, i) => (labelBoxes[i].checked = f.labels.includes(l)));
}

function readForm(): { filter: Filter; problems: string[] } {
  const p = new URLSearchParams();
  p.set('tickers', fTickers.value);
  p.set('sources', fSources.value);
  p.set('labels', LABELS.filter((_, i) => labelBoxes[i].checked).join(','));
  p.set('minAbsScore', fMin.value);
  return parseFilter(p);
}

function writeUrl(): void {
  const p = toParams(filter);
  if (panel.ticker) {
    p.set('ticker', panel.ticker);
    if (panel.range !== '6h') p.set('range', panel.range);
  }
  const q = p.toString();
  history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}`);
}

function applyFilter(next: Filter): void {
  if (sameFilter(next, filter)) return;
  filter = next;
  generation++;
  writeUrl();
  describeFilter();
  if (waitingSubscribed) clearTimeout(waitingSubscribed.timer);
  waitingSubscribed = null;
  if (conn.isOpen && conn.protocol >= 2 && conn.send(toSubscribe(filter))) {
    // Read the backfill once the server filters by the new filter: nothing falls in between.
    pending = [];
    stories.clear('Applying filter…');
    const g = generation;
    waitingSubscribed = { generation: g, timer: window.setTimeout(() => {
      waitingSubscribed = null;
      if (g === generation) void backfill();
    }, 3000) };
  } else {
    void backfill('Applying filter…');
  }
}

function describeFilter(): void {
  const parts: string[] = [];
  if (filter.tickers.length) parts.push(filter.tickers.join(' '));
  if (filter.sources.length) parts.push(`from ${filter.sources.join(', ')}`);
  if (filter.labels.length) parts.push(filter.labels.join('/'));
  if (filter.minAbsScore > 0) parts.push(`|score| ≥ ${filter.minAbsScore}`);
  byId('filter-summary').textContent = parts.length ? `Showing: ${parts.join(' · ')}` : 'Showing everything';
  alerts.setTickers(filter.tickers);
  document.body.dataset.filter = toParams(filter).toString();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const { filter: f, problems } = readForm();
  filterNote.textContent = problems.join('; ');
  applyFilter(f);
});
for (const b of labelBoxes) b.addEventListener('change', () => form.requestSubmit());
byId('f-clear').addEventListener('click', () => {
  fillForm({ tickers: [], sources: [], labels: [], minAbsScore: 0 });
  filterNote.textContent = '';
  applyFilter({ tickers: [], sources: [], labels: [], minAbsScore: 0 });
});
byId('reconnect').addEventListener('click', () => conn.drop(0));

// ------------------------------------------------------------------------------ start

fillForm(filter);
describeFilter();
// On a phone the form would push the stories a screen down: folded, its summary shows the filter.
if (matchMedia('(max-width: 640px)').matches) byId<HTMLDetailsElement>('filters-box').open = false;
filterNote.textContent = initial.problems.join('; ');
{
  const q = new URLSearchParams(location.search);
  const t = q.get('ticker');
  const r = q.get('range');
  const sym = t ? normalizeTicker(t) : null;
  if (sym) panel.show(sym, isRange(r) ? (r as RangeId) : undefined);
}

async function start(): Promise<void> {
  // The latest seq first, then the (possibly narrowed) backfill: together they say where the
  // stream has to resume so that nothing stored after them is missed.
  try {
    const latest = await getJson<Item[]>('/api/items?sort=seq&limit=1');
    cursor = latest[0]?.seq ?? 0;
  } catch {
    /* the backfill and the stream report it */
  }
  await backfill();
  ready = true;
  conn.start();
}
void start();

const refreshSources = () => void sources.refresh().then(() => fillSourceList());
function fillSourceList(): void {
  const dl = byId('source-ids');
  const ids = sources.ids();
  if (dl.childElementCount !== ids.length) dl.replaceChildren(...ids.map((id) => Object.assign(document.createElement('option'), { value: id })));
}
refreshSources();
void movers.refresh();
void alerts.refresh();
window.setInterval(refreshSources, 10_000);
window.setInterval(() => void movers.refresh(), 30_000);
window.setInterval(() => sources.render(), 5_000);
// ?since replays missed alerts, but not the webhook failures announced meanwhile (`delivery`):
// re-read the list after every reconnect.
let lastReconnects = 0;
window.setInterval(() => {
  if (conn.state === 'live' && conn.reconnects !== lastReconnects) {
    lastReconnects = conn.reconnects;
    void alerts.refresh();
  }
}, 2_000);

// ------------------------------------------------------------------------------ test hooks

declare global {
  interface Window {
    __tp: unknown;
  }
}
window.__tp = {
  state: () => ({ conn: conn.state, protocol: conn.protocol, reconnects: conn.reconnects, cursor, filter, ...stats }),
  seqs: () => stories.seqs(),
  chartPoints: () => panel.points,
  /** The time-axis labels drawn for a range of the ticker chart. */
  axisLabels: (range: RangeId) => [...(panel.axisLabels[range] ?? [])],
  /** Closes the socket; the app reconnects (with since) after holdMs. */
  dropConnection: (holdMs = 0) => conn.drop(holdMs),
};
