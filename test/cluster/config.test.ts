import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { parseRoles } from '../../src/cluster/roles.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { CLI } from '../daemon/harness.js';

const issuesOf = (raw: unknown): string[] => {
  try {
    resolveConfig(raw);
  } catch (err) {
    assert.ok(err instanceof TickerpulseError && err.code === 'CONFIG_INVALID');
    return (err.details!.issues as Array<{ path: string }>).map((i) => i.path);
  }
  return [];
};

test('cluster config: defaults for every limit; absent means single node', () => {
  assert.equal(resolveConfig({}).cluster, undefined);
  const c = resolveConfig({ cluster: { nats: { servers: ['nats://127.0.0.1:4222'] }, node: 'poll-1' } }).cluster!;
  assert.equal(c.lease.ttl, 10_000);
  assert.ok(c.lease.ttl + c.lease.renewInterval <= 15_000, 'takeover within 15 s by default');
  assert.equal(c.writer.ackWait, 30_000);
  assert.equal(c.publish.maxInFlight, 32);
  assert.equal(c.stream.duplicateWindow, 120_000);
});

test('cluster config: every problem reported together, with its path', () => {
  const paths = issuesOf({
    cluster: { nats: { servers: ['http://x:1'] }, node: 'Bad Node', lease: { ttl: '4s', renewInterval: '3s' }, writer: { bogus: 1 } },
    limits: { batchSize: 0 },
  });
  for (const p of ['cluster.nats.servers[0]', 'cluster.node', 'cluster.writer', 'limits.batchSize']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  assert.deepEqual(issuesOf({ cluster: { nats: { servers: [] }, node: 'a' } }), ['cluster.nats.servers']);
  assert.deepEqual(issuesOf({ cluster: { nats: { servers: ['127.0.0.1:4222'] }, node: 'a', lease: { ttl: '4s', renewInterval: '3s' } } }), ['cluster.lease.renewInterval']);
});

test('--role: any subset of poll, write, serve; nothing else', () => {
  assert.deepEqual([...parseRoles(undefined)], ['poll', 'write', 'serve']);
  assert.deepEqual([...parseRoles('serve,poll')], ['serve', 'poll']);
  for (const bad of ['', 'poll,', 'reader', 'poll,poll']) assert.throws(() => parseRoles(bad), (e: TickerpulseError) => e.code === 'CONFIG_INVALID');
});

test('start --role other than all without a cluster section exits 2 with one clear line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-role-'));
  const cfg = join(dir, 'c.json');
  writeFileSync(cfg, JSON.stringify({ db: join(dir, 'x.db'), sources: [] }));
  const r = spawnSync(process.execPath, [CLI, 'start', '--config', cfg, '--role', 'poll'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--role poll needs a cluster: section/);
  const bad = spawnSync(process.execPath, [CLI, 'start', '--config', cfg, '--role', 'reader'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /"reader" is not a role/);
});
