/**
 * A made-up, templated corpus for `tickerpulse reclassify` benches and tests, committed straight
 * through ItemStore.commitPoll as an "old model" left it: fixed fake predictions and tickers that
 * the current model and linker will mostly change, and ~10 % of items copies of an earlier story.
 *
 * Headlines come from templates × invented company names × verbs × events with a seeded PRNG, so
 * the same seed always builds the same database. Some carry an exchange tag or cashtag of a real
 * symbol so the linker has something to find; none is a real headline.
 */
import type { CommitStories, ItemStore, StoryAssignment } from '../../src/store/itemStore.js';
import type { ClassifiedItem, ItemTicker, Label } from '../../src/lib/types.js';

const COMPANIES = ['Brindlecrest', 'Halvorn Systems', 'Quillmark', 'Osterfeld Mining', 'Tamberlane Foods', 'Vexmoor Bio', 'Corrigan Freight', 'Lumapeak', 'Nordwick Energy', 'Pellucid Labs', 'Saxbridge Bank', 'Orrin Motors'];
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM', 'KO', 'XOM'];
const UP = ['climbs', 'jumps', 'rallies', 'rises', 'gains'];
const DOWN = ['falls', 'slides', 'drops', 'sinks', 'tumbles'];
const GOOD = ['after profit beats forecasts', 'on record quarterly revenue', 'as margins widen', 'after raising its dividend', 'on a new supply contract'];
const BAD = ['after a profit warning', 'as sales miss estimates', 'on a product recall', 'after cutting its outlook', 'amid a regulatory probe'];
const NEUTRAL = ['to present at an industry conference', 'schedules its annual meeting', 'names a new finance chief', 'completes a share consolidation', 'files its quarterly report'];

const TEMPLATES: Array<(r: Rng) => string> = [
  (r) => `${r.pick(COMPANIES)} shares ${r.pick(UP)} ${r.pick(GOOD)}`,
  (r) => `${r.pick(COMPANIES)} stock ${r.pick(DOWN)} ${r.pick(BAD)}`,
  (r) => `${r.pick(COMPANIES)} ${r.pick(NEUTRAL)}`,
  (r) => `${r.pick(COMPANIES)} (NYSE: ${r.pick(SYMBOLS)}) ${r.pick(UP)} ${r.pick(GOOD)}`,
  (r) => `$${r.pick(SYMBOLS)} ${r.pick(DOWN)} ${r.pick(BAD)}, ${r.pick(COMPANIES)} follows`,
  (r) => `${r.pick(COMPANIES)} and ${r.pick(COMPANIES)} ${r.pick(NEUTRAL)}`,
];
const LABELS: Label[] = ['negative', 'neutral', 'positive'];
const VIAS = ['cashtag', 'exchange', 'name', 'alias'];

/** mulberry32: small, fast, good enough to pick words; a fixed seed gives a fixed corpus. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

export interface CorpusOptions {
  items: number;
  /** Source ids the items are spread over (round robin per chunk). */
  sources: readonly string[];
  seed?: number;
  /** Items per commitPoll. */
  chunk?: number;
  /** First publication time; items follow each other by `stepMs`. */
  start?: number;
  stepMs?: number;
  /** Share of items that repeat an earlier story (default 0.1). */
  copyShare?: number;
}

/** Story assignment as the daemon's clusterer reports it, from the generator's own story keys. */
class KeyedStories implements CommitStories<{ storyId: number | null; key: string }> {
  private readonly byKey = new Map<string, { id: number; sources: Set<string> }>();
  private readonly keyOf = new WeakMap<ClassifiedItem, string>();
  tag(item: ClassifiedItem, key: string): void {
    this.keyOf.set(item, key);
  }
  match(item: ClassifiedItem): { storyId: number | null; key: string } {
    const key = this.keyOf.get(item) ?? item.guid;
    return { storyId: this.byKey.get(key)?.id ?? null, key };
  }
  record(m: { storyId: number | null; key: string }, seq: number): StoryAssignment {
    const s = this.byKey.get(m.key);
    if (!s) {
      this.byKey.set(m.key, { id: seq, sources: new Set([this.current]) });
      return { storyId: seq, novel: true, sourceCount: 1, sourceNew: true };
    }
    const sourceNew = !s.sources.has(this.current);
    s.sources.add(this.current);
    return { storyId: s.id, novel: false, sourceCount: s.sources.size, sourceNew };
  }
  /** The source of the poll being committed (commitPoll commits one source at a time). */
  current = '';
}

/** Old, deliberately wrong tickers: a symbol or two the new linker will mostly not find. */
function oldTickers(r: Rng, label: Label, score: number): ItemTicker[] | undefined {
  const n = r.int(3);
  if (n === 0) return undefined;
  const out: ItemTicker[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const symbol = r.pick(SYMBOLS);
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    out.push({ symbol, via: r.pick(VIAS), label, score, pNeg: (1 - score) / 2, pNeu: 0, pPos: (1 + score) / 2 });
  }
  return out;
}

/** One commitPoll's worth of the corpus; `keys[k]` names the story of `items[k]`. */
export interface CorpusPoll {
  source: string;
  items: ClassifiedItem[];
  keys: string[];
}

/** The corpus as polls, not committed. Deterministic for a given seed and options. */
export function corpusPolls(opts: CorpusOptions): CorpusPoll[] {
  const r = new Rng(opts.seed ?? 13);
  const chunk = opts.chunk ?? 2000;
  const start = opts.start ?? Date.UTC(2026, 0, 5, 6, 0, 0);
  const step = opts.stepMs ?? 2_500;
  const copyShare = opts.copyShare ?? 0.1;
  const recent: Array<{ key: string; title: string }> = [];
  const polls: CorpusPoll[] = [];
  for (let base = 0, poll = 0; base < opts.items; base += chunk, poll++) {
    const source = opts.sources[poll % opts.sources.length];
    const items: ClassifiedItem[] = [];
    const keys: string[] = [];
    for (let i = base; i < Math.min(opts.items, base + chunk); i++) {
      let title: string;
      let key: string;
      if (recent.length > 0 && r.next() < copyShare) {
        const orig = recent[r.int(recent.length)];
        key = orig.key;
        // A copy as outlets re-publish it: sometimes with a publisher suffix.
        title = r.next() < 0.5 ? orig.title : `${orig.title} - Newswire`;
      } else {
        key = `s${i}`;
        title = `${r.pick(TEMPLATES)(r)} (${i})`;
        recent.push({ key, title });
        if (recent.length > 200) recent.shift();
      }
      const label = r.pick(LABELS);
      const score = label === 'positive' ? 0.9 : label === 'negative' ? -0.9 : 0;
      // Mostly in order, some a little late (as feeds publish), some without a date.
      const jitter = r.next() < 0.05 ? -r.int(3_600_000) : 0;
      items.push({
        guid: `g${i}`,
        url: null,
        title,
        summary: null,
        publishedAt: r.next() < 0.01 ? null : new Date(start + i * step + jitter).toISOString(),
        source,
        fetchedAt: new Date(start + i * step + 60_000).toISOString(),
        model: 'old-model',
        label,
        pNeg: (1 - score) / 2,
        pNeu: 0,
        pPos: (1 + score) / 2,
        score,
        tickers: oldTickers(r, label, score),
      });
      keys.push(key);
    }
    polls.push({ source, items, keys });
  }
  return polls;
}

/** Commits the polls in order, with stories as the daemon's clusterer would report them (`stories: false`: none, as before schema v2). */
export function commitCorpus(store: ItemStore, polls: readonly CorpusPoll[], opts: { stories?: boolean } = {}): void {
  const stories = new KeyedStories();
  for (const p of polls) {
    stories.current = p.source;
    p.items.forEach((it, k) => stories.tag(it, p.keys[k]));
    store.commitPoll(p.source, p.items, {}, undefined, opts.stories === false ? {} : { stories });
  }
}

/** Builds the corpus into `store` (see corpusPolls). */
export function buildCorpus(store: ItemStore, opts: CorpusOptions): void {
  commitCorpus(store, corpusPolls(opts));
}
