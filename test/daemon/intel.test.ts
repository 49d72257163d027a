/**
 * Market intelligence end to end: the real daemon (`tickerpulse start` as a child process) with
 * five loopback RSS feeds carrying the same story in slightly different words. Checks the tickers
 * linked on the sources' workers (item_tickers, /api/items?ticker=, WebSocket items) and the one
 * story they form across sources (stories, items.story_id), also after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectWs, getJson, itemsOf, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type FeedItem, type FeedServer } from './harness.js';

const STORY = [
  'Acme Widgets beats third-quarter estimates, raises full-year outlook',
  'Acme Widgets beats third-quarter estimates, raises full-year outlook - Reuters',
  'Acme Widgets Beats Third-Quarter Estimates, Raises Full-Year Outlook | Wire Daily',
  'Acme Widgets beats third quarter estimates and raises full-year outlook',
  'UPDATE 1-Acme Widgets beats third-quarter estimates, raises full-year outlook',
];

test('five sources, one story: tickers linked on the workers, stored, filterable and streamed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-intel-'));
  const now = Date.now();
  const feeds: FeedServer[] = [];
  for (let i = 0; i < STORY.length; i++) {
    const items: FeedItem[] = [{ guid: `story-${i}`, title: STORY[i], pubDate: new Date(now - (10 - i) * 60_000) }];
    if (i === 0) items.push({ guid: 'other', title: 'Apple shares rise after iPhone sales beat estimates', pubDate: new Date(now - 20 * 60_000) });
    feeds.push(await startFeedServer(items));
  }
  const db = join(dir, 'tp.db');
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      db,
      server: { host: '127.0.0.1', port: 0 },
      tickers: { extraAliases: { 'Acme Widgets': 'ACME' } },
      sources: feeds.map((f, i) => ({ id: `wire-${i}`, kind: 'rss', url: f.url, interval: '1s', allowPrivateNetworks: true })),
    }),
  );
  try {
    const d = await startDaemonProcess(['--config', config]);
    try {
      const client = await connectWs(d.port, '?since=0');
      await waitFor('6 items on the WebSocket', () => itemsOf(client).length >= 6);
      const live = itemsOf(client);
      for (const it of live) {
        const want = it.guid === 'other' ? 'AAPL' : 'ACME';
        assert.deepEqual(it.tickers, [{ symbol: want, label: it.label, score: it.score }], it.title);
      }

      const acme = await getJson(d.port, '/api/items?ticker=acme');
      assert.equal(acme.length, 5);
      assert.deepEqual(new Set(acme.map((i: { source: string }) => i.source)), new Set(feeds.map((_, i) => `wire-${i}`)));
      assert.deepEqual((await getJson(d.port, '/api/items?ticker=AAPL')).map((i: { guid: string }) => i.guid), ['other']);
      const bad = await fetch(`http://127.0.0.1:${d.port}/api/items?ticker=${encodeURIComponent("' OR 1=1")}`);
      assert.equal(bad.status, 400);
      await bad.arrayBuffer();

      // one story across the five sources
      const storyIds = new Set(live.filter((i) => i.guid !== 'other').map((i) => i.storyId));
      assert.equal(storyIds.size, 1);
      const [storyId] = storyIds;
      assert.equal(typeof storyId, 'number');
      const other = live.find((i) => i.guid === 'other')!;
      assert.notEqual(other.storyId, storyId);

      const raw = new Database(db, { readonly: true });
      try {
        const rows = raw.prepare('SELECT t.ticker, t.via, t.label = i.label AS same, t.score = i.score AS same_score FROM item_tickers t JOIN items i USING (seq) ORDER BY t.ticker').all() as Array<Record<string, unknown>>;
        assert.equal(rows.length, 6);
        assert.deepEqual(rows.map((r) => r.ticker), ['AAPL', 'ACME', 'ACME', 'ACME', 'ACME', 'ACME']);
        assert.deepEqual(new Set(rows.map((r) => r.via)), new Set(['name', 'alias']));
        for (const r of rows) assert.equal(r.same, 1);
        const story = raw.prepare('SELECT * FROM stories WHERE id = ?').get(storyId) as Record<string, unknown>;
        assert.equal(story.source_count, 5);
        assert.equal(story.item_count, 5);
        assert.equal(story.tickers, '["ACME"]');
        const first = raw.prepare('SELECT seq, title, published_at FROM items WHERE story_id = ? AND novel = 1').all(storyId) as Array<{ seq: number; title: string; published_at: string }>;
        assert.equal(first.length, 1);
        assert.equal(first[0].seq, storyId);
        assert.equal(story.title, first[0].title);
        assert.equal(story.first_published_at, first[0].published_at);
        assert.equal((raw.prepare('SELECT count(*) AS n FROM stories').get() as { n: number }).n, 2);
        // rollups: the ACME ticker counts five items but one story, in every bucket size
        for (const bucket of ['1m', '1h', '1d']) {
          // (and its sentiment once: the story's first item)
          const acmeRoll = raw.prepare(`SELECT sum(items) AS items, sum(stories) AS stories, sum(scored) AS scored, sum(pos + neu + neg) AS labels FROM rollups WHERE kind = 'ticker' AND key = 'ACME' AND bucket = ?`).get(bucket) as Record<string, number>;
          assert.deepEqual(acmeRoll, { items: 5, stories: 1, scored: 1, labels: 1 }, bucket);
          // per source: six items, two stories in all (whichever outlet was stored first owns the story)
          const src = raw.prepare(`SELECT sum(items) AS items, sum(stories) AS stories FROM rollups WHERE kind = 'source' AND bucket = ?`).get(bucket);
          assert.deepEqual(src, { items: 6, stories: 2 }, bucket);
          const own = raw.prepare(`SELECT sum(items) AS items FROM rollups WHERE kind = 'source' AND key = 'wire-0' AND bucket = ?`).get(bucket);
          assert.deepEqual(own, { items: 2 }, bucket);
        }
        // The five items are minutes apart and may straddle midnight (UTC): two day buckets then,
        // of which only the one holding the story's first item has a mean.
        const means = raw.prepare(`SELECT mean_score FROM rollup_means WHERE kind = 'ticker' AND key = 'ACME' AND bucket = '1d' AND scored > 0`).all() as { mean_score: number }[];
        assert.equal(means.length, 1);
        const firstScore = raw.prepare(`SELECT score FROM item_tickers WHERE ticker = 'ACME' AND seq = ?`).get(storyId) as { score: number };
        assert.ok(Math.abs(means[0].mean_score - firstScore.score) < 1e-9, `${means[0].mean_score} vs ${firstScore.score}`);
      } finally {
        raw.close();
      }
      client.ws.close();
    } finally {
      await stopDaemon(d);
    }

    // After a restart the clusterer is warmed from the stored items: a sixth outlet's copy joins
    // the same story instead of starting a new one.
    const late = await startFeedServer([{ guid: 'story-late', title: 'Acme Widgets beats third-quarter estimates, raises full-year outlook (Wire Daily)', pubDate: new Date(now - 60_000) }]);
    feeds.push(late);
    const cfg = JSON.parse(readFileSync(config, 'utf8'));
    cfg.sources.push({ id: 'wire-late', kind: 'rss', url: late.url, interval: '1s', allowPrivateNetworks: true });
    writeFileSync(config, JSON.stringify(cfg));
    const d2 = await startDaemonProcess(['--config', config]);
    try {
      const late = await waitFor('the late copy', async () => {
        const r = (await getJson(d2.port, '/api/items?source=wire-late')) as Array<{ storyId: number }>;
        return r.length ? r[0] : undefined;
      });
      const raw = new Database(db, { readonly: true });
      try {
        const story = raw.prepare('SELECT s.* FROM stories s JOIN items i ON i.story_id = s.id WHERE i.guid = ?').get('story-0') as Record<string, unknown>;
        assert.equal(late.storyId, story.id);
        assert.equal(story.source_count, 6);
        assert.equal(story.item_count, 6);
        const acmeRoll = raw.prepare(`SELECT sum(items) AS items, sum(stories) AS stories FROM rollups WHERE kind = 'ticker' AND key = 'ACME' AND bucket = '1d'`).get();
        assert.deepEqual(acmeRoll, { items: 6, stories: 1 });
      } finally {
        raw.close();
      }
      assert.ok(d2.logs.some((l) => l.msg === 'story clusterer warmed from stored items'));
    } finally {
      await stopDaemon(d2);
    }
  } finally {
    for (const f of feeds) await f.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
