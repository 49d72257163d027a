/**
 * `tickerpulse query --all` (= `--limit 0`): 5,000 items in every format, exact count and order,
 * through the real CLI in a child process (stdout a pipe); the writer keeps to the output's
 * buffer (backpressure, measured on a slow in-process stream); `| head -1` exits 0 quietly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ItemStore } from '../../src/store/itemStore.js';
import { runQuery } from '../../src/cli/query.js';
import { BackpressureWriter, EXPORT_CHUNK_ROWS } from '../../src/cli/queryExport.js';
import { validateParams } from '../../src/query/params.js';
import { openStoreReader } from '../../src/query/storeReader.js';
import { insertAlerts, insertItems, type FixtureItem } from '../query/fixtures.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const N = 5000;
const T0 = Date.parse('2026-01-05T00:00:00.000Z');

let dir: string;
let db: string;
/** Seqs in the CLI's default order: published_at DESC, seq DESC. */
let expected: number[];
const titleOf = new Map<number, string>();

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-export-'));
  db = join(dir, 'export.db');
  const store = ItemStore.open(db);
  // Publication times repeat (i % 977) so that the seq tie-break decides part of the order;
  // titles carry a comma and quotes (CSV quoting) and a number to find them in the table.
  const items: FixtureItem[] = Array.from({ length: N }, (_, i) => ({
    source: i % 2 ? 'wire-a' : 'wire-b',
    guid: `e${i}`,
    title: `Export row ${String(i).padStart(5, '0')}, "quoted"`,
    publishedAt: new Date(T0 + (i % 977) * 60_000).toISOString(),
    label: (['negative', 'neutral', 'positive'] as const)[i % 3],
    score: i % 3 === 0 ? -0.5 : i % 3 === 1 ? 0.01 : 0.5,
    tickers: i % 4 === 0 ? [{ symbol: 'ACME' }] : [],
  }));
  const seqs = insertItems(store.database, items);
  seqs.forEach((s, i) => titleOf.set(s, items[i].title));
  expected = seqs.map((seq, i) => ({ seq, at: items[i].publishedAt })).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.seq - a.seq)).map((x) => x.seq);
  // More alerts than the 1,000-row cap of a limited query.
  insertAlerts(
    store.database,
    Array.from({ length: 1200 }, (_, i) => ({ rule: 'r1', kind: 'volume' as const, ticker: 'ACME', at: new Date(Date.now() - (i + 1) * 1000).toISOString(), message: `alert ${i}`, value: i, seqs: [seqs[i]] })),
  );
  store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; resolves with its exit code, stdout and stderr (also kills it if the test fails first). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'query', ...args, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('query --all: every row, every format', () => {
  test('json: 5,000 lines, exact order (published desc, seq desc)', async () => {
    const r = await cli(['--all', '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const seqs = r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.equal(seqs.length, N);
    assert.deepEqual(seqs, expected);
  });

  test('csv: one header, 5,000 rows, exact order; --limit 0 is --all', async () => {
    const r = await cli(['--limit', '0', '--format', 'csv']);
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split('\r\n');
    assert.equal(rows.pop(), '', 'ends with CRLF');
    assert.match(rows[0], /^seq,publishedAt,source,/);
    assert.equal(rows.filter((l) => l.startsWith('seq,')).length, 1, 'header written once');
    assert.deepEqual(rows.slice(1).map((l) => Number(l.slice(0, l.indexOf(',')))), expected);
    assert.ok(rows[1].includes('"Export row'), 'quoted title');
  });

  test('table: one header, 5,000 aligned rows in order', async () => {
    const r = await cli(['--all']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, N + 1);
    assert.match(lines[0], /^TIME \(UTC\)\s+SOURCE\s+LABEL\s+SCORE\s+TICKERS\s+TITLE$/);
    const titleAt = lines[0].indexOf('TITLE');
    lines.slice(1).forEach((l, i) => assert.equal(l.slice(titleAt), titleOf.get(expected[i]), `row ${i + 1}`));
  });

  test('with a filter and sort=seq asc: the matching rows only, in seq order', async () => {
    const r = await cli(['--all', '--ticker', 'ACME', '--sort', 'seq', '--order', 'asc', '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    const seqs = r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(seqs, [...expected].sort((a, b) => a - b).filter((s) => (s - expected.reduce((m, x) => Math.min(m, x))) % 4 === 0));
  });

  test('alerts --all: past the 1,000-row cap', async () => {
    const r = await cli(['alerts', '--all', '--since', '7d', '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    const ids = r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
    assert.equal(ids.length, 1200);
    assert.equal(new Set(ids).size, 1200);
  });

  test('no match: csv header only; table says so on stderr', async () => {
    const csv = await cli(['--all', '--source', 'nowhere', '--format', 'csv']);
    assert.equal(csv.code, 0, csv.err);
    assert.match(csv.out, /^seq,publishedAt,[^\r\n]*\r\n$/);
    const table = await cli(['--all', '--source', 'nowhere']);
    assert.equal(table.code, 0);
    assert.equal(table.out, '');
    assert.equal(table.err, 'no items match\n');
  });

  test('--all with --limit N is a usage error (exit 2)', async () => {
    const r = await cli(['--all', '--limit', '5']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--all or --limit/);
  });

  test('| head -1: the first row, then exit 0 without a message', async () => {
    const child = spawn(process.execPath, [MAIN, 'query', '--db', db, '--all', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Read up to the first newline, then close our end of the pipe as `head -1` does. The
      // whole export (~1.7 MB) is far larger than a pipe buffer, so the CLI is still writing.
      let first = '';
      await new Promise<void>((resolve) => {
        const onData = (d: Buffer) => {
          first += d.toString();
          if (first.includes('\n')) {
            child.stdout.off('data', onData);
            child.stdout.destroy();
            resolve();
          }
        };
        child.stdout.on('data', onData);
      });
      assert.equal((JSON.parse(first.slice(0, first.indexOf('\n'))) as { seq: number }).seq, expected[0]);
      assert.equal(await exited, 0, err);
      assert.equal(err, '');
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });
});

/** A slow consumer: 16 KiB buffer, each write acknowledged a tick later. */
class SlowSink extends Writable {
  bytes = 0;
  maxBuffered = 0;
  constructor() {
    super({ highWaterMark: 16 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length;
    setImmediate(cb);
  }
  override write(chunk: unknown, ...rest: never[]): boolean {
    const ok = super.write(chunk as string, ...rest);
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    return ok;
  }
}

describe('StoreReader.stream on SQLite', () => {
  test('chunks of the asked size, lazily; stopping early frees the connection for the next query', async () => {
    const reader = await openStoreReader(db);
    try {
      const p = validateParams('items', { limit: '0', sort: 'seq', order: 'asc' }, { channel: 'cli', allowUnlimited: true });
      const sizes: number[] = [];
      for await (const c of reader.stream(p, new Date(), 1200)) sizes.push(c.rows.length);
      assert.deepEqual(sizes, [1200, 1200, 1200, 1200, 200]);
      // The statement is cached per shape: iterating it again while a walk left it open would
      // throw ("statement is busy"), so these walks prove that breaking off resets it.
      for (let k = 0; k < 3; k++) {
        for await (const c of reader.stream(p, new Date(), 10)) {
          assert.equal(c.rows.length, 10);
          break;
        }
      }
      assert.equal(await reader.countItems(), N);
      assert.equal((await reader.query({ ...p, limit: 3 })).rows.length, 3);
    } finally {
      await reader.close();
    }
  });
});

describe('bounded memory', () => {
  test('the export never queues more than about one chunk in the output, whatever the row count', async () => {
    const sink = new SlowSink();
    const code = await runQuery(['--db', db, '--all', '--format', 'json'], sink, new SlowSink());
    assert.equal(code, 0);
    // ~350 bytes a row: the whole export is ~1.7 MB, one chunk ~175 KB.
    assert.ok(sink.bytes > 1_500_000, `exported ${sink.bytes} bytes`);
    const oneChunk = (sink.bytes / N) * EXPORT_CHUNK_ROWS;
    assert.ok(sink.maxBuffered <= oneChunk * 1.5 + 16 * 1024, `at most ~one chunk buffered (max ${sink.maxBuffered} bytes, a chunk ~${Math.round(oneChunk)})`);
  });

  test('BackpressureWriter waits for drain and reports a closed reader', async () => {
    const sink = new SlowSink();
    const w = new BackpressureWriter(sink);
    for (let i = 0; i < 20; i++) await w.write('x'.repeat(20_000));
    await w.flush();
    assert.equal(sink.bytes, 400_000);
    assert.ok(sink.maxBuffered <= 20_000, `one write buffered at a time (max ${sink.maxBuffered})`);
    sink.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await assert.rejects(
      (async () => {
        await w.write('y');
        await w.write('y');
      })(),
      (e: unknown) => (e as { code?: string }).code === 'EPIPE' || (e as { code?: string }).code === 'ERR_STREAM_DESTROYED',
    );
  });
});
