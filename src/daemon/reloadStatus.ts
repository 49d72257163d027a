/**
 * The outcome of the daemon's latest config reload, as a small JSON file beside the database
 * (`<db>.reload.json`): how `tickerpulse reload` learns what its signal did without needing the
 * HTTP port or token. Written whole and renamed into place, so a reader never sees half of it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { ConfigIssue } from '../config/load.js';

/** ok: applied; invalid: the config was refused (issues), nothing changed; error: applied in part (errors). */
export type ReloadOutcome = 'ok' | 'invalid' | 'error';

export const RELOAD_OUTCOMES: readonly ReloadOutcome[] = ['ok', 'invalid', 'error'];

export interface ReloadResult {
  /** The daemon that reloaded. */
  pid: number;
  startedAt: string;
  /** startedAt in ms: a reload that started after a signal was sent has read the file after it. */
  startedAtMs: number;
  finishedAt: string;
  outcome: ReloadOutcome;
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  /** Changed settings kept at their running value until a restart (config paths). */
  needsRestart: string[];
  /** outcome invalid: every problem of the config. */
  issues: ConfigIssue[];
  /** outcome error: what failed (a source that could not start). */
  errors: Array<{ source: string | null; code: string; message: string }>;
}

export function reloadStatusPath(dbPath: string): string {
  return `${dbPath}.reload.json`;
}

export function writeReloadStatus(file: string, r: ReloadResult): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(r) + '\n');
  renameSync(tmp, file);
}

/** The last written outcome, or null (no file, or not one of ours). */
export function readReloadStatus(file: string): ReloadResult | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as ReloadResult;
    return typeof r?.pid === 'number' && typeof r.startedAtMs === 'number' ? r : null;
  } catch {
    return null;
  }
}
