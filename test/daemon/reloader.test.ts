/**
 * Reloads are serialized (src/daemon/reload.ts): a request while one runs queues exactly one
 * more, requests during the shutdown are ignored, and an invalid config changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/lib/log.js';
import { Reloader } from '../../src/daemon/reload.js';
import { readReloadStatus } from '../../src/daemon/reloadStatus.js';
import type { SourceSet } from '../../src/daemon/sourceSet.js';

const log = createLogger({ level: 'silent', pretty: false });
const rss = (id: string) => ({ id, kind: 'rss', url: `https://news.example.com/${id}.xml` });
const cfg = (ids: string[]): Config => resolveConfig({ db: '/tmp/tp-reloader.db', sources: ids.map(rss) });

/** A SourceSet whose stops wait until the test lets them finish; records what ran, and overlaps. */
function fakeSources() {
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  const gates: Array<() => void> = [];
  const sources = {
    async stop(id: string) {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(`stop ${id}`);
      await new Promise<void>((r) => gates.push(r));
      active--;
      return true;
    },
    async start(sc: { id: string }) {
      calls.push(`start ${sc.id}`);
      return null;
    },
  };
  return { sources: sources as unknown as SourceSet, calls, gates, maxActive: () => maxActive };
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 10_000 && !ok(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(ok(), what);
};

test('a request during a reload queues one more; many collapse into it; they never overlap', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-reloader-'));
  try {
    const f = fakeSources();
    // Each load removes one more source, so each reload has a stop to wait in.
    const configs = [cfg(['a', 'b']), cfg(['b']), cfg([])];
    let loads = 0;
    const outcomes: string[] = [];
    const r = new Reloader({ log, load: () => configs[++loads], config: configs[0], sources: f.sources, extra: [], onOutcome: (o) => outcomes.push(o), statusFile: join(dir, 'status.json'), stopping: () => false });
    r.request();
    await until('the first reload waits in its stop', () => f.gates.length === 1);
    r.request();
    r.request();
    r.request();
    f.gates.shift()!();
    await until('the queued reload waits in its stop', () => f.gates.length === 1);
    f.gates.shift()!();
    await r.settled();
    assert.equal(loads, 2, 'one reload, then exactly one queued behind it');
    assert.deepEqual(f.calls, ['stop a', 'stop b']);
    assert.equal(f.maxActive(), 1);
    assert.deepEqual(outcomes, ['ok', 'ok']);
    assert.deepEqual(r.config.sources, []);
    const status = readReloadStatus(join(dir, 'status.json'));
    assert.deepEqual({ pid: status?.pid, outcome: status?.outcome, removed: status?.removed }, { pid: process.pid, outcome: 'ok', removed: ['b'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('during the shutdown a request is ignored, and a queued one does not run', async () => {
  const f = fakeSources();
  let stopping = false;
  let loads = 0;
  const r = new Reloader({ log, load: () => (loads++, cfg([])), config: cfg(['a']), sources: f.sources, extra: [], onOutcome: () => undefined, statusFile: null, stopping: () => stopping });
  r.request();
  await until('the reload waits in its stop', () => f.gates.length === 1);
  r.request(); // queued
  stopping = true;
  r.request(); // ignored
  f.gates.shift()!();
  await r.settled();
  assert.equal(loads, 1);
  r.request();
  await r.settled();
  assert.equal(loads, 1);
});

test('an invalid config: outcome invalid with every problem, nothing stopped or started, the running config kept', async () => {
  const f = fakeSources();
  const running = cfg(['a']);
  const outcomes: string[] = [];
  const r = new Reloader({
    log,
    load: () => resolveConfig({ sources: [{ id: 'a', kind: 'rss', url: 'nope' }, { id: 'b', kind: 'gopher' }], limits: { batchSize: 0 } }, { file: 'reload.yaml' }),
    config: running,
    sources: f.sources,
    extra: [],
    onOutcome: (o) => outcomes.push(o),
    statusFile: null,
    stopping: () => false,
  });
  r.request();
  await r.settled();
  assert.deepEqual(outcomes, ['invalid']);
  assert.deepEqual(f.calls, []);
  assert.equal(r.config, running);
  assert.deepEqual(r.last?.issues.map((i) => i.path).sort(), ['limits.batchSize', 'sources[0].url', 'sources[1].kind']);
});
