/** The new user's first run: `npm start -- --demo --port 0` with no network. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, connectWs, getJson, itemsOf, startDaemonProcess, stopDaemon, waitFor } from './harness.js';

test('--demo: within 10 s items are in the database, on /ws and in `tickerpulse query`', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-demo-'));
  const db = join(dir, 'demo.db');
  // --config with no sources keeps the test offline (the built-in feeds need the internet).
  const started = Date.now();
  const config = join(dir, 'offline.yaml');
  writeFileSync(config, 'sources: []\n');
  const d = await startDaemonProcess(['--demo', '--db', db, '--config', config]);
  try {
    const client = await connectWs(d.port, '?since=0');
    await waitFor('demo items on /ws', () => itemsOf(client).length >= 10, 10_000);
    assert.ok(Date.now() - started < 15_000);
    const labels = new Set(itemsOf(client).map((i) => i.label));
    assert.ok(labels.size >= 2, `demo headlines should not all get one label: ${[...labels]}`);
    const health = await getJson(d.port, '/healthz');
    assert.equal(health.port, d.port);
    assert.ok(health.sources.some((s: { id: string }) => s.id === 'demo'));
    const q = spawnSync(process.execPath, [CLI, 'query', '--db', db, '--source', 'demo', '--format', 'json', '--limit', '5'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(q.status, 0, q.stderr);
    const rows = q.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 5);
    for (const r of rows) assert.equal(r.source, 'demo');
    client.ws.close();
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});

test('--demo without --config: the demo source only, polled every few seconds (no feed floor), new items keep coming', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-demo-only-'));
  const d = await startDaemonProcess(['--demo', '--db', join(dir, 'demo.db')]);
  try {
    const client = await connectWs(d.port, '?since=0');
    const health = await waitFor('the first demo poll done', async () => {
      const h = await getJson(d.port, '/healthz');
      return h.sources[0]?.lastPollAt && h.sources[0]?.nextPollAt ? h : undefined;
    }, 30_000);
    assert.deepEqual(health.sources.map((s: { id: string }) => s.id), ['demo']);
    const s = health.sources[0];
    assert.ok(Date.parse(s.nextPollAt) - Date.parse(s.lastPollAt) < 60_000, `next poll ${s.nextPollAt} after ${s.lastPollAt}: the demo must not be held to a one-minute floor`);
    const first = await waitFor('the initial demo batch', () => itemsOf(client).length || undefined, 30_000);
    await waitFor('items released after the first poll', () => itemsOf(client).length > first, 60_000);
    const warnings = d.logs.filter((l) => typeof l.level === 'number' && l.level >= 40);
    assert.deepEqual(warnings, [], 'the offline demo logs no warnings');
    client.ws.close();
  } finally {
    assert.equal((await stopDaemon(d)).code, 0);
  }
});
