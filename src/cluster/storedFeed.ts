/**
 * The serve role's live feed: StoredBatches the active writer publishes on tp.stored, handed to
 * the server's broadcast in seq order with no gap and no duplicate.
 *
 * The server itself already makes one client's switch from replay (?since) to live seamless: it
 * queues live items while the replay reads the store and drops every seq the client was sent
 * (src/server/server.ts replay()). That relies on broadcast() getting every committed item once,
 * in seq order — which a core NATS subject does not promise (a writer that died between commit
 * and publish, a serve node that was disconnected). So this feed keeps the last seq it
 * broadcast and:
 *  - drops items with seq <= it (a batch the catch-up already read from the store);
 *  - on a gap (the batch starts past it + 1) first reads the missing seqs from the store, which
 *    has them: a StoredBatch is published only after its commit;
 *  - every serve.catchUpInterval, reads the store for seqs past it (the last batches of a writer
 *    that died before publishing them, or published while this node was disconnected).
 * Alerts come only with their StoredBatch (the store replay does not resend them).
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '../lib/log.js';
import type { StoredAlert, StoredItem } from '../lib/types.js';
import { decodeStoredBatch } from './codec.js';
import type { NatsLink } from './natsLink.js';
import type { StoreTail } from './stores.js';
import { STORED_SUBJECT } from './topology.js';

export interface FeedTarget {
  broadcast(items: StoredItem[]): void;
  broadcastAlert(alert: StoredAlert): void;
}

export interface StoredFeed {
  readonly lastSeq: number;
  /** Items read from the store because their StoredBatch was missing or late. */
  readonly filledFromStore: number;
  stop(): void;
}

const FILL_PAGE = 1000;

export async function startStoredFeed(link: NatsLink, store: StoreTail, target: FeedTarget, catchUpMs: number, log: Logger): Promise<StoredFeed> {
  let last = await store.latestSeq();
  let filled = 0;
  /**
   * Every step (a batch, a catch-up) runs after the one before: the store's reads are
   * asynchronous (PostgreSQL), and broadcast() must still get each seq once and in order.
   * Bounded by the subscription: NATS holds at most its pending limit for a slow subscriber
   * (it drops the excess as a slow consumer; the catch-up reads those items from the store).
   */
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  /** Failures in a row: the first is a warning, the rest (a store outage, retried every catch-up) debug. */
  let failing = 0;
  const run = (what: string, step: () => Promise<void>) => {
    queued++;
    chain = chain
      .then(step)
      .then(
        () => {
          if (failing > 0) log.info({ failures: failing }, 'store reads work again');
          failing = 0;
        },
        (err: unknown) => log[failing++ === 0 ? 'warn' : 'debug']({ err }, `${what} failed; the catch-up reads what is missing from the store`),
      )
      .finally(() => {
        queued--;
      });
  };

  /** Broadcasts what the store holds past `last`, up to `through` (inclusive; Infinity: all). */
  async function fillFromStore(through: number): Promise<void> {
    for (;;) {
      const page = (await store.itemsAfter(last, FILL_PAGE)).filter((i) => i.seq <= through && i.seq > last);
      if (page.length === 0) return;
      target.broadcast(page);
      last = page[page.length - 1].seq;
      filled += page.length;
      if (page.length < FILL_PAGE) return;
    }
  }

  async function onBatch(items: StoredItem[], alerts: StoredAlert[]): Promise<void> {
    const fresh = items.filter((i) => i.seq > last).sort((a, b) => a.seq - b.seq);
    if (fresh.length) {
      if (fresh[0].seq > last + 1) await fillFromStore(fresh[0].seq - 1);
      const rest = fresh.filter((i) => i.seq > last);
      if (rest.length) {
        target.broadcast(rest);
        last = rest[rest.length - 1].seq;
      }
    }
    for (const a of alerts) target.broadcastAlert(a);
  }

  const sub: Subscription = link.nc.subscribe(STORED_SUBJECT, {
    callback: (err, msg) => {
      if (err) {
        log.warn({ err }, 'tp.stored subscription error');
        return;
      }
      let b: ReturnType<typeof decodeStoredBatch>;
      try {
        b = decodeStoredBatch(msg.data);
      } catch (e) {
        log.error({ err: e }, 'could not decode a StoredBatch; the catch-up will read its items from the store');
        return;
      }
      run('handling a StoredBatch', () => onBatch(b.items, b.alerts));
    },
  });
  const timer = setInterval(() => {
    // One catch-up waiting at a time is enough: it reads everything past `last` when it runs.
    if (queued > 0) return;
    run('catch-up read of the store', async () => {
      if ((await store.latestSeq()) > last) await fillFromStore(Infinity);
    });
  }, catchUpMs);

  return {
    get lastSeq() {
      return last;
    },
    get filledFromStore() {
      return filled;
    },
    stop: () => {
      clearInterval(timer);
      sub.unsubscribe();
    },
  };
}
