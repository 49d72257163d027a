/**
 * A big document comes back from the source's worker page by page (workers/pages.ts), and the
 * poller emits every page as a PollResult of its own, each after a PollGate slot, with the
 * poll's state (validators, schedule) on the last page only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rssSource } from '../../sources/rss.js';
import type { RssSourceConfig } from '../../sources/types.js';
import { SourceWorker } from '../../src/pool/sourceWorker.js';
import { firstPage, nextPage } from '../../workers/pages.js';
import type { RawItem } from '../../src/lib/types.js';
import { collect, fakeClock, makeCtx, rssDoc, startFixtureServer, staticFeed, type FixtureServer } from './helpers.js';

let srv: FixtureServer;
let worker: SourceWorker;
before(async () => {
  srv = await startFixtureServer();
  worker = new SourceWorker({ sourceId: 'paging-test', maxQueue: 4 });
});
after(async () => {
  await srv.close();
  await worker.close();
});

const cfg = (url: string): RssSourceConfig => ({ id: 'big', url, intervalMs: 300_000, allowPrivateNetworks: true, limits: { timeoutMs: 5000, maxBodyBytes: 8 << 20 } });
const items = (n: number): RawItem[] => Array.from({ length: n }, (_, i) => ({ guid: `g${i}`, url: null, title: `t${i}`, summary: null, publishedAt: null }));

describe('paging a parse result', () => {
  it('firstPage/nextPage hand out every item once, in order; a newer parse replaces the held one', () => {
    const a = firstPage(items(7), 3);
    assert.equal(a.total, 7);
    assert.deepEqual(a.items.map((i) => i.guid), ['g0', 'g1', 'g2']);
    assert.ok(a.more !== null);
    const p1 = nextPage(a.more!, 3)!;
    assert.deepEqual([p1.items.map((i) => i.guid), p1.more], [['g3', 'g4', 'g5'], true]);
    const p2 = nextPage(a.more!, 3)!;
    assert.deepEqual([p2.items.map((i) => i.guid), p2.more], [['g6'], false]);
    assert.equal(nextPage(a.more!, 3), null, 'nothing is held once the last page was taken');
    const b = firstPage(items(5), 2);
    const c = firstPage(items(2), 2);
    assert.equal(c.more, null, 'a result that fits one page is not held');
    assert.equal(nextPage(b.more!, 2), null, 'the newer parse replaced the held result');
  });

  it('the source worker returns a big feed in pages; rssSource emits them in order, the state with the last', async () => {
    const url = srv.route('/big.xml', staticFeed(Buffer.from(rssDoc(23, 'Big')), undefined, '"big1"'));
    const { ctx, ac } = makeCtx({ clock: fakeClock() });
    let slots = 0;
    ctx.waitForRoom = async () => {
      slots++;
    };
    ctx.parseFeed = (body, meta) => worker.parseFeed(body, meta, 5);
    const run = collect(rssSource(cfg(url), ctx), ac);
    const pages = await run.waitFor(5);
    await run.stop();
    assert.deepEqual(pages.slice(0, 5).map((p) => p.items.length), [5, 5, 5, 5, 3]);
    const guids = pages.slice(0, 5).flatMap((p) => p.items.map((i) => i.guid));
    assert.equal(new Set(guids).size, 23, 'every item once');
    for (const p of pages.slice(0, 4)) {
      assert.equal(p.state.etag, undefined, 'no validators before the last page');
      assert.equal(p.state.nextPollAt, undefined);
      assert.ok(p.state.lastPollAt);
    }
    assert.equal(pages[4].state.etag, '"big1"');
    assert.ok(pages[4].state.nextPollAt);
    assert.ok(slots >= 5, `each page took a PollGate slot (${slots})`);
  });
});
