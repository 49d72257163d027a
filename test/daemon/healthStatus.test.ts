/** The daemon's part of /healthz status: which problems degrade it and which make it failing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonHealth, type HealthInputs } from '../../src/daemon/healthStatus.js';

const src = (id: string, status: string, lastError: string | null = null, lastErrorMessage: string | null = null) => ({ id, status, lastError, lastErrorMessage });
const base = (over: Partial<HealthInputs> = {}): HealthInputs => ({
  sources: [src('a', 'ok'), src('b', 'ok')],
  webhook: null,
  writer: { alive: true, lagMs: 0 },
  writerLagLimitMs: 30_000,
  ...over,
});

test('all well: ok without reason; backing off is not yet a problem', () => {
  assert.deepEqual(daemonHealth(base()), { status: 'ok', reason: null });
  assert.deepEqual(daemonHealth(base({ sources: [src('a', 'backing-off', 'FEED_FETCH_FAILED'), src('b', 'ok')] })), { status: 'ok', reason: null });
  assert.deepEqual(daemonHealth(base({ sources: [] })), { status: 'ok', reason: null });
});

test('one source failing: degraded, naming it with the cause of its error', () => {
  const h = daemonHealth(base({ sources: [src('sec', 'failing', 'FEED_FETCH_FAILED', 'fetching https://www.sec.gov/x failed: ENOTFOUND www.sec.gov'), src('b', 'ok')] }));
  assert.equal(h.status, 'degraded');
  assert.equal(h.reason, '1 of 2 sources failing: sec (fetching https://www.sec.gov/x failed: ENOTFOUND www.sec.gov)');
});

test('every source failing, or the writer gone: failing', () => {
  const sources = ['a', 'b', 'c', 'd', 'e'].map((id) => src(id, 'failing', 'FEED_HTTP_ERROR'));
  const h = daemonHealth(base({ sources }));
  assert.equal(h.status, 'failing');
  assert.equal(h.reason, 'every source is failing: a (FEED_HTTP_ERROR), b (FEED_HTTP_ERROR), c (FEED_HTTP_ERROR) and 2 more');
  assert.deepEqual(daemonHealth(base({ writer: { alive: false, lagMs: 0 } })), { status: 'failing', reason: 'the writer thread is gone' });
});

test('webhook failing or writer lagging: degraded, reasons joined', () => {
  const h = daemonHealth(base({ webhook: { lastFailed: true, lastError: 'http: 500' }, writer: { alive: true, lagMs: 45_000 } }));
  assert.equal(h.status, 'degraded');
  assert.equal(h.reason, 'the alert webhook is failing (http: 500); the writer lags: its oldest request waits for 45 s');
  assert.deepEqual(daemonHealth(base({ webhook: { lastFailed: false, lastError: null }, writer: { alive: true, lagMs: 29_999 } })), { status: 'ok', reason: null });
});
