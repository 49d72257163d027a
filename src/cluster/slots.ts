/**
 * A counting semaphore: the node-wide bound on ItemBatch publishes awaiting their JetStream ack
 * (cluster.publish.maxInFlight). Waiters queue FIFO; each source publishes one batch at a time,
 * so the queue holds at most one waiter per source the node owns (bounded by the config).
 */
export class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  acquire(): Promise<void> {
    if (this.used < this.capacity) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => resolve()));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else if (this.used > 0) this.used--;
  }
}
