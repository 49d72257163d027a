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
