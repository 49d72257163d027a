/**
 * One daemon per database (src/store/daemonLock.ts): a second `start` on a database in use is
 * refused (exit 2, one plain line naming the holder), readers still work beside the daemon, and
 * a daemon killed with SIGKILL leaves no lock behind that blocks the next start.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDaemonLock } from '../../src/store/daemonLock.js';
import { CLI, startDaemonProcess, stopDaemon } from '../daemon/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'tp.db');
const config = join(dir, 'config.yaml');
writeFileSync(config, 'sources: []\n');

test('in one process: a second lock on the same database is refused with DB_IN_USE, and released locks can be taken again', () => {
  const file = join(dir, 'inproc.db');
  const first = acquireDaemonLock(file);
  try {
    assert.throws(() => acquireDaemonLock(file), (e: { code?: string; message?: string }) => e.code === 'DB_IN_USE' && /in use by another tickerpulse daemon/.test(e.message ?? ''));
  } finally {
    first.release();
  }
  acquireDaemonLock(file).release();
});

test('a second daemon on the same database exits 2 with one line; query works beside the first; SIGKILL leaves no stale lock', async () => {
  const first = await startDaemonProcess(['--config', config, '--db', db]);
  try {
    const second = spawnSync(process.execPath, [CLI, 'start', '--config', config, '--db', db, '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(second.status, 2, second.stderr);
    const lines = second.stderr.trim().split('\n');
    assert.equal(lines.length, 1, second.stderr);
    assert.match(lines[0], new RegExp(`^tickerpulse: database .*tp\\.db is in use by another tickerpulse daemon \\(pid ${first.child.pid} `));
    assert.match(lines[0], /Stop that daemon first/);

    const q = spawnSync(process.execPath, [CLI, 'query', '--db', db, '--format', 'json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(q.status, 0, q.stderr);
  } finally {
    first.child.kill('SIGKILL');
    await first.exited;
  }
  // The OS released the lock with the process: the lock file is still there, and irrelevant.
  const third = await startDaemonProcess(['--config', config, '--db', db]);
  const { code } = await stopDaemon(third);
  assert.equal(code, 0);
});
