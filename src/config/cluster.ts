/**
 * The `cluster` config key (docs/CLUSTER.md): the NATS servers this node joins and the node's id,
 * plus every limit the cluster roles (src/cluster/) enforce. No `cluster` key: the single-node
 * daemon, unchanged. configSchema embeds it as `cluster: clusterConfigSchema.optional()`.
 *
 * This module does not import ./schema.ts (which imports it): the shared value grammars are in
 * ./units.ts.
 */
import { z } from 'zod';
import { duration } from './units.js';

/** nats://host:port, tls://host:port or host:port (what the NATS client accepts). */
const natsServer = z
  .string()
  .min(1)
  .max(512)
  .refine((s) => {
    try {
      const u = new URL(s.includes('://') ? s : `nats://${s}`);
      return ['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol) && u.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'must be a NATS server like nats://10.0.0.5:4222 or 127.0.0.1:4222');

export const clusterConfigSchema = z
  .object({
    nats: z
      .object({
        servers: z.array(natsServer).min(1, 'give at least one NATS server').max(64),
        /** First wait between reconnect attempts (the client retries forever: NATS down is an outage, not a crash). */
        reconnectWait: duration('100ms', '1m').default(1000),
        /** Deadline of one JetStream / KV request (publish ack, lease create/update). */
        requestTimeout: duration('100ms', '1m').default(5000),
      })
      .strict(),
    /** This node's id: unique in the cluster, shown in leases and /healthz. */
    node: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit'),
    lease: z
      .object({
        /**
         * A lease not renewed for this long expires (NATS KV bucket TTL): a dead node's sources
         * and a dead writer are taken over after at most ttl + renewInterval.
         */
        ttl: duration('1s', '5m').default(10_000),
        /** How often a held lease is renewed and free ones are tried. */
        renewInterval: duration('100ms', '1m').default(2500),
      })
      .strict()
      .prefault({}),
    stream: z
      .object({
        /** JetStream stream holding ItemBatches not yet committed; full → publishers wait (discard new, never drop). */
        maxBytes: z.number().int().min(1 << 20).max(2 ** 50).default(1 << 30),
        /** JetStream duplicate window: a re-published batch (same Nats-Msg-Id) within it is dropped. */
        duplicateWindow: duration('1s', '1d').default(120_000),
        replicas: z.number().int().min(1).max(5).default(1),
      })
      .strict()
      .prefault({}),
    publish: z
      .object({
        /** ItemBatches a poll node has published and not yet had acknowledged by JetStream, all sources together. */
        maxInFlight: z.number().int().min(1).max(10_000).default(32),
        /** First wait before re-publishing after a failed publish; doubles up to maxRetryDelay. */
        retryDelay: duration('10ms', '1m').default(250),
        maxRetryDelay: duration('100ms', '5m').default(5000),
        /**
         * How long a new owner waits for its source's batches still in the stream to be committed
         * before it reads the source's stored state (the old owner's last ETag / cursor).
         */
        handoverWait: duration('0ms', '10m').default(30_000),
      })
      .strict()
      .prefault({}),
    writer: z
      .object({
        /** A batch delivered to a writer and not acknowledged within this is redelivered. */
        ackWait: duration('1s', '10m').default(30_000),
        /** Batches delivered and not yet acknowledged, at most (JetStream max_ack_pending). */
        maxAckPending: z.number().int().min(1).max(10_000).default(64),
        /** Batches fetched per pull request (and so commits queued on the writer thread at most). */
        fetchBatch: z.number().int().min(1).max(1000).default(8),
      })
      .strict()
      .prefault({}),
    serve: z
      .object({
        /** How often a serve node checks the store for items whose StoredBatch it never got (then sends them). */
        catchUpInterval: duration('50ms', '1m').default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.lease.renewInterval * 2 > c.lease.ttl) {
      ctx.addIssue({ code: 'custom', path: ['lease', 'renewInterval'], message: `must be at most half of lease.ttl (${c.lease.ttl} ms), so one lost renewal does not lose the lease` });
    }
    if (c.publish.retryDelay > c.publish.maxRetryDelay) {
      ctx.addIssue({ code: 'custom', path: ['publish', 'retryDelay'], message: 'must not exceed publish.maxRetryDelay' });
    }
  });

export type ClusterConfig = z.output<typeof clusterConfigSchema>;
