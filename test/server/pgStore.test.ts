/**
 * The server on the PostgreSQL store (a cluster serve node's reads): `/ws ?since` replays from
 * PostgreSQL and switches to live without a gap or a duplicate while commits keep arriving (also
 * with a tiny replay queue that overflows), `/api/*`, `/healthz` and rollup messages — with a real,
 * throwaway PostgreSQL (test/store/pg/pgServer.ts) and the PostgreSQL writer feeding broadcast().
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { PgWriter } from '../../src/daemon/pgWriter.js';
import { alertsConfigSchema } from '../../src/config/alerts.js';
import { createLogger } from '../../src/lib/log.js';
import { openStoreReader, type StoreReader } from '../../src/query/storeReader.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { batch, item, range } from '../store/pg/fixtures.js';
import { itemBatch } from '../../src/lib/messages.js';
import { pgSkipReason, startPgServer, type PgServer } from '../store/pg/pgServer.js';

const skip = pgSkipReason() ?? false;
const log = createLogger({ level: 'silent' });
let pg: PgServer | undefined;
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  if (!skip) pg = await startPgServer();
});
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  await pg?.stop();
});

interface Msg {
  type: string;
  [k: string]: unknown;
}
class Client {
  readonly msgs: Msg[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString()) as Msg));
    ws.on('error', () => undefined);
  }
  of(type: string): Msg[] {
    return this.msgs.filter((m) => m.type === type);
  }
  seqs(): number[] {
    return this.of('item').map((m) => (m.item as { seq: number }).seq);
  }
}
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function serveNode(name: string, limits: Record<string, number> = {}): Promise<{ srv: RunningServer; writer: PgWriter; reader: StoreReader }> {
  const url = await pg!.createDatabase(name);
  const writer = await PgWriter.start({ url, alerts: null, watchlist: [] }, log);
  cleanup.push(() => writer.close());
  const reader = await openStoreReader(url);
  cleanup.push(() => reader.close());
  const srv = await startServer({ host: '127.0.0.1', port: 0, store: reader, health: () => ({}), log, limits });
  cleanup.push(() => srv.close());
  // What a serve node does with each StoredBatch (in a cluster it arrives over NATS).
  writer.onStored = (b) => srv.broadcast(b.items);
  return { srv, writer, reader };
}
async function connect(srv: RunningServer, q = ''): Promise<Client> {
  const c = new Client(new WebSocket(srv.url.replace('http:', 'ws:') + '/ws' + q));
  cleanup.push(async () => c.ws.terminate());
  await until(() => c.msgs.length >= 1, 'hello');
  assert.equal(c.msgs[0].type, 'hello');
  return c;
}

describe('server on the PostgreSQL store', { skip }, () => {
  test('?since=0 replays from PostgreSQL then goes live: every seq once, in order, while commits continue', async () => {
    // A small page and a tiny replay queue: the queue overflows and the replay must still end
    // exactly at the live stream.
    const { srv, writer } = await serveNode('serve1', { replayPageSize: 7, maxReplayQueue: 5 });
    for (let k = 0; k < 10; k++) await writer.commit(batch(k % 2 ? 'wire' : 'desk', range(k * 10, k * 10 + 10)));
    let committing = true;
    const more = (async () => {
      for (let k = 10; k < 60; k++) {
        await writer.commit(batch(k % 2 ? 'wire' : 'desk', range(k * 10, k * 10 + 10)));
        if (k % 10 === 0) await sleep(5);
      }
      committing = false;
    })();
    const early = await connect(srv, '?since=0');
    await sleep(20);
    const late = await connect(srv, '?since=37');
    const live = await connect(srv);
    await more;
    assert.equal(committing, false);
    const total = 600;
    for (const [c, from] of [[early, 0], [late, 37]] as const) {
      await until(() => c.seqs().at(-1) === total, `client since=${from} caught up`);
      assert.deepEqual(c.seqs(), range(from + 1, total + 1));
    }
    const hello = live.msgs[0].seq as number;
    await until(() => live.seqs().at(-1) === total || hello === total, 'live client caught up');
    assert.deepEqual(live.seqs(), range(hello + 1, total + 1), 'live from its hello seq, nothing missed while its latest seq was read');
  });

  test('commits that land while the last replay page is read are not lost, whether they fit the replay queue or overflow it', async () => {
    const url = await pg!.createDatabase('serve3');
    // A threshold rule: every negative ACME headline of the fixtures (i % 12 === 0) raises an alert.
    const rules = alertsConfigSchema.parse({ rules: [{ id: 'acme-low', kind: 'threshold', tickers: ['ACME'], below: -0.5, cooldown: '0s' }] });
    const writer = await PgWriter.start({ url, alerts: rules, watchlist: [], clock: () => Date.parse('2026-11-02T12:00:00.000Z') }, log);
    cleanup.push(() => writer.close());
    const reader = await openStoreReader(url);
    cleanup.push(() => reader.close());
    // After a short page is read (and before the replay sees it), a commit is made and
    // broadcast: exactly the window between a read's snapshot and the switch to live.
    const hooks = [() => writer.commit(batch('wire', range(100, 110))), () =>
        writer.commit(
          itemBatch('wire', [item('wire', 120, { title: 'Acme Robotics plunges as regulators widen the fraud probe', label: 'negative', score: -0.9, tickers: [{ symbol: 'ACME', via: 'name', label: 'negative', score: -0.9, pNeg: 0.9, pNeu: 0.05, pPos: 0.05 }] }), item('wire', 121), item('wire', 122)], true, {}),
        ),
    ];
    const hooked: StoreReader = {
      ...reader,
      async itemsAfter(seq, limit) {
        const page = await reader.itemsAfter(seq, limit);
        const hook = page.length < limit ? hooks.shift() : undefined;
        if (hook) await hook();
        return page;
      },
    };
    const srv = await startServer({ host: '127.0.0.1', port: 0, store: hooked, health: () => ({}), log, limits: { replayPageSize: 7, maxReplayQueue: 5 } });
    cleanup.push(() => srv.close());
    writer.onStored = (b) => {
      srv.broadcast(b.items);
      for (const a of b.alerts) srv.broadcastAlert(a);
    };
    await writer.commit(batch('wire', range(0, 30)));
    const c = await connect(srv, '?since=0');
    await until(() => hooks.length === 0, 'both commits made during the replay');
    await writer.commit(batch('wire', range(200, 202)));
    await until(() => c.seqs().at(-1) === 45, 'the client has every item');
    assert.deepEqual(c.seqs(), range(1, 46));
    // every stored alert once (also the one of the commit made during the last page's read), after its item
    const stored = (await reader.query({ kind: 'alerts', format: 'json', since: new Date(0), limit: 100, sort: 'at', order: 'asc' })).rows as { id: number; seq: number | null }[];
    assert.ok(stored.some((a) => a.seq === 40) && stored.some((a) => a.seq === 43), `alerts of both commits made during the replay (${JSON.stringify(stored.map((a) => a.seq))})`);
    await until(() => c.of('alert').length >= stored.length, 'every alert');
    const got = c.of('alert').map((m) => (m.alert as { id: number }).id);
    assert.deepEqual([...got].sort((x, y) => x - y), stored.map((a) => a.id).sort((x, y) => x - y));
    for (const a of stored) {
      const at = c.msgs.findIndex((m) => m.type === 'alert' && (m.alert as { id: number }).id === a.id);
      const itemAt = c.msgs.findIndex((m) => m.type === 'item' && (m.item as { seq: number }).seq === a.seq);
      assert.ok(itemAt >= 0 && itemAt < at, `alert ${a.id} follows item ${a.seq}`);
    }
  });

  test('/api/* answers from PostgreSQL, /healthz reports the store, rollups reach subscribers', async () => {
    const { srv, writer, reader } = await serveNode('serve2', { rollupIntervalMs: 50 });
    const acme = await connect(srv, '?tickers=ACME');
    await writer.commit(batch('wire', range(0, 20)));
    const items = (await (await fetch(`${srv.url}/api/items?limit=5&sort=seq`)).json()) as { seq: number }[];
    assert.deepEqual(items.map((i) => i.seq), [20, 19, 18, 17, 16]);
    const csv = await fetch(`${srv.url}/api/tickers?since=2026-11-01&format=csv`);
    assert.equal(csv.status, 200);
    assert.match(await csv.text(), /^symbol,/m);
    const bad = await fetch(`${srv.url}/api/items?limit=0`);
    assert.equal(bad.status, 400);
    const health = await fetch(`${srv.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(((await health.json()) as { db: unknown }).db, { ok: true });
    await until(() => acme.of('rollup').length >= 1, 'a rollup message');
    const r = acme.of('rollup')[0];
    assert.equal(r.ticker, 'ACME');
    assert.equal(r.bucket, '1m');
    // the store goes away: /healthz degrades, /api/* is STORE_FAILED with the generic message
    await reader.close();
    const down = await fetch(`${srv.url}/healthz`);
    assert.equal(down.status, 503);
    const failed = await fetch(`${srv.url}/api/items`);
    assert.equal(failed.status, 500);
    assert.equal(((await failed.json()) as { error: { code: string } }).error.code, 'STORE_FAILED');
  });
});
