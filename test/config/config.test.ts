import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { maxBodyForHeap } from '../../src/lib/bodyHeap.js';

import { issuesOf } from './issues.js';

test('defaults: no config file gives the built-in feeds and safe limits', () => {
  const cfg = loadConfig(undefined);
  assert.ok(cfg.sources.length >= 5);
  assert.ok(cfg.sources.every((s) => s.kind === 'rss' && s.interval >= 60_000));
  assert.equal(cfg.server.host, '127.0.0.1');
  assert.equal(cfg.server.port, 8787);
  assert.equal(cfg.limits.maxBodyBytes, 10 * 1024 * 1024);
  assert.equal(cfg.limits.fetchTimeout, 20_000);
});

test('a YAML file is parsed, durations and sizes converted, relative paths resolved against the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-config-'));
  const file = join(dir, 'tp.yaml');
  writeFileSync(
    file,
    `db: out/x.db
server: { host: 127.0.0.1, port: 0 }
limits: { maxBodyBytes: 2MiB, fetchTimeout: 5s }
sources:
  - id: fed-press
    kind: rss
    url: https://www.federalreserve.gov/feeds/press_all.xml
    interval: 30s
  - id: replay
    kind: jsonl
    path: ./some.jsonl
`,
  );
  const cfg = loadConfig(file, { port: 1234 });
  assert.equal(cfg.db, join(dir, 'out/x.db'));
  assert.equal(cfg.server.port, 1234);
  assert.equal(cfg.limits.maxBodyBytes, 2 * 1024 * 1024);
  assert.equal(cfg.limits.fetchTimeout, 5000);
  const [rss, jsonl] = cfg.sources;
  assert.equal(rss.kind === 'rss' && rss.interval, 30_000);
  assert.equal(jsonl.kind === 'jsonl' && jsonl.path, join(dir, 'some.jsonl'));
});

test('every problem is reported at once, each with its path', () => {
  const issues = issuesOf(() =>
    resolveConfig({
      server: { port: 70000 },
      colour: 'blue',
      sources: [
        { id: 'Bad Id', kind: 'rss', url: 'ftp://example.com/feed', interval: '5 parsecs' },
        { id: 'ok', kind: 'carrier-pigeon' },
        { id: 'dup', kind: 'jsonl', path: 'a.jsonl' },
        { id: 'dup', kind: 'jsonl', path: 'b.jsonl', chunkSize: 0 },
      ],
    }),
  );
  const paths = issues.map((i) => i.path);
  for (const p of ['server.port', '(top level)', 'sources[0].id', 'sources[0].url', 'sources[0].interval', 'sources[1].kind', 'sources[3].chunkSize', 'sources[3].id']) {
    assert.ok(paths.includes(p), `expected an issue at ${p}; got ${JSON.stringify(issues)}`);
  }
  assert.match(issues.find((i) => i.path === 'sources[3].id')!.message, /duplicate/);
});

test('a missing required field is named in words, not as zod\'s "expected string, received undefined"', () => {
  const issues = issuesOf(() =>
    resolveConfig({
      alerts: { rules: [{ id: 'r' }] },
      sources: [{ id: 'a', kind: 'rss' }, { kind: 'jsonl', path: 'x.jsonl' }, { id: 'c' }, { id: 'd', kind: 'rss', url: 'https://example.com/f', interval: 5 }],
    }),
  );
  const at = (p: string) => issues.find((i) => i.path === p)?.message;
  assert.equal(at('sources[0].url'), 'required field "url" is missing (expected a string)');
  assert.equal(at('sources[1].id'), 'required field "id" is missing (expected a string)');
  assert.equal(at('sources[2].kind'), 'required field "kind" is missing (one of rss, atom, json, websocket, jsonl)');
  assert.match(at('alerts.rules[0].kind') ?? '', /^required field "kind" is missing \(one of .*threshold/);
  for (const i of issues) assert.doesNotMatch(i.message, /received undefined/, `${i.path}: ${i.message}`);
  // A field that is present but wrong keeps saying what it got.
  assert.match(at('sources[3].interval') ?? '', /expected string, received number/);
});

test('a file that is not YAML is CONFIG_INVALID naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-config-'));
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, 'sources: [ {id: a\n');
  assert.throws(() => loadConfig(file), (err: unknown) => err instanceof TickerpulseError && err.code === 'CONFIG_INVALID' && err.message.includes(file));
});

test('the defaults fit: a 10 MiB body and a 512 MiB worker heap', () => {
  const cfg = resolveConfig({});
  assert.ok(cfg.limits.maxBodyBytes <= maxBodyForHeap(cfg.limits.workerHeapMb));
});

test('a maxBodyBytes the worker heap cannot parse is refused, saying what to change, with the other problems', () => {
  const issues = issuesOf(() =>
    resolveConfig({
      limits: { maxBodyBytes: '228MiB', batchSize: 0 },
      sources: [{ id: 'big', kind: 'rss', url: 'https://feeds.example.test/big.xml', maxBodyBytes: '300MiB' }],
    }),
  );
  const byPath = new Map(issues.map((i) => [i.path, i.message]));
  assert.ok(byPath.has('limits.batchSize'), 'reported together with the other errors');
  assert.match(byPath.get('limits.maxBodyBytes')!, /228MiB does not fit a worker heap of 512 MiB.*at most 128MiB.*limits\.workerHeapMb to at least 912/);
  assert.match(byPath.get('sources[0].maxBodyBytes')!, /300MiB .*at least 1200/);
});

test('raising workerHeapMb as the message says makes the same body valid', () => {
  const cfg = resolveConfig({ limits: { maxBodyBytes: '228MiB', workerHeapMb: 912 } });
  assert.equal(cfg.limits.maxBodyBytes, 228 * 1024 * 1024);
  // a smaller heap lowers what a source may accept, too
  assert.equal(issuesOf(() => resolveConfig({ limits: { workerHeapMb: 32 } }))[0].path, 'limits.maxBodyBytes');
});
