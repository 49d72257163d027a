import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Lease } from '../../src/cluster/lease.js';
import { LEASE_BUCKET } from '../../src/cluster/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { packageRoot } from '../../src/lib/paths.js';
import { waitFor } from '../daemon/harness.js';
import { SKIP_NO_NATS, startNatsServer, type NatsServer } from './natsServer.js';

const TTL = 3000;
const log = createLogger({ level: 'silent' });
let nats: NatsServer;
let nc: NatsConnection;
let kv: KV;
const leases: Lease[] = [];

async function setup(): Promise<void> {
  if (nc) return;
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  kv = await new Kvm(nc).create(LEASE_BUCKET, { ttl: TTL, history: 1 });
}
after(async () => {
  for (const l of leases) l.abandon();
  await nc?.close();
});

function lease(key: string, holder: string, onLost?: () => void): Lease {
  const l = new Lease(kv, key, holder, { ttlMs: TTL, renewMs: 750, log, onLost });
  leases.push(l);
  return l;
}

test('a lease has one holder: a second node cannot acquire it until it is released', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  const a = lease('source.alpha', 'node-a');
  const b = lease('source.alpha', 'node-b');
  assert.equal(await a.tryAcquire(), true);
  assert.equal(await b.tryAcquire(), false);
  assert.equal(await b.currentHolder(), 'node-a');
  // Renewals keep it past several TTLs: the key never expires while its holder lives.
  await new Promise((r) => setTimeout(r, TTL * 2));
  assert.equal(a.held, true);
  assert.equal(await b.tryAcquire(), false);
  await a.release();
  assert.equal(await b.tryAcquire(), true);
  assert.equal(await b.currentHolder(), 'node-b');
  await b.release();
});

test('two nodes racing for many leases never both hold one', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  const keys = Array.from({ length: 20 }, (_, i) => `source.race-${i}`);
  const pairs = keys.map((k) => [lease(k, 'node-a'), lease(k, 'node-b')] as const);
  const won = await Promise.all(pairs.map(([a, b]) => Promise.all([a.tryAcquire(), b.tryAcquire()])));
  for (const [x, y] of won) assert.equal(Number(x) + Number(y), 1, 'exactly one of the two acquires each lease');
  for (const [a, b] of pairs) {
    await a.release();
    await b.release();
  }
});

test('a holder whose key was taken over loses the lease on its next renewal', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  let lost = 0;
  const a = lease('source.beta', 'node-a', () => lost++);
  assert.equal(await a.tryAcquire(), true);
  // Someone deletes and retakes the key (an operator, or a holder that was partitioned away).
  await kv.delete('source.beta');
  const b = lease('source.beta', 'node-b');
  assert.equal(await b.tryAcquire(), true);
  await waitFor('node-a to notice it lost the lease', () => lost === 1, 20_000);
  assert.equal(a.held, false);
  await b.release();
});

test('kill -9 of the holder: its lease is taken over once the TTL runs out, not before', { skip: SKIP_NO_NATS }, async () => {
  await setup();
  const script = join(packageRoot, 'dist', 'test', 'cluster', 'leaseHolder.js');
  const child = spawn(process.execPath, [script, nats.url, 'source.gamma', 'node-dead', String(TTL)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: child.stdout! });
    await waitFor('the child to hold the lease', async () => (await once(lines, 'line'))[0] === 'held', 20_000);
    const b = lease('source.gamma', 'node-b');
    assert.equal(await b.tryAcquire(), false, 'held by the live child');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    // Right after the kill the key is still the dead node's (TTL not run out yet).
    assert.equal(await b.currentHolder(), 'node-dead');
    await waitFor('node-b to take the lease over', () => b.tryAcquire(), 30_000, 200);
    assert.equal(await b.currentHolder(), 'node-b');
    await b.release();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
