/** `tickerpulse start` refuses settings the user must change with exit 2 and one plain line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
