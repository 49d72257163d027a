/**
 * Export and cursors on the PostgreSQL store (a cluster's reads): `query --store postgres://…
 * --all` streams 5,000 items in each format through a server-side cursor, in the same order as
 * the limited query; stopping early hands the connection back clean; before=/after= pages visit
 * every item once. A real, throwaway PostgreSQL (pgServer.ts); skipped where none is installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { PgWriter } from '../../../src/daemon/pgWriter.js';
import { createLogger } from '../../../src/lib/log.js';
import { runQuery } from '../../../src/cli/query.js';
import { validateParams } from '../../../src/query/params.js';
import { openStoreReader, type StoreReader } from '../../../src/query/storeReader.js';
import { startServer } from '../../../src/server/server.js';
import { pgSkipReason, startPgServer, type PgServer } from './pgServer.js';
import { batch, range } from './fixtures.js';

const skip = pgSkipReason() ?? false;
const log = createLogger({ level: 'silent' });
const N = 5000;
let server: PgServer | undefined;
let url: string;
let writer: PgWriter | undefined;
let reader: StoreReader | undefined;

before(async () => {
  if (skip) return;
  server = await startPgServer();
  url = await server.createDatabase('export');
  writer = await PgWriter.start({ url, alerts: null, watchlist: [] }, log);
  for (let from = 0; from < N; from += 500) await writer.commit(batch('wire', range(from, from + 500)));
  reader = await openStoreReader(url);
});
after(async () => {
  await reader?.close();
  await writer?.close();
  await server?.stop();
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runQuery([...args, '--store', url], out, err);
  return { code, out: out.text, err: err.text };
}
const params = (input: Record<string, string>) => validateParams('items', input, { channel: 'cli', allowUnlimited: true });

describe('PostgreSQL store: export and cursors', { skip }, () => {
  test('query --all: 5,000 rows in each format, in the order of the limited query', async () => {
    // Fixture item i is published at T0 + 45 s × i: newest first = highest seq first.
    const all = await reader!.query(params({ limit: '1000' }));
    const json = await cli(['--all', '--format', 'json']);
    assert.equal(json.code, 0, json.err);
    const seqs = json.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.equal(seqs.length, N);
    assert.equal(new Set(seqs).size, N);
    assert.deepEqual(seqs.slice(0, 1000), all.kind === 'items' ? all.rows.map((r) => r.seq) : null);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));

    const csv = await cli(['--limit', '0', '--format', 'csv']);
    assert.equal(csv.code, 0, csv.err);
    const rows = csv.out.split('\r\n').filter(Boolean);
    assert.equal(rows.length, N + 1);
    assert.deepEqual(rows.slice(1).map((l) => Number(l.slice(0, l.indexOf(',')))), seqs);

    const table = await cli(['--all']);
    assert.equal(table.code, 0, table.err);
    assert.equal(table.out.trimEnd().split('\n').length, N + 1);
  });

  test('stream(): chunks of the asked size; a filter; stopping early leaves the pool usable', async () => {
    let chunks = 0;
    let rows = 0;
    for await (const c of reader!.stream(params({ limit: '0', ticker: 'ACME' }), new Date(), 300)) {
      assert.ok(c.rows.length <= 300);
      chunks++;
      rows += c.rows.length;
    }
    // ACME: i % 4 === 0 with tickers unless i % 5 === 4 (fixtures.ts).
    const acme = range(0, N).filter((i) => i % 4 === 0 && i % 5 !== 4).length;
    assert.equal(rows, acme);
    assert.equal(chunks, Math.ceil(acme / 300));

    // The reader's pool has 2 connections: breaking off several walks must return each one.
    for (let k = 0; k < 5; k++) {
      for await (const c of reader!.stream(params({ limit: '0' }), new Date(), 100)) {
        assert.equal(c.rows.length, 100);
        break;
      }
    }
    assert.equal(await reader!.countItems(), N);
  });

  test('before= / after= pages cover every item exactly once', async () => {
    const walk = async (first: Record<string, string>, name: 'before' | 'after'): Promise<number[]> => {
      const out: number[] = [];
      let q = first;
      for (;;) {
        const page = await reader!.query(validateParams('items', { ...q, limit: '700' }, { channel: 'http' }));
        if (page.kind !== 'items') throw new Error('items expected');
        out.push(...page.rows.map((r) => r.seq));
        if (page.rows.length < 700) return out;
        q = { ...q, [name]: String(page.rows[page.rows.length - 1].seq) };
      }
    };
    const back = await walk({ sort: 'seq' }, 'before');
    const fwd = await walk({ after: '0' }, 'after');
    assert.equal(back.length, N);
    assert.deepEqual(fwd, [...back].reverse());
    assert.equal(new Set(fwd).size, N);
  });

  test('a serve node (server on the PostgreSQL reader): /api/items Link walks both ways', async () => {
    const srv = await startServer({ host: '127.0.0.1', port: 0, store: reader!, health: () => ({}), log });
    try {
      const walk = async (first: string): Promise<number[]> => {
        const out: number[] = [];
        for (let path: string | null = first; path !== null; ) {
          const res: Response = await fetch(srv.url + path);
          assert.equal(res.status, 200, path);
          out.push(...((await res.json()) as { seq: number }[]).map((r) => r.seq));
          path = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
        }
        return out;
      };
      const back = await walk('/api/items?before=999999999&limit=1000');
      assert.equal(back.length, N);
      assert.deepEqual(await walk('/api/items?after=0&limit=900'), [...back].reverse());
      const bad = await fetch(srv.url + '/api/items?after=-5');
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INPUT_INVALID');
    } finally {
      await srv.close();
    }
  });
});
