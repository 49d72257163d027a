/**
 * Per-host request budget shared by every polling source of a daemon: at most `maxConcurrent`
 * requests in flight to one host, and at most `maxPerSecond` request starts per second to it
 * (SEC EDGAR, for one, allows 10 requests per second per client). Keyed by host name (no port),
 * so two sources on www.sec.gov share one budget whatever their paths.
 *
 * Rate: a sliding window. With `burst = max(1, floor(maxPerSecond))` and
 * `window = burst / maxPerSecond` seconds, no window of that length (half-open) ever holds more
 * than `burst` starts — for an integer rate N that is "never more than N starts in any second".
 * Waiters are served first come, first served.
 */

export interface HostLimit {
  /** Requests in flight at once to this host, from all sources together. */
  maxConcurrent: number;
  /** Request starts per second to this host (fractions allowed: 0.5 = one every 2 s). */
  maxPerSecond: number;
}

/** Budget of a host with no entry of its own (config `hosts["*"]` overrides it). */
export const DEFAULT_HOST_LIMIT: Readonly<HostLimit> = Object.freeze({ maxConcurrent: 4, maxPerSecond: 5 });

/** Time source; injectable so tests can check the rate without real waiting. */
export interface BudgetClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: BudgetClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface HostBudgetOptions {
  /** Limits for hosts without an entry (fields missing here come from DEFAULT_HOST_LIMIT). */
  defaults?: Partial<HostLimit>;
  /** Per-host overrides keyed by host name (case-insensitive; fields missing come from `defaults`). */
  hosts?: Record<string, Partial<HostLimit> | undefined>;
  clock?: BudgetClock;
}

/** Returned by `acquire`: call once when the request (body included) is finished. Idempotent. */
export type Release = () => void;

interface Waiter {
  grant(release: Release): void;
  reject(reason: unknown): void;
}

interface HostState {
  limit: HostLimit;
  burst: number;
  windowMs: number;
  active: number;
  /** Start times of the last `burst` grants, oldest first. */
  starts: number[];
  queue: Waiter[];
  timer: unknown;
}

function normHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

export class HostBudget {
  private readonly defaults: HostLimit;
  private readonly overrides = new Map<string, Partial<HostLimit>>();
  private readonly states = new Map<string, HostState>();
  private readonly clock: BudgetClock;

  constructor(opts: HostBudgetOptions = {}) {
    this.defaults = { ...DEFAULT_HOST_LIMIT, ...stripUndefined(opts.defaults) };
    for (const [host, lim] of Object.entries(opts.hosts ?? {})) if (host !== '*' && lim) this.overrides.set(normHost(host), stripUndefined(lim));
    this.clock = opts.clock ?? realClock;
  }

  /** From the config's `hosts` section: the `"*"` entry is the default for every other host. */
  static fromConfig(hosts: Record<string, Partial<HostLimit> | undefined> | undefined, clock?: BudgetClock): HostBudget {
    return new HostBudget({ defaults: hosts?.['*'], hosts, clock });
  }

  limitFor(host: string): HostLimit {
    return { ...this.defaults, ...this.overrides.get(normHost(host)) };
  }

  /** Requests in flight and waiting for `host` (diagnostics, tests). */
  usage(host: string): { active: number; queued: number } {
    const s = this.states.get(normHost(host));
    return { active: s?.active ?? 0, queued: s?.queue.length ?? 0 };
  }

  /**
   * Wait for a slot on `host`. Resolves with a release function; rejects with `signal.reason`
   * when `signal` aborts while waiting (the place in the queue is given up).
   */
  acquire(host: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const state = this.stateFor(normHost(host));
    return new Promise<Release>((resolve, reject) => {
      const onAbort = () => {
        const i = state.queue.indexOf(waiter);
        if (i >= 0) state.queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      state.queue.push(waiter);
      this.pump(state);
    });
  }

  private stateFor(key: string): HostState {
    let s = this.states.get(key);
    if (!s) {
      const limit = this.limitFor(key);
      const maxConcurrent = Math.max(1, Math.floor(limit.maxConcurrent));
      const perSecond = limit.maxPerSecond > 0 ? limit.maxPerSecond : Number.POSITIVE_INFINITY;
      const burst = Number.isFinite(perSecond) ? Math.max(1, Math.floor(perSecond)) : Number.POSITIVE_INFINITY;
      const windowMs = Number.isFinite(perSecond) ? (burst / perSecond) * 1000 : 0;
      s = { limit: { maxConcurrent, maxPerSecond: perSecond }, burst, windowMs, active: 0, starts: [], queue: [], timer: null };
      this.states.set(key, s);
    }
    return s;
  }

  private pump(s: HostState): void {
    if (s.timer !== null) return; // a rate-window timer will pump
    while (s.queue.length > 0 && s.active < s.limit.maxConcurrent) {
      const now = this.clock.now();
      while (s.starts.length > 0 && s.starts[0] <= now - s.windowMs) s.starts.shift();
      if (s.starts.length >= s.burst) {
        const wait = Math.max(1, Math.ceil(s.starts[0] + s.windowMs - now));
        s.timer = this.clock.setTimeout(() => {
          s.timer = null;
          this.pump(s);
        }, wait);
        return;
      }
      const waiter = s.queue.shift()!;
      s.active++;
      if (Number.isFinite(s.burst)) s.starts.push(now);
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        s.active--;
        this.pump(s);
      });
    }
  }
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
