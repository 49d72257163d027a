/**
 * jsonl `follow: true` (tail -F: appends, truncation, rotation, an in-place rewrite, a file that
 * appears later, resume) and `path: "-"` (standard input, here an injected stream).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { PollResult } from '../../src/lib/types.js';
import { jsonlSource } from '../../sources/jsonl.js';
import type { JsonlSourceConfig } from '../../sources/types.js';
import { collect, makeCtx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tickerpulse-follow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function lines(from: number, n: number, prefix = 'f'): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += JSON.stringify({ id: `${prefix}${i}`, title: `Followed headline ${prefix} ${i}`, publishedAt: 1_700_000_000 + i }) + '\n';
  return s;
}

const guids = (rs: PollResult[]) => rs.flatMap((r) => r.items.map((i) => i.guid));
const range = (from: number, n: number, prefix = 'f') => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(5)) if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
}

function follow(path: string, over: Partial<JsonlSourceConfig> = {}, state: Parameters<typeof makeCtx>[0] = {}) {
  const { ctx, ac } = makeCtx(state);
  let completed = false;
  const run = collect(jsonlSource({ id: 'tail', path, follow: true, pollIntervalMs: 25, ...over }, ctx), ac);
  void run.completed.then(() => (completed = true));
  return { run, isCompleted: () => completed };
}

describe('jsonl follow', () => {
  it('emits what is there, then new lines as they are appended; a line waits for its newline; never completes by itself', async () => {
    const path = join(dir, 'append.jsonl');
    writeFileSync(path, lines(0, 3));
    const { run, isCompleted } = follow(path);
    await until('the first 3', () => guids(run.results).length === 3);
    appendFileSync(path, lines(3, 2));
    await until('2 appended', () => guids(run.results).length === 5);
    // Half a line: nothing until it is complete.
    const next = lines(5, 1);
    appendFileSync(path, next.slice(0, 20));
    await sleep(120);
    assert.equal(guids(run.results).length, 5);
    appendFileSync(path, next.slice(20));
    await until('the completed line', () => guids(run.results).length === 6);
    assert.equal(isCompleted(), false);
    await run.stop();
    assert.deepEqual(guids(run.results), range(0, 6));
    const size = Buffer.byteLength(lines(0, 6));
    assert.match(run.results.at(-1)!.state.cursor!, new RegExp(`^v1:${size}:`));
    assert.ok(run.results.every((r) => !r.error));
  });

  it('truncation: a file smaller than the read offset is read again from byte 0', async () => {
    const path = join(dir, 'trunc.jsonl');
    writeFileSync(path, lines(0, 5));
    const { run } = follow(path);
    await until('5 items', () => guids(run.results).length === 5);
    truncateSync(path, 0);
    await sleep(80);
    appendFileSync(path, lines(100, 2));
    await until('the new content', () => guids(run.results).length === 7);
    await run.stop();
    assert.deepEqual(guids(run.results), [...range(0, 5), ...range(100, 2)]);
    assert.match(run.results.at(-1)!.state.cursor!, new RegExp(`^v1:${Buffer.byteLength(lines(100, 2))}:`));
  });

  it('an in-place rewrite (same inode, larger than before, different head) also starts over', async () => {
    const path = join(dir, 'rewrite.jsonl');
    writeFileSync(path, lines(0, 2));
    const { run } = follow(path, { pollIntervalMs: 60 });
    await until('2 items', () => guids(run.results).length === 2);
    writeFileSync(path, lines(50, 4, 'r')); // O_TRUNC + write between two polls
    await until('the rewritten content', () => guids(run.results).length === 6);
    await run.stop();
    assert.deepEqual(guids(run.results), [...range(0, 2), ...range(50, 4, 'r')]);
  });

  it('rotation: the old file is read to its end, then the new file from the start', async () => {
    const path = join(dir, 'rotate.jsonl');
    writeFileSync(path, lines(0, 3));
    const { run } = follow(path, { pollIntervalMs: 40 });
    await until('3 items', () => guids(run.results).length === 3);
    renameSync(path, path + '.1');
    // The writer still appends to the old file (incl. a last line without newline) before reopening.
    appendFileSync(path + '.1', lines(3, 2) + lines(5, 1).trimEnd());
    writeFileSync(path, lines(0, 2, 'new'));
    await until('the new file', () => guids(run.results).length === 8);
    appendFileSync(path, lines(2, 1, 'new'));
    await until('appended to the new file', () => guids(run.results).length === 9);
    await run.stop();
    assert.deepEqual(guids(run.results), [...range(0, 6), ...range(0, 3, 'new')]);
    assert.match(run.results.at(-1)!.state.cursor!, new RegExp(`^v1:${Buffer.byteLength(lines(0, 3, 'new'))}:`));
  });

  it('a file that does not exist yet is reported once (SOURCE_FAILED), then read when it appears', async () => {
    const path = join(dir, 'later.jsonl');
    const { run } = follow(path);
    await until('the failure', () => run.results.length === 1);
    assert.equal(run.results[0].error?.code, 'SOURCE_FAILED');
    await sleep(100);
    assert.equal(run.results.length, 1, 'reported once, not once per poll');
    writeFileSync(path, lines(0, 2));
    await until('the items', () => guids(run.results).length === 2);
    await run.stop();
    assert.equal(run.results.at(-1)!.state.consecutiveErrors, 0);
  });

  it('resumes from a persisted cursor, then keeps following', async () => {
    const path = join(dir, 'resume.jsonl');
    writeFileSync(path, lines(0, 4));
    const first = follow(path);
    await until('4 items', () => guids(first.run.results).length === 4);
    await first.run.stop();
    const cursor = first.run.results.at(-1)!.state.cursor!;
    appendFileSync(path, lines(4, 1));
    const second = follow(path, {}, { state: { cursor } });
    await until('the line appended while stopped', () => guids(second.run.results).length === 1);
    appendFileSync(path, lines(5, 1));
    await until('a line appended while following', () => guids(second.run.results).length === 2);
    await second.run.stop();
    assert.deepEqual(guids(second.run.results), ['f4', 'f5']);
  });
});

describe('jsonl stdin ("-")', () => {
  it('reads lines as they come (split across writes), flushes when idle, completes at EOF without a cursor', async () => {
    const stdin = new PassThrough();
    const { ctx, ac } = makeCtx({ state: { cursor: 'v1:999:0:' + '0'.repeat(40) } });
    const run = collect(jsonlSource({ id: 'in', path: '-', stdin, chunkSize: 100, pollIntervalMs: 40 }, ctx), ac);
    const text = lines(0, 3, 's');
    stdin.write(text.slice(0, 30));
    stdin.write(text.slice(30));
    await until('an idle flush before chunkSize is reached', () => guids(run.results).length === 3);
    stdin.write(lines(3, 2, 's') + lines(5, 1, 's').trimEnd());
    stdin.end();
    await run.completed;
    assert.deepEqual(guids(run.results), range(0, 6, 's'));
    assert.ok(run.results.every((r) => r.state.cursor === undefined), 'stdin has no resume cursor');
    assert.ok(run.results.every((r) => !r.error));
  });

  it('with follow, EOF does not complete the source; shutdown does', async () => {
    const stdin = new PassThrough();
    const { ctx, ac } = makeCtx();
    let completed = false;
    const run = collect(jsonlSource({ id: 'in', path: '-', stdin, follow: true, pollIntervalMs: 20 }, ctx), ac);
    void run.completed.then(() => (completed = true));
    stdin.end(lines(0, 2, 's'));
    await until('the items', () => guids(run.results).length === 2);
    await sleep(100);
    assert.equal(completed, false);
    await run.stop();
    assert.equal(completed, true);
  });

  it('bad lines on stdin are counted like in files', async () => {
    const stdin = new PassThrough();
    const { ctx, ac } = makeCtx();
    const run = collect(jsonlSource({ id: 'in', path: '-', stdin, pollIntervalMs: 20 }, ctx), ac);
    stdin.end(lines(0, 1, 's') + '{oops\n' + lines(1, 1, 's'));
    await run.completed;
    assert.deepEqual(guids(run.results), ['s0', 's1']);
    const bad = run.results.find((r) => r.error);
    assert.equal(bad?.error?.code, 'INPUT_INVALID');
    assert.match(bad!.error!.message, /line 2: invalid JSON/);
  });
});
