/**
 * The `json` polling source against a loopback JSON API: field mapping through the shared poller
 * and fetch layer (conditional GET, backoff, SSRF guard, body limit), its error codes, and the
 * worker-thread parse tasks the daemon wires into ctx.parseJson / ctx.parseJsonMessages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SourceWorker } from '../../src/pool/sourceWorker.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import { JSON_ACCEPT, jsonSource } from '../../sources/json.js';
import type { JsonSourceConfig } from '../../sources/types.js';
import { makeMapping } from '../../workers/jsonMap.js';
import { collect, fakeClock, makeCtx, scheduledDelay, startFixtureServer, type FixtureServer, type Handler } from './helpers.js';

let srv: FixtureServer;
before(async () => {
  srv = await startFixtureServer();
});
after(async () => {
  await srv.close();
});

const MIN = 60_000;
function cfg(url: string, over: Partial<JsonSourceConfig> = {}): JsonSourceConfig {
  return {
    id: 'api',
    url,
    intervalMs: 5 * MIN,
    allowPrivateNetworks: true,
    limits: { timeoutMs: 3000, maxBodyBytes: 1 << 20 },
    items: 'data.articles',
    fields: { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid' },
    ...over,
  };
}

function articles(n: number, prefix = 'a'): unknown {
  return {
    status: 'ok',
    data: {
      articles: Array.from({ length: n }, (_, i) => ({
        uuid: `${prefix}-${i}`,
        headline: `Acme headline ${prefix} ${i}`,
        link: `https://news.example.com/${prefix}/${i}`,
        datetime: 1_736_150_000 + i * 60,
        summary: `Summary ${i}`,
      })),
    },
  };
}

/** A JSON endpoint with an ETag; 304 on a matching If-None-Match. */
function jsonApi(body: () => unknown, etag = '"j1"'): Handler {
  return (req, res) => {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    const text = Buffer.from(JSON.stringify(body()));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', etag, 'content-length': String(text.length) }).end(text);
  };
}

describe('jsonSource', () => {
  it('maps the array at the items path with the field paths; sends Accept and User-Agent', async () => {
    const url = srv.route('/map.json', jsonApi(() => articles(3)));
    const { ctx, ac } = makeCtx({ clock: fakeClock() });
    const run = collect(jsonSource(cfg(url, { userAgent: 'tp-test (ops@example.com)' }), ctx), ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.equal(a.error, undefined);
    assert.deepEqual(
      a.items.map((i) => i.guid),
      ['a-0', 'a-1', 'a-2'],
    );
    assert.deepEqual(a.items[1], {
      guid: 'a-1',
      url: 'https://news.example.com/a/1',
      title: 'Acme headline a 1',
      summary: 'Summary 1',
      publishedAt: new Date((1_736_150_000 + 60) * 1000).toISOString(),
    });
    const req = srv.seen('/map.json')[0];
    assert.equal(req.headers.accept, JSON_ACCEPT);
    assert.equal(req.headers['user-agent'], 'tp-test (ops@example.com)');
    assert.equal(a.state.etag, '"j1"');
    assert.equal(scheduledDelay(a), 5 * MIN);
  });

  it('conditional GET: the second poll sends If-None-Match, gets 304 and yields no items', async () => {
    const url = srv.route('/cond.json', jsonApi(() => articles(2), '"c9"'));
    const clock = fakeClock();
    const { ctx, ac } = makeCtx({ clock });
    const run = collect(jsonSource(cfg(url), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await run.stop();
    const reqs = srv.seen('/cond.json');
    assert.equal(reqs[0].headers['if-none-match'], undefined);
    assert.equal(reqs[1].headers['if-none-match'], '"c9"');
    assert.equal(a.items.length, 2);
    assert.deepEqual(b.items, []);
    assert.equal(b.error, undefined);
    assert.equal(b.state.consecutiveErrors, 0);
    assert.equal(clock.sleeps[0], 5 * MIN);
  });

  it('malformed JSON → JSON_PARSE_FAILED with backoff; validators are not advanced, so the next poll is a full GET', async () => {
    let n = 0;
    const url = srv.route('/bad.json', (req, res) => {
      n++;
      const body = n === 1 ? '{"data": {"articles": [ {"headline": "cut off' : JSON.stringify(articles(1));
      res.writeHead(200, { 'content-type': 'application/json', etag: '"b1"' }).end(body);
    });
    const { ctx, ac } = makeCtx({ clock: fakeClock(), random: () => 1 });
    const run = collect(jsonSource(cfg(url), ctx), ac);
    const [a, b] = await run.waitFor(2);
    await run.stop();
    assert.equal(a.error?.code, 'JSON_PARSE_FAILED');
    assert.match(a.error!.message, /not valid JSON/);
    assert.deepEqual(a.items, []);
    assert.equal(a.state.consecutiveErrors, 1);
    assert.equal(a.state.lastError, 'JSON_PARSE_FAILED');
    assert.equal(scheduledDelay(a), 10 * MIN, 'backoff: interval × 2 with the jitter pinned at 1');
    assert.equal(srv.seen('/bad.json')[1].headers['if-none-match'], undefined, 'a body that failed to parse is fetched in full again');
    assert.equal(b.error, undefined);
    assert.equal(b.items.length, 1);
  });

  it('an items path that does not lead to an array → JSON_MAPPING_FAILED naming the path', async () => {
    const url = srv.route('/shape.json', jsonApi(() => ({ data: { articles: { total: 0 } } })));
    const { ctx, ac } = makeCtx({ clock: fakeClock() });
    const run = collect(jsonSource(cfg(url), ctx), ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.equal(a.error?.code, 'JSON_MAPPING_FAILED');
    assert.match(a.error!.message, /"data\.articles" leads to an object, not an array/);
  });

  it('items without a title are skipped and counted (INPUT_INVALID) while the others are stored', async () => {
    const url = srv.route('/partial.json', jsonApi(() => ({ data: { articles: [{ uuid: 'x', headline: 'Kept' }, { uuid: 'y' }, 7, { uuid: 'z', headline: 'Also kept' }] } })));
    const { ctx, ac } = makeCtx({ clock: fakeClock() });
    const run = collect(jsonSource(cfg(url), ctx), ac);
    const [a] = await run.waitFor(1);
    await run.stop();
    assert.deepEqual(
      a.items.map((i) => i.guid),
      ['x', 'z'],
    );
    assert.equal(a.error?.code, 'INPUT_INVALID');
    assert.match(a.error!.message, /^2 item\(s\) skipped; first: item 1: no title at "headline"/);
    assert.equal(a.state.consecutiveErrors, 0, 'a partial failure is still a successful poll');
    assert.equal(a.state.lastError, 'INPUT_INVALID');
  });

  it('the SSRF guard refuses loopback unless allowPrivateNetworks; the body limit applies', async () => {
    const url = srv.route('/guarded.json', jsonApi(() => articles(1)));
    const one = makeCtx({ clock: fakeClock() });
    const blocked = collect(jsonSource(cfg(url, { allowPrivateNetworks: false }), one.ctx), one.ac);
    const [a] = await blocked.waitFor(1);
    await blocked.stop();
    assert.equal(a.error?.code, 'SSRF_BLOCKED');
    assert.equal(srv.seen('/guarded.json').length, 0, 'no request reached the server');

    const big = srv.route('/big.json', jsonApi(() => articles(200)));
    const two = makeCtx({ clock: fakeClock() });
    const limited = collect(jsonSource(cfg(big, { limits: { timeoutMs: 3000, maxBodyBytes: 1000 } }), two.ctx), two.ac);
    const [b] = await limited.waitFor(1);
    await limited.stop();
    assert.equal(b.error?.code, 'FEED_TOO_LARGE');
  });

  it('parses through ctx.parseJson when the context provides it (the daemon: the worker thread)', async () => {
    const url = srv.route('/ctx.json', jsonApi(() => articles(2, 'w')));
    const { ctx, ac } = makeCtx({ clock: fakeClock() });
    const calls: string[] = [];
    ctx.parseJson = async (body, meta, mapping) => {
      calls.push(`${meta.url} ${mapping.items} ${mapping.fields.title} ${body.byteLength > 0}`);
      return { items: [], skipped: 0, firstSkipped: null };
    };
    const run = collect(jsonSource(cfg(url), ctx), ac);
    await run.waitFor(1);
    await run.stop();
    assert.deepEqual(calls, [`${url} data.articles headline true`]);
  });
});

describe("the source worker's JSON tasks", () => {
  let worker: SourceWorker;
  before(() => {
    worker = new SourceWorker({ sourceId: 'json-worker-test', maxQueue: 4 });
  });
  after(async () => {
    await worker.close();
  });
  const meta = { url: 'https://api.example.com/v1', fetchedAt: '2025-01-06T10:00:00.000Z' };

  it('parseJson maps a document on the thread; bad input comes back as a typed error', async () => {
    const mapping = makeMapping('data.articles', { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid' });
    const r = await worker.parseJson(Buffer.from(JSON.stringify(articles(3))), meta, mapping);
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['a-0', 'a-1', 'a-2'],
    );
    await assert.rejects(worker.parseJson(Buffer.from('{nope'), meta, mapping), (e: unknown) => e instanceof TickerpulseError && e.code === 'JSON_PARSE_FAILED');
    await assert.rejects(worker.parseJson(Buffer.from('{"data": 1}'), meta, mapping), (e: unknown) => e instanceof TickerpulseError && e.code === 'JSON_MAPPING_FAILED' && /data\.articles/.test(e.message));
  });

  it('parseJsonMessages maps a batch of messages sent as one buffer, in order', async () => {
    const msgs = [{ id: '1', title: 'one' }, [{ id: '2', title: 'two' }, { id: '3', title: 'three' }], 'broken{', { type: 'ack' }].map((m) => Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)));
    const r = await worker.parseJsonMessages(msgs, meta, makeMapping(null, undefined));
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['1', '2', '3'],
    );
    assert.equal(r.invalid, 1);
    assert.equal(r.skipped, 1);
    assert.equal(r.firstInvalid?.code, 'JSON_PARSE_FAILED');
  });
});
