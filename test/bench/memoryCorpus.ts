/**
 * A templated headline corpus for the memory benchmark (test/bench/memory.ts): templates ×
 * made-up companies × verbs × events, from a fixed seed, so every run and every tree replays
 * the same bytes. About one item in ten repeats a story another source (or the same one) already
 * carried, reworded, so the story clusterer has near-duplicates to join. Everything here is
 * written for this benchmark; nothing is taken from ../shared.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { prng } from './templatedCorpus.js';

/** mulberry32, the same generator as the templated corpus (fixed by its seed). */
export const rng = prng;

const PREFIX = ['Brightwater', 'Copperfield', 'Dunmore', 'Eastgate', 'Falcon Ridge', 'Greyhaven', 'Harborline', 'Ironvale', 'Juniper', 'Kestrel', 'Larkspur', 'Marlowe', 'Northwind', 'Oakhurst', 'Pinecrest', 'Quillon', 'Redmere', 'Silverbank', 'Thornbury', 'Umberfield'];
const SUFFIX = ['Robotics', 'Biosciences', 'Freight', 'Semiconductors', 'Foods', 'Energy', 'Software', 'Mining', 'Motors', 'Financial'];

/** 200 made-up companies, each with a made-up ticker that the linker accepts as a cashtag. */
export const COMPANIES: { name: string; symbol: string }[] = PREFIX.flatMap((p, i) =>
  SUFFIX.map((s, j) => ({ name: `${p} ${s}`, symbol: `${p.replace(/[^A-Z]/g, '')}${String.fromCharCode(65 + i)}${String.fromCharCode(65 + j)}`.slice(0, 5) })),
);

const UP = ['climbs', 'jumps', 'rallies', 'gains', 'surges'];
const DOWN = ['slides', 'drops', 'tumbles', 'sinks', 'slumps'];
const GOOD = ['after beating quarterly profit estimates', 'on a record order backlog', 'as it raises full-year guidance', 'after winning a large supply contract', 'on an upgrade from analysts'];
const BAD = ['after missing revenue forecasts', 'as it cuts its annual outlook', 'on a regulator probe into its accounting', 'after a plant shutdown', 'as its chief executive resigns'];
const NEUTRAL = ['schedules its annual shareholder meeting', 'names a new board member', 'moves its headquarters', 'files its quarterly report', 'confirms the date of its investor day'];

export interface CorpusItem {
  id: string;
  title: string;
  url: string;
  publishedAt: string;
}

/** One headline from six templates; `r` decides everything, so equal seeds give equal corpora. */
function headline(r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const a = pick(COMPANIES);
  const b = pick(COMPANIES);
  switch (Math.floor(r() * 6)) {
    case 0:
      return `${a.name} ${pick(UP)} ${pick(GOOD)}`;
    case 1:
      return `${a.name} ($${a.symbol}) ${pick(DOWN)} ${pick(BAD)}`;
    case 2:
      return `${a.name} ${pick(NEUTRAL)}`;
    case 3:
      return `$${a.symbol} ${pick(UP)} while $${b.symbol} ${pick(DOWN)}`;
    case 4:
      return `${a.name} shares ${pick(DOWN)} ${pick(BAD)}; ${b.name} ${pick(UP)}`;
    default:
      return `${a.name} ${pick(UP)} ${Math.floor(r() * 40) + 1}% ${pick(GOOD)}`;
  }
}

/**
 * `sources` files' worth of items, `perSource` each, as JSONL lines. Item k of every source is
 * published at the same minute; one in ten reuses a recent headline of another source with a
 * different outlet suffix (a near-duplicate story).
 */
export function* corpusLines(source: number, perSource: number, seed = 13): Generator<string> {
  const r = rng(seed * 1000 + source);
  const shared = rng(seed);
  const base = Date.parse('2026-03-02T00:00:00Z');
  const outlets = [' - Wire', ' | Daily Ledger', ' (Market Desk)'];
  for (let k = 0; k < perSource; k++) {
    // the shared stream advances identically in every source, so copies line up across files
    const story = headline(shared);
    const title = r() < 0.1 ? story + outlets[source % outlets.length] : `${headline(r)} (${source}-${k})`;
    const item: CorpusItem = { id: `s${source}-${k}`, title, url: `https://news.example.test/${source}/${k}`, publishedAt: new Date(base + k * 60_000).toISOString() };
    yield JSON.stringify(item);
  }
}

export async function writeCorpus(path: string, source: number, perSource: number, seed = 13): Promise<void> {
  const out = createWriteStream(path);
  for (const line of corpusLines(source, perSource, seed)) {
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
