import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ItemStore } from '../../src/store/itemStore.js';
import { runQuery } from '../../src/cli/query.js';
import { insertItems } from '../query/fixtures.js';

let dir: string;
let db: string;

class Capture extends Writable {
  text = '';
  isTTY?: boolean;
  columns?: number;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: string[], tty?: { columns: number }): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  if (tty) {
    out.isTTY = true;
    out.columns = tty.columns;
  }
  const err = new Capture();
  const code = await runQuery(args, out, err);
  return { code, out: out.text, err: err.text };
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

// Written with plain SQL (test/query/fixtures.ts), independent of the store's commit path.
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-query-'));
  db = join(dir, 'q.db');
  const s = ItemStore.open(db);
  insertItems(s.database, [
    { source: 'reuters', guid: 'r1', label: 'negative', score: -0.85, publishedAt: minutesAgo(120), title: 'ACME recalls, "again"', summary: 'About r1', tickers: [{ symbol: 'ACME' }, { symbol: 'BRK.B' }] },
    { source: 'reuters', guid: 'r2', label: 'positive', score: 0.85, publishedAt: minutesAgo(60), title: 'Globex soars\x1b[31m red\x1b[0m\nsecond line', summary: 'About r2' },
    { source: 'ft', guid: 'f1', label: 'negative', score: -0.85, publishedAt: minutesAgo(3 * 24 * 60), title: 'Old news ' + 'x'.repeat(300), summary: 'About f1' },
  ]);
  s.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('json: one object per line, newest first, wire fields + summary/fetchedAt/model', async () => {
  const r = await run(['--db', db, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.guid), ['r2', 'r1', 'f1']);
  for (const k of ['seq', 'source', 'guid', 'title', 'url', 'publishedAt', 'label', 'score', 'pNeg', 'pNeu', 'pPos', 'summary', 'fetchedAt', 'model']) {
    assert.ok(k in lines[0], k);
  }
});

test('filters: --source --label --since --search --limit', async () => {
  const guids = async (args: string[]) => (await run(['--db', db, '--format', 'json', ...args])).out.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { guid: string }).guid);
  assert.deepEqual(await guids(['--source', 'ft']), ['f1']);
  assert.deepEqual(await guids(['--label', 'negative']), ['r1', 'f1']);
  assert.deepEqual(await guids(['--since', '24h']), ['r2', 'r1']);
  assert.deepEqual(await guids(['--since', '90m']), ['r2']);
  assert.deepEqual(await guids(['--search', 'acme']), ['r1']);
  assert.deepEqual(await guids(['--limit', '1']), ['r2']);
});

test('csv: header and RFC 4180 quoting', async () => {
  const r = await run(['--db', db, '--format', 'csv', '--source', 'reuters']);
  assert.equal(r.code, 0);
  const rows = r.out.split('\r\n');
  assert.match(rows[0], /^seq,publishedAt,source,label,score,pNeg,pNeu,pPos,title,url,guid,summary,fetchedAt,model/);
  assert.ok(r.out.includes('"Globex soars\x1b[31m red\x1b[0m\nsecond line"'));
  assert.ok(r.out.includes('"ACME recalls, ""again"""'));
});

test('table: aligned columns, control characters removed, titles truncated', async () => {
  const r = await run(['--db', db]);
  assert.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^TIME \(UTC\)\s+SOURCE\s+LABEL\s+SCORE\s+TICKERS\s+TITLE$/);
  const titleCol = lines[0].indexOf('TITLE');
  assert.equal(lines[1].indexOf('Globex'), titleCol);
  assert.ok(!r.out.includes('\x1b'));
  assert.match(lines[1], /Globex soars red second line$/);
  assert.match(lines[2], /negative\s+-0\.85\s+ACME-0\.85 BRK\.B-0\.85\s+ACME recalls/);
  assert.equal(lines[2].indexOf('ACME-0.85'), lines[0].indexOf('TICKERS'));
  assert.equal([...lines[3].slice(titleCol)].length, 100); // not a terminal: 100
  assert.ok(lines[3].endsWith('…'));
  const narrow = await run(['--db', db], { columns: 80 });
  for (const l of narrow.out.trimEnd().split('\n')) assert.ok([...l].length <= 80, l);
});

test('bad arguments exit 2 with a message; a missing database exits 1', async () => {
  for (const args of [['--label', 'meh'], ['--since', 'yesterday'], ['--limit', '-1'], ['--format', 'xml'], ['--nope'], ['positional']]) {
    const r = await run(['--db', db, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, /^tickerpulse query: /);
    assert.equal(r.out, '');
  }
  const r = await run(['--db', join(dir, 'missing.db')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /not found.*STORE_FAILED/);
  assert.equal((await run(['--help'])).code, 0);
});

test('--ticker filters by symbol (any spelling); json lines carry tickers; a bad symbol exits 2 without SQL', async () => {
  const json = async (args: string[]) => (await run(['--db', db, '--format', 'json', ...args])).out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { guid: string; tickers: unknown });
  assert.deepEqual((await json(['--ticker', 'ACME'])).map((l) => l.guid), ['r1']);
  assert.deepEqual((await json(['--ticker', 'brk-b'])).map((l) => l.guid), ['r1']);
  assert.deepEqual((await json(['--ticker', 'ZZZ'])).map((l) => l.guid), []);
  const all = await json([]);
  assert.deepEqual(all.find((l) => l.guid === 'r1')!.tickers, [
    { symbol: 'ACME', label: 'negative', score: -0.85 },
    { symbol: 'BRK.B', label: 'negative', score: -0.85 },
  ]);
  assert.deepEqual(all.find((l) => l.guid === 'r2')!.tickers, []);
  for (const bad of ["AAPL' OR 1=1 --", '', 'TOOLONGSYM', '$AAPL', 'A.B.C']) {
    const r = await run(['--db', db, '--ticker', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.err, /^tickerpulse query: ticker must be a symbol/);
    assert.doesNotMatch(r.err, /SELECT|item_tickers|SQLITE/);
  }
});
