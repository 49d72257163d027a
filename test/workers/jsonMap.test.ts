import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TickerpulseError } from '../../src/lib/errors.js';
import { dropKnown } from '../../pipelines/dedupe.js';
import { coerceDate, DEFAULT_FIELDS, getPath, makeMapping, mapItem, mapJsonDocument, mapJsonMessages, splitPath } from '../../workers/jsonMap.js';

const meta = { url: 'https://api.example.com/v1/news', fetchedAt: '2025-01-06T10:00:00.000Z' };

function throwsCode(fn: () => unknown, code: string, message?: RegExp): TickerpulseError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TickerpulseError, `expected a TickerpulseError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return err;
  }
  return assert.fail(`expected ${code}`);
}

describe('dot paths', () => {
  const doc = { data: { articles: [{ headline: 'A', media: [{ url: 'u0' }, { url: 'u1' }] }, { headline: 'B' }], count: 2, '0': 'zero-key' }, nil: null };

  it('walks keys and array indices', () => {
    assert.deepEqual(splitPath('data.articles.0.headline'), ['data', 'articles', '0', 'headline']);
    assert.deepEqual(splitPath(''), []);
    assert.deepEqual(splitPath('$'), []);
    assert.equal(getPath(doc, 'data.articles.0.headline'), 'A');
    assert.equal(getPath(doc, 'data.articles.1.headline'), 'B');
    assert.equal(getPath(doc, 'data.articles.0.media.1.url'), 'u1');
    assert.equal(getPath(doc, 'data.articles.-1.headline'), 'B', 'a negative index counts from the end');
    assert.equal(getPath(doc, 'data.count'), 2);
    assert.equal(getPath(doc, 'data.0'), 'zero-key', 'a numeric segment on an object is a key');
    assert.equal(getPath(doc, ''), doc);
  });

  it('a missing step is undefined, never a throw', () => {
    assert.equal(getPath(doc, 'data.nope.x'), undefined);
    assert.equal(getPath(doc, 'data.articles.5.headline'), undefined);
    assert.equal(getPath(doc, 'data.articles.first'), undefined);
    assert.equal(getPath(doc, 'data.count.x'), undefined);
    assert.equal(getPath(doc, 'nil.x'), undefined);
    assert.equal(getPath('text', 'length'), undefined);
    assert.equal(getPath(doc, 'data.articles.01'), undefined, 'no leading zeros');
  });

  it('never reaches the prototype', () => {
    assert.equal(getPath({}, 'constructor'), undefined);
    assert.equal(getPath({}, '__proto__'), undefined);
    assert.equal(getPath({ a: {} }, 'a.toString'), undefined);
    assert.equal(getPath([], 'length'), undefined);
    const parsed = JSON.parse('{"__proto__": {"title": "own key"}}');
    assert.equal(getPath(parsed, '__proto__.title'), 'own key', 'an own "__proto__" key from JSON.parse is data');
  });
});

describe('date coercion', () => {
  it('ISO-8601 and RFC 822 strings', () => {
    assert.equal(coerceDate('2025-01-06T15:04:05Z'), '2025-01-06T15:04:05.000Z');
    assert.equal(coerceDate('2025-01-06T10:04:05-05:00'), '2025-01-06T15:04:05.000Z');
    assert.equal(coerceDate('2025-01-06'), '2025-01-06T00:00:00.000Z');
    assert.equal(coerceDate('Mon, 06 Jan 2025 15:04:05 GMT'), '2025-01-06T15:04:05.000Z');
  });

  it('epoch seconds and milliseconds, as numbers or numeric strings', () => {
    const iso = '2023-11-14T22:13:20.000Z';
    assert.equal(coerceDate(1_700_000_000), iso);
    assert.equal(coerceDate(1_700_000_000_000), iso);
    assert.equal(coerceDate('1700000000'), iso);
    assert.equal(coerceDate(' 1700000000000 '), iso);
    assert.equal(coerceDate(1_700_000_000.5), '2023-11-14T22:13:20.500Z');
    assert.equal(coerceDate('1700000000.25'), '2023-11-14T22:13:20.250Z');
  });

  it('unusable values are null', () => {
    for (const v of [undefined, null, '', 'yesterday', 'not a date', 0, -5, NaN, Infinity, true, {}, [], '2025-13-45']) assert.equal(coerceDate(v), null, JSON.stringify(v));
  });
});

describe('mapItem', () => {
  const fields = { ...DEFAULT_FIELDS, title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid', summary: 'meta.abstract' };

  it('maps fields by path, cleans text, resolves and canonicalizes links', () => {
    const item = mapItem(
      { uuid: 'u-1', headline: ' Acme <b>beats</b> &amp; raises ', link: '/story/1?utm_source=x&id=7#top', datetime: 1_736_157_600, meta: { abstract: 'Profit up <i>12%</i>.' } },
      fields,
      meta,
    );
    assert.deepEqual(item, {
      guid: 'u-1',
      url: 'https://api.example.com/story/1?id=7',
      title: 'Acme beats & raises',
      summary: 'Profit up 12%.',
      publishedAt: '2025-01-06T10:00:00.000Z',
    });
  });

  it('numbers are accepted as text (ids, titles); other types are absent', () => {
    const item = mapItem({ uuid: 42, headline: 2025, link: ['x'], datetime: { t: 1 } }, fields, meta);
    assert.ok(typeof item !== 'string');
    assert.equal(item.guid, '42');
    assert.equal(item.title, '2025');
    assert.equal(item.url, null);
    assert.equal(item.summary, null);
    assert.equal(item.publishedAt, meta.fetchedAt);
    assert.equal(item.dateMissing, true);
  });

  it('missing title (or not an object) → a reason; missing id → link, then hash', () => {
    assert.equal(mapItem({ link: 'https://x.example/a' }, fields, meta), 'no title at "headline"');
    assert.equal(mapItem({ headline: '   ' }, fields, meta), 'no title at "headline"');
    assert.match(mapItem('just a string', fields, meta) as string, /not an object/);
    assert.match(mapItem([1], fields, meta) as string, /an array, not an object/);
    assert.match(mapItem(null, fields, meta) as string, /null, not an object/);
    const byLink = mapItem({ headline: 'T', link: 'https://x.example/a' }, fields, meta);
    assert.ok(typeof byLink !== 'string' && byLink.guid === 'https://x.example/a');
    const a = mapItem({ headline: 'T', datetime: '2025-01-01T00:00:00Z' }, fields, meta);
    const b = mapItem({ headline: 'T', datetime: '2025-01-01T00:00:00Z' }, fields, { ...meta, fetchedAt: '2025-02-01T00:00:00.000Z' });
    assert.ok(typeof a !== 'string' && typeof b !== 'string');
    assert.match(a.guid, /^sha1:/);
    assert.equal(a.guid, b.guid, 'the hash never includes the read time');
  });

  it('a date more than a day in the future is not believed', () => {
    const item = mapItem({ headline: 'T', datetime: '2025-01-09T00:00:00Z' }, fields, meta);
    assert.ok(typeof item !== 'string' && item.dateMissing === true && item.publishedAt === meta.fetchedAt);
  });
});

describe('mapJsonDocument', () => {
  const mapping = makeMapping('data.articles', { title: 'headline', url: 'link', publishedAt: 'datetime', id: 'uuid' });

  it('maps the array at the items path; skips and counts items without a title; drops duplicate guids', () => {
    const doc = {
      data: {
        articles: [
          { uuid: 'a', headline: 'First', datetime: '2025-01-06T09:00:00Z' },
          { uuid: 'b', summary: 'no headline' },
          'not an object',
          { uuid: 'c', headline: 'Third', link: 'https://news.example.com/c' },
          { uuid: 'a', headline: 'First again' },
        ],
      },
    };
    const r = mapJsonDocument(Buffer.from(JSON.stringify(doc)), mapping, meta);
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['a', 'c'],
    );
    assert.equal(r.skipped, 2);
    assert.equal(r.firstSkipped, 'item 1: no title at "headline"');
  });

  it('a root array when no items path is set; a UTF-8 BOM is fine', () => {
    const r = mapJsonDocument('\ufeff' + JSON.stringify([{ title: 'x', id: '1' }, { title: 'y', id: '2' }]), makeMapping(null, undefined), meta);
    assert.deepEqual(
      r.items.map((i) => i.title),
      ['x', 'y'],
    );
  });

  it('malformed JSON → JSON_PARSE_FAILED; empty → FEED_EMPTY', () => {
    throwsCode(() => mapJsonDocument(Buffer.from('{"data": [1, 2'), mapping, meta), 'JSON_PARSE_FAILED', /not valid JSON/);
    throwsCode(() => mapJsonDocument(Buffer.from('<html>oops</html>'), mapping, meta), 'JSON_PARSE_FAILED');
    throwsCode(() => mapJsonDocument(Buffer.from(' \n '), mapping, meta), 'FEED_EMPTY');
  });

  it('a path that does not lead to an array → JSON_MAPPING_FAILED naming the path', () => {
    const e = throwsCode(() => mapJsonDocument('{"data": {"articles": {"a": 1}}}', mapping, meta), 'JSON_MAPPING_FAILED', /items path "data\.articles" leads to an object, not an array/);
    assert.deepEqual(e.details, { path: 'data.articles' });
    throwsCode(() => mapJsonDocument('{"data": {}}', mapping, meta), 'JSON_MAPPING_FAILED', /"data\.articles" leads to nothing/);
    throwsCode(() => mapJsonDocument('{"items": []}', makeMapping(null, undefined), meta), 'JSON_MAPPING_FAILED', /document root leads to an object.*set `items:`/);
  });
});

describe('mapJsonMessages', () => {
  it('one item per object message, several per array message, items path optional', () => {
    const m = makeMapping(null, { title: 'headline' });
    const r = mapJsonMessages([JSON.stringify({ id: '1', headline: 'one' }), Buffer.from(JSON.stringify([{ id: '2', headline: 'two' }, { id: '3', headline: 'three' }]))], m, meta);
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['1', '2', '3'],
    );
    assert.equal(r.invalid, 0);
  });

  it('with an items path: arrays and single objects at it; control messages without it are ignored', () => {
    const m = makeMapping('data', undefined);
    const r = mapJsonMessages(
      [
        JSON.stringify({ type: 'news', data: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] }),
        JSON.stringify({ type: 'news', data: { id: 'c', title: 'C' } }),
        JSON.stringify({ type: 'heartbeat' }),
        JSON.stringify({ type: 'news', data: [{ id: 'd' }] }),
      ],
      m,
      meta,
    );
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['a', 'b', 'c'],
    );
    assert.equal(r.ignored, 1);
    assert.equal(r.skipped, 1);
    assert.equal(r.invalid, 0);
  });

  it('a guid repeated within the batch is kept, for the pipeline to drop and count as a duplicate', () => {
    // The first copies and a resend after a reconnect, in one micro-batch.
    const m = makeMapping('data', undefined);
    const first = JSON.stringify({ data: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] });
    const resent = JSON.stringify({ data: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }, { id: 'c', title: 'C' }] });
    const r = mapJsonMessages([first, resent], m, meta);
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['a', 'b', 'a', 'b', 'c'],
    );
    const fresh = dropKnown(r.items, new Set());
    assert.deepEqual(
      fresh.map((i) => i.guid),
      ['a', 'b', 'c'],
    );
    assert.equal(r.items.length - fresh.length, 2, 'the repeats are what the pipeline reports as duplicates');
  });

  it('invalid messages are counted and described, the rest of the batch goes on', () => {
    const m = makeMapping('data', undefined);
    const r = mapJsonMessages(['{broken', JSON.stringify({ data: 'a string' }), JSON.stringify({ data: [{ id: 'ok', title: 'fine' }] })], m, meta);
    assert.deepEqual(
      r.items.map((i) => i.guid),
      ['ok'],
    );
    assert.equal(r.invalid, 2);
    assert.equal(r.firstInvalid?.code, 'JSON_PARSE_FAILED');
    const r2 = mapJsonMessages(['42'], makeMapping(null, undefined), meta);
    assert.equal(r2.firstInvalid?.code, 'JSON_MAPPING_FAILED');
    assert.match(r2.firstInvalid!.message, /a number, not an item/);
  });
});
