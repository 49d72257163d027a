import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { SourceWorker } from '../../src/pool/sourceWorker.js';
import { sharedModelTables } from '../../src/pool/sharedModelTables.js';
import { sharedTickerTable } from '../../src/pool/sharedTickerTable.js';
import { defaultModelDir, workerFile } from '../../src/lib/paths.js';
import { Featurizer, type TokenizerSpec } from '../../src/model/tokenizer.js';
import { rowTableKey } from '../../src/model/sharedRows.js';
import type { ClassifyReply } from '../../workers/classify.js';

/** Headlines written for this test: one company, several (entity model), cashtags, none. */
const TEXTS = [
  'Apple shares rise after iPhone launch',
  'Microsoft and Nvidia lead tech rally while Intel slumps',
  '$BRK.B hits record as Berkshire cash pile grows',
  'Ford recalls 100,000 trucks; General Motors gains',
  'Fed holds rates steady as inflation cools',
  'Target misses earnings, shares fall',
  'Apple pie sales soar',
  'Exxon Mobil, Chevron cut spending; BP holds (NYSE: BP)',
  'Goldman Sachs raises price target on Nvidia (NASDAQ: NVDA)',
  '',
];

test('a featurizer over the shared row table featurizes exactly as a private one', () => {
  const spec = JSON.parse(readFileSync(join(defaultModelDir, 'tokenizer.json'), 'utf8')) as TokenizerSpec;
  const rowsOf = (f: Featurizer) => (f as unknown as { rowOf: Int32Array }).rowOf;
  const own = new Featurizer(spec); // nothing shared on this thread yet: a private table
  assert.ok(!(rowsOf(own).buffer instanceof SharedArrayBuffer));
  sharedModelTables(defaultModelDir); // builds the shared tables and registers them on this thread
  const shared = new Featurizer(spec);
  assert.ok(rowsOf(shared).buffer instanceof SharedArrayBuffer);
  assert.deepEqual(rowsOf(shared), rowsOf(own));
  for (const t of TEXTS) assert.deepEqual(shared.featurize(t), own.featurize(t), t);
});

test('the main thread shares one ticker table and one set of row tables, whatever the number of workers', () => {
  assert.equal(sharedTickerTable({}), sharedTickerTable({}));
  assert.notEqual(sharedTickerTable({ watchlist: ['ZZZT'] }), sharedTickerTable({}));
  const a = sharedModelTables(defaultModelDir);
  const b = sharedModelTables(defaultModelDir);
  assert.equal(Object.keys(a).length, 2, 'the sentiment and the entity featurizer');
  for (const k of Object.keys(a)) assert.equal(a[k], b[k]);
  const spec = JSON.parse(readFileSync(join(defaultModelDir, 'tokenizer.json'), 'utf8')) as TokenizerSpec;
  assert.ok(a[rowTableKey(spec.config.hashBits ?? 20, spec.buckets)] instanceof SharedArrayBuffer);
});

test('a source worker on shared memory classifies, links and signs exactly as a thread that loads everything itself', async () => {
  const worker = new SourceWorker({ sourceId: 'shared-mem-test', maxQueue: 4 });
  // the same worker entry without the shared buffers: the per-thread loading the daemon used to do
  const own = new Piscina({ filename: workerFile('source'), minThreads: 1, maxThreads: 1, workerData: { sourceId: 'own-test' } });
  try {
    const a = await worker.classify(TEXTS);
    const b = (await own.run({ texts: TEXTS, link: true }, { name: 'classify' })) as ClassifyReply;
    assert.ok(b.ok);
    assert.equal(a.model, b.model);
    assert.deepEqual(a.predictions, b.predictions);
    assert.deepEqual(a.tickers, b.tickers);
    assert.deepEqual([...a.sigs!], [...b.sigs!]);
    assert.ok(a.tickers!.some((t) => t !== null && JSON.parse(t).length > 1), 'a headline naming several companies was linked');
  } finally {
    await worker.close();
    await own.destroy();
  }
});
