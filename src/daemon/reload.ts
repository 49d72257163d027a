/**
 * Config reload (SIGHUP, `tickerpulse reload`): re-read and validate the config file the daemon
 * was started with, then start, stop and restart sources as src/daemon/reloadPlan.ts decides.
 * An invalid config is logged with every problem (CONFIG_INVALID) and changes nothing.
 *
 * Reloads are serialized: a request while one runs queues exactly one more (any number of
 * requests meanwhile collapse into it, and it re-reads the file, so it sees the newest edit);
 * requests once the shutdown began are ignored. Each outcome is logged, counted
 * (tickerpulse_config_reloads_total) and written to the status file `tickerpulse reload` reads.
 */
import type { Config } from '../config/schema.js';
import type { ConfigIssue } from '../config/load.js';
import { TickerpulseError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { planReload, restartState } from './reloadPlan.js';
import type { SourceSet } from './sourceSet.js';
import { writeReloadStatus, type ReloadOutcome, type ReloadResult } from './reloadStatus.js';

export interface ReloaderOptions {
  log: Logger;
  /** Reads and validates the config file again (throws CONFIG_INVALID). */
  load(): Config;
  /** The config the daemon runs now; replaced by the plan's effective config after a reload. */
  config: Config;
  sources: SourceSet;
  /** Sources not from the config file (the --demo source): never stopped by a reload. */
  extra: readonly string[];
  onOutcome(outcome: ReloadOutcome): void;
  /** Where the outcome is written for `tickerpulse reload` (null: nowhere). */
  statusFile: string | null;
  stopping(): boolean;
}

export class Reloader {
  private current: Config;
  private running: Promise<void> | null = null;
  private queued = false;
  private lastResult: ReloadResult | null = null;

  constructor(private readonly opts: ReloaderOptions) {
    this.current = opts.config;
  }

  /** The config the daemon runs (as of the last successful reload). */
  get config(): Config {
    return this.current;
  }

  get last(): ReloadResult | null {
    return this.lastResult;
  }

  /** Asks for a reload; returns at once. */
  request(): void {
    const log = this.opts.log;
    if (this.opts.stopping()) {
      log.info('reload ignored: the daemon is shutting down');
      return;
    }
    if (this.running) {
      if (!this.queued) log.info('reload requested while one runs: queued to run after it');
      this.queued = true;
      return;
    }
    this.running = this.loop();
  }

  /** Resolves once no reload is running or queued. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.queued = false;
        if (this.opts.stopping()) break;
        await this.once();
      } while (this.queued);
    } finally {
      this.running = null;
    }
  }

  private async once(): Promise<void> {
    const { log } = this.opts;
    const startedAtMs = Date.now();
    const result: ReloadResult = {
      pid: process.pid,
      startedAt: new Date(startedAtMs).toISOString(),
      startedAtMs,
      finishedAt: '',
      outcome: 'ok',
      added: [],
      removed: [],
      changed: [],
      unchanged: [],
      needsRestart: [],
      issues: [],
      errors: [],
    };
    log.info('reloading the config');
    try {
      await this.apply(result);
    } catch (err) {
      if (err instanceof TickerpulseError && err.code === 'CONFIG_INVALID') {
        result.outcome = 'invalid';
        const issues = (err.details?.issues as ConfigIssue[] | undefined) ?? [{ path: '(file)', message: err.message }];
        result.issues = issues;
        // One line with every problem; the running config is untouched.
        log.error({ code: err.code, problems: issues.length, issues }, `config reload refused: ${issues.length} problem(s) in the config; still running the previous config`);
      } else {
        result.outcome = 'error';
        result.errors.push({ source: null, code: err instanceof TickerpulseError ? err.code : 'INTERNAL', message: (err as Error).message });
        log.error({ err }, 'config reload failed');
      }
    }
    result.finishedAt = new Date().toISOString();
    this.lastResult = result;
    this.opts.onOutcome(result.outcome);
    if (this.opts.statusFile) {
      try {
        writeReloadStatus(this.opts.statusFile, result);
      } catch (err) {
        log.warn({ err, file: this.opts.statusFile }, 'cannot write the reload status file');
      }
    }
  }

  private async apply(result: ReloadResult): Promise<void> {
    const { log, sources } = this.opts;
    const next = this.opts.load();
    const before = this.current;
    const plan = planReload(before, next, this.opts.extra);
    const drainMs = before.limits.shutdownTimeout;
    const oldById = new Map(before.sources.map((s) => [s.id, s]));
    const fail = (source: string, err: unknown) => {
      result.outcome = 'error';
      result.errors.push({ source, code: err instanceof TickerpulseError ? err.code : 'INTERNAL', message: (err as Error).message });
      log.error({ err, source }, 'config reload: source could not be started');
    };
    // Removed and changed sources stop together (each drains its in-flight polls into the store)…
    await Promise.all([...plan.removed, ...plan.changed.map((s) => s.id)].map((id) => sources.stop(id, drainMs)));
    // …then their committed state is what a changed source resumes from.
    this.current = plan.effective;
    for (const sc of plan.changed) {
      try {
        await sources.start(sc, plan.effective, (st) => restartState(oldById.get(sc.id), sc, st));
      } catch (err) {
        fail(sc.id, err);
      }
    }
    for (const sc of plan.added) {
      try {
        await sources.start(sc, plan.effective);
      } catch (err) {
        fail(sc.id, err);
      }
    }
    result.added = plan.added.map((s) => s.id);
    result.removed = plan.removed;
    result.changed = plan.changed.map((s) => s.id);
    result.unchanged = plan.unchanged;
    result.needsRestart = plan.needsRestart;
    const counts = { added: result.added.length, removed: result.removed.length, changed: result.changed.length, unchanged: result.unchanged.length };
    log.info({ ...counts, sources: { added: result.added, removed: result.removed, changed: result.changed, unchanged: result.unchanged }, needsRestart: plan.needsRestart }, 'config reloaded');
    if (plan.needsRestart.length) {
      log.warn({ settings: plan.needsRestart }, `config reload: ${plan.needsRestart.join(', ')} changed and need a restart to take effect; running with the previous values until then`);
    }
  }
}
