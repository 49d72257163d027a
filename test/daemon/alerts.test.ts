/**
 * Alerts end to end, in process with an injected clock: a steady baseline of unrelated neutral
 * headlines about one ticker over twelve hours, then a burst of negative ones → exactly one
 * shift alert (the cooldown holds for the rest of the burst), stored with its items in the
 * alerts tables, pushed on /ws as {"type":"alert"}, and POSTed once to a loopback webhook.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { resolveConfig } from '../../src/config/load.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/lib/log.js';
import { connectWs, waitFor } from './harness.js';

// Made up for this test; the model reads the first twelve as neutral, the last six as negative.
const BASELINE = [
  'to present at the regional industrial conference on Tuesday',
  'schedules its annual shareholder meeting for May',
  'names a new head of investor relations',
  'board declares regular quarterly dividend',
  'completes previously announced office relocation',
  'appoints two independent directors',
  'chief financial officer to speak at a bank forum',
  'updates its supplier code of conduct',
  'to transfer listing of its notes to a new trustee',
  'reports no change to its credit facility terms',
  'confirms date of its capital markets day',
  'schedules its annual shareholder meeting for May',
];
const BURST = [
  'plunges after profit warning, slashes forecast',
  'shares tumble as regulators open fraud probe',
  'sinks after CEO resigns amid accounting scandal',
  'cuts guidance, shares crash to multi-year low',
  'slumps as quarterly loss widens sharply and sales collapse',
  'downgraded to sell after massive recall and lawsuit',
];

test('a negative burst after a neutral baseline raises one shift alert: stored, on /ws, to the webhook', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-alerts-'));
  const T0 = Date.parse('2026-03-02T00:00:00Z');
  const hooks: Array<Record<string, any>> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ contentType: req.headers['content-type'], auth: req.headers.authorization, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const feed = join(dir, 'feed.jsonl');
  writeFileSync(feed, '');
  const cfg = resolveConfig({
    db: join(dir, 'tp.db'),
    server: { host: '127.0.0.1', port: 0 },
    sources: [{ id: 'wire', kind: 'jsonl', path: feed, follow: true, pollInterval: '50ms' }],
    alerts: {
      rules: [{ id: 'acme-down', kind: 'shift', recent: '1h', trailing: '24h', k: 3, minItems: 4, minBaseline: 8, direction: 'down', cooldown: '6h' }],
      webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, headers: { authorization: 'Bearer s3cret' }, backoff: '10ms' },
    },
  });
  // The clock stands just after the burst: event times (the items' publishedAt) drive the windows.
  const daemon = await startDaemon(cfg, { log: createLogger({ level: 'silent', pretty: false }), clock: () => T0 + 13 * 3600_000 });
  try {
    const client = await connectWs(daemon.port);
    const line = (id: string, title: string, at: number) => JSON.stringify({ id, title: `$ACME ${title}`, publishedAt: new Date(at).toISOString() }) + '\n';
    // one baseline headline an hour (the last repeats the second: a copy, which must not count)
    appendFileSync(feed, BASELINE.map((t, i) => line(`base-${i}`, t, T0 + i * 3600_000)).join(''));
    await waitFor('the baseline stored', () => client.messages.filter((m) => m.type === 'item').length >= BASELINE.length);
    assert.equal(client.messages.filter((m) => m.type === 'alert').length, 0);
    // then six negative stories within 25 minutes
    appendFileSync(feed, BURST.map((t, i) => line(`burst-${i}`, t, T0 + 12 * 3600_000 + 10 * 60_000 + i * 5 * 60_000)).join(''));
    await waitFor('the burst stored', () => client.messages.filter((m) => m.type === 'item').length >= BASELINE.length + BURST.length);
    const alerts = await waitFor('an alert on /ws', () => {
      const a = client.messages.filter((m) => m.type === 'alert');
      return a.length ? a : undefined;
    });
    await waitFor('the webhook call', () => hooks.length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // room for a (wrong) second alert or retry

    assert.equal(alerts.length, 1, 'the cooldown holds for the rest of the burst');
    const a = alerts[0].alert;
    assert.equal(a.rule, 'acme-down');
    assert.equal(a.kind, 'shift');
    assert.equal(a.ticker, 'ACME');
    assert.equal(a.direction, 'down');
    assert.ok(a.value < -0.5 && a.baseline > -0.2, JSON.stringify(a));
    // the alert fires on the fourth negative story (minItems) and names the burst's items
    const items = client.messages.filter((m) => m.type === 'item').map((m) => m.item);
    const burstSeqs = items.filter((i) => i.guid.startsWith('burst-')).map((i) => i.seq);
    assert.deepEqual(a.seqs, burstSeqs.slice(0, 4));
    assert.equal(a.at, items.find((i) => i.seq === burstSeqs[3]).publishedAt);

    assert.equal(hooks.length, 1);
    assert.equal(hooks[0].contentType, 'application/json');
    assert.equal(hooks[0].auth, 'Bearer s3cret');
    assert.equal(hooks[0].body.type, 'alert');
    assert.equal(hooks[0].body.alert.id, a.id);

    const db = new Database(cfg.db, { readonly: true });
    try {
      const rows = db.prepare('SELECT id, rule, kind, ticker, direction, delivered_at FROM alerts').all() as Array<Record<string, unknown>>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0].id, a.id);
      assert.ok(rows[0].delivered_at, 'the webhook delivery is recorded');
      const seqs = (db.prepare('SELECT seq FROM alert_items WHERE alert_id = ? ORDER BY seq').all(a.id) as Array<{ seq: number }>).map((r) => r.seq);
      assert.deepEqual(seqs, a.seqs);
    } finally {
      db.close();
    }
    client.ws.close();
  } finally {
    await daemon.shutdown('test done');
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed webhook delivery shows in /healthz, on /ws and in /api/alerts; a client resuming with ?since gets the alert in its place', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-alerts-'));
  const T0 = Date.parse('2026-03-02T00:00:00Z');
  let posts = 0;
  // 400: not retryable, so the webhook gives up at once ('rejected').
  const receiver = createServer((req, res) => {
    posts++;
    req.resume();
    req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('no such hook'));
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const feed = join(dir, 'feed.jsonl');
  writeFileSync(feed, '');
  const cfg = resolveConfig({
    db: join(dir, 'tp.db'),
    server: { host: '127.0.0.1', port: 0 },
    sources: [{ id: 'wire', kind: 'jsonl', path: feed, follow: true, pollInterval: '50ms' }],
    alerts: {
      rules: [{ id: 'acme-down', kind: 'shift', recent: '1h', trailing: '24h', k: 3, minItems: 4, minBaseline: 8, direction: 'down', cooldown: '6h' }],
      webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, backoff: '10ms' },
    },
  });
  const daemon = await startDaemon(cfg, { log: createLogger({ level: 'silent', pretty: false }), clock: () => T0 + 13 * 3600_000 });
  try {
    const client = await connectWs(daemon.port);
    const line = (id: string, title: string, at: number) => JSON.stringify({ id, title: `$ACME ${title}`, publishedAt: new Date(at).toISOString() }) + '\n';
    appendFileSync(feed, BASELINE.map((t, i) => line(`base-${i}`, t, T0 + i * 3600_000)).join(''));
    await waitFor('the baseline stored', () => client.messages.filter((m) => m.type === 'item').length >= BASELINE.length);
    const beforeBurst = Math.max(...client.messages.filter((m) => m.type === 'item').map((m) => m.item.seq));
    appendFileSync(feed, BURST.map((t, i) => line(`burst-${i}`, t, T0 + 12 * 3600_000 + 10 * 60_000 + i * 5 * 60_000)).join(''));
    const delivery = await waitFor('the delivery failure on /ws', () => client.messages.find((m) => m.type === 'delivery'));
    const alert = client.messages.find((m) => m.type === 'alert')!.alert;
    assert.equal(posts, 1);
    assert.equal(delivery.delivery.alertId, alert.id);
    assert.equal(delivery.delivery.ticker, 'ACME');
    assert.equal(delivery.delivery.delivered, false);
    assert.match(delivery.delivery.error, /^rejected: /);

    const health = await (await fetch(`http://127.0.0.1:${daemon.port}/healthz`)).json();
    const hook = health.alerts.webhook;
    assert.equal(hook.failed, 1);
    assert.equal(hook.delivered, 0);
    assert.equal(hook.lastFailure.alertId, alert.id);
    assert.match(hook.lastFailure.error, /^rejected: /);
    // The writer records the outcome after the message went out.
    const listed = await waitFor('the failure in /api/alerts', async () => {
      const [a] = await (await fetch(`http://127.0.0.1:${daemon.port}/api/alerts?since=2026-03-01`)).json();
      return a?.deliveryError ? a : undefined;
    });
    assert.equal(listed.id, alert.id);
    assert.match(listed.deliveryError, /^rejected: /);

    // A client that went away before the burst resumes: the alert comes with the items, right
    // after the newest item of the commit that raised it, as the live client got it.
    const resumed = await connectWs(daemon.port, `?since=${beforeBurst}`);
    await waitFor('the replay', () => resumed.messages.filter((m) => m.type === 'item').length >= BURST.length && resumed.messages.some((m) => m.type === 'alert'));
    const order = (msgs: Array<Record<string, any>>) => msgs.filter((m) => m.type === 'item' || m.type === 'alert').map((m) => (m.type === 'item' ? `i${m.item.seq}` : `a${m.alert.id}`));
    const live = order(client.messages).filter((k) => k.startsWith('a') || Number(k.slice(1)) > beforeBurst);
    assert.deepEqual(order(resumed.messages), live, 'the replay has the live order');
    const replayed = resumed.messages.find((m) => m.type === 'alert')!.alert;
    assert.equal(replayed.id, alert.id);
    assert.equal(replayed.seq, alert.seq);
    const i = order(resumed.messages).indexOf(`a${alert.id}`);
    assert.equal(order(resumed.messages)[i - 1], `i${alert.seq}`, 'right after the item of its seq');
    resumed.ws.close();
    client.ws.close();
  } finally {
    await daemon.shutdown('test done');
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
