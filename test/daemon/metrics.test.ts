/**
 * /metrics and truthful health on the real daemon (`tickerpulse start` as a child process):
 * the scrape is valid exposition format with every documented metric, needs the token like
 * /api, and its counters move with an ingest; a failing source turns /healthz degraded (200)
 * with the cause of its error, every source failing turns it failing (503); /livez stays 200;
 * per-source item counts survive a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { connectWs, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type DaemonProcess, type FeedServer } from './harness.js';
import { parseExposition, valueOf, type Exposition } from './promText.js';

const TOKEN = 'metrics-test-token-0123456789';

/** Every metric docs/OPERATIONS.md lists (the process/Node.js defaults by a few representatives). */
const NAMES = [
  'tickerpulse_source_polls_total',
  'tickerpulse_source_errors_total',
  'tickerpulse_source_items_ingested_total',
  'tickerpulse_source_items_deduplicated_total',
  'tickerpulse_source_items_dead_lettered_total',
  'tickerpulse_source_last_success_timestamp_seconds',
  'tickerpulse_source_consecutive_errors',
  'tickerpulse_source_status',
  'tickerpulse_source_next_poll_timestamp_seconds',
  'tickerpulse_source_queue_depth',
  'tickerpulse_classify_batch_seconds',
  'tickerpulse_commit_seconds',
  'tickerpulse_commit_items',
  'tickerpulse_commit_samples_dropped_total',
  'tickerpulse_writer_queue_depth',
  'tickerpulse_writer_lag_seconds',
  'tickerpulse_db_wal_bytes',
  'tickerpulse_ws_clients',
  'tickerpulse_ws_replaying_clients',
  'tickerpulse_ws_replay_backlog_items',
  'tickerpulse_ws_messages_sent_total',
  'tickerpulse_ws_sent_bytes_total',
  'tickerpulse_ws_closed_total',
  'tickerpulse_alerts_fired_total',
  'tickerpulse_webhook_deliveries_total',
  'tickerpulse_webhook_failures_total',
  'tickerpulse_config_reloads_total',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
];

/** A loopback port nothing listens on: a source polling it fails with ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function writeConfig(dir: string, sources: unknown[]): string {
  const file = join(dir, 'config.json');
  // maxBackoff 1s: a broken source reaches `failing` (3 errors in a row) within seconds.
  writeFileSync(
    file,
    JSON.stringify({
      db: join(dir, 'tp.db'),
      server: { host: '127.0.0.1', port: 0, token: TOKEN, maxClientMessageBytes: 1024 },
      limits: { maxBackoff: '1s' },
      sources,
    }),
  );
  return file;
}

const rss = (id: string, url: string) => ({ id, kind: 'rss', url, interval: '1s', allowPrivateNetworks: true });

async function scrape(port: number, token: string | null = TOKEN): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function metrics(port: number): Promise<Exposition> {
  const r = await scrape(port);
  assert.equal(r.status, 200, r.text);
  return parseExposition(r.text);
}

async function probe(port: number, path: string): Promise<{ code: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { code: res.status, body: await res.json() };
}

test('/metrics: valid exposition format, every listed metric, token required, counters move with an ingest; a failing source degrades /healthz with its cause; counts survive a restart', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-metrics-'));
  const feed: FeedServer = await startFeedServer(makeItems(20, 'm'));
  const brokenUrl = `http://127.0.0.1:${await closedPort()}/feed.xml`;
  const config = writeConfig(dir, [rss('alpha', feed.url), rss('broken', brokenUrl)]);
  let d: DaemonProcess | undefined;
  try {
    d = await startDaemonProcess(['--config', config]);
    const port = d.port;

    // Same access rules as /api/*.
    assert.equal((await scrape(port, null)).status, 401);
    assert.equal((await scrape(port, 'wrong-token-wrong-token')).status, 401);
    const first = await scrape(port);
    assert.equal(first.status, 200);
    assert.match(first.type, /^text\/plain; version=0\.0\.4/);

    await waitFor('20 items ingested by alpha', async () => valueOf(await metrics(port), 'tickerpulse_source_items_ingested_total', { source: 'alpha' }) === 20, 60_000);
    // A WebSocket client: counted while open; its messages and its close code (1009: too big) counted.
    const client = await connectWs(port, `?token=${TOKEN}`);
    let m = await metrics(port);
    assert.equal(valueOf(m, 'tickerpulse_ws_clients'), 1);
    for (const name of NAMES) assert.ok(m.samples.some((s) => s.name === name || s.name.startsWith(`${name}_`)) || m.types.has(name), `${name} is missing from /metrics`);
    assert.equal(m.types.get('tickerpulse_classify_batch_seconds'), 'histogram');
    assert.equal(m.types.get('tickerpulse_commit_seconds'), 'histogram');
    assert.ok(valueOf(m, 'tickerpulse_classify_batch_seconds_count', { source: 'alpha' })! >= 1);
    // The writer posts its commits with its next stats message (every 500 ms).
    m = await waitFor('the commits of the 20 items', async () => {
      const e = await metrics(port);
      return valueOf(e, 'tickerpulse_commit_items_sum')! >= 20 ? e : false;
    });
    assert.ok(valueOf(m, 'tickerpulse_commit_seconds_count')! >= 1);
    assert.ok(valueOf(m, 'tickerpulse_source_last_success_timestamp_seconds', { source: 'alpha' })! > Date.parse('2026-01-01') / 1000);

    // Counters move: 5 new items (and the old 20 again, now duplicates).
    const polls = valueOf(m, 'tickerpulse_source_polls_total', { source: 'alpha', outcome: 'ok' })!;
    const sentBefore = valueOf(m, 'tickerpulse_ws_messages_sent_total')!;
    const committed = valueOf(m, 'tickerpulse_commit_items_sum')!;
    feed.items = [...makeItems(5, 'm', 20), ...feed.items];
    await waitFor('25 items ingested by alpha', async () => valueOf(await metrics(port), 'tickerpulse_source_items_ingested_total', { source: 'alpha' }) === 25, 60_000);
    await waitFor('the 5 items on the WebSocket', () => client.messages.filter((x) => x.type === 'item').length >= 5);
    m = await metrics(port);
    assert.ok(valueOf(m, 'tickerpulse_source_polls_total', { source: 'alpha', outcome: 'ok' })! > polls);
    assert.ok(valueOf(m, 'tickerpulse_source_items_deduplicated_total', { source: 'alpha' })! >= 20);
    assert.ok(valueOf(m, 'tickerpulse_ws_messages_sent_total')! >= sentBefore + 5);
    await waitFor('the commit of the 5 items', async () => valueOf(await metrics(port), 'tickerpulse_commit_items_sum')! >= committed + 5);

    client.ws.send('x'.repeat(4096));
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    await waitFor('the 1009 close counted', async () => valueOf(await metrics(port), 'tickerpulse_ws_closed_total', { code: '1009' }) === 1);

    // The broken source: failing after 3 errors in a row → degraded, 200, with the cause.
    const h = await waitFor('/healthz degraded', async () => {
      const r = await probe(port, '/healthz');
      return r.body.status === 'degraded' ? r : false;
    }, 60_000);
    assert.equal(h.code, 200);
    assert.match(h.body.reason, /^1 of 2 sources failing: broken \(.*ECONNREFUSED/);
    const broken = h.body.sources.find((s: { id: string }) => s.id === 'broken');
    assert.equal(broken.status, 'failing');
    assert.equal(broken.lastError, 'FEED_FETCH_FAILED');
    assert.match(broken.lastErrorMessage, /ECONNREFUSED/);
    assert.deepEqual(await probe(port, '/readyz'), { code: 200, body: { status: 'degraded', reason: h.body.reason } });
    assert.deepEqual(await probe(port, '/livez'), { code: 200, body: { status: 'alive' } });
    m = await metrics(port);
    assert.ok(valueOf(m, 'tickerpulse_source_errors_total', { source: 'broken', code: 'FEED_FETCH_FAILED' })! >= 3);
    assert.ok(valueOf(m, 'tickerpulse_source_polls_total', { source: 'broken', outcome: 'error' })! >= 3);
    assert.equal(valueOf(m, 'tickerpulse_source_status', { source: 'broken', status: 'failing' }), 1);
    assert.equal(valueOf(m, 'tickerpulse_source_status', { source: 'broken', status: 'ok' }), 0);
    assert.ok(valueOf(m, 'tickerpulse_source_consecutive_errors', { source: 'broken' })! >= 3);
    assert.equal(valueOf(m, 'tickerpulse_source_items_ingested_total', { source: 'broken' }), 0);

    assert.equal((await stopDaemon(d)).code, 0);
    // Restart: the item counts come from the database (sources.items_total), not from zero.
    d = await startDaemonProcess(['--config', config]);
    const again = await probe(d.port, '/healthz');
    assert.equal(again.body.sources.find((s: { id: string }) => s.id === 'alpha').items, 25);
    assert.equal(again.body.sources.find((s: { id: string }) => s.id === 'broken').items, 0);
  } finally {
    if (d) await stopDaemon(d);
    await feed.close();
  }
});

test('/healthz and /readyz: failing (503) when every source fails; /livez stays 200', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-metrics-'));
  const config = writeConfig(dir, [rss('down1', `http://127.0.0.1:${await closedPort()}/a`), rss('down2', `http://127.0.0.1:${await closedPort()}/b`)]);
  let d: DaemonProcess | undefined;
  try {
    d = await startDaemonProcess(['--config', config]);
    const port = d.port;
    const h = await waitFor('/healthz failing', async () => {
      const r = await probe(port, '/healthz');
      return r.body.status === 'failing' ? r : false;
    }, 60_000);
    assert.equal(h.code, 503);
    assert.match(h.body.reason, /^every source is failing: down1 \(.*ECONNREFUSED.*\), down2 \(/);
    const ready = await probe(port, '/readyz');
    assert.equal(ready.code, 503);
    assert.equal(ready.body.status, 'failing');
    assert.deepEqual(await probe(port, '/livez'), { code: 200, body: { status: 'alive' } });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`);
    await new Promise((r) => ws.once('open', r));
    ws.close(1000);
    await new Promise((r) => ws.once('close', r));
    await waitFor('the 1000 close counted', async () => valueOf(await metrics(port), 'tickerpulse_ws_closed_total', { code: '1000' }) === 1);
  } finally {
    if (d) await stopDaemon(d);
  }
});
