import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { PollResult, SourceState } from '../../src/lib/types.js';
import { jsonlSource, parseJsonlLine } from '../../sources/jsonl.js';
import { parseJsonlLines } from '../../workers/jsonlLines.js';
import type { SourceContext } from '../../sources/types.js';
import { parseFeedDocument } from '../../workers/feedParser.js';

const dir = mkdtempSync(join(tmpdir(), 'tickerpulse-jsonl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const silent = pino({ level: 'silent' });

function makeCtx(state: Partial<SourceState> | null = null, waitForRoom: () => Promise<void> = async () => {}): { ctx: SourceContext; ac: AbortController } {
  const ac = new AbortController();
  const full = state ? { lastPollAt: null, nextPollAt: null, etag: null, lastModified: null, consecutiveErrors: 0, lastError: null, cursor: null, ...state } : null;
  return { ac, ctx: { log: silent, signal: ac.signal, state: full, parseFeed: parseFeedDocument, waitForRoom } };
}

function lines(n: number, from = 0): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += JSON.stringify({ id: `n${i}`, title: `Headline number ${i}`, publishedAt: 1_700_000_000_000 + i * 60_000 }) + '\n';
  return s;
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function runAll(path: string, ctx: SourceContext, chunkSize?: number): Promise<PollResult[]> {
  return new Promise((resolve, reject) => {
    const out: PollResult[] = [];
    jsonlSource({ id: 'replay', path, chunkSize }, ctx).subscribe({ next: (r) => out.push(r), error: reject, complete: () => resolve(out) });
  });
}

describe('jsonlSource', () => {
  it('emits chunks of chunkSize with byte-offset cursors, then completes', async () => {
    const content = lines(25);
    const path = file('chunks.jsonl', content);
    const { ctx } = makeCtx();
    const results = await runAll(path, ctx, 10);
    assert.deepEqual(
      results.map((r) => r.items.length),
      [10, 10, 5],
    );
    assert.ok(results.every((r) => r.sourceId === 'replay' && !r.error));
    const all = results.flatMap((r) => r.items);
    assert.equal(all[0].guid, 'n0');
    assert.equal(all[0].title, 'Headline number 0');
    assert.equal(all[0].publishedAt, new Date(1_700_000_000_000).toISOString());
    assert.equal(all[24].guid, 'n24');
    // cursor = offset after the chunk's last line
    const offsetAfter = (k: number) => Buffer.byteLength(content.split('\n').slice(0, k).join('\n') + '\n');
    assert.match(results[0].state.cursor!, new RegExp(`^v1:${offsetAfter(10)}:`));
    assert.match(results[2].state.cursor!, new RegExp(`^v1:${Buffer.byteLength(content)}:`));
  });

  it('resumes from a persisted cursor, and starts over when the file changed', async () => {
    const path = file('resume.jsonl', lines(30));
    const first = await runAll(path, makeCtx().ctx, 10);
    const cursor = first[1].state.cursor!; // after 20 lines

    const resumed = await runAll(path, makeCtx({ cursor }).ctx, 10);
    assert.deepEqual(resumed.flatMap((r) => r.items.map((i) => i.guid)), Array.from({ length: 10 }, (_, i) => `n${20 + i}`));
    // A source with no stored state, and lines after the committed cursor: nothing can be stored
    // yet, so the pipeline may skip its known-guid lookup.
    assert.ok(first.every((r) => r.newSinceCursor === true));
    assert.ok(resumed.every((r) => r.newSinceCursor === true));
    // Stored state without a cursor (e.g. the path was changed): the lookup stays.
    assert.ok((await runAll(path, makeCtx({ consecutiveErrors: 0 }).ctx, 10)).every((r) => r.newSinceCursor === undefined));

    // Appending keeps the cursor valid.
    appendFileSync(path, lines(5, 30));
    const afterAppend = await runAll(path, makeCtx({ cursor: resumed.at(-1)!.state.cursor }).ctx, 10);
    assert.deepEqual(afterAppend.flatMap((r) => r.items.map((i) => i.guid)), ['n30', 'n31', 'n32', 'n33', 'n34']);

    // At the end: nothing new, no emission.
    assert.deepEqual(await runAll(path, makeCtx({ cursor: afterAppend.at(-1)!.state.cursor }).ctx, 10), []);

    // The file shrank: start over.
    writeFileSync(path, lines(3, 100));
    const shrunk = await runAll(path, makeCtx({ cursor }).ctx, 10);
    assert.deepEqual(shrunk.flatMap((r) => r.items.map((i) => i.guid)), ['n100', 'n101', 'n102']);
    assert.ok(shrunk.every((r) => r.newSinceCursor === undefined), 're-read content keeps the known-guid lookup');

    // Same size, different content: start over.
    writeFileSync(path, lines(30).replace(/"n0"/, '"z0"'));
    const changed = await runAll(path, makeCtx({ cursor }).ctx, 100);
    assert.equal(changed.flatMap((r) => r.items).length, 30);

    // Unreadable cursor: start over.
    const junk = await runAll(path, makeCtx({ cursor: 'garbage' }).ctx, 100);
    assert.equal(junk.flatMap((r) => r.items).length, 30);
  });

  it('a last line without newline, later extended, is not re-read as a broken line', async () => {
    const path = file('partial.jsonl', lines(2) + '{"id":"p","title":"partial"}');
    const first = await runAll(path, makeCtx().ctx);
    assert.deepEqual(first.flatMap((r) => r.items.map((i) => i.guid)), ['n0', 'n1', 'p']);
    appendFileSync(path, ' \n' + lines(1, 10));
    const next = await runAll(path, makeCtx({ cursor: first.at(-1)!.state.cursor }).ctx);
    assert.deepEqual(next.flatMap((r) => r.items.map((i) => i.guid)), ['n10']);
    assert.ok(next.every((r) => !r.error));
  });

  it('counts bad lines, reports them per chunk and keeps going', async () => {
    const content =
      lines(2) +
      '{not json\n' +
      '\n' +
      JSON.stringify({ id: 'x', summary: 'no title' }) +
      '\n' +
      '[1,2,3]\n' +
      JSON.stringify({ text: 'Text instead of a title', url: 'https://ex.com/a?utm_source=t#f' }) +
      '\r\n' +
      lines(2, 2).trimEnd(); // last line without newline
    const path = file('bad.jsonl', content);
    const results = await runAll(path, makeCtx().ctx, 4);
    const all = results.flatMap((r) => r.items);
    assert.deepEqual(
      all.map((i) => i.guid),
      ['n0', 'n1', 'https://ex.com/a', 'n2', 'n3'],
    );
    const bad = results.filter((r) => r.error);
    assert.ok(bad.length >= 1);
    assert.ok(bad.every((r) => r.error!.code === 'INPUT_INVALID' && r.state.lastError === 'INPUT_INVALID'));
    const total = bad.reduce((n, r) => n + Number(/^(\d+) invalid/.exec(r.error!.message)![1]), 0);
    assert.equal(total, 3);
    assert.match(bad[0].error!.message, /line 3/);
    assert.equal(all[2].title, 'Text instead of a title');
    assert.equal(all[2].dateMissing, true);
    assert.match(results.at(-1)!.state.cursor!, new RegExp(`^v1:${Buffer.byteLength(content)}:`));
  });

  it('waitForRoom blocks emissions until released', async () => {
    const path = file('room.jsonl', lines(50));
    let gates: (() => void)[] = [];
    const { ctx } = makeCtx(null, () => new Promise<void>((r) => gates.push(r)));
    const out: PollResult[] = [];
    let done = false;
    jsonlSource({ id: 'r', path, chunkSize: 10 }, ctx).subscribe({ next: (r) => out.push(r), complete: () => (done = true) });
    const until = async (cond: () => boolean, what: string) => {
      for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 5))) {
        if (Date.now() - t0 > 5000) assert.fail(`timed out waiting for ${what}`);
      }
    };

    await until(() => gates.length === 1, 'the first waitForRoom');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(out.length, 0, 'nothing emitted while the queue is full');
    assert.equal(gates.length, 1, 'the source waits for room once, then pauses');
    for (let k = 1; k <= 5; k++) {
      const g = gates;
      gates = [];
      g.forEach((f) => f());
      await until(() => out.length === k && (k === 5 ? done : gates.length === 1), `emission ${k}`);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(out.length, k, 'one emission per released wait');
    }
    assert.equal(done, true);
  });

  it('abort stops the replay and completes', async () => {
    const path = file('abort.jsonl', lines(100));
    let calls = 0;
    const { ctx, ac } = makeCtx(null, () => {
      calls++;
      return calls === 1 ? Promise.resolve() : new Promise<void>(() => {});
    });
    const out: PollResult[] = [];
    await new Promise<void>((resolve) => {
      jsonlSource({ id: 'a', path, chunkSize: 10 }, ctx).subscribe({ next: (r) => out.push(r), complete: resolve });
      setTimeout(() => ac.abort(), 50);
    });
    assert.equal(out.length, 1);
  });

  it('a missing file is one SOURCE_FAILED result, then completion', async () => {
    const results = await runAll(join(dir, 'nope.jsonl'), makeCtx().ctx);
    assert.equal(results.length, 1);
    assert.equal(results[0].error?.code, 'SOURCE_FAILED');
    assert.match(results[0].error!.message, /ENOENT/);
  });

  it('a huge file is streamed with bounded chunks (50k lines)', async () => {
    const path = file('big.jsonl', lines(50_000));
    const t0 = Date.now();
    const results = await runAll(path, makeCtx().ctx);
    assert.equal(results.length, 100);
    assert.ok(results.every((r) => r.items.length === 500));
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('an over-long line is skipped without buffering it whole', async () => {
    const path = file('long.jsonl', lines(1) + JSON.stringify({ title: 'x'.repeat(2 * 1024 * 1024) }) + '\n' + lines(1, 1));
    const results = await runAll(path, makeCtx().ctx);
    assert.deepEqual(results.flatMap((r) => r.items.map((i) => i.guid)), ['n0', 'n1']);
    assert.match(results[0].error!.message, /^1 invalid.*longer than/);
  });
});

describe('parseJsonlLine', () => {
  const at = '2026-01-01T00:00:00.000Z';
  it('guid = id → url → sha1(title + publishedAt); dates as ISO or epoch', () => {
    const a = parseJsonlLine('{"id":42,"title":"  Tesla   beats </b> ","publishedAt":"2025-02-03T04:05:06Z"}', at);
    assert.ok(typeof a !== 'string');
    assert.equal(a.guid, '42');
    assert.equal(a.title, 'Tesla beats');
    assert.equal(a.publishedAt, '2025-02-03T04:05:06.000Z');
    const b = parseJsonlLine('{"title":"T","publishedAt":1700000000}', at);
    assert.ok(typeof b !== 'string');
    assert.match(b.guid, /^sha1:[0-9a-f]{40}$/);
    assert.equal(b.publishedAt, '2023-11-14T22:13:20.000Z');
    const c = parseJsonlLine('{"title":"T","publishedAt":1700000000}', '2030-01-01T00:00:00.000Z');
    assert.ok(typeof c !== 'string');
    assert.equal(c.guid, b.guid, 'hash guid does not depend on the read time');
    assert.equal(typeof parseJsonlLine('{"title":""}', at), 'string');
    assert.equal(typeof parseJsonlLine('null', at), 'string');
  });

  it('a placeholder year (0000, 0001: .NET defaults) is no date, not 2000 or 2001', () => {
    for (const publishedAt of ['0000-01-01', '0001-01-01T00:00:00Z', '0099-01-01T00:00:00Z']) {
      const r = parseJsonlLine(JSON.stringify({ title: 'T', publishedAt }), at);
      assert.ok(typeof r !== 'string');
      assert.equal(r.publishedAt, at, publishedAt);
      assert.equal(r.dateMissing, true, publishedAt);
    }
  });
});

describe('parseJsonlLines (the worker half of a jsonl source)', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const task = (texts: (string | Buffer)[], bomFirst = false) => {
    const parts = texts.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t));
    const ends: number[] = [];
    let n = 0;
    for (const p of parts) ends.push((n += p.length));
    return { data: Buffer.concat(parts), ends: Uint32Array.from(ends), bomFirst, fetchedAt: at };
  };

  it('parses each line once, in order, reporting bad and blank lines by index', () => {
    const r = parseJsonlLines(task(['\ufeff{"id":"a","title":"A"}', '   ', '{"id":"b","title":"B"}\r', 'not json', '{"id":"c","text":"C"}'], true));
    assert.deepEqual(r.items.map((i) => [i.guid, i.title]), [['a', 'A'], ['b', 'B'], ['c', 'C']]);
    assert.deepEqual(r.bad.map((b) => b.index), [3]);
    assert.match(r.bad[0].reason, /^invalid JSON/);
    assert.equal(r.blank, 1);
    assert.equal(r.invalidUtf8, 0);
    assert.equal(r.firstInvalidUtf8, -1);
  });

  it('a byte order mark is dropped only before the file\'s first line', () => {
    assert.equal(parseJsonlLines(task(['\ufeff{"title":"A"}'], false)).bad.length, 1);
  });

  it('counts lines that are not valid UTF-8 (kept, with U+FFFD)', () => {
    const latin1 = Buffer.from('{"id":"x","title":"Soci\xe9t\xe9 G\xe9n\xe9rale gains"}', 'latin1');
    const r = parseJsonlLines(task(['{"id":"a","title":"A"}', latin1, latin1]));
    assert.equal(r.invalidUtf8, 2);
    assert.equal(r.firstInvalidUtf8, 1);
    assert.equal(r.items[1].title, 'Soci\ufffdt\ufffd G\ufffdn\ufffdrale gains');
  });
});

describe('jsonlSource with a worker', () => {
  it('hands its lines to ctx.parseJsonlLines a chunk at a time and logs invalid UTF-8 once, with the line number', async () => {
    const latin1 = Buffer.from('{"id":"l","title":"Caf\xe9 chain sales rise"}\n', 'latin1');
    const path = join(dir, 'utf8.jsonl');
    writeFileSync(path, Buffer.concat([Buffer.from(lines(3)), latin1, latin1, Buffer.from(lines(2, 10))]));
    const warnings: { line?: number; lines?: number; msg: string }[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void warnings.push(JSON.parse(s)) });
    const calls: number[] = [];
    const { ctx } = makeCtx();
    ctx.log = log;
    ctx.parseJsonlLines = async (t) => {
      calls.push(t.ends.length);
      return parseJsonlLines(t);
    };
    const results = await runAll(path, ctx, 4);
    assert.deepEqual(calls, [4, 3]);
    assert.deepEqual(results.flatMap((r) => r.items.map((i) => i.guid)), ['n0', 'n1', 'n2', 'l', 'l', 'n10', 'n11'], 'both copies of "l" (deduplicated downstream, by guid)');
    const utf8 = warnings.filter((w) => /not valid UTF-8/.test(w.msg));
    assert.equal(utf8.length, 1, 'logged once per source');
    assert.equal(utf8[0].line, 4);
  });

  it('a failing worker call is parsed in-process instead: no line is lost', async () => {
    const path = file('workerfails.jsonl', lines(7));
    const { ctx } = makeCtx();
    let calls = 0;
    ctx.parseJsonlLines = async () => {
      calls++;
      throw Object.assign(new Error('worker died'), { code: 'WORKER_FAILED' });
    };
    const results = await runAll(path, ctx, 3);
    assert.equal(calls, 3);
    assert.deepEqual(results.flatMap((r) => r.items.map((i) => i.guid)), ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
    assert.match(results[results.length - 1].state.cursor!, new RegExp(`^v1:${Buffer.byteLength(lines(7))}:`));
  });
});
