import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { alertsConfigSchema, type AlertsConfig } from '../../src/config/alerts.js';
import { parseDuration } from '../../src/config/schema.js';
import type { AlertEngineConfig } from '../../pipelines/alerts.js';

/** Compile-time check: what the schema outputs is what the engine takes (the engine declares its config structurally). */
const _assignable: (c: AlertsConfig) => AlertEngineConfig = (c) => c;
void _assignable;

function issues(raw: unknown): { path: string; message: string }[] {
  const r = alertsConfigSchema.safeParse(raw);
  assert.equal(r.success, false, 'expected the config to be invalid');
  return r.error!.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, ''), message: i.message }));
}

function messageAt(list: { path: string; message: string }[], path: string): string {
  const hit = list.find((i) => i.path === path);
  assert.ok(hit, `expected an issue at ${path}; got ${JSON.stringify(list)}`);
  return hit.message;
}

test('no alerts config: no rules, no webhook, default ticker cap (as configSchema embeds it with prefault({}))', () => {
  const embedded = z.object({ alerts: alertsConfigSchema.prefault({}) }).strict();
  assert.deepEqual(embedded.parse({}).alerts, { rules: [], maxTrackedTickers: 10_000 });
});

test('a YAML example parses with every default filled in, durations in ms, symbols canonical', () => {
  const cfg = alertsConfigSchema.parse(
    parseYaml(`
rules:
  - id: aapl-shift
    kind: shift
    tickers: [AAPL, brk-b]
  - id: news-spike
    kind: volume
    recent: 30m
    trailing: 3d
    cooldown: 2h
  - id: watch-low
    kind: threshold
    watchlist: true
    below: -0.6
webhook:
  url: https://hooks.example.com/tp?token=abc
  headers: { authorization: Bearer s3cret }
maxTrackedTickers: 5000
`),
  );
  assert.deepEqual(cfg.rules[0], {
    id: 'aapl-shift',
    kind: 'shift',
    tickers: ['AAPL', 'BRK.B'],
    watchlist: false,
    cooldown: 3_600_000,
    enabled: true,
    recent: 3_600_000,
    trailing: 7 * 86_400_000,
    direction: 'both',
    k: 3,
    minSd: 0.1,
    minItems: 5,
    minBaseline: 20,
  });
  assert.deepEqual(cfg.rules[1], {
    id: 'news-spike',
    kind: 'volume',
    watchlist: false,
    cooldown: 7_200_000,
    enabled: true,
    recent: 1_800_000,
    trailing: 3 * 86_400_000,
    factor: 3,
    minItems: 5,
    minHistory: 86_400_000,
  });
  assert.deepEqual(cfg.rules[2], { id: 'watch-low', kind: 'threshold', watchlist: true, cooldown: 3_600_000, enabled: true, below: -0.6 });
  assert.deepEqual(cfg.webhook, {
    url: 'https://hooks.example.com/tp?token=abc',
    headers: { authorization: 'Bearer s3cret' },
    timeout: 10_000,
    maxAttempts: 5,
    maxQueue: 1000,
    backoff: 1000,
    maxBackoff: 60_000,
  });
  assert.equal(cfg.maxTrackedTickers, 5000);
});

test('durations use the same grammar as limits (parseDuration in schema.ts)', () => {
  for (const d of ['0s', '250ms', '30s', '5m', '1.5h', '7d', ' 2 h ']) {
    const cfg = alertsConfigSchema.parse({ rules: [{ id: 'x', kind: 'threshold', tickers: ['A'], below: 0, cooldown: d }] });
    assert.equal(cfg.rules[0].cooldown, parseDuration(d), d);
  }
  assert.match(messageAt(issues({ rules: [{ id: 'x', kind: 'shift', recent: '5 parsecs' }] }), 'rules[0].recent'), /not a duration/);
  assert.match(messageAt(issues({ rules: [{ id: 'x', kind: 'shift', recent: '2d' }] }), 'rules[0].recent'), /out of range: use 1m to 1d/);
});

test('every problem is reported at once, each with its path', () => {
  const list = issues({
    colour: 'blue',
    maxTrackedTickers: 0,
    rules: [
      { id: 'Bad Id', kind: 'shift', k: 0 },
      { id: 'a', kind: 'carrier-pigeon' },
      { id: 'v', kind: 'volume', factor: 0.5, typo: 1 },
      { id: 'v', kind: 'shift', recent: '2h', trailing: '3h', direction: 'sideways' },
      { id: 't', kind: 'threshold', tickers: ['AAPL'] },
      { id: 't2', kind: 'threshold', below: 0.5, above: 0.2, tickers: ['not a symbol!'] },
      { id: 't3', kind: 'threshold', below: -0.5 },
    ],
    webhook: { url: 'ftp://example.com/hook', maxAttempts: 0, headers: { 'content-type': 'text/plain', 'bad header': 'x', 'x-token': 'line\nbreak' } },
  });
  assert.match(messageAt(list, ''), /Unrecognized key.*colour/);
  messageAt(list, 'maxTrackedTickers');
  assert.match(messageAt(list, 'rules[0].id'), /a-z, 0-9/);
  messageAt(list, 'rules[0].k');
  assert.match(messageAt(list, 'rules[1].kind'), /shift, volume, threshold/);
  messageAt(list, 'rules[2].factor');
  assert.match(messageAt(list, 'rules[2]'), /typo/);
  assert.match(messageAt(list, 'rules[3].id'), /duplicate rule id "v" \(also rules\[2\]\)/);
  messageAt(list, 'rules[3].direction');
  assert.match(messageAt(list, 'rules[4].below'), /needs below, above or both/);
  assert.match(messageAt(list, 'rules[5].tickers[0]'), /ticker symbol/);
  assert.match(messageAt(list, 'rules[6].tickers'), /needs tickers, or watchlist: true/);
  assert.match(messageAt(list, 'webhook.url'), /http:\/\/ or https:\/\//);
  messageAt(list, 'webhook.maxAttempts');
  assert.match(messageAt(list, 'webhook.headers.content-type'), /set by tickerpulse/);
  assert.match(messageAt(list, 'webhook.headers.bad header'), /not a valid header name/);
  assert.match(messageAt(list, 'webhook.headers.x-token'), /one line/);
});

test('cross-field rules: trailing vs recent, above vs below, minHistory, backoff, credentials in the URL', () => {
  assert.match(messageAt(issues({ rules: [{ id: 's', kind: 'shift', recent: '2h', trailing: '3h' }] }), 'rules[0].trailing'), /twice as long/);
  assert.match(messageAt(issues({ rules: [{ id: 't', kind: 'threshold', tickers: ['A'], below: 0.5, above: 0.2 }] }), 'rules[0].above'), /greater than below/);
  assert.match(messageAt(issues({ rules: [{ id: 'v', kind: 'volume', trailing: '1d', minHistory: '2d' }] }), 'rules[0].minHistory'), /longer than trailing/);
  assert.match(messageAt(issues({ webhook: { url: 'http://x/', backoff: '10s', maxBackoff: '1s' } }), 'webhook.maxBackoff'), /shorter than backoff/);
  assert.match(messageAt(issues({ webhook: { url: 'https://user:pw@x.example/' } }), 'webhook.url'), /credentials/);
  assert.match(messageAt(issues({ webhook: { url: 'http://x/', extra: 1 } }), 'webhook'), /extra/);
});
