/**
 * Feed document → RawItem[]: the pure parsing/normalizing logic that runs on a source's worker
 * thread (no worker plumbing here; the worker entry calls `parseFeedDocument` and converts a
 * thrown TickerpulseError to a wire error).
 *
 * Steps: gunzip (a body still gzipped) → charset detection and decoding (BOM, Content-Type,
 * XML declaration; iconv-lite) → strip characters XML forbids → refuse DTDs (entity bombs,
 * XXE) and non-feeds (HTML pages) before any XML parser sees the text → repair the usual
 * entity mistakes (`S&P`, `&nbsp;`) → rss-parser `parseString` (RSS 2.0/0.9x, RSS 1.0/RDF,
 * Atom 1.0) → normalize each item (clean title, canonical link, summary, stable guid, UTC date).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import Parser from 'rss-parser';
import { TickerpulseError } from '../src/lib/errors.js';
import type { RawItem } from '../src/lib/types.js';
import type { FeedMeta, ParsedFeed } from '../sources/types.js';

export type { FeedMeta, ParsedFeed };

/** Longest summary kept, in characters (UTF-16 code units); longer ones end with "…". */
export const SUMMARY_MAX_CHARS = 2000;
/** Longest title kept, in characters. */
export const TITLE_MAX_CHARS = 500;
/** Longest guid kept verbatim; longer ones are replaced by their SHA-1. */
export const GUID_MAX_CHARS = 512;
/** Cap for a body that arrives still gzipped (no Content-Encoding): decompression-bomb guard. */
export const MAX_GUNZIPPED_BYTES = 32 * 1024 * 1024;
/** A date further than this in the future (vs. the fetch time) is treated as unusable. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/**
 * Parse one fetched feed body. Rejects with a TickerpulseError:
 * FEED_EMPTY (no content), FEED_NOT_A_FEED (HTML page, other XML, plain text),
 * FEED_PARSE_FAILED (malformed/truncated XML, DTD/entity declarations), FEED_TOO_LARGE
 * (a gzipped body that inflates past MAX_GUNZIPPED_BYTES).
 */
export async function parseFeedDocument(body: Uint8Array, meta: FeedMeta): Promise<RawItem[]> {
  return (await parseFeedDocumentWithMeta(body, meta)).items;
}

/**
 * `parseFeedDocument` plus channel metadata the poll scheduler uses: the RSS `<ttl>` (minutes),
 * null when absent, not a positive integer, or the document is Atom/RDF. Same errors.
 */
export async function parseFeedDocumentWithMeta(body: Uint8Array, meta: FeedMeta): Promise<ParsedFeed> {
  const text = decodeFeedBody(body, meta.contentType);
  const xml = prepareXml(text);
  const feed = await runRssParser(xml);
  const ttl = textOf((feed as { ttl?: unknown }).ttl).trim();
  const ttlMinutes = /^\d{1,9}$/.test(ttl) && Number(ttl) > 0 ? Number(ttl) : null;
  return { items: normalizeItems(feed.items as unknown as FeedItem[], meta), ttlMinutes };
}

// ---------------------------------------------------------------------------------------------
// Bytes → text
// ---------------------------------------------------------------------------------------------

/** Where the charset used for decoding came from (exported for tests and diagnostics). */
export type CharsetSource = 'bom' | 'header' | 'declaration' | 'sniff' | 'default';

export function decodeFeedBody(body: Uint8Array, contentType: string | null): string {
  if (body.byteLength === 0) throw new TickerpulseError('FEED_EMPTY', 'feed body is empty (0 bytes)', { retryable: true });
  let buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipBody(buf);
  const { charset } = detectCharset(buf, contentType);
  let text = iconv.decode(buf, charset, { stripBOM: true });
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return stripInvalidXmlChars(text);
}

function gunzipBody(buf: Buffer): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: MAX_GUNZIPPED_BYTES });
  } catch (err) {
    if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TickerpulseError('FEED_TOO_LARGE', `gzipped feed body inflates past ${MAX_GUNZIPPED_BYTES} bytes`, { cause: err });
    }
    throw new TickerpulseError('FEED_PARSE_FAILED', `feed body looks gzipped but does not inflate: ${(err as Error).message}`, { cause: err });
  }
}

const UTF8_NAMES = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

/** WHATWG-style label normalization: ISO-8859-1/ASCII labels decode as windows-1252 (what servers really mean). */
function normalizeCharset(label: string): string | null {
  const l = label.trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (!l) return null;
  if (UTF8_NAMES.has(l)) return 'utf-8';
  if (['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1', 'us-ascii', 'ascii', 'cp819', 'ibm819', 'iso-ir-100'].includes(l)) {
    return 'windows-1252';
  }
  if (l === 'utf-16' || l === 'utf16' || l === 'ucs-2') return 'utf-16';
  if (l === 'x-cp1251' || l === 'win-1251') return 'windows-1251';
  return iconv.encodingExists(l) ? l : null;
}

function isValidUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

/**
 * Precedence: byte-order mark, then the Content-Type charset, then the XML declaration, then
 * UTF-8. One real-world exception: a header claiming UTF-8 (often a server default) over bytes
 * that are not UTF-8 loses to a declaration naming another charset.
 */
export function detectCharset(buf: Buffer, contentType: string | null): { charset: string; source: CharsetSource } {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return { charset: 'utf-8', source: 'bom' };
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return { charset: 'utf-16le', source: 'bom' };
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) return { charset: 'utf-16be', source: 'bom' };
  // "<?" in UTF-16 without a BOM
  if (buf.length >= 4 && buf[0] === 0x3c && buf[1] === 0x00 && buf[2] === 0x3f && buf[3] === 0x00) return { charset: 'utf-16le', source: 'sniff' };
  if (buf.length >= 4 && buf[0] === 0x00 && buf[1] === 0x3c && buf[2] === 0x00 && buf[3] === 0x3f) return { charset: 'utf-16be', source: 'sniff' };

  const headerMatch = contentType ? /charset\s*=\s*("?)([^";,\s]+)\1/i.exec(contentType) : null;
  const header = headerMatch ? normalizeCharset(headerMatch[2]) : null;
  const declMatch = /^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(buf.subarray(0, 1024).toString('latin1'));
  const decl = declMatch ? normalizeCharset(declMatch[1]) : null;

  const fixUtf16 = (c: string) => (c === 'utf-16' ? 'utf-16le' : c);
  if (header) {
    if (header === 'utf-8' && decl && decl !== 'utf-8' && !decl.startsWith('utf-16') && !isValidUtf8(buf)) {
      return { charset: decl, source: 'declaration' };
    }
    // A UTF-16 label over a document that starts with ASCII "<" is wrong: the bytes win.
    if (header.startsWith('utf-16') && buf[0] === 0x3c && buf[1] !== 0x00) return { charset: decl && !decl.startsWith('utf-16') ? decl : 'utf-8', source: 'sniff' };
    return { charset: fixUtf16(header), source: 'header' };
  }
  if (decl && !decl.startsWith('utf-16')) return { charset: decl, source: 'declaration' };
  return { charset: 'utf-8', source: 'default' };
}

const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Remove characters XML 1.0 forbids (C0 controls except TAB/LF/CR, U+FFFE/FFFF, lone surrogates). */
export function stripInvalidXmlChars(s: string): string {
  return s.replace(INVALID_XML_CHARS, '');
}

// ---------------------------------------------------------------------------------------------
// Text → XML we are willing to parse
// ---------------------------------------------------------------------------------------------

function notAFeed(message: string): TickerpulseError {
  return new TickerpulseError('FEED_NOT_A_FEED', message);
}

function parseFailed(message: string, cause?: unknown): TickerpulseError {
  return new TickerpulseError('FEED_PARSE_FAILED', message, cause === undefined ? {} : { cause });
}

/**
 * Checks the prolog (everything before the root element) and returns XML ready for the parser.
 * - A DOCTYPE with an internal subset (`[...]`, where ENTITY declarations live) or any ENTITY
 *   declaration is refused outright: entity-expansion bombs and XXE never reach the parser.
 * - A bare DOCTYPE (public/system id only, e.g. Netscape RSS 0.91) is removed: no DTD is ever
 *   loaded, so it can declare nothing.
 * - `<!DOCTYPE html>`, an `<html>`/`<head>`/`<body>` root, other XML roots and non-markup text
 *   are FEED_NOT_A_FEED.
 */
export function prepareXml(text: string): string {
  if (text.trim() === '') throw new TickerpulseError('FEED_EMPTY', 'feed body contains only whitespace', { retryable: true });
  let i = 0;
  let out = text;
  for (;;) {
    while (i < out.length && /\s/.test(out[i])) i++;
    if (i >= out.length) throw parseFailed('document has no root element');
    if (out.startsWith('<?', i)) {
      const end = out.indexOf('?>', i + 2);
      if (end < 0) throw parseFailed('unterminated processing instruction / XML declaration');
      i = end + 2;
      continue;
    }
    if (out.startsWith('<!--', i)) {
      const end = out.indexOf('-->', i + 4);
      if (end < 0) throw parseFailed('unterminated comment before the root element');
      i = end + 3;
      continue;
    }
    if (/^<!DOCTYPE/i.test(out.slice(i, i + 9))) {
      const end = scanDoctype(out, i);
      const decl = out.slice(i, end);
      const name = /^<!DOCTYPE\s+([^\s>[]+)/i.exec(decl)?.[1] ?? '';
      if (/^html$/i.test(name) && !decl.includes('[')) throw notAFeed('document is an HTML page (<!DOCTYPE html>), not a feed');
      if (decl.includes('[') || /<!ENTITY/i.test(decl)) {
        throw parseFailed('refusing a document with a DTD internal subset / ENTITY declarations (possible entity-expansion bomb or XXE)');
      }
      out = out.slice(0, i) + out.slice(end);
      continue;
    }
    if (/^<!ENTITY/i.test(out.slice(i, i + 8))) {
      throw parseFailed('refusing a document with ENTITY declarations (possible entity-expansion bomb or XXE)');
    }
    if (out[i] === '<') {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(out.slice(i, i + 200));
      if (!m) throw notAFeed(`document does not start with an element (found ${JSON.stringify(out.slice(i, i + 20))})`);
      checkRoot(m[1]);
      break;
    }
    throw notAFeed(`document is not XML (starts with ${JSON.stringify(out.slice(i, i + 20))})`);
  }
  return repairEntities(out);
}

/** End index (exclusive) of a DOCTYPE starting at `start`, honouring quotes and an internal subset. */
function scanDoctype(s: string, start: number): number {
  let quote: string | null = null;
  let depth = 0;
  for (let j = start + 9; j < s.length; j++) {
    const c = s[j];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return j + 1;
  }
  // Unterminated: treat an opened internal subset as hostile, anything else as broken.
  if (s.indexOf('[', start) >= 0) {
    throw parseFailed('refusing a document with a DTD internal subset / ENTITY declarations (possible entity-expansion bomb or XXE)');
  }
  throw parseFailed('unterminated DOCTYPE declaration');
}

function checkRoot(name: string): void {
  const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
  const l = local.toLowerCase();
  if (l === 'rss' || l === 'feed' || l === 'rdf') return;
  if (l === 'html' || l === 'head' || l === 'body') throw notAFeed(`document is an HTML page (root <${name}>), not a feed`);
  throw notAFeed(`root element <${name}> is not an RSS, Atom or RDF feed`);
}

const XML_ENTITIES = new Set(['amp', 'lt', 'gt', 'quot', 'apos']);

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Outside CDATA sections and comments: `&` that starts no entity becomes `&amp;` (feeds say
 * "S&P 500"), HTML named entities XML does not know become numeric references, unknown
 * names are escaped, and numeric references to characters XML forbids are dropped.
 */
export function repairEntities(xml: string): string {
  const fix = (seg: string) =>
    seg.replace(/&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*)?(;)?/g, (all, ref: string | undefined, semi: string | undefined) => {
      if (!ref || !semi) return '&amp;' + (ref ?? '') + (semi ?? '');
      if (ref[0] === '#') {
        const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        return isXmlChar(cp) ? all : '';
      }
      if (XML_ENTITIES.has(ref)) return all;
      const cp = HTML_ENTITIES[ref];
      return cp === undefined ? '&amp;' + ref + ';' : `&#${cp};`;
    });
  let out = '';
  let last = 0;
  const re = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    out += fix(xml.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + fix(xml.slice(last));
}

// ---------------------------------------------------------------------------------------------
// rss-parser
// ---------------------------------------------------------------------------------------------

type FeedItem = Record<string, unknown>;
type XmlNode = Record<string, unknown[] | undefined> & { $?: Record<string, string> };

async function runRssParser(xml: string): Promise<Parser.Output<FeedItem>> {
  // A fresh parser per document: xml2js parsers keep state and must not be shared.
  const parser = new Parser<Record<string, unknown>, FeedItem>({
    defaultRSS: 2,
    customFields: {
      item: [
        ['published', 'tpPublished'],
        ['updated', 'tpUpdated'],
        ['guid', 'tpGuidRaw', { keepArray: true }],
      ] as unknown as string[],
    },
  });
  // rss-parser's Atom item builder throws on an unparseable <published> (Date.toISOString) or on a
  // <link> without attributes, which would lose the whole feed: retry such an entry without them.
  const p = parser as unknown as { parseItemAtom(entry: XmlNode): FeedItem };
  const original = p.parseItemAtom.bind(parser);
  p.parseItemAtom = (entry: XmlNode) => {
    try {
      return original(entry);
    } catch {
      const { published, updated, link, ...rest } = entry;
      const item = original(rest as XmlNode);
      if (published?.length) item.tpPublished = published[0];
      if (updated?.length) item.tpUpdated = updated[0];
      const links = (link ?? []) as unknown[];
      const href = links.map((l) => (typeof l === 'object' && l ? (l as XmlNode).$?.href : undefined)).find((h) => typeof h === 'string');
      if (href) item.link = href;
      else if (links.length) item.link = textOf(links[0]); // invalid but seen: <link>https://...</link> in Atom
      return item;
    }
  };
  try {
    return await parser.parseString(xml);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    if (/not recognized as RSS/i.test(msg)) throw notAFeed(`not an RSS/Atom/RDF document: ${msg}`);
    throw parseFailed(`malformed feed XML: ${msg}`, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Items → RawItem
// ---------------------------------------------------------------------------------------------

/** Text of an xml2js value: a string, `{ _: text }`, or (for mixed content) all nested text. */
function textOf(v: unknown): string {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(textOf).join(' ');
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o._ === 'string') return o._;
    return Object.entries(o)
      .filter(([k]) => k !== '$')
      .map(([, x]) => textOf(x))
      .join(' ');
  }
  return '';
}

export function sha1Hex(s: string): string {
  return createHash('sha1').update(s, 'utf8').digest('hex');
}

/** guid → canonical link → sha1(title + date); never the fetch time, so it is stable across polls. */
export function stableGuid(guid: string | null | undefined, link: string | null, title: string, date: string | null): string {
  const g = (guid ?? '').trim();
  if (g) return g.length > GUID_MAX_CHARS ? 'sha1:' + sha1Hex(g) : g;
  if (link) return link.length > GUID_MAX_CHARS ? 'sha1:' + sha1Hex(link) : link;
  return 'sha1:' + sha1Hex(title + '\n' + (date ?? ''));
}

interface Prepared {
  guidText: string;
  link: string | null;
  title: string;
  summary: string | null;
  publishedAt: string | null;
  dateKey: string | null;
}

export function normalizeItems(items: FeedItem[], meta: FeedMeta): RawItem[] {
  const fetchedMs = Date.parse(meta.fetchedAt);
  const prepared: Prepared[] = [];
  for (const item of items ?? []) {
    const title = truncate(cleanText(textOf(item.title)), TITLE_MAX_CHARS);
    if (!title) continue;

    const guidRaw = Array.isArray(item.tpGuidRaw) ? item.tpGuidRaw[0] : undefined;
    const guidText = (textOf(item.guid) || textOf(item.id) || textOf(item['rdf:about'])).trim();
    let link = canonicalizeUrl(textOf(item.link), meta.url);
    if (!link && guidText && (guidRaw as XmlNode | undefined)?.$?.isPermaLink !== 'false' && /^https?:\/\//i.test(guidText)) {
      link = canonicalizeUrl(guidText, meta.url);
    }

    const rawDate = [item.tpPublished, item.pubDate, item.date, item['dc:date'], item.tpUpdated].map(textOf).find((d) => d.trim() !== '');
    let publishedAt = rawDate ? parseFeedDate(rawDate) : null;
    if (publishedAt && Number.isFinite(fetchedMs) && Date.parse(publishedAt) - fetchedMs > MAX_FUTURE_SKEW_MS) publishedAt = null;

    const summarySource = [item.summary, item.content, item['content:encoded']].map(textOf).find((s) => s.trim() !== '') ?? '';
    const summary = truncate(cleanText(summarySource), SUMMARY_MAX_CHARS) || null;
    prepared.push({ guidText, link, title, summary, publishedAt, dateKey: publishedAt ?? rawDate?.trim() ?? null });
  }

  // A guid shared by different articles in one document is no identity (seen in the wild:
  // Yahoo's "?src=A00220&yptr=yahoo"): those items fall back to link → hash.
  const firstByGuid = new Map<string, Prepared>();
  const badGuids = new Set<string>();
  for (const p of prepared) {
    if (!p.guidText) continue;
    const first = firstByGuid.get(p.guidText);
    if (!first) firstByGuid.set(p.guidText, p);
    else if (first.link !== p.link || first.title !== p.title) badGuids.add(p.guidText);
  }

  const out: RawItem[] = [];
  const seen = new Set<string>();
  for (const p of prepared) {
    const guid = stableGuid(badGuids.has(p.guidText) ? null : p.guidText, p.link, p.title, p.dateKey);
    if (seen.has(guid)) continue; // the same article twice in one document
    seen.add(guid);
    const raw: RawItem = { guid, url: p.link, title: p.title, summary: p.summary, publishedAt: p.publishedAt ?? meta.fetchedAt };
    if (!p.publishedAt) raw.dateMissing = true;
    out.push(raw);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text helpers (also used by the JSONL source)
// ---------------------------------------------------------------------------------------------

const INLINE_TAGS = new Set(
  'a abbr b bdi bdo big cite code del dfn em font i img ins kbd mark q s samp small span strike strong sub sup time tt u var wbr'.split(' '),
);
const HTML_TAGS = new Set([
  ...INLINE_TAGS,
  ...('address area article aside audio base blockquote body br button canvas caption center col colgroup dd details dialog div dl dt ' +
    'embed fieldset figcaption figure footer form frame h1 h2 h3 h4 h5 h6 head header hr html iframe input label legend li link main map ' +
    'meta nav noscript object ol optgroup option p param picture pre section select source summary svg table tbody td template textarea ' +
    'tfoot th thead title tr track ul video').split(' '),
]);
const TAG = /<(\/?)([A-Za-z][\w:.-]*)(\s[^<>]*?)?(\/?)>/g;

/**
 * Remove HTML: script/style bodies, comments, and tags (inline tags vanish, others become a
 * space). To keep prose such as "P/E <10" or Reuters' "<AAPL.O>", a `<name>` is only treated as
 * markup when it is an HTML element, has attributes, is self-closing, is namespaced/hyphenated
 * (embedded XML), or has a matching `</name>` in the same text.
 */
export function stripHtml(s: string): string {
  if (!s.includes('<')) return s;
  const t = s
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1');
  const closed = new Set<string>();
  for (const m of t.matchAll(/<\/([A-Za-z][\w:.-]*)\s*>/g)) closed.add(m[1].toLowerCase());
  return t.replace(TAG, (all, close: string, name: string, attrs: string | undefined, selfClose: string) => {
    const n = name.toLowerCase();
    const markup = HTML_TAGS.has(n) || close === '/' || selfClose === '/' || closed.has(n) || /[:-]/.test(n) || (attrs !== undefined && attrs.includes('='));
    if (!markup) return all;
    return INLINE_TAGS.has(n) ? '' : ' ';
  });
}

/** Decode HTML character references (named, decimal, hex); unknown names are left as they are. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/g, (all, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return isXmlChar(cp) ? String.fromCodePoint(cp) : '';
    }
    const cp = HTML_ENTITIES[ref];
    return cp === undefined ? all : String.fromCodePoint(cp);
  });
}

const ENTITY_LIKE = /&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/;
const TAG_LIKE = /<\/?[A-Za-z][\w:.-]*[\s/>]/;

/**
 * What cleanText would change: markup or entity starts, characters it removes (controls,
 * U+FFFE/FFFF; any surrogate, to keep the test simple), whitespace other than single inner spaces.
 */
const NEEDS_CLEANING = /[<&\u0000-\u001F\uD800-\uDFFF\uFFFE\uFFFF]|[^\S ]|  |^ | $/;

/**
 * Plain one-line text from feed text: HTML stripped, entities decoded (twice at most, for
 * double-escaped `&amp;amp;` / `&lt;p&gt;` content), invalid characters removed, whitespace collapsed.
 */
export function cleanText(s: string): string {
  // Most headlines are plain already; this one test costs less than the four passes below.
  if (!NEEDS_CLEANING.test(s)) return s;
  let t = decodeEntities(stripHtml(s));
  if (TAG_LIKE.test(t)) t = stripHtml(t);
  if (ENTITY_LIKE.test(t)) t = decodeEntities(t);
  return stripInvalidXmlChars(t).replace(/\s+/g, ' ').trim();
}

/** Cut at `max` characters, preferably at a word boundary, ending with "…". */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.lastIndexOf(' ');
  if (space > max * 0.8) cut = cut.slice(0, space);
  return cut.trimEnd() + '…';
}

/**
 * Absolute http(s) URL, trimmed, resolved against `base` when relative, without fragment and
 * without utm_* parameters (other parameters are kept byte for byte). Null when unusable.
 */
export function canonicalizeUrl(raw: string | null | undefined, base?: string | null): string | null {
  const s = (raw ?? '').trim();
  if (!s) return null;
  let u: URL;
  try {
    u = base ? new URL(s, base) : new URL(s);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  u.hash = '';
  if (u.search) {
    const kept = u.search
      .slice(1)
      .split('&')
      .filter((p) => p !== '' && !/^utm_/i.test(p.split('=')[0]));
    u.search = kept.length ? '?' + kept.join('&') : '';
  }
  return u.href;
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

/** Zone abbreviations seen in feeds, in minutes east of UTC (US ones per RFC 822). */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  AKST: -540, AKDT: -480, HST: -600, AST: -240, ADT: -180, NST: -210, NDT: -150,
  BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, WEST: 60, EET: 120, EEST: 180, MSK: 180,
  IST: 330, SGT: 480, HKT: 480, AWST: 480, JST: 540, KST: 540, ACST: 570, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
};

function zoneOffsetMinutes(rest: string): number {
  const z = rest.trim().replace(/^\(|\)$/g, '');
  if (!z) return 0;
  let m = /^(?:GMT|UTC|UT)?\s*([+-])(\d{1,2}):?(\d{2})?\b/i.exec(z);
  if (m) {
    const sign = m[1] === '-' ? -1 : 1;
    const hh = Number(m[2]);
    const mm = m[3] ? Number(m[3]) : 0;
    return sign * (hh * 60 + mm);
  }
  m = /^([A-Za-z]{1,5})\b/.exec(z);
  if (m) return ZONES[m[1].toUpperCase()] ?? 0;
  return 0;
}

/** Feed dates outside these years are typos or placeholders, not believed (both paths of parseFeedDate). */
const FIRST_YEAR = 1970;
const LAST_YEAR = 2200;

/** `twoDigitYear`: only a year written with two digits is a century-less year (RFC 822 `4 Mar 14`); a four-digit `0001` is year 1, outside the range, so no date. */
function buildDate(y: number, mon: number, d: number, h: number, mi: number, s: number, ms: number, offsetMin: number, twoDigitYear = false): string | null {
  if (twoDigitYear) y += y < 50 ? 2000 : 1900;
  if (mon < 0 || mon > 11 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return null;
  const t = Date.UTC(y, mon, d, h, mi, Math.min(s, 59), ms);
  const check = new Date(Date.UTC(y, mon, d));
  if (check.getUTCDate() !== d) return null; // 31 Feb etc.
  const when = t - offsetMin * 60_000;
  if (!Number.isFinite(when) || y < FIRST_YEAR || y > LAST_YEAR) return null;
  return new Date(when).toISOString();
}

/** `2014-03-12T12:08:26.000Z`: what parseFeedDate returns, so it can be passed through as it is. */
const CANONICAL_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function hour12(h: number, ampm: string | undefined): number {
  if (!ampm) return h;
  const pm = ampm.toUpperCase() === 'PM';
  if (h === 12) return pm ? 12 : 0;
  return pm ? h + 12 : h;
}

/**
 * Feed dates → ISO-8601 UTC (`2014-03-12T12:08:26.000Z`), or null when unparseable.
 * Accepts ISO 8601 (with or without seconds/zone; no zone = UTC), RFC 822/1123 with or without
 * weekday/seconds, numeric or named zones (EST, EDT, PST, CET...), two-digit years (RFC 822 dates only), and
 * "March 4, 2014 10:30 AM EST". Unknown zone names are taken as UTC.
 * A four-digit year outside 1970–2200 means no date: `0001-01-01` (.NET's default DateTime) is
 * a placeholder, not the year 2001.
 */
export function parseFeedDate(input: string | null | undefined): string | null {
  // Hot path: JSON APIs and our own JSONL mostly carry the canonical form already. The round
  // trip through Date rejects what buildDate rejects (31 Feb, hour 24, second 60), which then
  // takes the general path below.
  if (typeof input === 'string' && input.length === 24 && CANONICAL_ISO.test(input)) {
    const y = Number(input.slice(0, 4));
    const t = Date.parse(input);
    if (y >= FIRST_YEAR && y <= LAST_YEAR && Number.isFinite(t) && new Date(t).toISOString() === input) return input;
  }
  const s = (input ?? '').trim().replace(/\s+/g, ' ');
  if (!s) return null;
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i.exec(s);
  if (m) {
    const ms = m[7] ? Math.round(Number('0.' + m[7]) * 1000) : 0;
    const off = m[8] ? zoneOffsetMinutes(/^[+-]\d{2}$/.test(m[8]) ? m[8] + '00' : m[8]) : 0;
    return buildDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), Math.min(ms, 999), off);
  }
  // [Weekday,] 4 Mar 2014 [10:30[:00]] [AM] [zone]
  m = /^(?:[A-Za-z]{2,9}\.?,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3,9})\.?,?[\s-]+(\d{4}|\d{2})(?:[\sT,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(AM|PM)?)?\s*(.*)$/i.exec(s);
  if (m) {
    const mon = MONTHS[m[2].slice(0, 3).toLowerCase()];
    if (mon === undefined) return null;
    return buildDate(Number(m[3]), mon, Number(m[1]), hour12(Number(m[4] ?? 0), m[7]), Number(m[5] ?? 0), Number(m[6] ?? 0), 0, zoneOffsetMinutes(m[8]), m[3].length === 2);
  }
  // [Weekday,] March 4[th], 2014 [[at] 10:30[:00]] [AM] [zone]
  m = /^(?:[A-Za-z]{2,9}\.?,?\s+)?([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:[\s,]+(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?)?\s*(.*)$/i.exec(s);
  if (m) {
    const mon = MONTHS[m[1].slice(0, 3).toLowerCase()];
    if (mon === undefined) return null;
    return buildDate(Number(m[3]), mon, Number(m[2]), hour12(Number(m[4] ?? 0), m[7]), Number(m[5] ?? 0), Number(m[6] ?? 0), 0, zoneOffsetMinutes(m[8]));
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// HTML named character references (the common ones; unknown names are left undecoded)
// ---------------------------------------------------------------------------------------------

const LATIN1_NAMES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest ' +
  'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig ' +
  'agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';

export const HTML_ENTITIES: Record<string, number> = (() => {
  const t: Record<string, number> = { amp: 38, lt: 60, gt: 62, quot: 34, apos: 39 };
  LATIN1_NAMES.split(' ').forEach((name, i) => (t[name] = 160 + i));
  Object.assign(t, {
    OElig: 338, oelig: 339, Scaron: 352, scaron: 353, Yuml: 376, fnof: 402, circ: 710, tilde: 732,
    ensp: 8194, emsp: 8195, thinsp: 8201, zwnj: 8204, zwj: 8205, lrm: 8206, rlm: 8207,
    ndash: 8211, mdash: 8212, lsquo: 8216, rsquo: 8217, sbquo: 8218, ldquo: 8220, rdquo: 8221, bdquo: 8222,
    dagger: 8224, Dagger: 8225, bull: 8226, hellip: 8230, permil: 8240, prime: 8242, Prime: 8243,
    lsaquo: 8249, rsaquo: 8250, oline: 8254, frasl: 8260, euro: 8364, trade: 8482,
    larr: 8592, uarr: 8593, rarr: 8594, darr: 8595, harr: 8596, minus: 8722, le: 8804, ge: 8805, ne: 8800,
    infin: 8734, asymp: 8776, sdot: 8901, loz: 9674, spades: 9824, clubs: 9827, hearts: 9829, diams: 9830,
    Alpha: 913, Beta: 914, Gamma: 915, Delta: 916, alpha: 945, beta: 946, gamma: 947, delta: 948, mu: 956, pi: 960, sigma: 963,
  });
  return t;
})();
