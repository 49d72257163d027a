/**
 * Feature-bucket → model-row tables (`rowOf`, 4 MiB each for 2^20 buckets) shared between
 * threads. Every source's worker holds the sentiment and the entity featurizer, whose tables
 * depend only on the tokenizer files, so the main thread builds them once into
 * SharedArrayBuffers (`shareRowTables`), passes them in workerData, and a worker's featurizer
 * uses the shared table whose key matches its own spec (`registerSharedRowTables`).
 *
 * The key is the hash width plus the SHA-1 of the spec's encoded buckets: a worker that loads
 * a different tokenizer file than the main thread did (changed on disk in between, another
 * folder) simply finds no match and builds its own table, so sharing can never change a row.
 * Shared tables are never written after they are filled.
 */
import { createHash } from 'node:crypto';

const tables = new Map<string, SharedArrayBuffer>();
let collecting = false;

export function rowTableKey(hashBits: number, encodedBuckets: string): string {
  return `rows:${hashBits}:${createHash('sha1').update(encodedBuckets).digest('hex')}`;
}

/**
 * The row table of a spec: the shared one when a matching table was registered, else a new one
 * that `fill` writes (shared memory while `shareRowTables` collects, private otherwise).
 */
export function rowTable(hashBits: number, encodedBuckets: string, fill: (rowOf: Int32Array) => void): Int32Array {
  const key = rowTableKey(hashBits, encodedBuckets);
  const have = tables.get(key);
  if (have && have.byteLength === 4 << hashBits) return new Int32Array(have);
  if (!collecting) {
    const own = new Int32Array(1 << hashBits);
    fill(own);
    return own;
  }
  const sab = new SharedArrayBuffer(4 << hashBits);
  const rows = new Int32Array(sab);
  fill(rows);
  tables.set(key, sab);
  return rows;
}

/**
 * Main thread: runs `build` (which constructs the featurizers to share) with new row tables
 * going to shared memory, and returns every shared table so far, for workerData. Tables
 * already built are reused, so calling it once per source costs one build in all.
 */
export function shareRowTables(build: () => void): Record<string, SharedArrayBuffer> {
  collecting = true;
  try {
    build();
  } finally {
    collecting = false;
  }
  return Object.fromEntries(tables);
}

/** Worker thread: the tables the main thread shared (workerData). */
export function registerSharedRowTables(shared: Record<string, SharedArrayBuffer> | undefined): void {
  for (const [k, v] of Object.entries(shared ?? {})) if (v instanceof SharedArrayBuffer) tables.set(k, v);
}
