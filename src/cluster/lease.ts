/**
 * One lease in the NATS KV lease bucket (TTL = cluster.lease.ttl): a key whose value names the
 * holder. Held by at most one node at a time, because every write is conditional:
 *  - acquire = KV create: succeeds only when the key is absent (never written, deleted, or
 *    expired because its holder stopped renewing);
 *  - renew = KV update at the revision we last wrote: fails once anyone else wrote the key.
 * The holder counts its lease as valid until (start of its last successful write) + ttl − margin.
 * The server's expiry counts from when it stored the write, which is later, so the holder always
 * gives up before anyone else can acquire — with clocks running at the same rate, two nodes never
 * both believe they hold it. A holder that cannot renew (NATS down, update refused) stops at that
 * deadline and calls onLost.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../lib/log.js';

export interface LeaseOptions {
  ttlMs: number;
  renewMs: number;
  log: Logger;
  /** Called once when a held lease is lost (not after release()). */
  onLost?: () => void;
}

export class Lease {
  private revision = 0;
  private validUntil = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private renewing = false;

  constructor(
    private readonly kv: KV,
    readonly key: string,
    readonly holder: string,
    private readonly opts: LeaseOptions,
  ) {}

  get held(): boolean {
    return this.revision !== 0;
  }

  /** Taken away from the holder's own deadline: clock granularity and timer lateness. */
  private get margin(): number {
    return Math.min(1000, Math.floor(this.opts.ttlMs / 10));
  }

  private value(): string {
    return JSON.stringify({ node: this.holder, at: new Date().toISOString() });
  }

  /** Tries once; true when this node now holds the lease (already holding it: true). */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const sentAt = Date.now();
    try {
      this.revision = await this.kv.create(this.key, this.value());
    } catch {
      // Held by someone else (wrong last sequence) or NATS unreachable: either way not ours.
      return false;
    }
    this.extend(sentAt);
    this.renewTimer = setInterval(() => void this.renew(), this.opts.renewMs);
    this.opts.log.debug({ lease: this.key }, 'lease acquired');
    return true;
  }

  /** Who holds the key now according to NATS (null: nobody, or NATS unreachable). */
  async currentHolder(): Promise<string | null> {
    try {
      const e = await this.kv.get(this.key);
      if (!e || e.operation !== 'PUT') return null;
      return (JSON.parse(e.string()) as { node?: string }).node ?? null;
    } catch {
      return null;
    }
  }

  private extend(sentAt: number): void {
    this.validUntil = sentAt + this.opts.ttlMs - this.margin;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.lose('not renewed before its deadline'), Math.max(0, this.validUntil - Date.now()));
  }

  private async renew(): Promise<void> {
    if (!this.held || this.renewing) return;
    this.renewing = true;
    const sentAt = Date.now();
    try {
      const rev = await this.kv.update(this.key, this.value(), this.revision);
      if (this.held) {
        this.revision = rev;
        this.extend(sentAt);
      }
    } catch (err) {
      // A refused update means the key moved on without us: the lease is gone now. Anything
      // else (timeout, disconnected) is retried on the next tick until the deadline.
      if ((err as { code?: unknown }).code === 10071) this.lose('renewal refused (the key changed)');
      else this.opts.log.debug({ err, lease: this.key }, 'lease renewal failed; retrying');
    } finally {
      this.renewing = false;
    }
  }

  private stopTimers(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.renewTimer = this.deadlineTimer = null;
  }

  private lose(why: string): void {
    if (!this.held) return;
    this.stopTimers();
    this.revision = 0;
    this.opts.log.warn({ lease: this.key, why }, 'lease lost');
    this.opts.onLost?.();
  }

  /** Gives the lease up at once (graceful stop: the next holder need not wait for the TTL). */
  async release(): Promise<void> {
    if (!this.held) return;
    const rev = this.revision;
    this.stopTimers();
    this.revision = 0;
    try {
      await this.kv.delete(this.key, { previousSeq: rev });
    } catch {
      // Already changed or NATS down: it expires on its own.
    }
  }

  /** Stops renewing without deleting the key (tests: a node that froze). */
  abandon(): void {
    this.stopTimers();
    this.revision = 0;
  }
}
