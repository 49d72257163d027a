import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';

import { issuesOf } from './issues.js';

test('store defaults to the SQLite file data/tickerpulse.db, and db mirrors it', () => {
  const cfg = resolveConfig({});
  assert.deepEqual(cfg.store, { kind: 'sqlite', path: join(process.cwd(), 'data/tickerpulse.db') });
  assert.equal(cfg.db, join(process.cwd(), 'data/tickerpulse.db'));
});

test('the old top-level db still works and means store: { kind: sqlite, path }', () => {
  const cfg = resolveConfig({ db: 'out/old.db' });
  assert.deepEqual(cfg.store, { kind: 'sqlite', path: join(process.cwd(), 'out/old.db') });
  assert.equal(cfg.db, join(process.cwd(), 'out/old.db'));
});

test('store: sqlite with a path, and store: postgres with a URL', () => {
  assert.equal(resolveConfig({ store: { kind: 'sqlite', path: 'x/y.db' } }).db, join(process.cwd(), 'x/y.db'));
  const pg = resolveConfig({ store: { kind: 'postgres', url: 'postgres://tp:secret@db.example.test:5432/tickerpulse' } });
  assert.deepEqual(pg.store, { kind: 'postgres', url: 'postgres://tp:secret@db.example.test:5432/tickerpulse' });
});

test('db and store together: accepted when they say the same, CONFIG_INVALID when they differ', () => {
  assert.equal(resolveConfig({ db: 'a.db', store: { kind: 'sqlite', path: 'a.db' } }).db, join(process.cwd(), 'a.db'));
  const differ = issuesOf(() => resolveConfig({ db: 'a.db', store: { kind: 'sqlite', path: 'b.db' } }));
  assert.equal(differ.length, 1);
  assert.equal(differ[0].path, 'db');
  assert.match(differ[0].message, /differ/);
  assert.equal(issuesOf(() => resolveConfig({ db: 'a.db', store: { kind: 'postgres', url: 'postgres://h/db' } }))[0].path, 'db');
});

test('a bad store is reported with its path, together with other problems', () => {
  const issues = issuesOf(() => resolveConfig({ store: { kind: 'postgres', url: 'mysql://h/db' }, limits: { batchSize: 0 } }));
  const paths = issues.map((i) => i.path);
  assert.ok(paths.includes('store.url'), paths.join(', '));
  assert.ok(paths.includes('limits.batchSize'), paths.join(', '));
  assert.ok(issuesOf(() => resolveConfig({ store: { kind: 'mongo' } })).some((i) => i.path.startsWith('store')));
  assert.ok(issuesOf(() => resolveConfig({ store: { kind: 'postgres' } })).some((i) => i.path === 'store.url'));
  assert.ok(issuesOf(() => resolveConfig({ store: { kind: 'sqlite', path: 'a.db', url: 'postgres://h/d' } })).some((i) => i.path.startsWith('store')));
});

test('--db on the command line wins over a postgres store', () => {
  const cfg = resolveConfig({ store: { kind: 'postgres', url: 'postgres://h/db' } }, { overrides: { db: 'cli.db' } });
  assert.deepEqual(cfg.store, { kind: 'sqlite', path: join(process.cwd(), 'cli.db') });
});
