import type { SourceState } from '../lib/types.js';

export type SourceStatus = 'starting' | 'ok' | 'backing-off' | 'failing' | 'done' | 'stopped';

/** What /healthz shows for one source. */
export interface SourceHealth {
  id: string;
  kind: string;
  status: SourceStatus;
  lastPollAt: string | null;
  nextPollAt: string | null;
  /** Items stored by this source in this run. */
  items: number;
  /** Failed polls / batches in this run. */
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  deadLetters: number;
  duplicatesSkipped: number;
  /** Polls waiting in the pipeline plus tasks queued on the source's worker. */
  queueDepth: number;
}

/** A source with this many failures in a row is reported as failing rather than backing off. */
const FAILING_AFTER = 3;

export function initialHealth(id: string, kind: string, persisted: SourceState | null): SourceHealth {
  return {
    id,
    kind,
    status: 'starting',
    lastPollAt: persisted?.lastPollAt ?? null,
    nextPollAt: persisted?.nextPollAt ?? null,
    items: 0,
    errors: 0,
    consecutiveErrors: persisted?.consecutiveErrors ?? 0,
    lastError: persisted?.lastError ?? null,
    deadLetters: 0,
    duplicatesSkipped: 0,
    queueDepth: 0,
  };
}

export function statusFor(consecutiveErrors: number): SourceStatus {
  if (consecutiveErrors === 0) return 'ok';
  return consecutiveErrors >= FAILING_AFTER ? 'failing' : 'backing-off';
}
