import { TickerpulseError } from '../src/lib/errors.js';
import { fmix32 } from '../src/lib/hash.js';
import { STORY_HASHES, STORY_SEED, StorySigner } from '../workers/storySignature.js';

export { normalizeTitle, shingles } from '../workers/storySignature.js';
/**
 * Story clustering: groups near-identical headlines (the same wire story re-published by several
 * outlets, or re-polled with a publisher suffix) into one story. Pure, synchronous, deterministic.
 *
 * - A title is normalized (lower case, publisher suffix such as " - Reuters" / " | CNBC" and wire
 *   prefixes such as "UPDATE 1-" dropped,
 *   punctuation removed, whitespace collapsed) and cut into character 5-shingles.
 * - Each title gets a MinHash signature (`numHashes` = 32 seeded 32-bit hash functions, computed
 *   on the source's worker by workers/storySignature.ts and passed in as `sig`); LSH (`bands` =
 *   16 bands of 2 rows) finds candidate stories, and the signature agreement (an
 *   estimate of the Jaccard similarity of the shingle sets) decides: ≥ `threshold` (0.6) joins.
 * - Only stories whose first item is within `windowMs` (48 h) of the item's time, and whose ticker
 *   set is compatible (equal, or one of the two empty), can be joined. A story without tickers
 *   adopts the tickers of the first item that has some.
 * - The first item of a story is `novel: true`; `sourceCount` is the number of distinct sources
 *   in the story (a source repeating the story does not raise it).
 * - Bounded memory: stories whose first item is older than `now − windowMs` (the injected clock)
 *   are evicted on every `assign`, and at most `maxStories` (50,000) stories are kept (the oldest
 *   go first). An evicted story can no longer be joined: a later copy starts a new story.
 *
 * Bounded time per item, however many near-duplicates exist (the rule):
 * - Each LSH bucket is a ring of its `bucketCap` (4) most recent entries, one entry per story at
 *   most. A story enters the rings of its `bands` keys when it starts; when an item joins it, it
 *   moves back to the front of each ring where it has aged past half the ring or been pushed out
 *   (so a story that keeps being re-published stays findable where others crowd it). A story
 *   pushed out of one ring stays in its others.
 * - match() meets at most `bands × bucketCap` (16 × 4 = 64) distinct stories (`lastCandidates`
 *   counts them), with `bands` map look-ups; those outside the window or with incompatible
 *   tickers are dropped as they are met, and of the rest it reads the signatures of those only that can still
 *   win: a story in F of the item's buckets has at most bands × (rows − 1) + F hashes equal to the
 *   item's (F counts the rings it was pushed out of as hits), so candidates are taken highest
 *   bound first and the scan stops once the bound falls below the threshold or the best so far.
 *   Among the stories still in some ring, the decision is exactly the uncapped one.
 * - record() pushes at most `bands` ring entries; eviction clears a story's ≤ `bands` slots (the
 *   story remembers its ring and slot per band: no search), once per story, i.e. amortized ≤ one
 *   story per recorded item; an emptied bucket is deleted.
 * - Memory: ring entries point to live stories only, ≤ one per story and band: ≤ bands ×
 *   maxStories entries in as many buckets at most.
 *
 * Why the cap keeps the clustering: a bucket only grows past a few stories where many distinct
 * titles share a band — the shared words of templated headlines ("… shares climb after …" about
 * different companies). What those crowds hold is decided by the signature agreement anyway; a
 * true copy (Jaccard ≥ 0.8: about 10 of its story's 16 bands) also meets its story in the bands
 * drawn from the words it does not share with the crowd (company name, figures), whose rings stay
 * short, and copies mostly arrive while their story is still among the newest of the crowded
 * rings (each copy renews it there). Checked in test/pipelines/storyCluster.test.ts (8,000
 * crowding stories push a story out of 7 of its 16 rings; its copies still join it through the
 * other 9) and by test/bench/storyMatch.ts (templated corpus; figures in pipelines/README.md).
 * What the cap gives up: the same wording about more than `bucketCap` different ticker sets
 * within the window fills all of a story's rings at once, and an older one of them can no longer
 * be joined (a later copy starts a new story).
 */

export interface StoryClusterOptions {
  /** How long after its first item a story can still be joined (ms). Default 48 h. */
  windowMs?: number;
  /** Minimum estimated Jaccard similarity of the title shingle sets. Default 0.6. */
  threshold?: number;
  /** MinHash signature length. Default 32 (STORY_HASHES, what the workers compute); a multiple of `bands`. */
  numHashes?: number;
  /**
   * LSH bands. Default 16 (2 rows each): near-identical copies (Jaccard ≥ 0.8) still meet in some
   * band with > 99.7 % probability, unrelated headlines (≤ 0.3) essentially never join.
   */
  bands?: number;
  /** Upper bound on stories kept. Default 50,000. */
  maxStories?: number;
  /**
   * Entries kept per LSH bucket (the most recent win). Default 4: a match meets at most
   * `bands × bucketCap` stories. Larger only helps a copy that arrives after that many other
   * stories have filled every bucket it shares with its story.
   */
  bucketCap?: number;

  /** Seed of the hash family. Default 0x5eed. */
  seed?: number;
  /** Injected clock (ms since epoch); default Date.now. */
  clock?: () => number;
}

export interface StoryInput {
  /** The item's seq: a novel item's story id. */
  seq: number;
  source: string;
  title: string;
  /** ISO-8601; when missing or unparseable the clock's time is used. */
  publishedAt: string | null;
  tickers: string[];
  /** The title's signature (StorySigner with this clusterer's numHashes/seed); computed here when absent. */
  sig?: Uint32Array;
}

export interface StoryAssignment {
  /** The seq of the story's first item. */
  storyId: number;
  novel: boolean;
  /** Distinct sources in the story so far. */
  sourceCount: number;
  /** True when this item is the story's first from its source (its source's rollups count it). */
  sourceNew: boolean;
}

export const STORY_WINDOW_MS = 48 * 3600 * 1000;
export const STORY_SIMILARITY_THRESHOLD = 0.6;
export const STORY_MAX_STORIES = 50_000;
export const STORY_BUCKET_CAP = 4;

/** What match() found; opaque to callers but for `storyId`. */
export interface StoryMatch {
  /** The story the item would join; null: it would start one (its id is then the item's seq). */
  readonly storyId: number | null;
  readonly story: Story | null;
  readonly at: number;
  readonly tickers: string[];
  readonly sig: Uint32Array;
  readonly keys: number[];
  readonly source: string;
}

/** A live story (internal to the clusterer). */
export interface Story {
  id: number;
  firstAt: number;
  sig: Uint32Array;
  tickers: string[];
  /** tickerHash(tickers), kept next to the fields match() reads (0: no tickers). */
  tickerHash: number;
  sources: Set<string>;
  bandKeys: number[];
  /** Per band: the bucket of its last push and that push's number (its slot while it is there). */
  rings: (Bucket | null)[];
  pushed: number[];
  /** Rings that hold this story (one entry at most in each). */
  present: number;
  alive: boolean;
  /** match() call that last looked at this story (dedupes candidates without a Set). */
  visit: number;
  /** In that call: how many of the item's buckets hold this story, the story's place among
   *  those met (ties go to the first met, as the uncapped scan did), and the most equal hashes
   *  it can have with the item. */
  hits: number;
  order: number;
  bound: number;
}

/**
 * One LSH bucket: a ring of the latest `bucketCap` entries. Push number p lives in slot
 * p % bucketCap until push p + bucketCap overwrites it; a dropped story's slot is set to null.
 */
export interface Bucket {
  slots: (Story | null)[];
  pushes: number;
  /** Non-null slots: the bucket is deleted when it reaches 0. */
  live: number;
}

export interface StoryClusterStats {
  stories: number;
  buckets: number;
  /** Ring entries over all buckets (≤ bands × stories: one per story and band at most). */
  entries: number;
  /** Entries of the fullest bucket (≤ bucketCap). */
  largestBucket: number;
  /** Distinct stories the last match met in the item's buckets (≤ maxCandidates); it read the signatures of at most these. */
  lastCandidates: number;
  /** The bound on lastCandidates: bands × bucketCap. */
  maxCandidates: number;
}

export class StoryClusterer {
  readonly windowMs: number;
  readonly threshold: number;
  readonly maxStories: number;
  readonly bucketCap: number;
  /** Distinct stories the last match() met in the item's buckets, the most it could compare the item with; ≤ bands × bucketCap. */
  lastCandidates = 0;
  private readonly numHashes: number;
  private readonly bands: number;
  private readonly rows: number;
  private readonly seed: number;
  private readonly clock: () => number;
  private readonly signer: StorySigner;
  private readonly buckets = new Map<number, Bucket>();
  private entries = 0;
  /** Fewest equal hashes that reach `threshold`. */
  private readonly minSame: number;
  /** Reused by match(): the distinct stories met in the item's buckets, ranked by bound. */
  private readonly met: Story[] = [];
  private readonly ranked: (Story | null)[];
  private readonly boundCount: Int32Array;
  private visits = 0;
  /** Live stories by id (restore() joins by id). */
  private readonly byId = new Map<number, Story>();
  /** Stories in creation order (oldest first): eviction pops from the head. */
  private queue: Story[] = [];
  private head = 0;
  private live = 0;

  constructor(opts: StoryClusterOptions = {}) {
    this.windowMs = opts.windowMs ?? STORY_WINDOW_MS;
    this.threshold = opts.threshold ?? STORY_SIMILARITY_THRESHOLD;
    this.maxStories = opts.maxStories ?? STORY_MAX_STORIES;
    this.bucketCap = opts.bucketCap ?? STORY_BUCKET_CAP;
    this.numHashes = opts.numHashes ?? STORY_HASHES;
    this.bands = opts.bands ?? 16;
    if (this.numHashes % this.bands !== 0) throw new TickerpulseError('CONFIG_INVALID', 'story clusterer: numHashes must be a multiple of bands');
    if (!Number.isInteger(this.bucketCap) || this.bucketCap < 1) throw new TickerpulseError('CONFIG_INVALID', `story clusterer: bucketCap must be a positive integer (got ${this.bucketCap})`);
    this.rows = this.numHashes / this.bands;
    this.seed = (opts.seed ?? STORY_SEED) >>> 0;
    this.clock = opts.clock ?? Date.now;
    this.signer = new StorySigner({ numHashes: this.numHashes, seed: this.seed });
    let minSame = Math.ceil(this.threshold * this.numHashes);
    while (minSame > 0 && (minSame - 1) / this.numHashes >= this.threshold) minSame--;
    while (minSame <= this.numHashes && minSame / this.numHashes < this.threshold) minSame++;
    this.minSame = minSame;
    this.ranked = new Array<Story | null>(this.bands * this.bucketCap).fill(null);
    this.boundCount = new Int32Array(this.bands + 1);
  }

  /** Number of stories currently kept. */
  get size(): number {
    return this.live;
  }

  /** For tests and diagnostics: walks every bucket (O(buckets)). */
  get stats(): StoryClusterStats {
    let largestBucket = 0;
    for (const b of this.buckets.values()) if (b.live > largestBucket) largestBucket = b.live;
    return { stories: this.live, buckets: this.buckets.size, entries: this.entries, largestBucket, lastCandidates: this.lastCandidates, maxCandidates: this.bands * this.bucketCap };
  }

  signature(title: string): Uint32Array {
    return this.signer.sign(title);
  }

  private sigOf(item: Pick<StoryInput, 'title' | 'sig'>): Uint32Array {
    return item.sig !== undefined && item.sig.length === this.numHashes ? item.sig : this.signer.sign(item.title);
  }

  /** match() then record(): for callers that know the item's seq up front. */
  assign(item: StoryInput): StoryAssignment {
    return this.record(this.match(item), item.seq);
  }

  /**
   * The story `item` would join (`storyId`), or null when it would start one. Changes nothing
   * but evicting expired stories, so a caller can still drop the item (e.g. a duplicate the
   * store refuses) without a trace; call record() once the item is stored.
   */
  match(item: Omit<StoryInput, 'seq'>): StoryMatch {
    const now = this.clock();
    this.evict(now);
    const parsed = item.publishedAt ? Date.parse(item.publishedAt) : NaN;
    const at = Number.isFinite(parsed) ? parsed : now;
    const tickers = item.tickers.length <= 1 ? item.tickers : [...new Set(item.tickers)].sort();
    const sig = this.sigOf(item);
    const keys = this.bandKeys(sig);
    const th = tickerHash(tickers);

    // Pass 1: the distinct stories in the item's buckets that the item may join (inside the
    // window, compatible tickers), and in how many of the buckets each is. The window and ticker
    // checks read the fields the visit mark already brought into cache, so a story that can never
    // win costs no ranking and no signature read (templated wire news about many companies meets
    // mostly such stories). Rejected stories keep the visit mark with hits = -1.
    const visit = ++this.visits;
    const cap = this.bucketCap;
    const window = this.windowMs;
    const met = this.met;
    met.length = 0;
    let seen = 0;
    for (let b = 0; b < keys.length; b++) {
      const bucket = this.buckets.get(keys[b]);
      if (!bucket) continue;
      const slots = bucket.slots;
      // Oldest entry first, as the uncapped lists were scanned (ties go to the first seen).
      const start = bucket.pushes > cap ? bucket.pushes % cap : 0;
      for (let j = 0; j < slots.length; j++) {
        const st = slots[start + j < slots.length ? start + j : start + j - slots.length];
        if (st === null) continue;
        if (st.visit !== visit) {
          st.visit = visit;
          seen++;
          // Equal ticker sets have equal hashes: only an equal hash needs the arrays compared.
          if (Math.abs(at - st.firstAt) > window || (th !== 0 && st.tickerHash !== 0 && (st.tickerHash !== th || !compatible(st.tickers, tickers)))) {
            st.hits = -1;
            continue;
          }
          st.hits = 0;
          st.order = met.length;
          met.push(st);
        } else if (st.hits < 0) continue;
        st.hits++;
      }
    }
    this.lastCandidates = seen;
    // Pass 2: a band whose bucket key differs has at most rows − 1 equal hashes, so a story in F
    // of the item's buckets has at most bands × (rows − 1) + F hashes equal to the item's. F is
    // `hits`, plus the rings the story has been pushed out of (bands − present), which may hide
    // more. Candidates are compared best bound first; once the bound falls below the threshold
    // or the best agreement found so far, no later one can win, and their signatures (a cache
    // miss each) are never read. The winner is the one the uncapped scan picked among the stories
    // still in some ring: the highest agreement, then the earliest story, then the first met.
    let best: Story | null = null;
    let bestSame = -1;
    let need = this.minSame;
    const n = this.numHashes;
    const bands = this.bands;
    const base = bands * (this.rows - 1);
    // Counting sort on bound − base (0..bands), highest first, stable (ties keep the order met).
    const count = this.boundCount;
    count.fill(0);
    for (let i = 0; i < met.length; i++) {
      const st = met[i];
      const full = st.hits + bands - st.present;
      st.bound = base + (full < bands ? full : bands);
      if (st.bound >= need) count[bands - (st.bound - base)]++;
    }
    let kept = 0;
    for (let g = 0; g <= bands; g++) {
      const c = count[g];
      count[g] = kept;
      kept += c;
    }
    const ranked = this.ranked;
    for (let i = 0; i < met.length; i++) {
      const st = met[i];
      if (st.bound >= need) ranked[count[bands - (st.bound - base)]++] = st;
    }
    for (let i = 0; i < kept; i++) {
      const st = ranked[i] as Story;
      if (st.bound < need) break;
      const other = st.sig;
      let same = 0;
      for (let k = 0; k < n; k++) {
        if (other[k] === sig[k]) same++;
        else if (same + n - 1 - k < need) break;
      }
      if (same < need) continue;
      if (same > bestSame || (best !== null && (st.firstAt < best.firstAt || (st.firstAt === best.firstAt && st.order < best.order)))) {
        best = st;
        bestSame = same;
        need = same;
      }
    }
    met.length = 0;
    ranked.fill(null, 0, kept);
    return { storyId: best ? best.id : null, story: best, at, tickers, sig, keys, source: item.source };
  }

  /** Records the stored item `seq` that match() was called for. */
  record(m: StoryMatch, seq: number): StoryAssignment {
    const best = m.story;
    if (best && best.alive) {
      const sourceNew = !best.sources.has(m.source);
      if (sourceNew) best.sources.add(m.source);
      if (best.tickers.length === 0 && m.tickers.length > 0) adoptTickers(best, m.tickers);
      this.refresh(best);
      return { storyId: best.id, novel: false, sourceCount: best.sources.size, sourceNew };
    }
    const story = this.newStory(seq, m.at, m.sig, m.tickers, m.source, m.keys);
    this.add(story);
    return { storyId: seq, novel: true, sourceCount: 1, sourceNew: true };
  }

  /**
   * Re-adds an item whose story is already known (warming a new clusterer from stored items after
   * a restart, oldest first): it joins the live story `storyId`, or starts it with this item's
   * title and time when it is not known yet. No similarity search and no eviction.
   */
  restore(item: StoryInput, storyId: number): void {
    const known = this.byId.get(storyId);
    const tickers = [...new Set(item.tickers)].sort();
    if (known) {
      known.sources.add(item.source);
      if (known.tickers.length === 0 && tickers.length > 0) adoptTickers(known, tickers);
      this.refresh(known);
      return;
    }
    const parsed = item.publishedAt ? Date.parse(item.publishedAt) : NaN;
    const at = Number.isFinite(parsed) ? parsed : this.clock();
    const sig = this.sigOf(item);
    this.add(this.newStory(storyId, at, sig, tickers, item.source, this.bandKeys(sig)));
  }

  private newStory(id: number, at: number, sig: Uint32Array, tickers: string[], source: string, keys: number[]): Story {
    return { id, firstAt: at, sig, tickers, tickerHash: tickerHash(tickers), sources: new Set([source]), bandKeys: keys, rings: new Array<Bucket | null>(keys.length).fill(null), pushed: new Array<number>(keys.length).fill(-1), present: 0, alive: true, visit: 0, hits: 0, order: 0, bound: 0 };
  }

  private add(story: Story): void {
    for (let b = 0; b < story.bandKeys.length; b++) this.push(story, b);
    this.byId.set(story.id, story);
    this.queue.push(story);
    this.live++;
    while (this.live > this.maxStories) this.drop(this.queue[this.head++]);
    this.compact();
  }

  /**
   * One numeric key per band: a 30-bit mix of the band's rows and its index, so every key is a
   * small integer (V8 neither boxes nor hashes it as a double: the 16 Map look-ups of a match
   * were a fifth of its time with 53-bit keys). A collision (~0.1 % of look-ups with 50,000
   * stories) only shares a ring between two bands' stories: more candidates for the band count
   * and the signature comparison to reject, never a missed one.
   */
  private bandKeys(sig: Uint32Array): number[] {
    const keys: number[] = new Array(this.bands);
    for (let b = 0; b < this.bands; b++) {
      let h1 = Math.imul(b + 1, 0x9e3779b9);
      let h2 = Math.imul(b + 1, 0x85ebca6b) ^ 0x5bd1e995;
      for (let r = 0; r < this.rows; r++) {
        const v = sig[b * this.rows + r];
        h1 = fmix32(h1 ^ v);
        h2 = fmix32(Math.imul(h2 ^ v, 0xcc9e2d51) ^ r);
      }
      keys[b] = fmix32(h1 ^ Math.imul(h2, 0x27d4eb2d)) & 0x3fffffff;
    }
    return keys;
  }

  /** Writes `story` into the ring of its band `b` bucket (creating the bucket), over the oldest entry. */
  private push(story: Story, b: number, known?: Bucket): void {
    let bucket = known ?? this.buckets.get(story.bandKeys[b]);
    if (!bucket) {
      bucket = { slots: [], pushes: 0, live: 0 };
      this.buckets.set(story.bandKeys[b], bucket);
    }
    const p = bucket.pushes++;
    const i = p % this.bucketCap;
    if (i === bucket.slots.length) bucket.slots.push(story);
    else {
      const old = bucket.slots[i];
      if (old !== null) {
        old.present--;
        bucket.live--;
        this.entries--;
      }
      bucket.slots[i] = story;
    }
    bucket.live++;
    this.entries++;
    story.present++;
    story.rings[b] = bucket;
    story.pushed[b] = p;
  }

  /** True when the story's last push into its band `b` ring is still in its slot. */
  private holds(story: Story, b: number): boolean {
    const bucket = story.rings[b];
    return bucket !== null && bucket.slots[story.pushed[b] % this.bucketCap] === story;
  }

  /** Empties the story's slot in its band `b` ring (the caller checked holds()). */
  private vacate(story: Story, b: number): void {
    const bucket = story.rings[b] as Bucket;
    bucket.slots[story.pushed[b] % this.bucketCap] = null;
    bucket.live--;
    this.entries--;
    story.present--;
  }

  /**
   * A story an item just joined goes back to the front of each ring where its entry has aged
   * past half the ring or been pushed out (its old slot, if still its own, becomes a hole): an
   * active story stays among the newest where other stories crowd it. At most `bands` pushes.
   */
  private refresh(story: Story): void {
    const half = this.bucketCap >> 1;
    for (let b = 0; b < story.bandKeys.length; b++) {
      // A ring that still holds the story is still in the map (its live count is ≥ 1).
      if (this.holds(story, b)) {
        const bucket = story.rings[b] as Bucket;
        if (bucket.pushes - story.pushed[b] <= half) continue;
        this.vacate(story, b);
        this.push(story, b, bucket);
      } else this.push(story, b);
    }
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
    if (this.byId.get(st.id) === st) this.byId.delete(st.id);
    // One slot per band at most (a story has one entry per ring): O(bands).
    for (let b = 0; b < st.bandKeys.length; b++) {
      if (!this.holds(st, b)) continue;
      const bucket = st.rings[b] as Bucket;
      this.vacate(st, b);
      if (bucket.live === 0 && this.buckets.get(st.bandKeys[b]) === bucket) this.buckets.delete(st.bandKeys[b]);
    }
    st.rings.fill(null);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

function adoptTickers(st: Story, tickers: string[]): void {
  st.tickers = tickers;
  st.tickerHash = tickerHash(tickers);
}

/** FNV-1a over the sorted symbols, as a non-zero small integer; 0 for no tickers. */
function tickerHash(tickers: string[]): number {
  if (tickers.length === 0) return 0;
  let h = 0x811c9dc5;
  for (const t of tickers) {
    for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x2c, 0x01000193);
  }
  return ((h >>> 2) & 0x3fffffff) | 1;
}

function compatible(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
