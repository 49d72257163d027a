/** Config keys of the json, websocket and jsonl (follow / stdin) sources: defaults, conversions, errors with paths. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import { configIssuePaths as issues } from './helpers.js';


describe('json source config', () => {
  it('defaults: the polling settings of rss, the document root as the items array, JSONL-like field names', () => {
    const cfg = resolveConfig({ sources: [{ id: 'api', kind: 'json', url: 'https://api.example.com/v1/news' }] });
    const s = cfg.sources[0];
    assert.ok(s.kind === 'json');
    assert.equal(s.interval, 300_000);
    assert.equal(s.allowPrivateNetworks, false);
    assert.equal(s.items, undefined);
    assert.deepEqual(s.fields, { title: 'title', url: 'url', publishedAt: 'publishedAt', id: 'id', summary: 'summary' });
  });

  it('items and field paths, per-source limits', () => {
    const cfg = resolveConfig({
      sources: [
        {
          id: 'api',
          kind: 'json',
          url: 'https://api.example.com/v1/news?symbols=AAPL',
          interval: '1m',
          timeout: '5s',
          maxBodyBytes: '2MiB',
          userAgent: 'Example ops@example.com',
          items: 'data.articles',
          fields: { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid', summary: 'media.0.caption' },
        },
      ],
    });
    const s = cfg.sources[0];
    assert.ok(s.kind === 'json');
    assert.equal(s.interval, 60_000);
    assert.equal(s.timeout, 5000);
    assert.equal(s.maxBodyBytes, 2 << 20);
    assert.equal(s.items, 'data.articles');
    assert.deepEqual(s.fields, { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid', summary: 'media.0.caption' });
  });

  it('bad values are reported with their paths', () => {
    assert.deepEqual(
      issues({
        sources: [
          { id: 'a', kind: 'json', url: 'ws://api.example.com/', items: 'data..articles' },
          { id: 'b', kind: 'json', url: 'https://api.example.com/', fields: { title: '', link: 'x' } },
        ],
      }).sort(),
      ['sources[0].items', 'sources[0].url', 'sources[1].fields', 'sources[1].fields.title'].sort(),
    );
  });
});

describe('websocket source config', () => {
  it('defaults: reconnect, ping/pong, maxPayload and buffer bounds; batching from limits', () => {
    const cfg = resolveConfig({ sources: [{ id: 'ws', kind: 'websocket', url: 'wss://stream.example.com/news' }] });
    const s = cfg.sources[0];
    assert.ok(s.kind === 'websocket');
    assert.equal(s.reconnectDelay, 1000);
    assert.equal(s.maxReconnectDelay, 60_000);
    assert.equal(s.pingInterval, 30_000);
    assert.equal(s.pongTimeout, 10_000);
    assert.equal(s.maxPayload, 1 << 20);
    assert.equal(s.maxBufferedMessages, 1000);
    assert.equal(s.maxBufferedBytes, 16 << 20);
    assert.equal(s.allowPrivateNetworks, false);
    assert.equal(s.subscribe, undefined);
    assert.equal(s.batchSize, undefined);
    assert.equal(s.batchWait, undefined);
    assert.equal(cfg.limits.batchWait, 250);
    assert.equal(cfg.limits.batchSize, 64);
  });

  it('any JSON value as subscribe; durations and sizes converted', () => {
    const cfg = resolveConfig({
      limits: { batchWait: '100ms' },
      sources: [
        {
          id: 'ws',
          kind: 'websocket',
          url: 'ws://10.0.0.5:9000/stream',
          allowPrivateNetworks: true,
          subscribe: { action: 'subscribe', params: { symbols: ['AAPL', 'MSFT'], depth: 1, live: true, since: null } },
          items: 'data',
          fields: { title: 'headline' },
          reconnectDelay: '500ms',
          maxReconnectDelay: '2m',
          pingInterval: '15s',
          pongTimeout: '5s',
          maxPayload: '256KiB',
          batchSize: 16,
          batchWait: '20ms',
        },
        { id: 'ws2', kind: 'websocket', url: 'wss://s.example.com/', subscribe: 'hello' },
      ],
    });
    const [s, t] = cfg.sources;
    assert.ok(s.kind === 'websocket' && t.kind === 'websocket');
    assert.deepEqual(s.subscribe, { action: 'subscribe', params: { symbols: ['AAPL', 'MSFT'], depth: 1, live: true, since: null } });
    assert.equal(t.subscribe, 'hello');
    assert.equal(s.reconnectDelay, 500);
    assert.equal(s.maxReconnectDelay, 120_000);
    assert.equal(s.pingInterval, 15_000);
    assert.equal(s.pongTimeout, 5000);
    assert.equal(s.maxPayload, 256 << 10);
    assert.equal(s.batchSize, 16);
    assert.equal(s.batchWait, 20);
    assert.equal(s.fields.title, 'headline');
    assert.equal(s.fields.id, 'id');
    assert.equal(cfg.limits.batchWait, 100);
  });

  it('bad values are reported with their paths', () => {
    assert.deepEqual(
      issues({
        limits: { batchWait: '2m' },
        sources: [{ id: 'ws', kind: 'websocket', url: 'https://stream.example.com/', pingInterval: 'often', maxPayload: '1TiB', batchSize: 0, reconnect: true }],
      }).sort(),
      ['limits.batchWait', 'sources[0]', 'sources[0].batchSize', 'sources[0].maxPayload', 'sources[0].pingInterval', 'sources[0].url'].sort(),
    );
  });
});

describe('jsonl follow / stdin config', () => {
  it('follow and pollInterval; "-" is standard input and is not resolved as a path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tp-jsonl-config-'));
    const file = join(dir, 'tp.yaml');
    writeFileSync(
      file,
      `sources:
  - { id: tail, kind: jsonl, path: logs/news.jsonl, follow: true, pollInterval: 250ms }
  - { id: piped, kind: jsonl, path: "-" }
  - { id: replay, kind: jsonl, path: old.jsonl }
`,
    );
    const cfg = loadConfig(file);
    const [tail, piped, replay] = cfg.sources;
    assert.ok(tail.kind === 'jsonl' && piped.kind === 'jsonl' && replay.kind === 'jsonl');
    assert.equal(tail.follow, true);
    assert.equal(tail.pollInterval, 250);
    assert.equal(tail.stdin, false);
    assert.equal(tail.path, join(dir, 'logs/news.jsonl'));
    assert.equal(piped.stdin, true);
    assert.equal(piped.follow, false);
    assert.equal(replay.follow, false);
    assert.equal(replay.pollInterval, 1000);
  });

  it('only one source may read stdin', () => {
    assert.deepEqual(
      issues({
        sources: [
          { id: 'a', kind: 'jsonl', path: '-' },
          { id: 'b', kind: 'jsonl', path: '-', follow: 'yes' },
          { id: 'c', kind: 'jsonl', path: '-' },
        ],
      }),
      ['sources[1].follow'],
    );
    assert.deepEqual(
      issues({
        sources: [
          { id: 'a', kind: 'jsonl', path: '-' },
          { id: 'b', kind: 'jsonl', path: '-' },
        ],
      }),
      ['sources[1].path'],
    );
  });
});
