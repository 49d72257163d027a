/**
 * The poll role: share the configured sources among the live poll nodes, each source run by
 * exactly one of them — the holder of its lease (lease.ts) — and take over the sources of a
 * node that died once their leases expire (at most lease.ttl + lease.renewInterval).
 *
 * Every renewInterval the node renews its presence key, counts the live poll nodes, and tries
 * the leases of sources nobody holds until it runs its fair share, ceil(sources / live nodes);
 * a node takes sources from its second tick on (the first announces it), so two nodes started
 * within a renewInterval of each other split the sources, and one left alone takes them all. (A node
 * does not give up sources when another joins: the newcomer gets those freed later.)
 *
 * A new owner first waits (up to publish.handoverWait) until the stream holds no batch of the
 * source that the writer has not committed, so the stored state it starts from (ETag, cursor)
 * is the last owner's final one.
 */
import type { Config, SourceConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { SourceHealth } from '../daemon/sourceHealth.js';
import { HostBudget } from '../../sources/hostBudget.js';
import { ItemPublisher } from './itemPublisher.js';
import { Lease } from './lease.js';
import type { NatsLink } from './natsLink.js';
import { Slots } from './slots.js';
import { SourceRunner } from './sourceRunner.js';
import type { PollStateReader } from './stores.js';
import { ITEMS_STREAM, itemsSubject, LEASE_BUCKET, NODE_LEASE_PREFIX, nodeLeaseKey, sourceLeaseKey } from './topology.js';

interface Owned {
  lease: Lease;
  runner: SourceRunner | null;
  stopping: Promise<void> | null;
}

export interface PollRole {
  health(): { owned: string[]; liveNodes: number; sources: SourceHealth[]; publishSlotsInUse: number };
  stop(): Promise<void>;
}

export async function startPollRole(cfg: Config, sources: SourceConfig[], link: NatsLink, reader: PollStateReader, log: Logger): Promise<PollRole> {
  const cl = cfg.cluster!;
  const leaseOpts = { ttlMs: cl.lease.ttl, renewMs: cl.lease.renewInterval };
  const slots = new Slots(cl.publish.maxInFlight);
  const hostBudget = HostBudget.fromConfig(cfg.hosts);
  const owned = new Map<string, Owned>();
  let liveNodes = 1;
  let stopped = false;
  const presence = new Lease(link.leases, nodeLeaseKey(cl.node), cl.node, { ...leaseOpts, log });

  /**
   * Live poll nodes = presence keys in the lease bucket, counted from the bucket stream's
   * per-subject state (one request with a deadline; listing keys through a consumer can see a
   * key twice, or never end, while other nodes keep renewing). A node that left gracefully
   * counts until its delete marker expires (one TTL): the share is briefly smaller, never wrong.
   */
  async function countLiveNodes(): Promise<number> {
    try {
      const prefix = `$KV.${LEASE_BUCKET}.${NODE_LEASE_PREFIX}`;
      const info = await link.jsm.streams.info(`KV_${LEASE_BUCKET}`, { subjects_filter: `${prefix}>` });
      return Math.max(1, Object.keys(info.state.subjects ?? {}).filter((k) => k.startsWith(prefix)).length);
    } catch {
      return liveNodes;
    }
  }

  async function waitForHandover(id: string): Promise<void> {
    const subject = itemsSubject(id);
    const end = Date.now() + cl.publish.handoverWait;
    for (let logged = false; Date.now() < end && !stopped; ) {
      try {
        const info = await link.jsm.streams.info(ITEMS_STREAM, { subjects_filter: subject });
        const left = info.state.subjects?.[subject] ?? 0;
        if (left === 0) return;
        if (!logged) log.info({ source: id, batches: left }, 'new owner: waiting for the last owner\'s batches to be committed');
        logged = true;
      } catch {
        // NATS unreachable: wait like for a busy writer.
      }
      await new Promise((r) => setTimeout(r, Math.min(250, cl.lease.renewInterval)));
    }
  }

  async function own(sc: SourceConfig, lease: Lease): Promise<void> {
    const entry: Owned = { lease, runner: null, stopping: null };
    owned.set(sc.id, entry);
    const slog = log.child({ source: sc.id });
    try {
      await waitForHandover(sc.id);
      if (!lease.held || stopped) throw new Error('lease lost before the source started');
      const publisher = new ItemPublisher({
        js: link.js,
        sourceId: sc.id,
        slots,
        maxPayload: link.nc.info?.max_payload ?? 1024 * 1024,
        retryDelayMs: cl.publish.retryDelay,
        maxRetryDelayMs: cl.publish.maxRetryDelay,
        log: slog,
      });
      const runner = await SourceRunner.start({ cfg, source: sc, reader, publisher, hostBudget, log: slog });
      if (!lease.held || stopped || owned.get(sc.id) !== entry) {
        // Lost (or shutting down) while the runner started: it must not poll a single time.
        await runner.stop(0);
        return;
      }
      entry.runner = runner;
      slog.info('source owned: running it');
      entry.runner.done.then(
        () => slog.info({ status: entry.runner?.health.status }, 'source completed (lease kept: it stays done)'),
        (err: unknown) => {
          if (!stopped && lease.held) {
            // Only publishing can fail a pipeline; give the source to whoever can run it.
            slog.error({ err }, 'source pipeline failed; releasing its lease');
            void disown(sc.id, true);
          }
        },
      );
    } catch (err) {
      slog.warn({ err }, 'could not start an owned source; releasing it');
      void disown(sc.id, true);
    }
  }

  function disown(id: string, release: boolean): Promise<void> {
    const e = owned.get(id);
    if (!e) return Promise.resolve();
    e.stopping ??= (async () => {
      // Still holding the lease (shutdown, a failed pipeline): let batches in flight publish.
      // Lost: stop publishing at once — the source is someone else's now.
      await e.runner?.stop(e.lease.held ? cfg.limits.shutdownTimeout : 0);
      if (release) await e.lease.release();
      owned.delete(id);
    })();
    return e.stopping;
  }

  let ticking = false;
  let announced = false;
  async function tick(): Promise<void> {
    if (ticking || stopped) return;
    ticking = true;
    try {
      // The tick that first announces this node takes no source: nodes started together then all
      // count each other at their next tick. (Measured: without it the first node to tick counted
      // itself alone and took 6 or all 8 of 8 sources from its twin — npm run bench -- --cluster.)
      if (!presence.held && (await presence.tryAcquire()) && !announced) {
        announced = true;
        return;
      }
      liveNodes = await countLiveNodes();
      const share = Math.ceil(sources.length / liveNodes);
      for (const sc of sources) {
        if (stopped || owned.size >= share) break;
        if (owned.has(sc.id)) continue;
        const lease: Lease = new Lease(link.leases, sourceLeaseKey(sc.id), cl.node, {
          ...leaseOpts,
          log,
          // Lost (NATS unreachable past the deadline, or taken): stop at once; the source is someone else's now.
          onLost: () => void disown(sc.id, false),
        });
        if (await lease.tryAcquire()) void own(sc, lease);
      }
    } finally {
      ticking = false;
    }
  }

  const timer = setInterval(() => void tick(), cl.lease.renewInterval);
  await tick();

  return {
    health: () => ({
      owned: [...owned.keys()],
      liveNodes,
      sources: [...owned.values()].flatMap((e) => (e.runner ? [e.runner.report()] : [])),
      publishSlotsInUse: slots.inUse,
    }),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled([...owned.keys()].map((id) => disown(id, true)));
      await presence.release();
    },
  };
}
