/**
 * One log line per window for a repeated refusal (e.g. 429, too many connections from an IP):
 * the first refusal of a window is logged at once, the rest are counted and reported in one
 * line when the window ends. A burst of 1,000 refused connections is two lines, not 1,000.
 */
import type { Logger } from '../lib/log.js';

export class RefusalLog {
  private suppressed = 0;
  private last: Record<string, unknown> = {};
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly msg: string,
    private readonly windowMs = 10_000,
  ) {}

  refused(fields: Record<string, unknown>): void {
    if (this.timer === null) {
      this.log.warn(fields, this.msg);
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      this.timer.unref();
      return;
    }
    this.suppressed++;
    this.last = fields;
  }

  /** Reports what the window counted (also called on close). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.suppressed > 0) {
      this.log.warn({ ...this.last, refused: this.suppressed, windowMs: this.windowMs }, `${this.msg} (${this.suppressed} more in the last ${this.windowMs / 1000} s)`);
      this.suppressed = 0;
      // A new window starts with the next refusal, which is then logged at once.
    }
  }
}
