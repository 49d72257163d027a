import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../../src/lib/paths.js';
import { createLinker, type TickerDictionary } from '../../workers/tickerLinker.js';
import { StoryClusterer } from '../../pipelines/storyCluster.js';
import { generateTemplatedCorpus, jsonlLine, rssDocument, tickerConfig, TEMPLATES } from './templatedCorpus.js';

const N = 4000;

test('the templated corpus is the same for the same seed and differs for another', () => {
  const a = generateTemplatedCorpus({ items: N });
  const b = generateTemplatedCorpus({ items: N });
  const c = generateTemplatedCorpus({ items: N, seed: 14 });
  assert.deepEqual(a.items.map(jsonlLine), b.items.map(jsonlLine));
  assert.notDeepEqual(a.items.map((i) => i.title), c.items.map((i) => i.title));
  assert.ok(TEMPLATES.length >= 6);
});

test('every position is filled once, in time order, and each outlet gets an equal share', () => {
  const { items } = generateTemplatedCorpus({ items: N, outlets: 8 });
  assert.equal(items.length, N);
  assert.equal(new Set(items.map((i) => i.id)).size, N);
  for (let i = 1; i < N; i++) assert.ok(Date.parse(items[i].publishedAt) >= Date.parse(items[i - 1].publishedAt) - 1000);
  const span = Date.parse(items[N - 1].publishedAt) - Date.parse(items[0].publishedAt);
  assert.ok(span > 2.9 * 86_400_000 && span < 3.1 * 86_400_000);
  const perOutlet = new Array(8).fill(0);
  for (const it of items) perOutlet[it.outlet]++;
  assert.deepEqual(perOutlet, new Array(8).fill(N / 8));
});

test('about a tenth of the items are planned story copies, from distinct outlets, minutes apart', () => {
  const { items, stories } = generateTemplatedCorpus({ items: N });
  const byStory = new Map<number, typeof items>();
  for (const it of items) if (it.story >= 0) byStory.set(it.story, [...(byStory.get(it.story) ?? []), it]);
  assert.equal(byStory.size, stories);
  const share = [...byStory.values()].reduce((n, s) => n + s.length, 0) / N;
  assert.ok(share > 0.08 && share < 0.13, `share ${share}`);
  for (const copies of byStory.values()) {
    assert.ok(copies.length >= 2 && copies.length <= 5);
    assert.equal(new Set(copies.map((c) => c.outlet)).size, copies.length);
    assert.equal(new Set(copies.map((c) => c.symbol)).size, 1);
    const gap = Date.parse(copies[1].publishedAt) - Date.parse(copies[0].publishedAt);
    assert.ok(gap >= 60_000 && gap < 2 * 3_600_000, `gap ${gap}`);
  }
});

test('the story clusterer joins most planned copies, and headlines link the made-up tickers', () => {
  const { items, companies } = generateTemplatedCorpus({ items: N });
  const dict = JSON.parse(readFileSync(join(dataDir, 'tickers', 'dictionary.json'), 'utf8')) as TickerDictionary;
  const linker = createLinker(dict, tickerConfig(companies));
  // Event time, as the daemon runs it: the newest publication time seen.
  let now = 0;
  const c = new StoryClusterer({ clock: () => now });
  const storyOf = new Map<number, number>();
  let linkedOwn = 0;
  let joinedCopies = 0;
  let copies = 0;
  let notNovel = 0;
  items.forEach((it, seq) => {
    const tickers = [...new Set(linker.link(it.title).map((l) => l.symbol))];
    if (tickers.includes(it.symbol)) linkedOwn++;
    now = Math.max(now, Date.parse(it.publishedAt));
    const a = c.assign({ seq: seq + 1, source: `o${it.outlet}`, title: it.title, publishedAt: it.publishedAt, tickers });
    if (!a.novel) notNovel++;
    if (it.story < 0) return;
    const first = storyOf.get(it.story);
    if (first === undefined) storyOf.set(it.story, a.storyId);
    else {
      copies++;
      if (a.storyId === first) joinedCopies++;
    }
  });
  assert.ok(linkedOwn / N > 0.95, `linked ${linkedOwn / N}`);
  assert.ok(joinedCopies / copies > 0.9, `joined ${joinedCopies}/${copies}`);
  // Near-duplicates beyond the planned stories: templates make many titles differ by a word or figure.
  assert.ok(notNovel > copies, `${notNovel} items joined a story, ${copies} planned copies`);
});

test('the RSS document holds every item, escaped', () => {
  const { items } = generateTemplatedCorpus({ items: 50, summaryChars: 300 });
  const xml = rssDocument(items);
  assert.equal(xml.match(/<item>/g)?.length, 50);
  assert.ok(!/<title>[^<]*&(?!amp;|lt;|gt;)/.test(xml));
  assert.ok(items.every((i) => i.summary?.length === 300));
});
