/** `tickerpulse start` refuses settings the user must change with exit 2 and one plain line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/lib/paths.js';

test('binding to 0.0.0.0 without a token: exit 2, one line naming server.token and TICKERPULSE_TOKEN, nothing listens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-start-'));
  try {
    const env = { ...process.env };
    delete env.TICKERPULSE_TOKEN;
    const r = spawnSync(process.execPath, [join(packageRoot, 'dist', 'src', 'cli', 'main.js'), 'start', '--host', '0.0.0.0', '--port', '0', '--db', join(dir, 'tp.db')], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^tickerpulse: .*server\.token.*TICKERPULSE_TOKEN/);
    assert.doesNotMatch(r.stderr, /"level"|at .*\.js:\d+/); // no JSON log line, no stack trace
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function start(args: string[]) {
  return spawnSync(process.execPath, [join(packageRoot, 'dist', 'src', 'cli', 'main.js'), 'start', '--port', '0', ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('a db path that cannot be a database file: exit 2 at once, CONFIG_INVALID naming the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-start-'));
  try {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a folder');
    // /proc/nope: nothing can be created under /proc (Node's recursive mkdir used to spin on it forever).
    for (const db of ['/proc/nope/x.db', join(file, 'x.db'), dir]) {
      const r = start(['--db', db]);
      assert.equal(r.status, 2, `${db}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^tickerpulse: db: /);
      assert.ok(lines[0].includes(db), lines[0]);
      assert.doesNotMatch(r.stdout, /listening on/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config missing a required field: exit 2, the field named in words', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-start-'));
  try {
    const config = join(dir, 'c.yaml');
    writeFileSync(config, `db: ${join(dir, 'tp.db')}\nsources:\n  - id: news\n    kind: rss\n`);
    const r = start(['--config', config]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /sources\[0\]\.url: required field "url" is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
