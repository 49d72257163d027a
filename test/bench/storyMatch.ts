/**
 * Micro-benchmark of story matching (not a test): µs per item for `match` + `record` of the story
 * clusterer on a templated corpus (test/bench/templatedNews.ts: 100k items, ~10 % copies), with
 * the signatures computed up front as the sources' workers do. Also reports what the clustering
 * decided against the corpus' truth, so a faster matcher that clusters worse shows up here:
 *   - copies joined: copies given the story of the item they copy;
 *   - false joins: first items of a story given an older story (templated headlines about
 *     different companies can be that close; reported, not judged);
 *   - same as baseline: items given the same story id as the `--baseline` clusterer.
 *
 *   node dist/test/bench/storyMatch.js [--items N] [--rounds R] [--baseline DIR] [--tickers] [--json]
 *
 * `--tickers` gives every item its made-up company's symbol (as if the linker knew it), so
 * stories about different companies cannot merge; without it no item has tickers (what the
 * daemon sees for made-up names), and templated headlines about different companies often
 * agree above the threshold and join one another — with or without the bucket cap.
 *
 * `--baseline DIR` loads DIR/pipelines/storyCluster.js as the "before" clusterer (e.g. the
 * compiled file of an older commit, with DIR/src and DIR/workers pointing at dist/src and
 * dist/workers). Other benchmarks call `benchStoryMatch()`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { StoryClusterer } from '../../pipelines/storyCluster.js';
import { StorySigner } from '../../workers/storySignature.js';
import { templatedNews, type TemplatedItem } from './templatedNews.js';

type ClustererClass = typeof StoryClusterer;

export interface StoryMatchResult {
  items: number;
  /** Median over the rounds of µs per item for match + record (wall clock). */
  usPerItem: number;
  /** The same in this thread's CPU time (less inflated when other processes share the cores). */
  cpuUsPerItem: number;
  rounds: number[];
  copiesJoined: number;
  falseJoins: number;
  /** Largest bucket seen at the end, and distinct stories compared per match (max / mean). */
  maxBucket: number;
  maxCandidates: number | null;
  meanCandidates: number | null;
  storyIds: number[];
}

export function benchStoryMatch(
  opts: { items?: number; rounds?: number; corpus?: TemplatedItem[]; Clusterer?: ClustererClass; bucketCap?: number } = {},
): StoryMatchResult {
  const corpus = opts.corpus ?? templatedNews({ items: opts.items ?? 100_000 });
  const Clusterer = opts.Clusterer ?? StoryClusterer;
  const signer = new StorySigner();
  const sigs = corpus.map((it) => signer.sign(it.title));
  const times = corpus.map((it) => Date.parse(it.publishedAt));
  const rounds: number[] = [];
  const cpu: number[] = [];
  let ids: number[] = [];
  let maxBucket = 0;
  let maxCandidates: number | null = null;
  let sumCandidates = 0;
  for (let r = 0; r < (opts.rounds ?? 3); r++) {
    let now = times[0];
    const c = new Clusterer({ clock: () => now, ...(opts.bucketCap ? { bucketCap: opts.bucketCap } : {}) });
    const out: number[] = new Array(corpus.length);
    // The candidate counter is read only in the last round, outside the timed loop's hot path.
    const count = r === (opts.rounds ?? 3) - 1 && 'lastCandidates' in c;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < corpus.length; i++) {
      const it = corpus[i];
      now = times[i];
      const m = c.match({ source: it.source, title: it.title, publishedAt: it.publishedAt, tickers: it.tickers, sig: sigs[i] });
      if (count) {
        const k = (c as unknown as { lastCandidates: number }).lastCandidates;
        sumCandidates += k;
        if (maxCandidates === null || k > maxCandidates) maxCandidates = k;
      }
      out[i] = c.record(m, i + 1).storyId;
    }
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / corpus.length);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / corpus.length);
    ids = out;
    maxBucket = largestBucket(c);
  }
  let copies = 0;
  let joined = 0;
  let firsts = 0;
  let falseJoins = 0;
  for (let i = 0; i < corpus.length; i++) {
    const t = corpus[i].truth;
    if (t === i) {
      firsts++;
      if (ids[i] !== i + 1) falseJoins++;
    } else {
      copies++;
      if (ids[i] === ids[t]) joined++;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    items: corpus.length,
    usPerItem: median(rounds),
    cpuUsPerItem: median(cpu),
    rounds,
    copiesJoined: joined / copies,
    falseJoins: falseJoins / firsts,
    maxBucket,
    maxCandidates,
    meanCandidates: maxCandidates === null ? null : sumCandidates / corpus.length,
    storyIds: ids,
  };
}

/** Entries of the largest LSH bucket (reads the private map: works for the old and new clusterer). */
function largestBucket(c: object): number {
  const buckets = (c as { buckets?: Map<number, unknown> }).buckets;
  let max = 0;
  if (!buckets) return max;
  for (const b of buckets.values()) {
    const n = Array.isArray(b) ? b.length : ((b as { live?: number }).live ?? 0);
    if (n > max) max = n;
  }
  return max;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '3' },
      baseline: { type: 'string' },
      'bucket-cap': { type: 'string' },
      tickers: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const corpus = templatedNews({ items: Number(values.items), linkTickers: values.tickers });
  const rounds = Number(values.rounds);
  const results: Record<string, Omit<StoryMatchResult, 'storyIds'> & { sameAsBaseline?: number }> = {};
  let base: number[] | null = null;
  if (values.baseline) {
    const url = pathToFileURL(resolve(values.baseline, 'pipelines', 'storyCluster.js')).href;
    const mod = (await import(url)) as { StoryClusterer: ClustererClass };
    const { storyIds, ...r } = benchStoryMatch({ corpus, rounds, Clusterer: mod.StoryClusterer });
    base = storyIds;
    results.baseline = r;
  }
  const { storyIds, ...r } = benchStoryMatch({ corpus, rounds, bucketCap: values['bucket-cap'] ? Number(values['bucket-cap']) : undefined });
  results.current = base ? { ...r, sameAsBaseline: storyIds.filter((id, i) => id === base![i]).length / storyIds.length } : r;
  if (values.json) {
    process.stdout.write(JSON.stringify(results) + '\n');
    return;
  }
  for (const [name, x] of Object.entries(results)) {
    const cand = x.maxCandidates === null ? '' : `, candidates/match max ${x.maxCandidates} mean ${x.meanCandidates!.toFixed(1)}`;
    const same = x.sameAsBaseline === undefined ? '' : `, same story as baseline ${(100 * x.sameAsBaseline).toFixed(2)} %`;
    console.log(
      `${name}: ${x.usPerItem.toFixed(2)} µs/item match+record, ${x.cpuUsPerItem.toFixed(2)} µs CPU (wall rounds ${x.rounds.map((v) => v.toFixed(2)).join(' / ')}), ${x.items} items; ` +
        `copies joined ${(100 * x.copiesJoined).toFixed(2)} %, false joins ${(100 * x.falseJoins).toFixed(2)} %, largest bucket ${x.maxBucket}${cand}${same}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
