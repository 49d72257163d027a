/**
 * The bounded queue between a source and its pipeline. A source awaits `waitForRoom()` before
 * each emission, which reserves a slot; the pipeline calls `release()` once that emission is
 * committed. Overflow policy: the source pauses (its next poll or file read waits) — nothing
 * is dropped and memory stays bounded by `capacity` polls per source.
 */
export class PollGate {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('PollGate capacity must be a positive integer');
  }

  get depth(): number {
    return this.used;
  }

  waitForRoom(): Promise<void> {
    if (this.used < this.capacity) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiters.push(() => {
        this.used++;
        resolve();
      });
    });
  }

  release(): void {
    if (this.used > 0) this.used--;
    const next = this.waiters.shift();
    if (next) next();
  }
}
