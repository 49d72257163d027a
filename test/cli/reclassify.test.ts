/**
 * tickerpulse reclassify: items stored by an "old model" (fake predictions) are re-scored with
 * the shipped model, their tickers re-linked, their model id recorded, and the rollup rows of
 * the affected buckets rebuilt — exactly what a fresh ingest of the re-scored items produces.
 * An interrupted run resumes after its last committed batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runReclassify } from '../../src/cli/reclassify.js';
import { ClassifierPool } from '../../src/pool/classifierPool.js';
import { ItemStore } from '../../src/store/itemStore.js';
import { ReclassifyStore } from '../../src/store/reclassify.js';
import { StoryClusterer } from '../../pipelines/storyCluster.js';
import type { ClassifiedItem, ItemTicker } from '../../src/lib/types.js';

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
