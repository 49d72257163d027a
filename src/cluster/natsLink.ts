/**
 * A node's connection to NATS: connect (retrying until the servers answer), create the stream and
 * the lease bucket when they are missing, and track the connection's state for /healthz.
 *
 * The client reconnects forever: NATS being down is an outage the node waits out (leases lapse,
 * publishes retry, the writer stops fetching), never a reason to exit.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { ClusterConfig } from '../config/cluster.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { ITEMS_STREAM, ITEMS_SUBJECTS, LEASE_BUCKET } from './topology.js';

export interface NatsState {
  connected: boolean;
  /** The server currently connected to (null while disconnected). */
  server: string | null;
  reconnects: number;
  /** Last disconnect (ISO time), null if never. */
  lastDisconnectAt: string | null;
}

export interface NatsLink {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly leases: KV;
  state(): NatsState;
  close(): Promise<void>;
}

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

export async function openNatsLink(cfg: ClusterConfig, log: Logger): Promise<NatsLink> {
  log.info({ servers: cfg.nats.servers }, 'connecting to NATS (retrying until a server answers)');
  const nc = await connect({
    servers: cfg.nats.servers,
    name: `tickerpulse-${cfg.node}`,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: cfg.nats.reconnectWait,
    timeout: cfg.nats.requestTimeout,
  });
  const st: NatsState = { connected: true, server: nc.getServer(), reconnects: 0, lastDisconnectAt: null };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        st.connected = false;
        st.server = null;
        st.lastDisconnectAt = new Date().toISOString();
        log.warn({ nats: s.server }, 'NATS disconnected; reconnecting');
      } else if (s.type === 'reconnect') {
        st.connected = true;
        st.server = s.server;
        st.reconnects++;
        log.info({ nats: s.server }, 'NATS reconnected');
      }
    }
  })().catch(() => undefined);
  const jsm = await jetstreamManager(nc, { timeout: cfg.nats.requestTimeout });
  const js = jetstream(nc, { timeout: cfg.nats.requestTimeout });
  await ensureItemsStream(jsm, cfg, log);
  const leases = await openLeaseBucket(js, cfg, nc);
  log.info({ nats: nc.getServer(), node: cfg.node }, 'connected to NATS');
  return {
    nc,
    js,
    jsm,
    leases,
    state: () => ({ ...st }),
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * The lease bucket, created by the first node. Its TTL is what actually expires leases, and each
 * holder times its own deadline with lease.ttl: were the bucket's shorter, a lease could expire
 * while its holder still ran the source, and another node take it. So a bucket whose TTL is not
 * this node's lease.ttl is refused (CONFIG_INVALID) rather than joined.
 */
async function openLeaseBucket(js: JetStreamClient, cfg: ClusterConfig, nc: NatsConnection): Promise<KV> {
  const kvm = new Kvm(js);
  let kv: KV;
  try {
    kv = await kvm.create(LEASE_BUCKET, { ttl: cfg.lease.ttl, history: 1, replicas: cfg.stream.replicas });
  } catch {
    kv = await kvm.open(LEASE_BUCKET);
  }
  const ttl = (await kv.status()).ttl;
  if (ttl !== cfg.lease.ttl) {
    await nc.close();
    throw new TickerpulseError('CONFIG_INVALID', `cluster.lease.ttl is ${cfg.lease.ttl} ms but the cluster's lease bucket ${LEASE_BUCKET} expires leases after ${ttl} ms: every node must use the same lease.ttl (or delete the bucket while the cluster is stopped)`);
  }
  return kv;
}

/**
 * The ItemBatch stream. Workqueue retention: a batch leaves the stream once the writer acks it
 * (after its commit), so the stream holds only what is not yet stored. Discard new at maxBytes:
 * a full stream refuses publishes, which poll nodes retry (their sources pause) — nothing dropped.
 */
async function ensureItemsStream(jsm: JetStreamManager, cfg: ClusterConfig, log: Logger): Promise<void> {
  const want = {
    name: ITEMS_STREAM,
    subjects: [ITEMS_SUBJECTS],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_bytes: cfg.stream.maxBytes,
    duplicate_window: ms(cfg.stream.duplicateWindow),
    num_replicas: cfg.stream.replicas,
  };
  try {
    await jsm.streams.info(ITEMS_STREAM);
  } catch {
    try {
      await jsm.streams.add(want);
      log.info({ stream: ITEMS_STREAM }, 'created the JetStream stream');
    } catch (err) {
      // Another node created it between our two requests.
      await jsm.streams.info(ITEMS_STREAM).catch(() => {
        throw err;
      });
    }
  }
}
