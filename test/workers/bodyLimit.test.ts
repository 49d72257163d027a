import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceWorker } from '../../src/pool/sourceWorker.js';
import { TickerpulseError } from '../../src/lib/errors.js';

const meta = { contentType: 'application/rss+xml', url: 'https://feeds.example.test/f.xml', fetchedAt: '2026-03-02T12:00:00.000Z' };
const feed = (titles: string[]) =>
  new TextEncoder().encode(
    `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>${titles.map((t, i) => `<item><title>${t}</title><guid>g${i}</guid></item>`).join('')}</channel></rss>`,
  );

test('a standalone body is moved to the thread, a slice of a larger buffer is copied', async () => {
  const w = new SourceWorker({ sourceId: 'body-transfer', maxQueue: 4 });
  try {
    const own = feed(['Globex opens a plant']);
    const parsed = await w.parseFeed(own, meta);
    assert.equal(parsed.items.length, 1);
    assert.equal(own.byteLength, 0, 'transferred: no second copy stays on the main thread');
    const big = feed(['Initech hires', 'Hooli expands']);
    const padded = new Uint8Array(big.byteLength + 10);
    padded.set(big, 5);
    const slice = padded.subarray(5, 5 + big.byteLength);
    assert.equal((await w.parseFeed(slice, meta)).items.length, 2);
    assert.equal(slice.byteLength, big.byteLength, 'the caller keeps a slice it does not own');
  } finally {
    await w.close();
  }
});

test('a body a quarter of the worker heap cannot hold is refused with FEED_TOO_LARGE before parsing', async () => {
  const w = new SourceWorker({ sourceId: 'body-too-large', maxQueue: 4, maxHeapMb: 32 });
  try {
    const body = new Uint8Array(24 * 1024 * 1024).fill(0x20); // whitespace: it would parse as FEED_EMPTY if it got that far
    await assert.rejects(w.parseFeed(body, meta), (err: unknown) => {
      assert.ok(err instanceof TickerpulseError);
      assert.equal(err.code, 'FEED_TOO_LARGE');
      assert.match(err.message, /workerHeapMb/);
      return true;
    });
    // the thread is still there and parses a normal feed
    assert.equal((await w.parseFeed(feed(['Umbrella Pharma wins approval']), meta)).items.length, 1);
  } finally {
    await w.close();
  }
});
