/**
 * What a config reload (SIGHUP, `tickerpulse reload`) changes, decided without touching anything:
 * the running config and the newly validated one → which sources start, stop, restart or stay,
 * and which changed settings need a restart of the daemon (docs/OPERATIONS.md, "Reload").
 *
 * Live settings: `sources`, the settings that only shape sources (`userAgent` and the per-source
 * `limits` below: a change restarts every source it affects; `limits.shutdownTimeout` bounds the
 * drain of the next stop). Everything else is read once at start by a part a reload does not
 * rebuild (the listening socket, the writer thread with its alert engine and page cache, the
 * model check, the shared host budget, the webhook and retention tasks, the loggers): a change
 * there is reported as needing a restart, and the running value is kept.
 */
import type { Config, SourceConfig } from '../config/schema.js';
import type { SourceState } from '../lib/types.js';
import { sourceWorkerOptions } from './configOptions.js';

/** `limits` keys that only shape sources (their fetches, pipelines and worker threads). */
export const SOURCE_LIMITS = ['fetchTimeout', 'connectTimeout', 'maxBackoff', 'maxBodyBytes', 'batchSize', 'batchWait', 'maxPendingPolls', 'workerQueue', 'classifyAttempts', 'workerHeapMb', 'commitChunk', 'shutdownTimeout'] as const;

export interface ReloadPlan {
  /** The config the daemon runs after the reload: the new one with restart-only settings kept as they were. */
  effective: Config;
  added: SourceConfig[];
  removed: string[];
  /** Sources whose own or inherited settings changed: stopped, then started with the new ones. */
  changed: SourceConfig[];
  unchanged: string[];
  /** Changed settings that take effect only after a restart (config paths, e.g. `server.port`). */
  needsRestart: string[];
}

/**
 * `extra`: sources the daemon runs that are not in the config file (the `--demo` source); they
 * are kept as they are.
 */
export function planReload(running: Config, next: Config, extra: readonly string[] = []): ReloadPlan {
  const limits = { ...running.limits };
  for (const k of SOURCE_LIMITS) (limits as Record<string, unknown>)[k] = next.limits[k];
  const effective: Config = {
    ...running,
    sources: next.sources,
    userAgent: next.userAgent,
    limits,
  };
  const needsRestart = changedPaths(effective, next);

  const before = new Map(running.sources.filter((s) => s.enabled).map((s) => [s.id, s]));
  const after = effective.sources.filter((s) => s.enabled && !extra.includes(s.id));
  const plan: ReloadPlan = { effective, added: [], removed: [], changed: [], unchanged: [...extra], needsRestart };
  for (const sc of after) {
    const old = before.get(sc.id);
    if (!old) plan.added.push(sc);
    else if (fingerprint(running, old) === fingerprint(effective, sc)) plan.unchanged.push(sc.id);
    else if (old.kind === 'jsonl' && old.stdin) {
      // Standard input cannot be handed from one reader to the next without losing what the
      // first had already taken from the pipe: the source runs on as it is until a restart.
      plan.unchanged.push(sc.id);
      plan.needsRestart.push(`sources.${sc.id}`);
      effective.sources = effective.sources.map((s) => (s.id === sc.id ? old : s));
    } else plan.changed.push(sc);
  }
  const kept = new Set(after.map((s) => s.id));
  for (const id of before.keys()) if (!kept.has(id) && !extra.includes(id)) plan.removed.push(id);
  return plan;
}

/** Everything a running source was built from: its own config and what it inherits. */
function fingerprint(cfg: Config, sc: SourceConfig): string {
  const inherited = Object.fromEntries(SOURCE_LIMITS.filter((k) => k !== 'shutdownTimeout').map((k) => [k, cfg.limits[k]]));
  return stableJson({ sc, worker: sourceWorkerOptions(cfg, sc.id), userAgent: cfg.userAgent ?? null, inherited });
}

/**
 * The poll state a changed source restarts with. It continues from what the store holds (ETag,
 * cursor, schedule), except: a new URL is a new endpoint, so the old one's validators and
 * backoff do not apply; and a shorter interval takes effect now (the next poll is at most one
 * new interval after the last) unless the source is backing off.
 */
export function restartState<S extends SourceState>(before: SourceConfig | undefined, after: SourceConfig, persisted: S | null): S | null {
  if (!persisted || !before) return persisted;
  const url = (s: SourceConfig) => ('url' in s ? s.url : s.kind === 'jsonl' ? s.path : null);
  if (url(before) !== url(after)) return { ...persisted, etag: null, lastModified: null, nextPollAt: null, consecutiveErrors: 0 };
  const interval = (s: SourceConfig) => ('interval' in s ? s.interval : null);
  const newInterval = interval(after);
  const last = persisted.lastPollAt ? Date.parse(persisted.lastPollAt) : NaN;
  const next = persisted.nextPollAt ? Date.parse(persisted.nextPollAt) : NaN;
  if (newInterval !== null && persisted.consecutiveErrors === 0 && Number.isFinite(last) && Number.isFinite(next) && last + newInterval < next) {
    return { ...persisted, nextPollAt: new Date(last + newInterval).toISOString() };
  }
  return persisted;
}

/** Config paths (two levels deep: `server.port`, `alerts.rules`) whose values differ. */
export function changedPaths(a: Config, b: Config): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    const va = (a as Record<string, unknown>)[k];
    const vb = (b as Record<string, unknown>)[k];
    if (stableJson(va) === stableJson(vb)) continue;
    if (isPlainObject(va) && isPlainObject(vb) && k !== 'store' && k !== 'cluster') {
      const sub = new Set([...Object.keys(va), ...Object.keys(vb)]);
      for (const s of [...sub].sort()) if (stableJson(va[s]) !== stableJson(vb[s])) out.push(`${k}.${s}`);
    } else {
      out.push(k);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** JSON with object keys sorted: key order in a YAML file is not a change. */
function stableJson(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x: unknown) => (isPlainObject(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}
