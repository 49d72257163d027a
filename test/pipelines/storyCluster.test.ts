import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoryClusterer, normalizeTitle } from '../../pipelines/storyCluster.js';

const T0 = Date.parse('2025-11-03T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
let seqCounter = 1000;
const nextSeq = (): number => seqCounter++;

function clusterer() {
  let now = T0;
  const c = new StoryClusterer({ clock: () => now });
  return { c, advance: (ms: number) => (now += ms), now: () => now };
}

test('normalizeTitle drops publisher suffixes and punctuation', () => {
  assert.equal(normalizeTitle('Acme Widgets beats Q3 estimates, raises outlook - Reuters'), 'acme widgets beats q3 estimates raises outlook');
  assert.equal(normalizeTitle('Acme Widgets Beats Q3 Estimates | Example News'), 'acme widgets beats q3 estimates');
  assert.equal(normalizeTitle('UPDATE 2-Acme Widgets beats Q3 estimates'), 'acme widgets beats q3 estimates');
});

test('five near-identical headlines from five sources form one story', () => {
  const { c } = clusterer();
  const titles = [
    'Acme Widgets beats third-quarter estimates, raises full-year outlook',
    'Acme Widgets beats third-quarter estimates, raises full-year outlook - Reuters',
    'Acme Widgets Beats Third-Quarter Estimates, Raises Full-Year Outlook | Wire Daily',
    'Acme Widgets beats third quarter estimates and raises full-year outlook',
    'UPDATE 1-Acme Widgets beats third-quarter estimates, raises full-year outlook',
  ];
  const out = titles.map((title, i) => c.assign({ seq: nextSeq(), source: `src${i}`, title, publishedAt: iso(T0 + i * 60_000), tickers: ['ACME'] }));
  assert.equal(out[0].novel, true);
  for (const o of out.slice(1)) assert.equal(o.novel, false);
  assert.equal(new Set(out.map((o) => o.storyId)).size, 1);
  assert.deepEqual(out.map((o) => o.sourceCount), [1, 2, 3, 4, 5]);
  // the same source repeating the story does not raise the count
  const again = c.assign({ seq: nextSeq(), source: 'src0', title: titles[0], publishedAt: iso(T0 + 600_000), tickers: ['ACME'] });
  assert.deepEqual(again, { storyId: out[0].storyId, novel: false, sourceCount: 5, sourceNew: false });
  // an item without tickers is compatible
  assert.equal(c.assign({ seq: nextSeq(), source: 'src9', title: titles[1], publishedAt: iso(T0), tickers: [] }).storyId, out[0].storyId);
});

test('a different headline starts a new story; same wording about another ticker too', () => {
  const { c } = clusterer();
  const a = c.assign({ seq: nextSeq(), source: 'a', title: 'Acme Widgets beats third-quarter estimates, raises outlook', publishedAt: iso(T0), tickers: ['ACME'] });
  const b = c.assign({ seq: nextSeq(), source: 'b', title: 'Central bank holds rates steady, signals patience on cuts', publishedAt: iso(T0), tickers: [] });
  assert.equal(b.novel, true);
  assert.notEqual(b.storyId, a.storyId);
  const d = c.assign({ seq: nextSeq(), source: 'c', title: 'Acme Widgets beats third-quarter estimates, raises outlook', publishedAt: iso(T0), tickers: ['WIDG'] });
  assert.equal(d.novel, true);
  assert.notEqual(d.storyId, a.storyId);
  assert.equal(d.sourceCount, 1);
});

test('after the window a repeat is a new story, and old stories are evicted', () => {
  const { c, advance, now } = clusterer();
  const title = 'Acme Widgets recalls two million toasters over fire risk';
  const a = c.assign({ seq: nextSeq(), source: 'a', title, publishedAt: iso(now()), tickers: ['ACME'] });
  advance(47 * 3600_000);
  assert.equal(c.assign({ seq: nextSeq(), source: 'b', title, publishedAt: iso(now()), tickers: ['ACME'] }).storyId, a.storyId);
  advance(2 * 3600_000);
  const late = c.assign({ seq: nextSeq(), source: 'c', title, publishedAt: iso(now()), tickers: ['ACME'] });
  assert.equal(late.novel, true);
  assert.notEqual(late.storyId, a.storyId);
  assert.equal(c.size, 1);
});

test('deterministic ids and a bound on stories kept', () => {
  const run = () => {
    const c = new StoryClusterer({ clock: () => T0, maxStories: 10 });
    return Array.from({ length: 30 }, (_, i) => c.assign({ seq: i, source: 's', title: `Company number ${i} ${'x'.repeat(i)} announces plan ${i * 7}`, publishedAt: iso(T0), tickers: [] }).storyId);
  };
  assert.deepEqual(run(), run());
  const c = new StoryClusterer({ clock: () => T0, maxStories: 10 });
  const words = ['copper', 'harbour', 'violet', 'quantum', 'meadow', 'falcon', 'glacier', 'tundra', 'saffron', 'pixel', 'orchid', 'basalt'];
  const distinct = (i: number) => [0, 1, 2, 3, 4].map((k) => words[(i * 7 + k * k * 5 + k) % words.length] + ((i * 31 + k) % 97)).join(' ');
  const ids = new Set<number>();
  for (let i = 0; i < 30; i++) ids.add(c.assign({ seq: i, source: 's', title: distinct(i), publishedAt: iso(T0), tickers: [] }).storyId);
  assert.equal(ids.size, 30);
  assert.equal(c.size, 10);
  assert.equal(c.assign({ seq: 99, source: 's', title: 'Fresh story', publishedAt: null, tickers: [] }).storyId, 99);
});

test('restore rebuilds stories by id, so a later copy joins the stored story', () => {
  const { c } = clusterer();
  const title = 'Acme Widgets recalls two million toasters over fire risk';
  c.restore({ seq: 7, source: 'a', title, publishedAt: iso(T0 - 3600_000), tickers: ['ACME'] }, 5);
  c.restore({ seq: 9, source: 'b', title: title + ' - Reuters', publishedAt: iso(T0 - 1800_000), tickers: ['ACME'] }, 5);
  assert.equal(c.size, 1);
  assert.deepEqual(c.assign({ seq: 20, source: 'c', title, publishedAt: iso(T0), tickers: ['ACME'] }), { storyId: 5, novel: false, sourceCount: 3, sourceNew: true });
});
