import { fmix32 } from '../src/lib/hash.js';
/**
 * Story clustering: groups near-identical headlines (the same wire story re-published by several
 * outlets, or re-polled with a publisher suffix) into one story. Pure, synchronous, deterministic.
 *
 * - A title is normalized (lower case, publisher suffix such as " - Reuters" / " | CNBC" and wire
 *   prefixes such as "UPDATE 1-" dropped,
 *   punctuation removed, whitespace collapsed) and cut into character 5-shingles.
 * - Each title gets a MinHash signature (`numHashes` = 64 seeded 32-bit hash functions); LSH
 *   (`bands` = 32 bands of 2 rows) finds candidate stories, and the signature agreement (an
 *   estimate of the Jaccard similarity of the shingle sets) decides: ≥ `threshold` (0.6) joins.
 * - Only stories whose first item is within `windowMs` (48 h) of the item's time, and whose ticker
 *   set is compatible (equal, or one of the two empty), can be joined. A story without tickers
 *   adopts the tickers of the first item that has some.
 * - The first item of a story is `novel: true`; `sourceCount` is the number of distinct sources
 *   in the story (a source repeating the story does not raise it).
 * - Bounded memory: stories whose first item is older than `now − windowMs` (the injected clock)
 *   are evicted on every `assign`, and at most `maxStories` (50,000) stories are kept (the oldest
 *   go first). An evicted story can no longer be joined: a later copy starts a new story.
 */

export interface StoryClusterOptions {
  /** How long after its first item a story can still be joined (ms). Default 48 h. */
  windowMs?: number;
  /** Minimum estimated Jaccard similarity of the title shingle sets. Default 0.6. */
  threshold?: number;
  /** MinHash signature length. Default 64; must be a multiple of `bands`. */
  numHashes?: number;
  /** LSH bands. Default 32 (2 rows each). */
  bands?: number;
  /** Upper bound on stories kept. Default 50,000. */
  maxStories?: number;
  /** Seed of the hash family. Default 0x5eed. */
  seed?: number;
  /** Injected clock (ms since epoch); default Date.now. */
  clock?: () => number;
}

export interface StoryInput {
  seq?: number;
  source: string;
  title: string;
  /** ISO-8601; when missing or unparseable the clock's time is used. */
  publishedAt: string | null;
  tickers: string[];
}

export interface StoryAssignment {
  storyId: string;
  novel: boolean;
  sourceCount: number;
}

export const STORY_WINDOW_MS = 48 * 3600 * 1000;
export const STORY_SIMILARITY_THRESHOLD = 0.6;
export const STORY_MAX_STORIES = 50_000;

interface Story {
  id: string;
  firstAt: number;
  sig: Uint32Array;
  tickers: string[];
  sources: Set<string>;
  bandKeys: string[];
  alive: boolean;
}

const PUBLISHER_SUFFIX = /\s+[-–—|]\s+[^-–—|]{1,40}$/;
/** Wire prefixes: "UPDATE 2-", "BREAKING:", "EXCLUSIVE-", "CORRECTED-". */
const WIRE_PREFIX = /^(?:update\s*\d*|breaking(?:\s+news)?|exclusive|corrected|refile|wrapup\s*\d*)\s*[-:–—]\s*/i;

/** Lower case, publisher suffix dropped, punctuation removed, whitespace collapsed. */
export function normalizeTitle(title: string): string {
  let t = title.normalize('NFKC').trim();
  const m = PUBLISHER_SUFFIX.exec(t);
  // A short trailing segment of at most 4 words after " - " / " | " is taken as the publisher.
  if (m && m[0].trim().split(/\s+/).length <= 5 && m.index > 0) t = t.slice(0, m.index);
  t = t.replace(WIRE_PREFIX, '');
  return t
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


export function shingles(norm: string, k = 5): Set<string> {
  const out = new Set<string>();
  if (norm.length <= k) {
    if (norm.length > 0) out.add(norm);
    return out;
  }
  for (let i = 0; i + k <= norm.length; i++) out.add(norm.slice(i, i + k));
  return out;
}

export class StoryClusterer {
  readonly windowMs: number;
  readonly threshold: number;
  readonly maxStories: number;
  private readonly numHashes: number;
  private readonly bands: number;
  private readonly rows: number;
  private readonly seeds: Uint32Array;
  private readonly seed: number;
  private readonly clock: () => number;
  private readonly buckets = new Map<string, Story[]>();
  /** Stories in creation order (oldest first): eviction pops from the head. */
  private queue: Story[] = [];
  private head = 0;
  private live = 0;

  constructor(opts: StoryClusterOptions = {}) {
    this.windowMs = opts.windowMs ?? STORY_WINDOW_MS;
    this.threshold = opts.threshold ?? STORY_SIMILARITY_THRESHOLD;
    this.maxStories = opts.maxStories ?? STORY_MAX_STORIES;
    this.numHashes = opts.numHashes ?? 64;
    this.bands = opts.bands ?? 32;
    if (this.numHashes % this.bands !== 0) throw new Error('numHashes must be a multiple of bands');
    this.rows = this.numHashes / this.bands;
    this.seed = (opts.seed ?? 0x5eed) >>> 0;
    this.clock = opts.clock ?? Date.now;
    this.seeds = new Uint32Array(this.numHashes);
    for (let i = 0; i < this.numHashes; i++) this.seeds[i] = fmix32(this.seed + Math.imul(i + 1, 0x9e3779b9));
  }

  /** Number of stories currently kept. */
  get size(): number {
    return this.live;
  }

  signature(title: string): Uint32Array {
    const sig = new Uint32Array(this.numHashes).fill(0xffffffff);
    for (const sh of shingles(normalizeTitle(title))) {
      const base = fnv1a(sh, this.seed);
      for (let i = 0; i < this.numHashes; i++) {
        const h = fmix32(base ^ this.seeds[i]);
        if (h < sig[i]) sig[i] = h;
      }
    }
    return sig;
  }

  assign(item: StoryInput): StoryAssignment {
    const now = this.clock();
    this.evict(now);
    const parsed = item.publishedAt ? Date.parse(item.publishedAt) : NaN;
    const at = Number.isFinite(parsed) ? parsed : now;
    const tickers = [...new Set(item.tickers)].sort();
    const sig = this.signature(item.title);
    const keys = this.bandKeys(sig);

    let best: Story | null = null;
    let bestSim = -1;
    const seen = new Set<Story>();
    for (const key of keys) {
      const list = this.buckets.get(key);
      if (!list) continue;
      for (const st of list) {
        if (seen.has(st) || !st.alive) continue;
        seen.add(st);
        if (Math.abs(at - st.firstAt) > this.windowMs) continue;
        if (!compatible(st.tickers, tickers)) continue;
        const sim = agreement(st.sig, sig);
        if (sim >= this.threshold && (sim > bestSim || (sim === bestSim && best !== null && st.firstAt < best.firstAt))) {
          best = st;
          bestSim = sim;
        }
      }
    }

    if (best) {
      best.sources.add(item.source);
      if (best.tickers.length === 0 && tickers.length > 0) best.tickers = tickers;
      return { storyId: best.id, novel: false, sourceCount: best.sources.size };
    }

    const id = item.seq !== undefined ? `s${item.seq}` : `h${fnv1a(`${normalizeTitle(item.title)}|${item.source}|${at}`, this.seed).toString(16).padStart(8, '0')}`;
    const story: Story = { id, firstAt: at, sig, tickers, sources: new Set([item.source]), bandKeys: keys, alive: true };
    for (const key of keys) {
      const list = this.buckets.get(key);
      if (list) list.push(story);
      else this.buckets.set(key, [story]);
    }
    this.queue.push(story);
    this.live++;
    while (this.live > this.maxStories) this.drop(this.queue[this.head++]);
    this.compact();
    return { storyId: id, novel: true, sourceCount: 1 };
  }

  private bandKeys(sig: Uint32Array): string[] {
    const keys: string[] = [];
    for (let b = 0; b < this.bands; b++) {
      let k = `${b}`;
      for (let r = 0; r < this.rows; r++) k += ':' + sig[b * this.rows + r].toString(36);
      keys.push(k);
    }
    return keys;
  }

  /** Drops stories whose first item is older than the window (creation order ≈ time order). */
  private evict(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.head < this.queue.length && this.queue[this.head].firstAt < cutoff) this.drop(this.queue[this.head++]);
    // Stories created out of time order (late items) are caught when they reach the head.
    this.compact();
  }

  private drop(st: Story): void {
    if (!st.alive) return;
    st.alive = false;
    this.live--;
    for (const key of st.bandKeys) {
      const list = this.buckets.get(key);
      if (!list) continue;
      const i = list.indexOf(st);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.buckets.delete(key);
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

function compatible(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function agreement(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
