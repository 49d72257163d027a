/**
 * Child process for lease.test.ts: acquires one lease (args: NATS url, key, holder, ttl ms),
 * prints "held" once it has it, and renews it until killed.
 */
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Lease } from '../../src/cluster/lease.js';
import { createLogger } from '../../src/lib/log.js';
import { LEASE_BUCKET } from '../../src/cluster/topology.js';

const [url, key, holder, ttl] = process.argv.slice(2);
const nc = await connect({ servers: url });
const kv = await new Kvm(nc).create(LEASE_BUCKET, { ttl: Number(ttl), history: 1 });
const lease = new Lease(kv, key, holder, { ttlMs: Number(ttl), renewMs: Math.floor(Number(ttl) / 4), log: createLogger({ level: 'silent' }) });
for (;;) {
  if (await lease.tryAcquire()) break;
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write('held\n');
setInterval(() => undefined, 1 << 30);
