/**
 * A poll node's writer stage for one source: instead of committing ItemBatches it publishes them
 * to the JetStream stream (subject tp.items.<source>) and resolves each "commit" once JetStream
 * has acknowledged (stored) it. The source's pipeline (pipelines/ingest.ts) frees its PollGate
 * slot then, so backpressure is unchanged: a slow or absent NATS makes the source pause.
 *
 * Order: one source's batches are published one after another (the next only after the
 * previous is acked, retries included), so the stream — and the writer — get a poll's chunks
 * before its final one, which carries the poll state (ETag, cursor). A final chunk can never be
 * stored while an earlier chunk of its poll is missing.
 *
 * Nats-Msg-Id = sha256 of the message bytes. Per batch, not per item: a message is a batch
 * (up to limits.commitChunk items and the poll's state, stored in one transaction), so a per-item
 * id cannot name it; and a content hash is deterministic, so a re-publish after a lost ack
 * (timeout, reconnect) carries the same id and JetStream's duplicate window drops it, while two
 * different batches never share an id. Items re-published in a *different* batch (a new owner
 * re-polling a feed) get through and are dropped by the store's (source, guid) uniqueness.
 *
 * Failures: a publish is retried with backoff (publish.retryDelay doubling to maxRetryDelay)
 * until it is acked or the publisher is stopped (lease lost, shutdown): never dropped. A stopped
 * publisher rejects what it had not published with CLUSTER_FAILED; the source's stored state
 * did not move past those items, so the next owner fetches them again.
 *
 * Size: a batch larger than the server's max_payload is split into smaller batches (only the
 * last keeps `final`, the state, the error and the dead letters).
 */
import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { itemBatch, MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../lib/messages.js';
import { encodeBatch } from './codec.js';
import type { Slots } from './slots.js';
import { itemsSubject } from './topology.js';

/** Left for headers (Nats-Msg-Id) and protocol overhead below the server's max_payload. */
const HEADER_ROOM = 4096;

export interface ItemPublisherOptions {
  js: JetStreamClient;
  sourceId: string;
  slots: Slots;
  /** The server's max_payload (bytes). */
  maxPayload: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  log: Logger;
}

export class ItemPublisher {
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Items acknowledged by JetStream (duplicates the store may drop later included). */
  published = 0;
  publishFailures = 0;

  constructor(private readonly opts: ItemPublisherOptions) {}

  /** The store-facing half of pipelines/ingest.ts IngestStore; resolves once JetStream has the batch. */
  commit(batch: ItemBatch): Promise<StoredBatch> {
    const p = this.chain.then(() => this.publishAll(batch));
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Rejects what is not yet published, now and later (the source is being stopped). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async publishAll(batch: ItemBatch): Promise<StoredBatch> {
    for (const part of this.split(batch)) await this.publishOne(part);
    this.published += batch.items.length;
    // The items are not stored yet (the writer will): nothing for a fan-out here.
    return { v: MESSAGE_VERSION, type: 'StoredBatch', sourceId: batch.sourceId, items: [], alerts: [], offered: batch.items.length };
  }

  private split(batch: ItemBatch): Uint8Array[] {
    const data = encodeBatch(batch);
    if (data.length <= this.opts.maxPayload - HEADER_ROOM) return [data];
    if (batch.items.length <= 1) {
      throw new TickerpulseError('INPUT_INVALID', `one item of source ${batch.sourceId} encodes to ${data.length} bytes, more than the NATS server's max_payload (${this.opts.maxPayload}); raise max_payload on the server`);
    }
    const half = Math.ceil(batch.items.length / 2);
    const first = itemBatch(batch.sourceId, batch.items.slice(0, half), false);
    const second: ItemBatch = { ...batch, items: batch.items.slice(half) };
    return [...this.split(first), ...this.split(second)];
  }

  private async publishOne(data: Uint8Array): Promise<void> {
    const msgID = createHash('sha256').update(data).digest('hex');
    const subject = itemsSubject(this.opts.sourceId);
    await this.opts.slots.acquire();
    try {
      for (let delay = this.opts.retryDelayMs, attempt = 1; ; delay = Math.min(delay * 2, this.opts.maxRetryDelayMs), attempt++) {
        if (this.stopped) throw new TickerpulseError('CLUSTER_FAILED', `source ${this.opts.sourceId}: publisher stopped before the batch was published`, { retryable: true });
        try {
          await this.opts.js.publish(subject, data, { msgID });
          return;
        } catch (err) {
          this.publishFailures++;
          // First failure and then every tenth: an outage must not flood the log.
          if (attempt === 1 || attempt % 10 === 0) this.opts.log.warn({ err, attempt, retryInMs: delay }, 'publishing a batch to NATS failed; retrying');
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = null;
        }
      }
    } finally {
      this.opts.slots.release();
    }
  }
}
