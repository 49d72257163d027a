/**
 * The write role: one active writer in the cluster, any number of hot standbys.
 *
 * The active writer holds the `writer` lease. Only then does it open the store's writer stage
 * (so its story and alert state is warmed from what the previous writer committed) and pull
 * ItemBatches from the stream's durable consumer: each batch is committed, its StoredBatch
 * published on tp.stored for the serve nodes, and only then acked. A batch delivered but not
 * acked (the writer died mid-commit) is redelivered after writer.ackWait to whoever is writer
 * then; if it had been committed, the store's (source, guid) uniqueness drops its items, so
 * nothing is stored twice and seq stays gap-free (seq is assigned at commit).
 *
 * Standbys try the lease every renewInterval and take over at most lease.ttl + renewInterval
 * after the active writer stopped renewing. A writer that loses its lease stops fetching at once,
 * lets the commits it started finish and ack, closes its store and becomes a standby.
 *
 * One batch is committed at a time (its stored guids dropped first, see withoutStored), so at most
 * writer.fetchBatch batches are delivered and not yet acked, and never more than
 * writer.maxAckPending.
 *
 * The store away (a retryable failure: PostgreSQL restarting, a cut connection) is waited out,
 * not fatal: the batch stays unacked and is tried again while the lease is held; a store that
 * cannot be opened on takeover (down, or its writer lock still held by the previous writer's
 * session) sends this node back to standby. Any other store failure stops the node.
 */
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Config } from '../config/schema.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { ItemBatch, StoredBatch } from '../lib/messages.js';
import type { StoredAlert } from '../lib/types.js';
import { WebhookDelivery } from '../alerts/webhook.js';
import { toWireAlert } from '../server/wire.js';
import { decodeItemBatch, encodeBatch } from './codec.js';
import { Lease } from './lease.js';
import type { NatsLink } from './natsLink.js';
import type { ClusterWriter, ClusterWriterFactory } from './stores.js';
import { ITEMS_STREAM, STORED_SUBJECT, WRITER_CONSUMER, WRITER_LEASE_KEY } from './topology.js';
import { webhookOptions } from '../daemon/configOptions.js';
import { startRetention, type RetentionTask } from '../daemon/retentionTask.js';

export interface WriteRoleHealth {
  state: 'standby' | 'active' | 'stopping';
  /** Batches committed by this node while active. */
  commits: number;
  items: number;
  redelivered: number;
  /** False while the store fails (commits retried, or it cannot be opened); true after the next success. */
  storeOk: boolean;
}

export interface WriteRole {
  health(): WriteRoleHealth;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startWriteRole(cfg: Config, link: NatsLink, makeWriter: ClusterWriterFactory, log: Logger, onFatal: (err: unknown) => void): Promise<WriteRole> {
  const cl = cfg.cluster!;
  const h: WriteRoleHealth = { state: 'standby', commits: 0, items: 0, redelivered: 0, storeOk: true };
  let stopped = false;
  /** The pull in progress: ended at once when the lease is lost (a pull waits out NATS outages otherwise). */
  let pull: ConsumerMessages | null = null;
  const lease = new Lease(link.leases, WRITER_LEASE_KEY, cl.node, { ttlMs: cl.lease.ttl, renewMs: cl.lease.renewInterval, log, onLost: () => pull?.stop() });
  let active: Promise<void> | null = null;

  async function consumer(): Promise<Consumer> {
    try {
      await link.jsm.consumers.add(ITEMS_STREAM, {
        durable_name: WRITER_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: cl.writer.ackWait * 1_000_000,
        max_ack_pending: cl.writer.maxAckPending,
      });
    } catch {
      // It exists (created by an earlier writer): use it as it is.
    }
    return link.js.consumers.get(ITEMS_STREAM, WRITER_CONSUMER);
  }

  async function runActive(): Promise<void> {
    h.state = 'active';
    log.info('writer lease acquired: this node is the active writer');
    let writer: ClusterWriter | null = null;
    let retention: RetentionTask | null = null;
    const webhook = startWebhook(cfg, () => writer, log.child({ component: 'alerts' }));
    try {
      try {
        writer = await makeWriter();
      } catch (err) {
        // The store is away (PostgreSQL down) or still held by the previous writer (its
        // session not gone yet): stand by and try again, rather than exit.
        if (!standByOn(err)) throw err;
        if (isRetryable(err)) h.storeOk = false;
        log.warn({ err }, 'cannot open the store as the active writer; standing by and trying again');
        await sleep(cl.lease.renewInterval);
        return;
      }
      writer.onFatal = (err) => onFatal(err);
      h.storeOk = true;
      // Retention belongs to whoever writes: one pruner in the cluster, beside the commits.
      retention = startRetention(cfg.retention, writer, log.child({ component: 'retention' }));
      const c = await consumer();
      while (lease.held && !stopped) {
        let msgs: ConsumerMessages;
        const expires = Math.max(1000, Math.min(5000, cl.lease.renewInterval));
        try {
          msgs = await c.fetch({ max_messages: cl.writer.fetchBatch, expires });
        } catch (err) {
          log.warn({ err }, 'pulling batches from NATS failed; retrying');
          await sleep(cl.lease.renewInterval);
          continue;
        }
        pull = msgs;
        // A pull whose server went away can wait forever for its expiry notice: bound it.
        const watchdog = setTimeout(() => msgs.stop(), expires + cl.nats.requestTimeout);
        try {
          for await (const m of msgs) {
            // Lease gone: leave the rest unacked, the next writer gets them redelivered.
            if (!lease.held || stopped) break;
            await commitOne(writer, m, webhook);
          }
        } catch (err) {
          if (errorIsStore(err)) throw err;
          if (!(err instanceof LeaseGone)) log.warn({ err }, 'pull interrupted (NATS reconnecting?)');
        } finally {
          clearTimeout(watchdog);
          pull = null;
        }
      }
    } catch (err) {
      onFatal(err);
    } finally {
      h.state = 'stopping';
      await webhook?.close(2000);
      await retention?.stop();
      if (writer) {
        await writer.finish().catch((err: unknown) => log.error({ err }, 'final index/WAL checkpoint failed'));
        await writer.close();
      }
      await lease.release();
      h.state = 'standby';
      if (!stopped) log.warn('no longer the active writer; standing by');
    }
  }

  async function commitOne(writer: ClusterWriter, m: JsMsg, webhook: WebhookDelivery | null): Promise<void> {
    let batch;
    try {
      batch = decodeItemBatch(m.data);
    } catch (err) {
      // Can never be stored: keep it out of the stream rather than redeliver it forever.
      log.error({ err, subject: m.subject, streamSeq: m.seq }, 'dropping a message that is not an ItemBatch this writer understands');
      m.term();
      return;
    }
    if (m.redelivered) h.redelivered++;
    let stored: StoredBatch;
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        stored = await writer.commit(await withoutStored(writer, batch));
        break;
      } catch (err) {
        if (isRetryable(err) && lease.held && !stopped) {
          // The store is away for a while (PostgreSQL restarting, a cut connection): the batch
          // stays unacked in the stream, and is tried again here until the store answers or
          // the lease moves on (the next writer then gets it redelivered).
          if (attempt === 1) log.warn({ err }, 'commit failed (retryable); trying again until the store answers');
          h.storeOk = false;
          try {
            m.working();
          } catch {
            // NATS is away too: the batch is redelivered after ackWait, and dropped as stored if it was.
          }
          await sleep(Math.min(cl.lease.renewInterval, 250 * attempt));
          continue;
        }
        if (isRetryable(err)) {
          // The lease is gone: leave the batch unacked for the next writer.
          throw new LeaseGone();
        }
        // The store failed: this node cannot be the writer; the batch is redelivered to the next.
        onFatal(err);
        throw new StoreFailure(err);
      }
    }
    if (attempt > 1) log.info({ attempts: attempt }, 'commit succeeded again: the store is back');
    h.storeOk = true;
    h.commits++;
    h.items += stored.items.length;
    if (stored.items.length || stored.alerts.length) link.nc.publish(STORED_SUBJECT, encodeBatch(stored));
    if (webhook) for (const a of stored.alerts) webhook.deliver({ type: 'alert', alert: toWireAlert(a as StoredAlert) });
    m.ack();
  }

  async function tick(): Promise<void> {
    if (stopped || active) return;
    if (await lease.tryAcquire()) {
      active = runActive().finally(() => {
        active = null;
      });
    }
  }

  const timer = setInterval(() => void tick(), cl.lease.renewInterval);
  await tick();
  if (!lease.held) log.info('standing by: another node is the active writer');

  return {
    health: () => ({ ...h }),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await active;
      await lease.release();
    },
  };
}

/** A retryable store failure outlasted the lease: the batch is left to the next writer. */
class LeaseGone extends Error {
  constructor() {
    super('the writer lease was lost while the store was failing');
  }
}

const isRetryable = (err: unknown): boolean => err instanceof TickerpulseError && err.retryable;
/** makeWriter failures a standby waits out: the store away, or the previous writer's lock not released yet. */
const standByOn = (err: unknown): boolean => err instanceof TickerpulseError && (err.retryable || err.code === 'DB_IN_USE');

class StoreFailure extends Error {
  constructor(readonly original: unknown) {
    super('store failed', { cause: original });
  }
}
const errorIsStore = (err: unknown): boolean => err instanceof StoreFailure;

/**
 * The batch without items already stored (and without repeats inside it). Redeliveries, a new
 * owner re-polling a feed and a poll node's polls overlapping while the writer was down all bring
 * items the store has; dropping them here, instead of leaving them to the store's ON CONFLICT,
 * keeps seq gap-free (SQLite's AUTOINCREMENT burns a seq on every conflicting insert). Race-free
 * because batches are committed one at a time and only the lease holder commits.
 */
async function withoutStored(writer: ClusterWriter, batch: ItemBatch): Promise<ItemBatch> {
  if (batch.items.length === 0) return batch;
  const known = await writer.knownGuids(batch.sourceId, batch.items.map((i) => i.guid));
  const seen = new Set<string>();
  const items = batch.items.filter((i) => {
    if (known.has(i.guid) || seen.has(i.guid)) return false;
    seen.add(i.guid);
    return true;
  });
  return items.length === batch.items.length ? batch : { ...batch, items };
}

/** The active writer POSTs alerts to the webhook (config alerts.webhook) and records the outcome. */
function startWebhook(cfg: Config, writer: () => ClusterWriter | null, log: Logger): WebhookDelivery | null {
  const w = cfg.alerts.webhook;
  if (!w) return null;
  const mark = (payload: object, failure: string | null) => {
    const id = (payload as { alert?: { id?: unknown } }).alert?.id;
    if (typeof id === 'number') writer()?.markAlert(id, failure);
  };
  return new WebhookDelivery({
    ...webhookOptions(w),
    log,
    onDelivered: (payload) => mark(payload, null),
    onFailed: (payload, f) => mark(payload, `${f.reason}: ${f.message}`),
  });
}
