/**
 * tickerpulse reclassify: items stored by an "old model" (fake predictions) are re-scored with
 * the shipped model, their tickers re-linked, their model id recorded, and the rollup rows of
 * the affected buckets rebuilt — exactly what a fresh ingest of the re-scored items produces.
 * An interrupted run resumes after its last committed batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { runQuery } from '../../src/cli/query.js';
import { runReclassify } from '../../src/cli/reclassify.js';
import { ClassifierPool } from '../../src/pool/classifierPool.js';
import { ItemStore } from '../../src/store/itemStore.js';
import { ReclassifyStore } from '../../src/store/reclassify.js';
import { StoryClusterer } from '../../pipelines/storyCluster.js';
import type { ClassifiedItem, ItemTicker } from '../../src/lib/types.js';
import { commitCorpus, corpusPolls, type CorpusOptions, type CorpusPoll } from '../bench/reclassifyCorpus.js';

const TITLES = [
  'Apple shares rise after iPhone sales beat estimates',
  'Apple shares rise after iPhone sales beat estimates - Reuters',
  'Microsoft cuts forecast as cloud growth slows, shares slide',
  'Tesla recalls 200,000 vehicles over faulty seat belts',
  'Walmart to present at retail conference on Tuesday',
  'Coca-Cola (NYSE: KO) raises dividend for the 60th year',
  'Central bank holds rates steady, signals patience on cuts',
  'Nvidia surges to record as data center revenue doubles',
];

function items(source: string, pred: (i: number) => { label: ClassifiedItem['label']; score: number; tickers?: ItemTicker[] }): ClassifiedItem[] {
  return TITLES.map((title, i) => {
    const p = pred(i);
    const pPos = (1 + p.score) / 2;
    return {
      guid: `${source}-${i}`,
      url: null,
      title,
      summary: null,
      publishedAt: new Date(Date.UTC(2026, 2, 2, 9, i * 7)).toISOString(),
      source,
      fetchedAt: '2026-03-02T12:00:00.000Z',
      model: 'old-model',
      label: p.label,
      pNeg: 1 - pPos,
      pNeu: 0,
      pPos,
      score: p.score,
      tickers: p.tickers,
    };
  });
}

/** Commits with a real story clusterer (seq-ordered), as the daemon does. */
function commitAll(store: ItemStore, polls: ClassifiedItem[][]): void {
  const c = new StoryClusterer({ clock: () => Date.parse('2026-03-02T12:00:00Z') });
  const stories = {
    match: (it: ClassifiedItem, publishedAt: string) => c.match({ source: it.source, title: it.title, publishedAt, tickers: (it.tickers ?? []).map((t) => t.symbol) }),
    record: (m: ReturnType<StoryClusterer['match']>, seq: number) => c.record(m, seq),
  };
  for (const poll of polls) store.commitPoll(poll[0].source, poll, {}, undefined, { stories });
}

const dump = (store: ItemStore, sql: string) => store.database.prepare(sql).all();
const ROLLUPS = 'SELECT kind, key, bucket, start, items, stories, scored, round(sum_score, 5) AS s, pos, neu, neg FROM rollups ORDER BY kind, bucket, start, key';

test('reclassify re-scores, re-links and rebuilds the affected rollups; resumable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-reclassify-'));
  try {
    // 1. the database as an old model left it: everything "positive 0.9", no tickers
    const old = ItemStore.open(join(dir, 'old.db'));
    commitAll(old, [items('a', () => ({ label: 'positive', score: 0.9 })), items('b', () => ({ label: 'positive', score: 0.9 }))]);
    const before = dump(old, ROLLUPS);
    // 2. an interrupted run: one batch of 3 done, then stopped
    const pool = new ClassifierPool({ threads: 1, link: true });
    const rs = new ReclassifyStore(old);
    const modelId = (await pool.classify(['x'])).model;
    let progress = { model: modelId, since: null, lastSeq: 0, endSeq: old.latestSeq(), done: 0, startedAt: new Date().toISOString() };
    const first = rs.page(progress, 3);
    const res = await pool.classify(first.map((r) => r.title));
    rs.apply(first, first.map((r, k) => ({ seq: r.seq, model: res.model, ...res.predictions[k], tickers: res.tickers?.[k] ?? null })), { ...progress, lastSeq: first[2].seq, done: 3 });
    old.close();

    const out = new PassThrough();
    const err = new PassThrough();
    let errText = '';
    err.on('data', (d) => (errText += d));
    let outText = '';
    out.on('data', (d) => (outText += d));
    assert.equal(await runReclassify(['--db', join(dir, 'old.db'), '--batch', '4', '--quiet'], out, err), 0, errText);
    assert.match(errText, /resuming after seq 3 \(3 done\)/);
    assert.equal(JSON.parse(outText).reclassified, TITLES.length * 2);

    // 3. the expected state: the same items ingested fresh with the shipped model's output
    const fresh = ItemStore.open(join(dir, 'fresh.db'));
    const all = await pool.classify(TITLES);
    await pool.close();
    const scored = (i: number) => ({ ...all.predictions[i], tickers: all.tickers?.[i] ? (JSON.parse(all.tickers[i]!) as ItemTicker[]) : undefined });
    const fa = items('a', scored).map((it) => ({ ...it, model: modelId }));
    const fb = items('b', scored).map((it) => ({ ...it, model: modelId }));
    commitAll(fresh, [fa, fb]);

    const re = ItemStore.open(join(dir, 'old.db'));
    // (batches of other sizes give the model's output ±1e-9: compared rounded)
    const cols = `SELECT source, guid, label, round(score, 6) AS score, model, story_id, novel,
      (SELECT group_concat((j.value ->> 'symbol') || ':' || (j.value ->> 'label') || ':' || round(j.value ->> 'score', 6)) FROM json_each(tickers) j) AS tickers FROM items ORDER BY seq`;
    assert.deepEqual(dump(re, cols), dump(fresh, cols));
    const tk = 'SELECT ticker, seq, via, label, round(score, 6) AS score, published_at FROM item_tickers ORDER BY ticker, seq';
    assert.deepEqual(dump(re, tk), dump(fresh, tk));
    assert.deepEqual(dump(re, ROLLUPS), dump(fresh, ROLLUPS));
    assert.notDeepEqual(dump(re, ROLLUPS), before, 'the rollups did change');
    assert.ok((dump(re, "SELECT count(*) AS n FROM item_tickers WHERE ticker IN ('AAPL', 'KO')") as Array<{ n: number }>)[0].n >= 3, 'tickers were linked');
    assert.equal(new ReclassifyStore(re).progress(), null, 'a finished run leaves no resume point');
    re.close();
    fresh.close();

    // bad input: exit 2 with a message
    const e2 = new PassThrough();
    let e2Text = '';
    e2.on('data', (d) => (e2Text += d));
    assert.equal(await runReclassify(['--db', join(dir, 'old.db'), '--batch', '0'], new PassThrough(), e2), 2);
    assert.match(e2Text, /--batch must be an integer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs the command, collecting its output. */
async function cli(run: (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (d) => (outText += d));
  err.on('data', (d) => (errText += d));
  const code = await run(args, out, err);
  return { code, out: outText, err: errText };
}

/** The polls with the shipped model's predictions and tickers, as a fresh ingest would store them. */
async function rescoredPolls(polls: CorpusPoll[]): Promise<CorpusPoll[]> {
  const pool = new ClassifierPool({ threads: 1, link: true });
  try {
    const out: CorpusPoll[] = [];
    for (const p of polls) {
      const res = await pool.classify(p.items.map((it) => it.title));
      out.push({
        ...p,
        items: p.items.map((it, k) => {
          const t = res.tickers?.[k];
          return { ...it, ...res.predictions[k], model: res.model, tickers: t ? (JSON.parse(t) as ItemTicker[]) : undefined };
        }),
      });
    }
    return out;
  } finally {
    await pool.close();
  }
}

const ITEMS = `SELECT seq, source, guid, label, round(score, 6) AS score, model, story_id, novel,
  (SELECT group_concat((j.value ->> 'symbol') || ':' || (j.value ->> 'label') || ':' || round(j.value ->> 'score', 6)) FROM json_each(tickers) j) AS tickers FROM items ORDER BY seq`;
const ITEM_TICKERS = 'SELECT ticker, seq, via, label, round(score, 6) AS score, published_at FROM item_tickers ORDER BY ticker, seq';
const ROLLUP_ROWS = 'SELECT kind, key, bucket, start, items, stories, scored, pos, neu, neg, sum_score FROM rollups ORDER BY kind, bucket, start, key';

/** Every row and count equal; sum_score within 1e-6 (the model's output moves ±1e-9 with its batch). */
function assertSameRollups(actual: ItemStore, expected: ItemStore): void {
  const a = dump(actual, ROLLUP_ROWS) as Array<Record<string, unknown> & { sum_score: number }>;
  const e = dump(expected, ROLLUP_ROWS) as Array<Record<string, unknown> & { sum_score: number }>;
  const strip = (rows: typeof a) => rows.map(({ sum_score: _s, ...rest }) => rest);
  assert.deepEqual(strip(a), strip(e));
  a.forEach((row, k) => assert.ok(Math.abs(row.sum_score - e[k].sum_score) < 1e-6, `sum_score of ${JSON.stringify(strip([row])[0])}: ${row.sum_score} vs ${e[k].sum_score}`));
}
/** ticker_index rows that items.tickers of the indexed items does not describe, and the reverse. */
const INDEX_DRIFT = `
  WITH want AS (SELECT j.value ->> 'symbol' AS ticker, i.seq, j.value ->> 'via' AS via, j.value ->> 'label' AS label, j.value ->> 'score' AS score
                FROM items i, json_each(i.tickers) j
                WHERE i.seq <= CAST((SELECT value FROM meta WHERE key = 'ticker_index_through') AS INTEGER) AND i.tickers IS NOT NULL),
       have AS (SELECT ticker, seq, via, label, score FROM ticker_index)
  SELECT count(*) AS n FROM (SELECT * FROM want EXCEPT SELECT * FROM have UNION ALL SELECT * FROM have EXCEPT SELECT * FROM want)`;

/**
 * Builds the corpus as an old model left it, runs `reclassify` on it, and compares with the
 * re-scored corpus ingested fresh. `afterOld` edits the old database (closed, so ItemStore's
 * shutdown indexing is behind it) before the run; it leaves part of the items out of ticker_index.
 */
async function reclassifiedEqualsFresh(opts: CorpusOptions, prepare: (polls: CorpusPoll[]) => CorpusPoll[], commitOpts: { stories?: boolean }, afterOld: (db: Database.Database) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-reclassify-'));
  try {
    // A small lag: part of the items is in ticker_index (the update trigger's path), part read from their JSON.
    const open = (name: string) => ItemStore.open(join(dir, name), { tickerIndexLag: 300 });
    const old = open('old.db');
    commitCorpus(old, prepare(corpusPolls(opts)), commitOpts);
    old.close();
    const raw = new Database(join(dir, 'old.db'));
    try {
      afterOld(raw);
      const through = Number(raw.prepare("SELECT value FROM meta WHERE key = 'ticker_index_through'").pluck().get());
      assert.ok(through > 0 && through < opts.items, `both halves of item_tickers are exercised (through ${through})`);
    } finally {
      raw.close();
    }

    const r = await cli(runReclassify, ['--db', join(dir, 'old.db'), '--batch', '128', '--quiet']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).reclassified, opts.items);

    const fresh = open('fresh.db');
    commitCorpus(fresh, await rescoredPolls(prepare(corpusPolls(opts))), commitOpts);
    const re = open('old.db');
    try {
      assert.deepEqual(dump(re, ITEMS), dump(fresh, ITEMS));
      assert.deepEqual(dump(re, ITEM_TICKERS), dump(fresh, ITEM_TICKERS));
      assert.deepEqual(dump(re, INDEX_DRIFT), [{ n: 0 }], 'ticker_index describes exactly the indexed items\' tickers');
      assert.deepEqual(dump(re, 'SELECT ticker, seq FROM item_tickers GROUP BY 1, 2 HAVING count(*) > 1'), [], 'no item is listed twice under a ticker');
      assertSameRollups(re, fresh);
    } finally {
      re.close();
      fresh.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('after reclassify, rollups, ticker index and item_tickers equal a fresh ingest of the re-scored items (3 sources, story copies across them)', async () => {
  // 1,500 items 20 s apart over three sources: 1m buckets of a few items, 1h and 1d buckets that
  // many batches of 128 touch, stories copied within and across sources, some items undated.
  await reclassifiedEqualsFresh({ items: 1500, sources: ['a', 'b', 'c'], chunk: 100, stepMs: 20_000, copyShare: 0.2 }, (p) => p, {}, (db) => {
    // The newest 800 items wait for the index by ticker, as the daemon may leave them.
    db.exec("DELETE FROM ticker_index WHERE seq > 700; UPDATE meta SET value = '700' WHERE key = 'ticker_index_through'");
  });
});

test('items no rollup counts (stored before schema v2: no story, no tickers) are counted once reclassified', async () => {
  const noTickers = (polls: CorpusPoll[]) => polls.map((p) => ({ ...p, items: p.items.map((it) => ({ ...it, tickers: undefined })) }));
  // As migration 2 left them: rollups know nothing of these items.
  await reclassifiedEqualsFresh({ items: 1200, sources: ['a', 'b'], chunk: 100, stepMs: 20_000 }, noTickers, { stories: false }, (db) => {
    db.exec('DELETE FROM rollups');
    // Their tickers, once linked, go to the index (trigger) for part of them, stay in their JSON for the rest.
    db.exec("UPDATE meta SET value = '600' WHERE key = 'ticker_index_through'");
  });
});

test('a --db that does not exist: reclassify and query exit 1 with "database not found" and create nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-reclassify-'));
  try {
    for (const path of [join(dir, 'nope.db'), join(dir, 'no-such-folder', 'nope.db')]) {
      const r = await cli(runReclassify, ['--db', path, '--quiet']);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /database not found/);
      assert.equal(r.out, '');
      const q = await cli(runQuery, ['--db', path]);
      assert.equal(q.code, 1, q.err);
      assert.match(q.err, /database not found/);
      assert.equal(existsSync(path), false, `${path} was not created`);
      assert.equal(existsSync(join(dir, 'no-such-folder')), false, 'nor its folder');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
