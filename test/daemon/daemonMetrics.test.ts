/** DaemonMetrics in process: what each feed does to the exposition, and one registry per daemon. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import type { IngestReport } from '../../pipelines/ingest.js';
import type { StoredAlert } from '../../src/lib/types.js';
import { parseExposition, valueOf } from './promText.js';

const report = (over: Partial<IngestReport> & { error?: { code: string; message: string }; items?: number }): IngestReport =>
  ({
    poll: { sourceId: 's', items: Array.from({ length: over.items ?? 0 }, () => ({})), state: {}, ...(over.error ? { error: over.error } : {}) },
    stored: over.stored ?? 0,
    duplicates: over.duplicates ?? 0,
    failed: over.failed ?? [],
  }) as IngestReport;

test('reports, commits, alerts and webhook outcomes feed their series; two daemons do not share them', async () => {
  const a = new DaemonMetrics();
  const b = new DaemonMetrics();
  a.addSource('s', null);
  a.onReport('s', report({ items: 3, stored: 2, duplicates: 1 }), 1_700_000_000_000);
  a.onReport('s', report({ error: { code: 'FEED_HTTP_ERROR', message: 'HTTP 503' } }));
  a.onReport('s', report({ items: 2, stored: 1, failed: [{ code: 'CLASSIFY_FAILED', message: 'x', attempts: 3, item: {} } as never] }));
  a.onCommitSamples({ ms: [2, 40], items: [10, 2000], dropped: 3 });
  a.onAlerts([{ rule: 'r1' }, { rule: 'r1' }, { rule: 'r2' }] as StoredAlert[]);
  a.onWebhook(true);
  a.onWebhook(false);
  a.attach({
    sources: () => [{ id: 's', kind: 'rss', status: 'backing-off', lastPollAt: null, nextPollAt: '2026-12-03T10:00:00.000Z', items: 3, errors: 2, consecutiveErrors: 1, lastError: 'X', lastErrorMessage: null, deadLetters: 1, duplicatesSkipped: 1, queueDepth: 4, retry: null }],
    writer: () => ({ queueDepth: 2, lagMs: 1500 }),
    websocket: () => ({ clients: 3, replaying: 1, replayBacklog: 70, messagesSent: 12, bytesSent: 3400, closedByCode: { '4008': 2, '1000': 5 } }),
    dbPath: '/nonexistent/tp.db',
  });
  const m = parseExposition(await a.render());
  const v = (name: string, labels: Record<string, string> = {}) => valueOf(m, name, labels);
  assert.equal(v('tickerpulse_source_polls_total', { source: 's', outcome: 'ok' }), 1);
  assert.equal(v('tickerpulse_source_polls_total', { source: 's', outcome: 'error' }), 1);
  assert.equal(v('tickerpulse_source_polls_total', { source: 's', outcome: 'partial' }), 1);
  assert.equal(v('tickerpulse_source_errors_total', { source: 's', code: 'FEED_HTTP_ERROR' }), 1);
  assert.equal(v('tickerpulse_source_errors_total', { source: 's', code: 'CLASSIFY_FAILED' }), 1);
  assert.equal(v('tickerpulse_source_items_ingested_total', { source: 's' }), 3);
  assert.equal(v('tickerpulse_source_items_deduplicated_total', { source: 's' }), 1);
  assert.equal(v('tickerpulse_source_items_dead_lettered_total', { source: 's' }), 1);
  assert.equal(v('tickerpulse_source_last_success_timestamp_seconds', { source: 's' }) !== 1_700_000_000, true, 'the partial poll (no poll error) is a later success');
  assert.equal(v('tickerpulse_source_status', { source: 's', status: 'backing-off' }), 1);
  assert.equal(v('tickerpulse_source_status', { source: 's' }), 1, 'exactly one status is 1');
  assert.equal(v('tickerpulse_source_next_poll_timestamp_seconds', { source: 's' }), Date.parse('2026-12-03T10:00:00Z') / 1000);
  assert.equal(v('tickerpulse_source_queue_depth', { source: 's' }), 4);
  assert.equal(v('tickerpulse_commit_seconds_count'), 2);
  assert.equal(v('tickerpulse_commit_seconds_bucket', { le: '0.005' }), 1);
  assert.equal(v('tickerpulse_commit_items_sum'), 2010);
  assert.equal(v('tickerpulse_commit_samples_dropped_total'), 3);
  assert.equal(v('tickerpulse_alerts_fired_total', { rule: 'r1' }), 2);
  assert.equal(v('tickerpulse_alerts_fired_total', { rule: 'r2' }), 1);
  assert.equal(v('tickerpulse_webhook_deliveries_total'), 1);
  assert.equal(v('tickerpulse_webhook_failures_total'), 1);
  assert.equal(v('tickerpulse_writer_queue_depth'), 2);
  assert.equal(v('tickerpulse_writer_lag_seconds'), 1.5);
  assert.equal(v('tickerpulse_db_wal_bytes'), 0);
  assert.equal(v('tickerpulse_ws_clients'), 3);
  assert.equal(v('tickerpulse_ws_replay_backlog_items'), 70);
  assert.equal(v('tickerpulse_ws_messages_sent_total'), 12);
  assert.equal(v('tickerpulse_ws_sent_bytes_total'), 3400);
  assert.equal(v('tickerpulse_ws_closed_total', { code: '4008' }), 2);
  assert.equal(v('tickerpulse_ws_closed_total', { code: '1000' }), 5);
  assert.equal(v('tickerpulse_ws_closed_total', { code: '1009' }), 0);
  // A second scrape reads the same totals (copied, not added up).
  assert.equal(valueOf(parseExposition(await a.render()), 'tickerpulse_ws_messages_sent_total'), 12);

  const other = parseExposition(await b.render());
  assert.equal(valueOf(other, 'tickerpulse_source_polls_total'), undefined);
  assert.equal(valueOf(other, 'tickerpulse_webhook_deliveries_total'), 0);
});
