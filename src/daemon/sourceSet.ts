/**
 * The daemon's running sources, by id: started at start-up and by reloads, stopped one by one by
 * reloads and all together by the shutdown. Once closed, nothing starts any more (a reload that
 * was under way when the shutdown began starts no source behind its back).
 */
import type { Config, SourceConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { SourceState } from '../lib/types.js';
import { DaemonSource, type DaemonSourceDeps } from './daemonSource.js';

export type PersistedState = (SourceState & { itemsTotal?: number }) | null;

export interface SourceSetOptions extends DaemonSourceDeps {
  log: Logger;
  /** The source's state as the store has it (ETag, cursor, schedule, item count). */
  readState(id: string): PersistedState | Promise<PersistedState>;
  /** Every source has completed (each JSONL replay done); called again if more start and complete. */
  onAllDone(): void;
}

export class SourceSet {
  private readonly running = new Map<string, DaemonSource>();
  /** Sources being stopped by a reload: the shutdown waits for them too. */
  private readonly leaving = new Set<DaemonSource>();
  private readonly finished = new WeakSet<DaemonSource>();
  private closed = false;
  private armed = false;

  constructor(private readonly opts: SourceSetOptions) {}

  get ids(): string[] {
    return [...this.running.keys()];
  }

  get(id: string): DaemonSource | undefined {
    return this.running.get(id);
  }

  /** Running sources, and those a reload is stopping until they have (a dashboard sees them turn `stopped`). */
  reports() {
    return [...this.running.values(), ...this.leaving].map((s) => s.report());
  }

  /**
   * Starts source `sc` with the settings of `cfg`; `adjust` may change the persisted state it
   * resumes from (a restarted source, src/daemon/reloadPlan.ts). Null once the set is closed.
   */
  async start(sc: SourceConfig, cfg: Config, adjust?: (s: PersistedState) => PersistedState): Promise<DaemonSource | null> {
    if (this.closed) return null;
    if (this.running.has(sc.id)) throw new Error(`source ${sc.id} is already running`);
    let state = await this.opts.readState(sc.id);
    if (adjust) state = adjust(state);
    if (this.closed) return null;
    const s = new DaemonSource(sc, cfg, state, this.opts, this.opts.log.child({ source: sc.id }));
    this.running.set(sc.id, s);
    void s.done.then(
      () => {
        this.finished.add(s);
        this.fireIfAllDone();
      },
      () => undefined,
    );
    return s;
  }

  /** Stops one source (drain, then its worker closes) and forgets it; see DaemonSource.stop. */
  async stop(id: string, drainMs: number): Promise<boolean> {
    const s = this.running.get(id);
    if (!s) return true;
    this.running.delete(id);
    this.leaving.add(s);
    try {
      return await s.stop(drainMs);
    } finally {
      this.leaving.delete(s);
    }
  }

  /**
   * Calls onAllDone when no running source is still going (at once with none); from this first
   * call on (after the start-up's sources are all started), also whenever the last one completes.
   */
  checkAllDone(): void {
    this.armed = true;
    this.fireIfAllDone();
  }

  private fireIfAllDone(): void {
    if (this.armed && [...this.running.values()].every((s) => this.finished.has(s))) this.opts.onAllDone();
  }

  /**
   * The shutdown: every source stops polling at once, then all drain together for up to
   * `drainMs`, then their workers close. Resolves false when the drain timed out.
   */
  async close(drainMs: number): Promise<boolean> {
    this.closed = true;
    const all = [...this.running.values(), ...this.leaving];
    for (const s of all) s.halt();
    const results = await Promise.all(all.map((s) => s.stop(drainMs)));
    return results.every(Boolean);
  }
}
