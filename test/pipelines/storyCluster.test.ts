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

// Templated headlines: many distinct stories (each about its own made-up company and ticker)
// that share most of their words, hence most of their LSH buckets.
const CROWD_NAMES = ['Brav', 'Corl', 'Dunm', 'Elst', 'Fenw', 'Garr', 'Hols', 'Irvo', 'Jask', 'Kelm'];
const crowdCompany = (i: number) => `${CROWD_NAMES[i % 10]}${CROWD_NAMES[Math.floor(i / 10) % 10].toLowerCase()} ${Math.floor(i / 100)}`;
const crowdTitle = (i: number) => `${crowdCompany(i)} shares climb after record revenue`;

test('a match compares at most bands × bucketCap stories however crowded its buckets', () => {
  const { c } = clusterer();
  const n = 3000;
  for (let i = 0; i < n; i++) c.assign({ seq: nextSeq(), source: 's', title: crowdTitle(i), publishedAt: iso(T0), tickers: [`C${i}`] });
  assert.equal(c.size, n, 'different tickers: every templated headline is its own story');
  // The same headline about yet another company meets only what the rings keep.
  const m = c.match({ source: 's', title: 'Quillon Labs shares climb after record revenue', publishedAt: iso(T0), tickers: ['QLAB'] });
  assert.equal(m.storyId, null);
  const st = c.stats;
  assert.equal(st.maxCandidates, 16 * c.bucketCap);
  assert.ok(st.lastCandidates > 0 && st.lastCandidates <= st.maxCandidates, `compared ${st.lastCandidates}`);
  // Without tickers the item may join one of them, but still compares no more.
  c.match({ source: 's', title: crowdTitle(7), publishedAt: iso(T0), tickers: [] });
  assert.ok(c.lastCandidates <= st.maxCandidates);
  const small = new StoryClusterer({ clock: () => T0, bucketCap: 2 });
  for (let i = 0; i < 500; i++) small.assign({ seq: i, source: 's', title: crowdTitle(i), publishedAt: iso(T0), tickers: [`C${i}`] });
  small.match({ source: 's', title: crowdTitle(9999), publishedAt: iso(T0), tickers: ['Z'] });
  assert.ok(small.lastCandidates <= 32, `compared ${small.lastCandidates}`);
  assert.throws(() => new StoryClusterer({ bucketCap: 0 }), { code: 'CONFIG_INVALID' });
});

test('true copies join their story while thousands of templated stories crowd its buckets', () => {
  const { c, advance, now } = clusterer();
  const title = 'Velorant Systems shares climb after record revenue';
  const story = c.assign({ seq: nextSeq(), source: 'a', title, publishedAt: iso(now()), tickers: ['VLRT'] });
  const copies = [title + ' - Ledger Daily', 'UPDATE 1-' + title, 'Velorant Systems Shares Climb After Record Revenue | Market Wire', 'Velorant Systems climbs after record revenue - The Tape'];
  for (let i = 0; i < 4000; i++) {
    advance(1000);
    c.assign({ seq: nextSeq(), source: 's', title: crowdTitle(i), publishedAt: iso(now()), tickers: [`C${i}`] });
    if (i % 1000 === 999) {
      const copy = c.assign({ seq: nextSeq(), source: `copy${i}`, title: copies[Math.floor(i / 1000)], publishedAt: iso(now()), tickers: ['VLRT'] });
      assert.equal(copy.storyId, story.storyId, `copy after ${i + 1} crowding stories`);
      assert.equal(copy.novel, false);
    }
  }
  // A copy long after the last one (4,000 more crowding stories, no refresh in between).
  for (let i = 4000; i < 8000; i++) c.assign({ seq: nextSeq(), source: 's', title: crowdTitle(i), publishedAt: iso(now()), tickers: [`C${i}`] });
  const late = c.assign({ seq: nextSeq(), source: 'late', title: title + ' - Street Brief', publishedAt: iso(now()), tickers: ['VLRT'] });
  assert.deepEqual(late, { storyId: story.storyId, novel: false, sourceCount: 6, sourceNew: true });
});

test('memory stays bounded: rings never exceed the cap and evicted stories leave them', () => {
  const { c, advance, now } = clusterer();
  for (let i = 0; i < 3000; i++) c.assign({ seq: nextSeq(), source: 's', title: crowdTitle(i), publishedAt: iso(now()), tickers: [`C${i}`] });
  let st = c.stats;
  assert.equal(st.stories, 3000);
  assert.ok(st.largestBucket <= c.bucketCap, `largest bucket ${st.largestBucket}`);
  assert.ok(st.entries <= 16 * st.stories && st.buckets <= 16 * st.stories);
  // Stories that keep being joined are re-pushed, never duplicated in a ring.
  for (let k = 0; k < 50; k++) c.assign({ seq: nextSeq(), source: `r${k}`, title: crowdTitle(k % 5) + ' - Ledger Daily', publishedAt: iso(now()), tickers: [`C${k % 5}`] });
  st = c.stats;
  assert.ok(st.largestBucket <= c.bucketCap && st.entries <= 16 * st.stories);
  advance(49 * 3600_000);
  c.assign({ seq: nextSeq(), source: 's', title: 'Central bank holds rates steady', publishedAt: iso(now()), tickers: [] });
  st = c.stats;
  assert.equal(st.stories, 1);
  assert.ok(st.entries <= 16 && st.buckets <= 16, `entries ${st.entries}, buckets ${st.buckets}`);
});

test('with rings longer than any bucket, match decides as a scan of every story would', () => {
  // A story reaching the threshold shares ≥ 4 bands with the item, so the exhaustive scan below
  // is what the uncapped LSH scan decided; it checks the bound ranking and the early cut-offs.
  let now = T0;
  const c = new StoryClusterer({ clock: () => now, bucketCap: 4096 });
  const verbs = ['climb', 'slip', 'jump', 'sink'];
  const events = ['record revenue', 'a profit warning', 'a product recall', 'an upbeat forecast'];
  const all: { id: number; firstAt: number; sig: Uint32Array }[] = [];
  let joins = 0;
  for (let i = 0; i < 1500; i++) {
    now = T0 + i * 1000;
    const k = (i * 7919) % 1009;
    const title = k % 2 ? `${crowdCompany(k % 53)} shares ${verbs[k % 4]} after ${events[(k >> 2) % 4]}` : `Investors weigh ${events[(k >> 2) % 4]} at ${crowdCompany(k % 47)}`;
    const sig = c.signature(title);
    let best: { id: number; firstAt: number } | null = null;
    let bestSame = -1;
    for (const st of all) {
      let same = 0;
      for (let k = 0; k < sig.length; k++) if (st.sig[k] === sig[k]) same++;
      if (same / sig.length < 0.6) continue;
      if (same > bestSame || (same === bestSame && best !== null && st.firstAt < best.firstAt)) {
        best = st;
        bestSame = same;
      }
    }
    const got = c.assign({ seq: i, source: 's', title, publishedAt: iso(now), tickers: [], sig });
    assert.equal(got.storyId, best ? best.id : i, `item ${i}`);
    if (best) joins++;
    else all.push({ id: i, firstAt: now, sig });
  }
  assert.ok(joins > 500 && all.length >= 20, `${joins} joins, ${all.length} stories`);
});
