import type { SourceState } from '../lib/types.js';
import type { IngestReport } from '../../pipelines/ingest.js';
import type { RetryNotice } from '../../pipelines/classify.js';
import { redactUrls } from '../lib/redactUrls.js';

export type SourceStatus = 'starting' | 'ok' | 'retrying' | 'backing-off' | 'failing' | 'done' | 'stopped';

/** A poll whose classification is being retried (its worker crashed or failed), until its report arrives. */
export interface RetryState {
  /** When the first retry of this poll began. */
  since: string;
  /** Retries and splits so far. */
  retries: number;
  /** Items of the batch retried last, the attempt that failed and the tries it gets. */
  items: number;
  attempt: number;
  attempts: number;
  next: RetryNotice['next'];
  nextAttemptAt: string;
  error: string;
  message: string;
}

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
  /** The error of the last poll, as the database's sources.last_error has it (null once it recovered). */
  lastError: string | null;
  /** The cause behind lastError (e.g. `… ENOTFOUND www.sec.gov`; URLs redacted); null after a restart until the next error. */
  lastErrorMessage: string | null;
  deadLetters: number;
  duplicatesSkipped: number;
  /** Polls waiting in the pipeline plus tasks queued on the source's worker. */
  queueDepth: number;
  /** Set while status is 'retrying'. */
  retry: RetryState | null;
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
    retry: null,
  };
}

export function statusFor(consecutiveErrors: number): SourceStatus {
  if (consecutiveErrors === 0) return 'ok';
  return consecutiveErrors >= FAILING_AFTER ? 'failing' : 'backing-off';
}

/**
 * A poll's report (once its last chunk committed). lastError follows what that commit wrote to
 * sources.last_error (pipelines/ingest.ts): the poll's error, else the first dead letter's code,
 * else the poll state's lastError — null after a good poll, so a recovered source stops showing
 * its old error. A state without lastError (a websocket batch) leaves it as it was, as the store does.
 */
export function applyReport(h: SourceHealth, r: IngestReport): void {
  const st = r.poll.state;
  if (st.lastPollAt !== undefined) h.lastPollAt = st.lastPollAt;
  if (st.nextPollAt !== undefined) h.nextPollAt = st.nextPollAt;
  h.items += r.stored;
  h.duplicatesSkipped += r.duplicates;
  h.deadLetters += r.failed.length;
  if (r.poll.error || r.failed.length) h.errors++;
  const lastError = r.poll.error?.code ?? r.failed[0]?.code ?? st.lastError;
  if (lastError !== undefined) h.lastError = lastError;
  if (r.poll.error) h.consecutiveErrors = st.consecutiveErrors ?? h.consecutiveErrors + 1;
  else if (r.failed.length) h.consecutiveErrors++;
  else h.consecutiveErrors = 0;
  h.status = statusFor(h.consecutiveErrors);
  h.retry = null;
}

/** A retry of the source's classification began. True when it starts a retry episode (worth a log line). */
export function applyRetry(h: SourceHealth, n: RetryNotice, now: number): boolean {
  const first = h.retry === null;
  h.status = 'retrying';
  h.lastError = n.code;
  h.retry = {
    since: h.retry?.since ?? new Date(now).toISOString(),
    retries: (h.retry?.retries ?? 0) + 1,
    items: n.items,
    attempt: n.attempt,
    attempts: n.attempts,
    next: n.next,
    nextAttemptAt: new Date(now + n.delayMs).toISOString(),
    error: n.code,
    message: n.message,
  };
  return first;
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
