/** The multi-process cluster scenario (clusterScenario.ts) on one SQLite file shared by the processes. */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ItemStore } from '../../src/store/itemStore.js';
import { SKIP_NO_NATS } from './natsServer.js';
import { runClusterScenario, SCENARIO } from './clusterScenario.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-cluster-sqlite-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'cluster.db');

function read<T>(fn: (s: ItemStore) => T, empty: T): T {
  let s: ItemStore;
  try {
    s = ItemStore.open(db, { readonly: true });
  } catch {
    return empty; // not created yet
  }
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

test(`SQLite: ${SCENARIO}`, { skip: SKIP_NO_NATS, timeout: 400_000 }, (t) =>
  runClusterScenario(t, {
    config: { db },
    spec: db,
    count: async () => read((s) => s.countItems(), 0),
    all: async () => read((s) => s.itemsAfter(0, 1_000_000).map((i) => ({ seq: i.seq, source: i.source, guid: i.guid })), []),
  }),
);
