/**
 * `tickerpulse backup FILE` while the daemon ingests: the copy passes integrity_check and is one
 * consistent snapshot (exactly the live rows up to its latest seq, byte for byte).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI, makeItems, startDaemonProcess, stopDaemon, waitFor } from '../daemon/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-backup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: { guid: string; title: string; pubDate: Date }) => JSON.stringify({ id: i.guid, title: i.title, publishedAt: i.pubDate.toISOString() });
const ROWS = 'SELECT seq, source, guid, title, published_at, label, score, story_id, novel, tickers FROM items';

function count(db: string): number {
  const c = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return c.prepare('SELECT count(*) FROM items').pluck().get() as number;
  } catch {
    return 0;
  } finally {
    c.close();
  }
}

test('backup of a live daemon: integrity ok, the same rows as the live database up to its latest seq', async () => {
  const db = join(dir, 'live.db');
  const feed = join(dir, 'news.jsonl');
  writeFileSync(feed, makeItems(3000, 'b').map(line).join('\n') + '\n');
  writeFileSync(join(dir, 'config.yaml'), `sources:\n  - { id: wire, kind: jsonl, path: news.jsonl, follow: true, pollInterval: 50ms }\n`);
  const d = await startDaemonProcess(['--config', join(dir, 'config.yaml'), '--db', db]);
  try {
    await waitFor('the first 3000 items stored', () => count(db) >= 3000, 120_000, 100);
    // Keep the daemon committing while the backup runs.
    let n = 3000;
    const appender = setInterval(() => {
      appendFileSync(feed, makeItems(20, 'b', n).map(line).join('\n') + '\n');
      n += 20;
    }, 20);
    const target = join(dir, 'copy.db');
    let r: { status: number | null; stderr: string };
    try {
      r = await new Promise((resolve) => {
        const child = spawn(process.execPath, [CLI, 'backup', target, '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (b) => (stderr += b));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
    } finally {
      clearInterval(appender);
    }
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /integrity ok/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.partial-')), [], 'no partial file left');
    assert.ok(!existsSync(`${target}-wal`), 'the copy is a single file');

    const copy = new Database(target, { readonly: true, fileMustExist: true });
    const live = new Database(db, { readonly: true, fileMustExist: true });
    try {
      assert.deepEqual(copy.pragma('integrity_check', { simple: true }), 'ok');
      const maxSeq = copy.prepare('SELECT max(seq) FROM items').pluck().get() as number;
      assert.ok((copy.prepare('SELECT count(*) FROM items').pluck().get() as number) >= 3000);
      const copied = copy.prepare(`${ROWS} ORDER BY seq`).all();
      const original = live.prepare(`${ROWS} WHERE seq <= ? ORDER BY seq`).all(maxSeq);
      assert.deepEqual(copied, original);
      const rollups = 'SELECT kind, key, bucket, start, items, stories FROM rollups ORDER BY kind, bucket, start, key';
      assert.ok((copy.prepare(rollups).all() as unknown[]).length > 0);
    } finally {
      copy.close();
      live.close();
    }

    // A second backup to the same name is refused (exit 2) rather than overwriting it.
    const again = spawnSync(process.execPath, [CLI, 'backup', target, '--db', db], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(again.status, 2, again.stderr);
    assert.match(again.stderr, /exists; give another file name or --force/);
  } finally {
    const { code } = await stopDaemon(d);
    assert.equal(code, 0);
  }
});
