/**
 * Retention (src/store/retention.ts, `tickerpulse prune`): items go in whole UTC days, so every
 * rollup bucket is either complete or entirely pruned; rollups are kept; a story row goes with
 * its last item; pages are given back (auto_vacuum = INCREMENTAL on new databases).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClassifiedItem, ItemTicker } from '../../src/lib/types.js';
import { ItemStore, type CommitStories, type StoryAssignment } from '../../src/store/itemStore.js';
import { cutoffsFor, Pruner } from '../../src/store/retention.js';
import { CLI } from '../daemon/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-03T10:30:00.000Z');
const LABELS = ['negative', 'neutral', 'positive'] as const;

/** Stories by title prefix ("S12 …"): the first item of a prefix starts it, later ones join. */
function prefixStories(): CommitStories {
  const byKey = new Map<string, number>();
  let key = '';
  return {
    match(item) {
      key = item.title.split(' ')[0];
      return { storyId: byKey.get(key) ?? null };
    },
    record(m, seq): StoryAssignment {
      if (m.storyId === null) {
        byKey.set(key, seq);
        return { storyId: seq, novel: true, sourceCount: 1, sourceNew: true };
      }
      return { storyId: m.storyId, novel: false, sourceCount: 1, sourceNew: false };
    },
  };
}

/** 40 days of items, every 3 h, each story spanning three consecutive items (9 h). */
function fill(path: string): void {
  const store = ItemStore.open(path);
  const stories = { stories: prefixStories() };
  try {
    const items: ClassifiedItem[] = [];
    for (let i = 0; i < 40 * 8; i++) {
      const t = NOW - 40 * DAY + i * 3 * 3_600_000;
      const tickers: ItemTicker[] = [{ symbol: i % 2 ? 'AAPL' : 'MSFT', via: 'cashtag', label: LABELS[i % 3], score: 0.5, pNeg: 0.1, pNeu: 0.3, pPos: 0.6 }];
      items.push({ source: 'wire', guid: `g${i}`, url: null, title: `S${Math.floor(i / 3)} headline ${i}`, summary: null, publishedAt: new Date(t).toISOString(), fetchedAt: new Date(t).toISOString(), label: LABELS[i % 3], pNeg: 0.1, pNeu: 0.3, pPos: 0.6, score: 0.5, model: 'm', tickers });
    }
    for (let k = 0; k < items.length; k += 50) store.commitPoll('wire', items.slice(k, k + 50), {}, undefined, stories);
    store.database.prepare("INSERT INTO dead_letters (source, guid, payload, code, message, attempts, created_at) VALUES ('wire', 'x', '{}', 'E', 'm', 1, ?)").run(new Date(NOW - 60 * DAY).toISOString());
  } finally {
    store.close();
  }
}

const rollupsOf = (db: ItemStore) => db.database.prepare('SELECT * FROM rollups ORDER BY kind, bucket, start, key').all();

test('pruning 11 days: whole days go, rollups stay, each rollup bucket is complete or empty, stories follow their items', () => {
  const path = join(dir, 'unit.db');
  fill(path);
  const store = ItemStore.open(path);
  try {
    const db = store.database;
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'new databases are incremental');
    const rollupsBefore = rollupsOf(store);
    const itemsBefore = store.countItems();
    const cutoffs = cutoffsFor({ items: 11 * DAY + 3_600_000, deadLetters: 30 * DAY }, NOW);
    assert.equal(cutoffs.items, '2026-11-22T00:00:00.000Z', 'rounded down to a day start');
    const pruner = new Pruner(db);
    const expected = pruner.count(cutoffs);
    assert.ok(expected.items > 100 && expected.deadLetters === 1);
    let steps = 0;
    let n;
    do {
      n = pruner.step(cutoffs, 25);
      steps++;
    } while (!Pruner.done(n, 25));
    assert.ok(steps > 4, 'small batches');
    assert.equal(store.countItems(), itemsBefore - expected.items);
    assert.equal(db.prepare('SELECT min(published_at) FROM items').pluck().get(), '2026-11-22T01:30:00.000Z');
    assert.deepEqual(rollupsOf(store), rollupsBefore, 'rollups are kept as they were');
    // Every bucket of every kind and key: all of its items are there, or none.
    const partial = db
      .prepare(
        `SELECT r.kind, r.key, r.bucket, r.start, r.items, (SELECT count(*) FROM items i WHERE i.published_at >= r.start AND i.published_at < strftime('%Y-%m-%dT%H:%M:%fZ', r.start, CASE r.bucket WHEN '1m' THEN '+1 minute' WHEN '1h' THEN '+1 hour' ELSE '+1 day' END)
           AND (r.kind = 'source' AND i.source = r.key OR r.kind = 'ticker' AND i.tickers ->> '$[0].symbol' = r.key)) AS have
         FROM rollups r`,
      )
      .all() as { items: number; have: number }[];
    assert.ok(partial.length > 0);
    assert.deepEqual(partial.filter((r) => r.have !== 0 && r.have !== r.items), []);
    // No item points at a missing story; no story without items; the story cut by the cutoff keeps its row.
    assert.equal(db.prepare('SELECT count(*) FROM items i WHERE story_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = i.story_id)').pluck().get(), 0);
    assert.equal(db.prepare('SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id)').pluck().get(), 0);
    assert.ok((db.prepare("SELECT count(*) FROM stories WHERE first_published_at < ?").pluck().get(cutoffs.items) as number) >= 1);
    // The ticker index followed the items.
    assert.equal(db.prepare('SELECT count(*) FROM item_tickers t WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.seq = t.seq)').pluck().get(), 0);
    assert.equal(db.prepare('SELECT count(*) FROM dead_letters').pluck().get(), 0);
    // Pages are given back.
    assert.ok(pruner.freePages > 0);
    const freed = pruner.incrementalVacuum(1_000_000);
    assert.ok(freed > 0);
    assert.equal(pruner.freePages, 0);
    // seq is never reused after pruning.
    const latest = store.latestSeq();
    db.exec('DELETE FROM items');
    store.commitPoll('wire', [{ source: 'wire', guid: 'new', url: null, title: 'fresh', summary: null, publishedAt: new Date(NOW).toISOString(), fetchedAt: new Date(NOW).toISOString(), label: 'neutral', pNeg: 0, pNeu: 1, pPos: 0, score: 0, model: 'm' }], {});
    assert.equal(store.latestSeq(), latest + 1);
  } finally {
    store.close();
  }
});

test('tickerpulse prune --dry-run counts without deleting; prune deletes; both report on stdout', () => {
  const path = join(dir, 'cli.db');
  fill(path);
  const before = (() => {
    const s = ItemStore.open(path, { readonly: true });
    try {
      return s.countItems();
    } finally {
      s.close();
    }
  })();
  const dry = spawnSync(process.execPath, [CLI, 'prune', '--db', path, '--items', '3d', '--dry-run'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(dry.status, 0, dry.stderr);
  const m = /^would delete (\d+) items, (\d+) stories, 0 alerts, 0 dead letters/.exec(dry.stdout);
  assert.ok(m, dry.stdout);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < before);
  const s = ItemStore.open(path, { readonly: true });
  assert.equal(s.countItems(), before, 'dry run deleted nothing');
  s.close();

  const none = spawnSync(process.execPath, [CLI, 'prune', '--db', path], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no retention configured/);

  const real = spawnSync(process.execPath, [CLI, 'prune', '--db', path, '--items', '3d'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(real.status, 0, real.stderr);
  assert.match(real.stdout, new RegExp(`^deleted ${m[1]} items, ${m[2]} stories`));
  const after = ItemStore.open(path, { readonly: true });
  try {
    assert.equal(after.countItems(), before - Number(m[1]));
  } finally {
    after.close();
  }
});

test('the daemon prunes on its writer thread while running: old days go, new items keep arriving, rollups stay', async () => {
  const { resolveConfig } = await import('../../src/config/load.js');
  const { startDaemon } = await import('../../src/daemon/daemon.js');
  const { createLogger } = await import('../../src/lib/log.js');
  const { appendFileSync, writeFileSync } = await import('node:fs');
  const { waitFor } = await import('../daemon/harness.js');
  const feed = join(dir, 'feed.jsonl');
  const now = Date.now();
  // 30 days of history, one item every 2 h.
  writeFileSync(feed, Array.from({ length: 360 }, (_, i) => JSON.stringify({ id: `h${i}`, title: `Acme headline number ${i} beats estimates`, publishedAt: new Date(now - 30 * DAY + i * 2 * 3_600_000).toISOString() }) + '\n').join(''));
  const path = join(dir, 'daemon.db');
  const cfg = resolveConfig({
    db: path,
    server: { host: '127.0.0.1', port: 0 },
    sources: [{ id: 'wire', kind: 'jsonl', path: feed, follow: true, pollInterval: '50ms' }],
    retention: { items: '7d', batchSize: 20 },
  });
  const daemon = await startDaemon(cfg, { log: createLogger({ level: 'silent', pretty: false }), retentionFirstDelayMs: 3_600_000 });
  try {
    const reader = ItemStore.open(path, { readonly: true });
    try {
      await waitFor('history stored', () => reader.countItems() >= 360, 60_000, 100);
      const rollups = rollupsOf(reader);
      const r = await daemon.retention!.run();
      const cutoff = cutoffsFor({ items: 7 * DAY }, Date.now()).items!;
      assert.ok(r.items > 200, JSON.stringify(r));
      assert.equal(reader.database.prepare('SELECT count(*) FROM items WHERE published_at < ?').pluck().get(cutoff), 0);
      assert.equal(reader.countItems(), 360 - r.items);
      assert.deepEqual(rollupsOf(reader), rollups);
      assert.ok(r.freedPages > 0, 'space given back');
      // Ingest goes on after a prune.
      appendFileSync(feed, JSON.stringify({ id: 'fresh', title: 'Acme fresh headline after the prune', publishedAt: new Date().toISOString() }) + '\n');
      await waitFor('a new item stored', () => reader.countItems() === 360 - r.items + 1, 30_000, 50);
    } finally {
      reader.close();
    }
  } finally {
    await daemon.shutdown('test');
  }
});

test('a database created before incremental vacuum: prune says so, prune --vacuum converts it once and gives pages back', async () => {
  const Database = (await import('better-sqlite3')).default;
  const path = join(dir, 'old.db');
  // As older versions created it: WAL first, so auto_vacuum stays NONE.
  const raw = new Database(path);
  raw.pragma('journal_mode = WAL');
  raw.close();
  fill(path);
  const mode = () => {
    const s = ItemStore.open(path, { readonly: true });
    try {
      return s.database.pragma('auto_vacuum', { simple: true });
    } finally {
      s.close();
    }
  };
  assert.equal(mode(), 0);
  const plain = spawnSync(process.execPath, [CLI, 'prune', '--db', path, '--items', '20d'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /not incremental: run prune --vacuum once/);
  const conv = spawnSync(process.execPath, [CLI, 'prune', '--db', path, '--items', '10d', '--vacuum'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(conv.status, 0, conv.stderr);
  assert.match(conv.stderr, /converting to auto_vacuum=INCREMENTAL/);
  assert.equal(mode(), 2);
});
