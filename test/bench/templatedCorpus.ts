/**
 * A templated synthetic news corpus for the benchmarks (issue 13): headlines built from templates ×
 * made-up companies × up/down verbs × good/bad/neutral events, from a fixed seed, so every run
 * replays the same items. Real wire news is like this — many outlets phrasing the same few kinds
 * of event about many companies — which makes near-identical titles common; the demo corpus the
 * older replay uses is 300 distinct headlines made unique with a number, which hides the cost of
 * story matching.
 *
 * Shape:
 *  - every item sits at a position 0..N-1; its publishedAt grows with the position over `spanMs`
 *    (3 days by default, fixed dates: the daemon clusters and alerts in event time);
 *  - `outlets` (8) outlets; the item at position p is published by outlet p % outlets, so the
 *    8-source replay gets N / 8 items per source, in time order;
 *  - about `storyShare` (10 %) of items are copies of one story: the same headline with a
 *    publisher suffix, an "UPDATE 1-" prefix or a reworded tail, from different outlets and
 *    minutes apart (copy j sits outlets·m·j + j positions after the first, so its outlet differs);
 *  - companies are drawn with a skew (a few are in the news a lot), each with a made-up symbol
 *    that some headlines write as a cashtag (`$NRVX`) or an exchange tag (`(NASDAQ: NRVX)`),
 *    others by name only (linked through `tickers.extraAliases`, see tickerConfig());
 *  - a few one-hour "episodes" put one company in a burst of one-sided news, so volume and
 *    shift alerts have something to find.
 * Nothing here is taken from a real news corpus.
 */

export interface TemplatedItem {
  id: string;
  title: string;
  url: string;
  publishedAt: string;
  /** Which outlet publishes it (0-based); the 8-source replay has one source per outlet. */
  outlet: number;
  /** Index of the planned multi-item story it belongs to, or -1. */
  story: number;
  /** The company it is about. */
  symbol: string;
  /** A longer body for the probes that need big frames (only when `summaryChars` > 0). */
  summary?: string;
}

export interface Company {
  name: string;
  symbol: string;
}

export interface TemplatedCorpusOptions {
  items: number;
  /** Outlets (= sources of the multi-source replay); default 8. */
  outlets?: number;
  /** PRNG seed; default 13. */
  seed?: number;
  /** publishedAt of position 0 (ms); default 2026-03-02T00:00:00Z. */
  startMs?: number;
  /** Time from the first to the last item (ms); default 3 days. */
  spanMs?: number;
  /** Share of items that are in planned multi-item stories; default 0.1. */
  storyShare?: number;
  /** Made-up companies; default 120. */
  companies?: number;
  /** Characters of made-up summary per item; default 0 (none). */
  summaryChars?: number;
}

export interface TemplatedCorpus {
  items: TemplatedItem[];
  companies: Company[];
  /** Planned multi-item stories (each with 2–5 copies). */
  stories: number;
}

/** mulberry32: small, fast, good enough for a benchmark corpus. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAME_HEADS = ['Norv', 'Velt', 'Quarn', 'Bramb', 'Corv', 'Astr', 'Halv', 'Terr', 'Lumin', 'Zent', 'Oryx', 'Pell', 'Kest', 'Marl', 'Dravo', 'Solt', 'Gral', 'Ivor'];
const NAME_TAILS = ['ane', 'ix', 'ell', 'ora', 'ick', 'gen', 'ium', 'stead', 'ex', 'ant', 'aro', 'ency'];
const NAME_KINDS = ['Systems', 'Holdings', 'Labs', 'Energy', 'Foods', 'Motors', 'Bancorp', 'Pharma', 'Networks', 'Mining', 'Logistics', 'Materials'];
const EXCHANGES = ['NASDAQ', 'NYSE'];

type Polarity = 'good' | 'bad' | 'neutral';
const EVENTS: Record<Polarity, string[]> = {
  good: ['record quarterly revenue', 'a raised full-year outlook', 'a multiyear supply contract', 'regulatory approval for its lead product', 'a larger dividend', 'strong holiday bookings', 'an upgrade to buy'],
  bad: ['a profit warning', 'a weak quarterly outlook', 'the loss of its largest customer', 'a product recall', 'an accounting review', 'missed earnings estimates', 'a downgrade to sell'],
  neutral: ['its annual shareholder meeting', 'a management reshuffle', 'a scheduled investor day', 'a completed bond offering', 'a change of auditor', 'an index rebalancing', 'a board appointment'],
};
const VERBS: Record<Polarity, [string, string, string][]> = {
  // [base, third person, -ing]
  good: [['rise', 'rises', 'rising'], ['climb', 'climbs', 'climbing'], ['jump', 'jumps', 'jumping'], ['rally', 'rallies', 'rallying'], ['surge', 'surges', 'surging'], ['gain', 'gains', 'gaining']],
  bad: [['fall', 'falls', 'falling'], ['slide', 'slides', 'sliding'], ['drop', 'drops', 'dropping'], ['sink', 'sinks', 'sinking'], ['tumble', 'tumbles', 'tumbling'], ['slump', 'slumps', 'slumping']],
  neutral: [['edge', 'edges', 'edging'], ['drift', 'drifts', 'drifting'], ['move', 'moves', 'moving'], ['inch', 'inches', 'inching']],
};
const SESSIONS = ['early', 'late', 'premarket', 'after-hours', 'midday'];
const ANALYST: Record<Polarity, string> = { good: 'upgrade', bad: 'cut targets on', neutral: 'reiterate ratings on' };
const OUTLOOK: Record<Polarity, string> = { good: 'lift', bad: 'weigh on', neutral: 'have little effect on' };

interface Slots {
  co: string;
  tag: string;
  sym: string;
  verb: [string, string, string];
  event: string;
  pct: string;
  session: string;
  polarity: Polarity;
}

/** The templates: each is a headline shape with the company, a verb and an event in it. */
export const TEMPLATES: ((s: Slots) => string)[] = [
  (s) => `${s.tag}${s.co} shares ${s.verb[0]} ${s.pct}% after ${s.event}`,
  (s) => `${s.tag}${s.co} ${s.verb[1]} as investors weigh ${s.event}`,
  (s) => `${s.co} stock ${s.verb[1]} in ${s.session} trading on ${s.event}`,
  (s) => `Analysts ${ANALYST[s.polarity]} ${s.co} following ${s.event}`,
  (s) => `${s.co} reports ${s.event}; shares ${s.verb[0]} ${s.pct}%`,
  (s) => `${s.co} (${s.tag ? EXCHANGES[s.sym.length % 2] : 'NYSE'}: ${s.sym}) ${s.verb[1]} ${s.pct}% on ${s.event}`,
  (s) => `Why ${s.co} shares are ${s.verb[2]} today: ${s.event}`,
  (s) => `${s.tag}${s.co} says ${s.event} will ${OUTLOOK[s.polarity]} results this year`,
];

/** How the copies of a story differ from its first item. */
const PUBLISHERS = [' - Ledger Wire', ' | Market Desk', ' - Daily Tape', ' - Newsline', ' | The Street Post'];
// Not "BRIEF-": the clusterer's normalization keeps it (glued to the first word), so such copies split off.
const PREFIXES = ['UPDATE 1-', 'UPDATE 2-', 'UPDATE 3-'];

function makeCompanies(n: number, rnd: () => number): Company[] {
  const out: Company[] = [];
  const names = new Set<string>();
  const symbols = new Set<string>();
  while (out.length < n) {
    const stem = NAME_HEADS[Math.floor(rnd() * NAME_HEADS.length)] + NAME_TAILS[Math.floor(rnd() * NAME_TAILS.length)];
    const name = `${stem} ${NAME_KINDS[Math.floor(rnd() * NAME_KINDS.length)]}`;
    if (names.has(stem)) continue; // one company per stem: names never overlap
    let symbol = (stem.slice(0, 3) + stem.slice(-1)).toUpperCase().replace(/[^A-Z]/g, '');
    for (let k = 0; symbols.has(symbol); k++) symbol = symbol.slice(0, 3) + String.fromCharCode(65 + (k % 26));
    names.add(stem);
    symbols.add(symbol);
    out.push({ name, symbol });
  }
  return out;
}

const pick = <T>(xs: readonly T[], rnd: () => number): T => xs[Math.floor(rnd() * xs.length)];

export function generateTemplatedCorpus(opts: TemplatedCorpusOptions): TemplatedCorpus {
  const n = opts.items;
  const outlets = opts.outlets ?? 8;
  const rnd = prng(opts.seed ?? 13);
  const startMs = opts.startMs ?? Date.parse('2026-03-02T00:00:00Z');
  const spanMs = opts.spanMs ?? 3 * 86_400_000;
  const storyShare = opts.storyShare ?? 0.1;
  const companies = makeCompanies(Math.min(opts.companies ?? 120, NAME_HEADS.length * NAME_TAILS.length), rnd);
  // Zipf-like weights: the news is about a few companies most of the time.
  const cum: number[] = [];
  let total = 0;
  for (let i = 0; i < companies.length; i++) cum.push((total += 1 / Math.pow(i + 1, 0.8)));
  const drawCompany = (): number => {
    const x = rnd() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const msPerPos = spanMs / Math.max(1, n - 1);
  const timeAt = (pos: number): number => Math.round(startMs + pos * msPerPos + rnd() * 1000);

  // Episodes: one hour in which a third of the news is one company's one-sided story.
  const episodes = Array.from({ length: 6 }, (_, k) => {
    const from = Math.floor(((k + 1) / 7) * n);
    return { from, to: from + Math.round(3_600_000 / msPerPos), company: 1 + Math.floor(rnd() * 20), polarity: (k % 2 ? 'good' : 'bad') as Polarity };
  });

  const headline = (company: number, polarity: Polarity): { title: string; symbol: string } => {
    const c = companies[company];
    const mood: Polarity = rnd() < 0.85 ? polarity : pick(['good', 'bad', 'neutral'] as const, rnd);
    const r = rnd();
    const tag = r < 0.35 ? `$${c.symbol} ` : '';
    const slots: Slots = {
      co: c.name,
      tag,
      sym: c.symbol,
      verb: pick(VERBS[mood], rnd),
      event: pick(EVENTS[polarity], rnd),
      pct: (1 + rnd() * 11).toFixed(1),
      session: pick(SESSIONS, rnd),
      polarity,
    };
    return { title: pick(TEMPLATES, rnd)(slots), symbol: c.symbol };
  };

  const slots: (TemplatedItem | undefined)[] = new Array(n);
  const summaryChars = opts.summaryChars ?? 0;
  const place = (pos: number, title: string, symbol: string, story: number): void => {
    slots[pos] = {
      id: `tpl${pos}`,
      title,
      url: `https://news.example/o${pos % outlets}/${pos}`,
      publishedAt: new Date(timeAt(pos)).toISOString(),
      outlet: pos % outlets,
      story,
      symbol,
    };
  };

  // Planned stories first (2–5 copies, average 3.5), until storyShare of the positions are taken.
  let stories = 0;
  let inStories = 0;
  const target = Math.round(n * storyShare);
  for (let guard = 0; inStories < target && guard < n * 4; guard++) {
    const first = Math.floor(rnd() * n);
    if (slots[first]) continue;
    const copies = 2 + Math.floor(rnd() * 4);
    const positions = [first];
    for (let j = 1; j < copies && j < outlets; j++) {
      // outlets·m + j positions later: 2–30 minutes apart, and an outlet no earlier copy used.
      const gapMs = (2 + rnd() * 28) * 60_000;
      const pos = first + outlets * Math.max(1, Math.round(gapMs / (outlets * msPerPos))) * j + j;
      if (pos < n && !slots[pos]) positions.push(pos);
    }
    if (positions.length < 2) continue;
    const base = headline(drawCompany(), pick(['good', 'bad', 'neutral'] as const, rnd));
    positions.forEach((pos, j) => place(pos, j === 0 ? base.title : variant(base.title, rnd), base.symbol, stories));
    stories++;
    inStories += positions.length;
  }
  for (let pos = 0; pos < n; pos++) {
    if (slots[pos]) continue;
    const ep = episodes.find((e) => pos >= e.from && pos < e.to);
    const h = ep && rnd() < 0.33 ? headline(ep.company, ep.polarity) : headline(drawCompany(), rnd() < 0.4 ? 'neutral' : rnd() < 0.5 ? 'good' : 'bad');
    place(pos, h.title, h.symbol, -1);
  }
  const items = slots as TemplatedItem[];
  if (summaryChars > 0) for (const it of items) it.summary = filler(it.title, summaryChars);
  return { items, companies, stories };
}

/** A copy of a story's headline as another outlet writes it. */
export function variant(title: string, rnd: () => number): string {
  const r = rnd();
  if (r < 0.4) return title + pick(PUBLISHERS, rnd);
  if (r < 0.7) return pick(PREFIXES, rnd) + title;
  // Reworded tail: a different figure, or a trailing qualifier.
  const m = /(\d+\.\d)%/.exec(title);
  if (m && rnd() < 0.5) return title.replace(m[0], `${(Number(m[1]) + 0.1 + rnd()).toFixed(1)}%`);
  return `${title}, ${pick(['sources say', 'filing shows', 'report says', 'shares active'], rnd)}`;
}

function filler(title: string, chars: number): string {
  let s = '';
  while (s.length < chars) s += `${title}. Background and context on the company, its sector and recent trading. `;
  return s.slice(0, chars);
}

/** The daemon config that makes the made-up companies link: names as aliases, symbols on the watchlist. */
export function tickerConfig(companies: readonly Company[]): { extraAliases: Record<string, string>; watchlist: string[] } {
  return { extraAliases: Object.fromEntries(companies.map((c) => [c.name, c.symbol])), watchlist: companies.map((c) => c.symbol) };
}

/** One JSONL line of an item, as the jsonl source reads it. */
export function jsonlLine(it: TemplatedItem): string {
  return JSON.stringify({ id: it.id, title: it.title, url: it.url, publishedAt: it.publishedAt, ...(it.summary ? { summary: it.summary } : {}) }) + '\n';
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One RSS 2.0 document holding every item (the probe's 100k-item poll). */
export function rssDocument(items: readonly TemplatedItem[]): string {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>templated bench feed</title><link>https://news.example/</link><description>bench</description>\n'];
  for (const it of items) {
    parts.push(
      `<item><title>${xmlEscape(it.title)}</title><link>${it.url}</link><guid isPermaLink="false">${it.id}</guid><pubDate>${new Date(it.publishedAt).toUTCString()}</pubDate>${it.summary ? `<description>${xmlEscape(it.summary)}</description>` : ''}</item>\n`,
    );
  }
  parts.push('</channel></rss>\n');
  return parts.join('');
}
