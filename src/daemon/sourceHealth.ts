import type { SourceState } from '../lib/types.js';
import type { IngestReport } from '../../pipelines/ingest.js';
import { redactUrls } from '../lib/redactUrls.js';

export type SourceStatus = 'starting' | 'ok' | 'backing-off' | 'failing' | 'done' | 'stopped';

/** What /healthz shows for one source. */
export interface SourceHealth {
  id: string;
  kind: string;
  status: SourceStatus;
  lastPollAt: string | null;
  nextPollAt: string | null;
  /** Items stored by this source, all runs together (starts from sources.items_total). */
  items: number;
  /** Failed polls / batches in this run. */
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  /** The cause behind lastError (e.g. `… ENOTFOUND www.sec.gov`; URLs redacted); null after a restart until the next error. */
  lastErrorMessage: string | null;
  deadLetters: number;
  duplicatesSkipped: number;
  /** Polls waiting in the pipeline plus tasks queued on the source's worker. */
  queueDepth: number;
}

/** A source with this many failures in a row is reported as failing rather than backing off. */
const FAILING_AFTER = 3;

export function initialHealth(id: string, kind: string, persisted: (SourceState & { itemsTotal?: number }) | null): SourceHealth {
  return {
    id,
    kind,
    status: 'starting',
    lastPollAt: persisted?.lastPollAt ?? null,
    nextPollAt: persisted?.nextPollAt ?? null,
    items: persisted?.itemsTotal ?? 0,
    errors: 0,
    consecutiveErrors: persisted?.consecutiveErrors ?? 0,
    lastError: persisted?.lastError ?? null,
    lastErrorMessage: null,
    deadLetters: 0,
    duplicatesSkipped: 0,
    queueDepth: 0,
  };
}

export function statusFor(consecutiveErrors: number): SourceStatus {
  if (consecutiveErrors === 0) return 'ok';
  return consecutiveErrors >= FAILING_AFTER ? 'failing' : 'backing-off';
}

/**
 * After the report has updated lastError: the message of the error it names (the poll's, else
 * the first dead letter's), cleared with lastError once the source recovered. /healthz needs no
 * token: URLs in it lose their credentials and query (redactUrls).
 */
export function applyErrorCause(h: SourceHealth, r: IngestReport): void {
  const cause = r.poll.error?.message ?? r.failed[0]?.message;
  if (cause !== undefined) h.lastErrorMessage = redactUrls(cause);
  else if (h.lastError === null) h.lastErrorMessage = null;
}
