/**
 * The harness's promise to every daemon test (issue 16 item 1): a test that fails while its
 * daemon child runs does not leave it running, and so does not keep `npm test` waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitFor } from './harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a test that fails with its daemon running: the child is killed and the test runner exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-harness-'));
  const harness = pathToFileURL(fileURLToPath(new URL('harness.js', import.meta.url))).href;
  const fixture = join(dir, 'fails.test.mjs');
  writeFileSync(
    fixture,
    `import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { startDaemonProcess } from ${JSON.stringify(harness)};
test('fails before stopping its daemon', async () => {
  const d = await startDaemonProcess(['--db', ${JSON.stringify(join(dir, 'tp.db'))}]);
  writeFileSync(${JSON.stringify(join(dir, 'pid'))}, String(d.child.pid));
  throw new Error('an assertion failed');
});
`,
  );
  const pidFile = join(dir, 'pid');
  // A runner of its own, not a child reporting to this one.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const runner = spawn(process.execPath, ['--test', fixture], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  runner.stdout!.on('data', (b) => (out += b));
  runner.stderr!.on('data', (b) => (out += b));
  const exited = once(runner, 'exit');
  let pid = 0;
  try {
    // The runner holds the fixture's stdout until the file ends, so the pid comes through a file.
    pid = Number(await waitFor('the daemon pid', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8'), 60_000));
    // Without the harness's after() hook the daemon's piped stdout keeps the runner alive: no exit.
    let deadline: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited.then(([c]) => c as number | null),
      new Promise<string>((r) => (deadline = setTimeout(() => r('hung'), 60_000))),
    ]);
    clearTimeout(deadline);
    assert.notEqual(code, 'hung', `the test runner did not exit: ${out}`);
    assert.equal(code, 1, 'the failed test fails the run');
    await waitFor('the daemon child gone', () => !alive(pid), 10_000);
  } finally {
    if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
