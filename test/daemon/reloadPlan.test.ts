/** What a config reload changes (src/daemon/reloadPlan.ts), decided from two validated configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/load.js';
import { planReload, restartState } from '../../src/daemon/reloadPlan.js';
import type { SourceConfig } from '../../src/config/schema.js';
import type { SourceState } from '../../src/lib/types.js';

const rss = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: 'rss', url: `https://news.example.com/${id}.xml`, interval: '10m', ...extra });
const cfg = (raw: Record<string, unknown>) => resolveConfig({ db: '/tmp/tp-plan.db', ...raw });

test('sources: added, removed (also by enabled: false), changed, unchanged; key order is no change', () => {
  const a = cfg({ sources: [rss('keep', { timeout: '5s', allowPrivateNetworks: false }), rss('drop'), rss('change'), rss('off')] });
  const b = cfg({ sources: [rss('keep', { allowPrivateNetworks: false, timeout: '5s' }), rss('change', { interval: '1m' }), rss('new'), rss('off', { enabled: false })] });
  const p = planReload(a, b);
  assert.deepEqual(p.added.map((s) => s.id), ['new']);
  assert.deepEqual(p.removed.sort(), ['drop', 'off']);
  assert.deepEqual(p.changed.map((s) => s.id), ['change']);
  assert.deepEqual(p.unchanged, ['keep']);
  assert.deepEqual(p.needsRestart, []);
  assert.equal(p.effective.sources, b.sources);
});

test('an inherited setting (userAgent, a per-source limit, the worker heap) restarts every source it shapes', () => {
  const a = cfg({ sources: [rss('x'), rss('y', { userAgent: 'own/1.0' })] });
  assert.deepEqual(planReload(a, cfg({ sources: [rss('x'), rss('y', { userAgent: 'own/1.0' })], limits: { fetchTimeout: '5s' } })).changed.map((s) => s.id), ['x', 'y']);
  assert.deepEqual(planReload(a, cfg({ sources: [rss('x'), rss('y', { userAgent: 'own/1.0' })], limits: { workerHeapMb: 1024 } })).changed.map((s) => s.id), ['x', 'y']);
  const ua = planReload(a, cfg({ sources: [rss('x'), rss('y', { userAgent: 'own/1.0' })], userAgent: 'ops@example.com' }));
  // y's own userAgent wins, but what it inherits is compared as a whole: restarting it is harmless.
  assert.ok(ua.changed.some((s) => s.id === 'x'));
  assert.deepEqual(ua.needsRestart, []);
  // shutdownTimeout only bounds the next drain: live, and no source restarts for it.
  const st = planReload(a, cfg({ sources: [rss('x'), rss('y', { userAgent: 'own/1.0' })], limits: { shutdownTimeout: '20s' } }));
  assert.deepEqual(st.changed, []);
  assert.equal(st.effective.limits.shutdownTimeout, 20_000);
});

test('settings that cannot change at runtime are reported and kept at their running value', () => {
  const a = cfg({ sources: [rss('x')] });
  const b = resolveConfig({
    db: '/tmp/other.db',
    server: { port: 9999 },
    limits: { dbCacheMb: 16 },
    model: { intraOpNumThreads: 2 },
    tickers: { watchlist: ['ACME'] },
    hosts: { 'news.example.com': { maxConcurrent: 1 } },
    log: { level: 'debug' },
    retention: { items: '90d' },
    alerts: { rules: [{ id: 'r', kind: 'volume' }] },
    sources: [rss('x')],
  });
  const p = planReload(a, b);
  assert.deepEqual(p.needsRestart, ['alerts.rules', 'db', 'hosts.news.example.com', 'limits.dbCacheMb', 'log.level', 'model.intraOpNumThreads', 'retention.items', 'server.port', 'store', 'tickers.watchlist']);
  assert.equal(p.effective.db, a.db);
  assert.equal(p.effective.server.port, a.server.port);
  assert.equal(p.effective.limits.dbCacheMb, a.limits.dbCacheMb);
  // The model settings a source's worker gets are the running ones: no source restarts for them.
  assert.deepEqual(p.unchanged, ['x']);
});

test('extra sources (the --demo source) are kept as they are', () => {
  const a = cfg({ sources: [rss('x')] });
  const p = planReload(a, cfg({ sources: [] }), ['demo']);
  assert.deepEqual(p.removed, ['x']);
  assert.deepEqual(p.unchanged, ['demo']);
});

test('restartState: continues from the store; a new URL drops validators and backoff; a shorter interval applies now', () => {
  const st: SourceState = { lastPollAt: '2026-12-01T10:00:00.000Z', nextPollAt: '2026-12-01T11:00:00.000Z', etag: '"e1"', lastModified: null, consecutiveErrors: 0, lastError: null, cursor: null };
  const src = (raw: Record<string, unknown>) => cfg({ sources: [raw] }).sources[0] as SourceConfig;
  const hourly = src(rss('x', { interval: '1h' }));
  assert.equal(restartState(hourly, src(rss('x', { interval: '1h', timeout: '5s' })), st), st);
  assert.equal(restartState(hourly, src(rss('x', { interval: '5m' })), st)?.nextPollAt, '2026-12-01T10:05:00.000Z');
  // Backing off: the persisted schedule (the backoff) is kept.
  const failing = { ...st, consecutiveErrors: 2 };
  assert.equal(restartState(hourly, src(rss('x', { interval: '5m' })), failing), failing);
  const moved = restartState(hourly, src(rss('x', { interval: '1h', url: 'https://other.example.com/feed.xml' })), failing);
  assert.deepEqual({ etag: moved?.etag, nextPollAt: moved?.nextPollAt, consecutiveErrors: moved?.consecutiveErrors }, { etag: null, nextPollAt: null, consecutiveErrors: 0 });
  assert.equal(restartState(hourly, hourly, null), null);
});

test('a source reading standard input is not restarted (the pipe cannot be handed over): it needs a restart', () => {
  const a = cfg({ sources: [{ id: 'in', kind: 'jsonl', path: '-' }] });
  const p = planReload(a, cfg({ sources: [{ id: 'in', kind: 'jsonl', path: '-', chunkSize: 10 }] }));
  assert.deepEqual(p.changed, []);
  assert.deepEqual(p.unchanged, ['in']);
  assert.deepEqual(p.needsRestart, ['sources.in']);
  assert.deepEqual(p.effective.sources, a.sources);
  // Removing it stops it as any other source.
  assert.deepEqual(planReload(a, cfg({ sources: [] })).removed, ['in']);
});
