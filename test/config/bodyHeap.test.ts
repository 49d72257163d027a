import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/load.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { maxBodyForHeap } from '../../src/lib/bodyHeap.js';

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TickerpulseError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return (err.details as { issues: { path: string; message: string }[] }).issues;
  }
  assert.fail('expected CONFIG_INVALID');
}

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
