import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../daemon/harness.js';

function classify(args: string[], input?: string) {
  return spawnSync(process.execPath, [CLI, 'classify', ...args], { input, encoding: 'utf8', timeout: 60_000 });
}

test('plain text from stdin → one JSON object per line with label and probabilities', () => {
  const r = classify([], 'Operating profit rose to EUR 13.1 mn from EUR 8.7 mn\n');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const o = JSON.parse(lines[0]);
  assert.equal(o.text, 'Operating profit rose to EUR 13.1 mn from EUR 8.7 mn');
  assert.ok(['negative', 'neutral', 'positive'].includes(o.label));
  assert.ok(Math.abs(o.pNeg + o.pNeu + o.pPos - 1) < 1e-4);
  assert.ok(Math.abs(o.score - (o.pPos - o.pNeg)) < 1e-5);
});

test('keeps input order across many batches and passes extra JSONL fields through', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-classify-'));
  const file = join(dir, 'in.jsonl');
  const n = 1000;
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: i, text: i % 2 ? `Shares of Acme jump ${i % 50}% after record quarter` : `Acme warns of weaker demand, cuts ${i} jobs`, extra: { k: i } }),
  );
  writeFileSync(file, lines.join('\n') + '\n');
  const r = classify(['--batch', '7', file]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, n);
  out.forEach((o, i) => {
    assert.equal(o.id, i);
    assert.deepEqual(o.extra, { k: i });
    assert.ok(o.label);
  });
});

test('mixed plain and JSON lines from files and stdin, invalid JSON reported in place', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-classify-'));
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'Regulator fines bank $2 billion\n{"text": "Profit warning sends stock lower", "src": "x"}\n{broken\n');
  const r = classify([file, '-'], 'Company names new CEO\n');
  assert.equal(r.status, 1, 'invalid lines make the exit code 1');
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 4);
  assert.equal(out[0].text, 'Regulator fines bank $2 billion');
  assert.equal(out[1].src, 'x');
  assert.equal(out[2].line, 3);
  assert.equal(out[2].error.code, 'INPUT_INVALID');
  assert.equal(out[3].text, 'Company names new CEO');
});

test('--format table prints a readable table', () => {
  const r = classify(['--format', 'table'], 'Net loss narrowed sharply\nShares plunge after fraud charges\n');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^LABEL\s+SCORE\s+TEXT/);
  assert.equal(lines.length, 3);
  assert.match(lines[2], /^(negative|neutral|positive)\s+[+-]\d\.\d{3}\s+Shares plunge/);
});

test('a missing model gives MODEL_LOAD_FAILED naming the path', () => {
  const r = classify(['--model', '/nonexistent/model-dir'], 'hello\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /MODEL_LOAD_FAILED/);
  assert.match(r.stderr, /\/nonexistent\/model-dir/);
});

test('a binary file is refused before anything is classified: INPUT_INVALID naming it, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-classify-'));
  // An executable's shape: a header with NUL bytes, then code bytes, some of which look like newlines.
  const exe = join(dir, 'prog');
  const bytes = Buffer.alloc(20_000);
  let x = 12345;
  for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  Buffer.from('\x7fELF\x02\x01\x01\x00\x00\x00', 'latin1').copy(bytes);
  writeFileSync(exe, bytes);
  let r = classify([exe]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '', 'no result printed');
  assert.match(r.stderr, /INPUT_INVALID/);
  assert.ok(r.stderr.includes(exe), r.stderr);
  assert.match(r.stderr, /NUL bytes/);

  // Without NUL bytes, but mostly not UTF-8 (compressed or random data), on stdin.
  const noisy = Buffer.from(bytes.map((b) => b | 0x80));
  r = spawnSync(process.execPath, [CLI, 'classify'], { input: noisy, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /INPUT_INVALID: standard input is not text \(\d+% of its first \d+ bytes are not valid UTF-8\)/);

  // Text whose tail is binary (past the bytes inspected up front): refused when reached.
  const tail = join(dir, 'tail.txt');
  writeFileSync(tail, Buffer.concat([Buffer.from('Acme beats profit forecast\n'.repeat(5000)), bytes]));
  r = classify([tail]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /INPUT_INVALID: .*tail\.txt is not text \(it contains NUL bytes\)/);
});

test('text in a legacy encoding is not binary: a few undecodable bytes are classified as U+FFFD', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-classify-'));
  const file = join(dir, 'latin1.txt');
  writeFileSync(file, Buffer.from('Soci\u00e9t\u00e9 G\u00e9n\u00e9rale beats profit forecast\nNestl\u00e9 cuts guidance\n', 'latin1'));
  const r = classify([file]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 2);
  assert.equal(out[1].text, 'Nestl\ufffd cuts guidance');
});
