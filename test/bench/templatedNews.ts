/**
 * A deterministic corpus of *templated* headlines (not a test): a few sentence templates over
 * made-up company names, up/down verbs and good/bad/neutral events. It is the worst case for
 * story clustering: distinct stories share most of their shingles, so they collide in LSH bands
 * by the thousand. A share of the items are re-publications of an earlier item (another outlet's
 * suffix, a wire prefix, other casing or punctuation), a few to a few thousand items later, so the
 * corpus also knows which story each item truly belongs to (`truth`).
 *
 * Company names are invented from syllables; no headline is taken from anywhere.
 */
import { prng } from './templatedCorpus.js';

export interface TemplatedItem {
  source: string;
  title: string;
  publishedAt: string;
  /** Empty (a made-up company links to no ticker: the daemon's case), or with `linkTickers` a made-up symbol per company. */
  tickers: string[];
  /** Index of the item that started this item's story in the generator's mind (itself if first). */
  truth: number;
}

export interface TemplatedOptions {
  items?: number;
  /** Share of items that are copies of an earlier item (multi-item stories). Default 0.1. */
  copyShare?: number;
  seed?: number;
  /** Time of the first item; items are `stepMs` apart. */
  startMs?: number;
  stepMs?: number;
  sources?: number;
  /** Give each item its company's made-up symbol, as if the ticker linker knew it. Default false. */
  linkTickers?: boolean;
}

/** mulberry32, the same generator as the templated corpus (fixed by its seed). */
export const seededRandom = prng;

const HEADS = ['Vel', 'Quor', 'Bran', 'Octa', 'Lum', 'Syn', 'Tor', 'Grav', 'Ny', 'Pell', 'Zeph', 'Cal', 'Mar', 'Dex', 'Orin', 'Fal'];
const TAILS = ['ix', 'ora', 'ant', 'eon', 'ara', 'ium', 'ex', 'ova', 'yth', 'ane', 'ic', 'os'];
const KINDS = ['Corp', 'Holdings', 'Labs', 'Group', 'Systems', 'Energy', 'Foods', 'Bio', 'Motors', 'Capital'];
const UP = ['rises', 'climbs', 'jumps', 'gains', 'advances', 'rallies'];
const DOWN = ['falls', 'slips', 'drops', 'slides', 'retreats', 'sinks'];
const GOOD = ['record revenue', 'an upbeat forecast', 'a larger buyback', 'a new supply contract', 'higher margins'];
const BAD = ['a profit warning', 'a product recall', 'a regulatory probe', 'softer demand', 'a credit downgrade'];
const NEUTRAL = ['a board reshuffle', 'its investor day', 'a name change', 'a new plant opening'];
type Fill = { co: string; verb: string; event: string; pct: number };
const TEMPLATES: ((f: Fill) => string)[] = [
  (f) => `${f.co} shares ${f.verb} after ${f.event}`,
  (f) => `${f.co} stock ${f.verb} on ${f.event}`,
  (f) => `${f.co} ${f.verb} ${f.pct}% following ${f.event}`,
  (f) => `Investors weigh ${f.event} as ${f.co} ${f.verb}`,
  (f) => `${f.co} ${f.verb} in early trade; ${f.event} in focus`,
  (f) => `Why ${f.co} ${f.verb} today: ${f.event}`,
];
const OUTLETS = [' - Ledger Daily', ' | Market Wire', ' - The Tape', ' | Street Brief'];
const PREFIXES = ['UPDATE 1-', 'UPDATE 2-', 'BREAKING: '];

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

/** Another outlet's version of the same headline: a suffix, a prefix, title case or a dropped word. */
function variant(rnd: () => number, title: string): string {
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return title + pick(rnd, OUTLETS);
    case 1:
      return pick(rnd, PREFIXES) + title;
    case 2:
      return title.replace(/\b[a-z]/g, (c) => c.toUpperCase());
    default:
      return title.replace(/ (shares|stock|today|trade)\b/, '') + pick(rnd, OUTLETS);
  }
}

/** "Velix Corp" → "VELIXC": unique per company name in this generator. */
function symbolOf(company: string): string {
  const [name, kind] = company.split(' ');
  return (name + kind.slice(0, 2)).toUpperCase();
}

export function templatedNews(opts: TemplatedOptions = {}): TemplatedItem[] {
  const n = opts.items ?? 100_000;
  const copyShare = opts.copyShare ?? 0.1;
  const rnd = seededRandom(opts.seed ?? 20251103);
  const start = opts.startMs ?? Date.parse('2026-01-05T00:00:00Z');
  const step = opts.stepMs ?? 1000;
  const sources = opts.sources ?? 8;
  const link = opts.linkTickers ?? false;
  const companies: string[] = [];
  for (const h of HEADS) for (const t of TAILS) for (const k of KINDS) companies.push(`${h}${t} ${k}`);

  const out: TemplatedItem[] = new Array(n);
  // Copies wait in a queue with the index they are due at; a story has 2-6 items in all.
  const due: { at: number; of: number }[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(start + i * step).toISOString();
    const source = `src${Math.floor(rnd() * sources)}`;
    const k = due.findIndex((d) => d.at <= i);
    if (k >= 0) {
      const d = due.splice(k, 1)[0];
      const first = out[d.of];
      out[i] = { source, title: variant(rnd, first.title), publishedAt: at, tickers: first.tickers, truth: d.of };
      continue;
    }
    const mood = rnd();
    const fill: Fill = {
      co: pick(rnd, companies),
      verb: mood < 0.5 ? pick(rnd, UP) : pick(rnd, DOWN),
      event: mood < 0.35 ? pick(rnd, GOOD) : mood < 0.7 ? pick(rnd, BAD) : pick(rnd, NEUTRAL),
      pct: 1 + Math.floor(rnd() * 15),
    };
    const tickers = link ? [symbolOf(fill.co)] : [];
    out[i] = { source, title: pick(rnd, TEMPLATES)(fill), publishedAt: at, tickers, truth: i };
    // Enough stories get copies (1-4, mean 2.5) that about `copyShare` of all items are copies.
    if (rnd() < copyShare / (1 - copyShare) / 2.5) {
      const copies = 1 + Math.floor(rnd() * 4);
      for (let c = 0; c < copies; c++) due.push({ at: i + 1 + Math.floor(rnd() * rnd() * 3000), of: i });
    }
  }
  return out;
}
