/** What /healthz says about one source, as polls report and classify batches are retried (issue 16, item 4). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyReport, applyRetry, initialHealth } from '../../src/daemon/sourceHealth.js';
import type { IngestReport } from '../../pipelines/ingest.js';
import type { PollResult } from '../../src/lib/types.js';

const report = (poll: Partial<PollResult>, over: Partial<IngestReport> = {}): IngestReport => ({
  poll: { sourceId: 's', items: [], state: {}, ...poll },
  stored: 0,
  duplicates: 0,
  failed: [],
  ...over,
});

test('a source that recovers stops showing its last error, as the database does', () => {
  const h = initialHealth('s', 'rss', null);
  applyReport(h, report({ state: { consecutiveErrors: 1, lastError: 'WORKER_FAILED' }, error: { code: 'WORKER_FAILED', message: 'thread died' } }));
  assert.equal(h.status, 'backing-off');
  assert.equal(h.lastError, 'WORKER_FAILED');
  // The poller's good poll writes last_error = NULL (sources/poller.ts).
  applyReport(h, report({ state: { consecutiveErrors: 0, lastError: null } }, { stored: 3 }));
  assert.equal(h.status, 'ok');
  assert.equal(h.lastError, null);
  assert.equal(h.errors, 1, 'the run still counts the failed poll');
});

test('a persisted error clears on the first good poll after a restart', () => {
  const h = initialHealth('s', 'rss', { lastPollAt: null, nextPollAt: null, etag: null, lastModified: null, consecutiveErrors: 2, lastError: 'FETCH_FAILED', cursor: null });
  assert.equal(h.lastError, 'FETCH_FAILED');
  applyReport(h, report({ state: { consecutiveErrors: 0, lastError: null } }));
  assert.deepEqual([h.status, h.lastError], ['ok', null]);
});

test('a state without lastError (a websocket batch) keeps it; dead letters set it', () => {
  const h = initialHealth('s', 'websocket', null);
  applyReport(h, report({ state: { consecutiveErrors: 0, lastError: 'INPUT_INVALID' } }));
  applyReport(h, report({ state: { lastPollAt: '2026-01-01T00:00:00.000Z' } }));
  assert.equal(h.lastError, 'INPUT_INVALID');
  const failed = [{ item: { guid: 'g', url: null, title: 't', summary: null, publishedAt: null }, code: 'MODEL_RUN_FAILED', message: 'm', attempts: 2 }];
  applyReport(h, report({ state: { consecutiveErrors: 0, lastError: null } }, { failed }));
  assert.equal(h.lastError, 'MODEL_RUN_FAILED');
  assert.equal(h.status, 'backing-off');
});

test('a retried classify batch shows as retrying with the next attempt and the error, until the poll reports', () => {
  const h = initialHealth('s', 'rss', null);
  const now = Date.parse('2026-01-01T00:00:00.000Z');
  assert.equal(applyRetry(h, { items: 64, attempt: 1, attempts: 3, next: 'retry', delayMs: 100, code: 'WORKER_FAILED', message: 'worker thread failed: exit 70' }, now), true);
  assert.equal(h.status, 'retrying');
  assert.equal(h.lastError, 'WORKER_FAILED');
  assert.deepEqual(h.retry, {
    since: '2026-01-01T00:00:00.000Z',
    retries: 1,
    items: 64,
    attempt: 1,
    attempts: 3,
    next: 'retry',
    nextAttemptAt: '2026-01-01T00:00:00.100Z',
    error: 'WORKER_FAILED',
    message: 'worker thread failed: exit 70',
  });
  assert.equal(applyRetry(h, { items: 64, attempt: 3, attempts: 3, next: 'split', delayMs: 0, code: 'WORKER_FAILED', message: 'again' }, now + 5000), false, 'the same episode');
  assert.equal(h.retry?.retries, 2);
  assert.equal(h.retry?.since, '2026-01-01T00:00:00.000Z');
  assert.equal(h.retry?.next, 'split');
  // The worker came back: the poll's report ends the episode.
  applyReport(h, report({ state: { consecutiveErrors: 0, lastError: null } }, { stored: 64 }));
  assert.deepEqual([h.status, h.lastError, h.retry], ['ok', null, null]);
});
