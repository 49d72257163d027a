import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadDemoCorpus, startDemoFeed } from '../../src/demo/demoFeed.js';
import type { RawItem } from '../../src/lib/types.js';
import { parseFeedDocument } from '../../workers/feedParser.js';

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

async function parse(url: string, r: { headers: Headers; body: Uint8Array }): Promise<RawItem[]> {
  return parseFeedDocument(r.body, { contentType: r.headers.get('content-type'), url, fetchedAt: new Date().toISOString() });
}

describe('demo corpus', () => {
  it('has ~300 unique, well-formed headlines with cashtags and exchange tickers', () => {
    const corpus = loadDemoCorpus();
    assert.ok(corpus.length >= 250 && corpus.length <= 350, `${corpus.length} lines`);
    assert.equal(new Set(corpus.map((c) => c.id)).size, corpus.length);
    assert.equal(new Set(corpus.map((c) => c.title)).size, corpus.length);
    assert.ok(corpus.filter((c) => /\$[A-Z]{1,5}\b/.test(c.title)).length >= 10);
    assert.ok(corpus.filter((c) => /\((NASDAQ|NYSE): [A-Z.]+\)/.test(c.title)).length >= 20);
    assert.ok(corpus.every((c) => c.offsetMinutes > 0 && c.offsetMinutes <= 7 * 24 * 60));
  });
});

describe('startDemoFeed', () => {
  it('serves a parseable RSS 2.0 feed that grows over time', async () => {
    const feed = await startDemoFeed({ batchSize: 2, releaseEveryMs: 150, initialBatch: 5 });
    try {
      assert.match(feed.url, /^http:\/\/127\.0\.0\.1:\d+\/feed\.xml$/);
      const r1 = await get(feed.url);
      assert.equal(r1.status, 200);
      assert.match(r1.headers.get('content-type')!, /^application\/rss\+xml; charset=utf-8$/);
      assert.ok(r1.headers.get('etag') && r1.headers.get('last-modified'));
      const first = await parse(feed.url, r1);
      assert.ok(first.length >= 5, `${first.length} items at start`);
      assert.ok(first.every((i) => i.guid.startsWith('demo-') && !i.dateMissing && i.url?.startsWith('http://127.0.0.1:')));
      const now = Date.now();
      const backlog = first.filter((i) => Date.parse(i.publishedAt!) < now - 60_000);
      assert.ok(backlog.length >= 4, 'the initial batch is dated over the past days');

      await new Promise((r) => setTimeout(r, 400));
      const r2 = await get(feed.url);
      const second = await parse(feed.url, r2);
      assert.ok(second.length >= first.length + 4, `${first.length} → ${second.length}`);
      assert.notEqual(r2.headers.get('etag'), r1.headers.get('etag'));
      // newest first, and the new ones are stamped at release time (recent)
      assert.ok(Date.parse(second[0].publishedAt!) > now - 5_000);
      const guids = new Set(second.map((i) => i.guid));
      assert.ok(first.every((i) => guids.has(i.guid)), 'released items stay in the feed');

      // the article pages exist
      const page = await fetch(second[0].url!);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<h1>/);
    } finally {
      await feed.close();
    }
  });

  it('answers 304 to an unchanged conditional GET, gzip when asked, and caps the item count', async () => {
    const feed = await startDemoFeed({ releaseEveryMs: 60_000, maxItems: 25 });
    try {
      const r1 = await get(feed.url);
      const items = await parse(feed.url, r1);
      assert.equal(items.length, 25, 'newest maxItems of the 40 initial headlines');
      const etag = r1.headers.get('etag')!;
      const lastModified = r1.headers.get('last-modified')!;
      assert.equal((await get(feed.url, { 'if-none-match': etag })).status, 304);
      assert.equal((await get(feed.url, { 'if-modified-since': lastModified })).status, 304);
      assert.equal((await get(feed.url, { 'if-none-match': '"other"', 'if-modified-since': lastModified })).status, 200);

      const raw = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
        import('node:http').then(({ get: httpGet }) => {
          httpGet(feed.url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
          }).on('error', reject);
        }, reject);
      });
      assert.equal(raw.enc, 'gzip');
      assert.match(gunzipSync(raw.body).toString('utf8'), /^<\?xml/);
    } finally {
      await feed.close();
    }
  });

  it('loops over the corpus with fresh guids when exhausted', async () => {
    const n = loadDemoCorpus().length;
    const feed = await startDemoFeed({ initialBatch: 40, batchSize: n, releaseEveryMs: 100, maxItems: 500 });
    try {
      await new Promise((r) => setTimeout(r, 250));
      const r = await get(feed.url);
      const items = await parse(feed.url, r);
      assert.ok(items.some((i) => /~2$/.test(i.guid)), 'second pass released');
      assert.equal(new Set(items.map((i) => i.guid)).size, items.length);
    } finally {
      await feed.close();
    }
  });
});
