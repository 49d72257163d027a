/**
 * The templated replay of issue 13 (run by test/bench/run.ts): the corpus of
 * test/bench/templatedCorpus.ts replayed through the full pipeline — ticker links (the made-up
 * companies as aliases and watchlist), stories, rollups and three alert rules (shift, volume,
 * threshold) — as 1 jsonl source × N items and as S sources × N/S (one per outlet, so story
 * copies arrive from different sources), each round a daemon process of its own. After each
 * 1-source round its stored rows are inserted again by rawInsert.ts (bare items table, WAL,
 * synchronous=NORMAL, the same chunk size): the daemon's items/s ÷ that is the "share of raw
 * SQLite" figure. Rounds alternate 1-source, raw, S-source, so all three see the same state of
 * the shared machine; the figures are medians of the rounds, the ratios medians of per-round ratios.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/lib/paths.js';
import { replayRound, type ReplayRound } from './rounds.js';
import { generateTemplatedCorpus, jsonlLine, tickerConfig, type TemplatedItem } from './templatedCorpus.js';

/** Lines per commit of the jsonl source (its default), and the raw baseline's transaction size. */
export const TEMPLATED_CHUNK = 500;

export interface RawRound {
  rows: number;
  seconds: number;
  perSec: number;
}

export interface TemplatedResult {
  items: number;
  sources: number;
  chunk: number;
  plannedStories: number;
  itemsInPlannedStories: number;
  /** From the first 1-source round's database. */
  storiesStored: number;
  copiesStored: number;
  linkedItems: number;
  alerts: Record<string, number>;
  one: ReplayRound[];
  many: ReplayRound[];
  raw: RawRound[];
  median: { one: ReplayRound; many: ReplayRound; raw: RawRound };
  /** Median of the per-round ratios. */
  manyOverOne: number;
  oneOverRaw: number;
}

export function alertRules(symbols: string[]): unknown {
  return {
    rules: [
      { id: 'bench-shift', kind: 'shift', recent: '1h', trailing: '1d', k: 3, minItems: 5, minBaseline: 20 },
      { id: 'bench-volume', kind: 'volume', recent: '1h', trailing: '1d', factor: 3, minItems: 10, minHistory: '6h' },
      { id: 'bench-threshold', kind: 'threshold', tickers: symbols, below: -0.6, above: 0.6, cooldown: '30m' },
    ],
  };
}

export async function writeLines(path: string, items: readonly TemplatedItem[]): Promise<void> {
  const out = createWriteStream(path);
  for (const it of items) if (!out.write(jsonlLine(it))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

function rawRound(from: string, db: string, timeoutMs: number): RawRound {
  const r = spawnSync(process.execPath, [join(packageRoot, 'dist', 'test', 'bench', 'rawInsert.js'), '--from', from, '--db', db, '--chunk', String(TEMPLATED_CHUNK)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) throw new Error(`raw insert failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as RawRound;
}

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];
const medianOf = (xs: number[]): number => median(xs, (x) => x);

export async function benchTemplated(o: { items: number; sources: number; rounds: number; timeoutMs: number; log: (s: string) => void }): Promise<TemplatedResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-templated-'));
  try {
    const corpus = generateTemplatedCorpus({ items: o.items, outlets: o.sources });
    const all = join(dir, 'all.jsonl');
    await writeLines(all, corpus.items);
    const parts = Array.from({ length: o.sources }, (_, k) => join(dir, `outlet-${k + 1}.jsonl`));
    for (let k = 0; k < o.sources; k++) await writeLines(parts[k], corpus.items.filter((it) => it.outlet === k));
    const extra = join(dir, 'extra.json');
    writeFileSync(extra, JSON.stringify({ tickers: tickerConfig(corpus.companies), alerts: alertRules(corpus.companies.slice(0, 10).map((c) => c.symbol)), sourceOptions: { chunkSize: TEMPLATED_CHUNK } }));

    const one: ReplayRound[] = [];
    const many: ReplayRound[] = [];
    const raw: RawRound[] = [];
    let counts: Pick<TemplatedResult, 'storiesStored' | 'copiesStored' | 'linkedItems' | 'alerts'> | null = null;
    for (let r = 0; r < o.rounds; r++) {
      const db1 = join(dir, `one${r}.db`);
      one.push(replayRound(all, db1, { items: o.items, timeoutMs: o.timeoutMs, extra }));
      o.log(`  round ${r + 1}: 1 source ${one[r].perSec.toLocaleString('en')} items/s (${one[r].seconds.toFixed(1)} s, peak RSS ${one[r].peakRssMb} MiB)`);
      counts ??= countStored(db1);
      raw.push(rawRound(db1, join(dir, `raw${r}.db`), o.timeoutMs));
      o.log(`  round ${r + 1}: raw better-sqlite3 ${raw[r].perSec.toLocaleString('en')} rows/s`);
      rmSync(db1, { force: true });
      rmSync(join(dir, `raw${r}.db`), { force: true });
      const dbN = join(dir, `many${r}.db`);
      many.push(replayRound(parts, dbN, { items: o.items, timeoutMs: o.timeoutMs, extra }));
      o.log(`  round ${r + 1}: ${o.sources} sources ${many[r].perSec.toLocaleString('en')} items/s (${many[r].seconds.toFixed(1)} s, peak RSS ${many[r].peakRssMb} MiB)`);
      rmSync(dbN, { force: true });
    }
    return {
      items: o.items,
      sources: o.sources,
      chunk: TEMPLATED_CHUNK,
      plannedStories: corpus.stories,
      itemsInPlannedStories: corpus.items.filter((it) => it.story >= 0).length,
      ...counts!,
      one,
      many,
      raw,
      median: { one: median(one, (x) => x.perSec), many: median(many, (x) => x.perSec), raw: median(raw, (x) => x.perSec) },
      manyOverOne: medianOf(many.map((m, i) => m.perSec / one[i].perSec)),
      oneOverRaw: medianOf(one.map((m, i) => m.perSec / raw[i].perSec)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Stories, copies, linked items and alerts by kind, in plain SQL (columns as in docs/SCHEMA.md). */
function countStored(db: string): Pick<TemplatedResult, 'storiesStored' | 'copiesStored' | 'linkedItems' | 'alerts'> {
  const d = new Database(db, { readonly: true });
  try {
    const one = (sql: string) => d.prepare(sql).pluck().get() as number;
    const alerts = Object.fromEntries((d.prepare('SELECT kind, count(*) AS n FROM alerts GROUP BY kind').all() as { kind: string; n: number }[]).map((r) => [r.kind, r.n]));
    return {
      storiesStored: one('SELECT count(*) FROM items WHERE novel = 1'),
      copiesStored: one('SELECT count(*) FROM items WHERE novel = 0'),
      linkedItems: one(`SELECT count(*) FROM items WHERE tickers IS NOT NULL AND tickers NOT IN ('', '[]', '{}')`),
      alerts,
    };
  } finally {
    d.close();
  }
}
