/** The error cause /healthz and the dashboard show: set from the report, cleared on recovery, URLs redacted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyErrorCause, initialHealth } from '../../src/daemon/sourceHealth.js';
import { redactUrls } from '../../src/lib/redactUrls.js';
import type { IngestReport } from '../../pipelines/ingest.js';

const rep = (error?: { code: string; message: string }, failed: { code: string; message: string }[] = []): IngestReport =>
  ({ poll: { sourceId: 's', items: [], state: {}, ...(error ? { error } : {}) }, stored: 0, duplicates: 0, failed }) as unknown as IngestReport;

test('redactUrls: credentials and query go, host and path stay; other text untouched', () => {
  assert.equal(
    redactUrls('fetching https://user:pw@api.example.com/v1/news?apikey=SECRET&x=1 failed: ENOTFOUND api.example.com'),
    'fetching https://api.example.com/v1/news?… failed: ENOTFOUND api.example.com',
  );
  assert.equal(redactUrls('fetching https://www.sec.gov/news/pressreleases.rss failed'), 'fetching https://www.sec.gov/news/pressreleases.rss failed');
  assert.equal(redactUrls('wss://stream.example.com/ws?token=abc closed'), 'wss://stream.example.com/ws?… closed');
  assert.equal(redactUrls('HTTP 503'), 'HTTP 503');
});

test('applyErrorCause: the poll error, else the first dead letter; cleared with lastError', () => {
  const h = initialHealth('s', 'rss', { lastPollAt: null, nextPollAt: null, etag: null, lastModified: null, consecutiveErrors: 0, lastError: null, cursor: null, itemsTotal: 42 });
  assert.equal(h.items, 42, 'the item count starts from sources.items_total');
  assert.equal(h.lastErrorMessage, null);
  h.lastError = 'FEED_FETCH_FAILED';
  applyErrorCause(h, rep({ code: 'FEED_FETCH_FAILED', message: 'fetching https://x.example/f?k=1 failed: ENOTFOUND x.example' }));
  assert.equal(h.lastErrorMessage, 'fetching https://x.example/f?… failed: ENOTFOUND x.example');
  h.lastError = 'CLASSIFY_FAILED';
  applyErrorCause(h, rep(undefined, [{ code: 'CLASSIFY_FAILED', message: 'worker crashed' }]));
  assert.equal(h.lastErrorMessage, 'worker crashed');
  // A good report that left lastError in place (a websocket batch) keeps the cause with it.
  applyErrorCause(h, rep());
  assert.equal(h.lastErrorMessage, 'worker crashed');
  h.lastError = null;
  applyErrorCause(h, rep());
  assert.equal(h.lastErrorMessage, null);
});
