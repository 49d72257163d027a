/**
 * Offline demo feed (`npm start -- --demo`): a loopback HTTP server serving the shipped demo
 * corpus (data/demo/headlines.jsonl, synthetic headlines) as an RSS 2.0 document that grows
 * while you watch.
 *
 * Release schedule (computed from the clock on each request, no timers): the first
 * `initialBatch` corpus lines are out at once, dated now − offsetMinutes (a backlog over the past
 * few days); then `batchSize` more lines every `releaseEveryMs`, each dated at its release time.
 * With `loop` (default) the corpus starts over when exhausted, with new guids (`<id>~2`, `~3`...),
 * so a long-running demo never goes quiet. The document lists the newest `maxItems` released items.
 *
 * HTTP: GET/HEAD /feed.xml (also /), `application/rss+xml; charset=utf-8`, weak ETag +
 * Last-Modified, 304 for a matching If-None-Match (or, without it, an If-Modified-Since not older
 * than the last release), gzip when accepted; /news/<id> serves a small HTML page per headline.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { dataDir } from '../lib/paths.js';

export interface DemoFeedOptions {
  host?: '127.0.0.1';
  /** Headlines released per tick after the initial batch (default 3). */
  batchSize?: number;
  /** Time between releases (default 5000 ms). */
  releaseEveryMs?: number;
  /** Headlines out at start (default 40). */
  initialBatch?: number;
  /** Items listed in the feed document, newest first (default 100). */
  maxItems?: number;
  /** Start the corpus over (with new guids) once it is exhausted (default true). */
  loop?: boolean;
  /** Corpus file (default data/demo/headlines.jsonl). */
  corpusPath?: string;
}

export interface DemoFeed {
  /** The feed URL, e.g. http://127.0.0.1:43817/feed.xml */
  url: string;
  close(): Promise<void>;
}

export interface DemoHeadline {
  id: string;
  title: string;
  summary?: string;
  url?: string;
  offsetMinutes: number;
}

export const DEMO_CORPUS_PATH = join(dataDir, 'demo', 'headlines.jsonl');

export function loadDemoCorpus(path: string = DEMO_CORPUS_PATH): DemoHeadline[] {
  const out: DemoHeadline[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as Partial<DemoHeadline>;
    if (typeof o.id !== 'string' || typeof o.title !== 'string') throw new Error(`demo corpus ${path}: a line lacks id/title`);
    out.push({ id: o.id, title: o.title, summary: o.summary, url: o.url, offsetMinutes: Number(o.offsetMinutes) || 0 });
  }
  if (out.length === 0) throw new Error(`demo corpus ${path} is empty`);
  return out;
}

const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function xmlEscape(s: string): string {
  return s
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

interface Released {
  guid: string;
  title: string;
  summary?: string;
  link: string;
  pubMs: number;
}

export async function startDemoFeed(opts: DemoFeedOptions = {}): Promise<DemoFeed> {
  const host = opts.host ?? '127.0.0.1';
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 3));
  const releaseEveryMs = Math.max(1, opts.releaseEveryMs ?? 5000);
  const maxItems = Math.max(1, Math.floor(opts.maxItems ?? 100));
  const loop = opts.loop ?? true;
  const corpus = loadDemoCorpus(opts.corpusPath);
  const initialBatch = Math.min(Math.max(0, Math.floor(opts.initialBatch ?? 40)), corpus.length);
  const startMs = Date.now();
  let base = '';

  const releasedCount = (now: number): number => {
    const ticks = Math.floor(Math.max(0, now - startMs) / releaseEveryMs);
    const n = initialBatch + ticks * batchSize;
    return loop ? n : Math.min(n, corpus.length);
  };
  const releaseTime = (k: number): number => (k < initialBatch ? startMs : startMs + (Math.floor((k - initialBatch) / batchSize) + 1) * releaseEveryMs);
  const item = (k: number): Released => {
    const h = corpus[k % corpus.length];
    const pass = Math.floor(k / corpus.length);
    const guid = pass === 0 ? h.id : `${h.id}~${pass + 1}`;
    const link = h.url ?? `${base}/news/${encodeURIComponent(h.id)}${pass ? `?pass=${pass + 1}` : ''}`;
    const pubMs = k < initialBatch ? startMs - h.offsetMinutes * 60_000 : releaseTime(k);
    return { guid, title: h.title, summary: h.summary, link, pubMs };
  };

  let cache: { count: number; xml: Buffer; gz: Buffer } | null = null;
  const render = (count: number) => {
    if (cache?.count === count) return cache;
    const items: string[] = [];
    for (let k = count - 1; k >= Math.max(0, count - maxItems); k--) {
      const it = item(k);
      items.push(
        '    <item>\n' +
          `      <title>${xmlEscape(it.title)}</title>\n` +
          `      <link>${xmlEscape(it.link)}</link>\n` +
          `      <guid isPermaLink="false">${xmlEscape(it.guid)}</guid>\n` +
          `      <pubDate>${new Date(it.pubMs).toUTCString()}</pubDate>\n` +
          (it.summary ? `      <description>${xmlEscape(it.summary)}</description>\n` : '') +
          '    </item>\n',
      );
    }
    const lastBuild = new Date(count > 0 ? releaseTime(count - 1) : startMs).toUTCString();
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n' +
      '  <channel>\n' +
      '    <title>tickerpulse demo wire</title>\n' +
      `    <link>${xmlEscape(base + '/')}</link>\n` +
      `    <atom:link href="${xmlEscape(base + '/feed.xml')}" rel="self" type="application/rss+xml"/>\n` +
      '    <description>Synthetic market headlines for the tickerpulse offline demo. Not real news.</description>\n' +
      '    <language>en-us</language>\n' +
      `    <lastBuildDate>${lastBuild}</lastBuildDate>\n` +
      // No <ttl>: it is a floor on the next poll in minutes, and the demo releases every few seconds.
      items.join('') +
      '  </channel>\n' +
      '</rss>\n';
    const buf = Buffer.from(xml, 'utf8');
    cache = { count, xml: buf, gz: gzipSync(buf) };
    return cache;
  };

  const handleFeed = (req: IncomingMessage, res: ServerResponse) => {
    const count = releasedCount(Date.now());
    const etag = `W/"demo-${startMs.toString(36)}-${count}"`;
    const lastModifiedMs = count > 0 ? releaseTime(count - 1) : startMs;
    const lastModified = new Date(lastModifiedMs).toUTCString();
    const headers: Record<string, string> = {
      'content-type': 'application/rss+xml; charset=utf-8',
      etag,
      'last-modified': lastModified,
      'cache-control': 'no-cache',
      vary: 'Accept-Encoding',
    };
    if (notModified(req, etag, lastModifiedMs)) {
      res.writeHead(304, headers).end();
      return;
    }
    const doc = render(count);
    const gzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? doc.gz : doc.xml;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const handleNews = (id: string, req: IncomingMessage, res: ServerResponse) => {
    const h = corpus.find((c) => c.id === id);
    if (!h) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const html =
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${xmlEscape(h.title)}</title></head>` +
      `<body><h1>${xmlEscape(h.title)}</h1>${h.summary ? `<p>${xmlEscape(h.summary)}</p>` : ''}` +
      '<p><em>Synthetic headline from the tickerpulse demo corpus.</em></p></body></html>\n';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : html);
  };

  const server = createServer((req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path === '/' || path === '/feed.xml' || path === '/rss') return handleFeed(req, res);
      const m = /^\/news\/([^/]+)$/.exec(path);
      if (m) return handleNews(decodeURIComponent(m[1]), req, res);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`demo feed error: ${(err as Error).message}\n`);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `http://${host}:${port}`;

  let closed: Promise<void> | null = null;
  return {
    url: `${base}/feed.xml`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** RFC 9110 §13.2.2: If-None-Match (weak comparison) wins; If-Modified-Since only without it. */
function notModified(req: IncomingMessage, etag: string, lastModifiedMs: number): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    const want = etag.replace(/^W\//, '');
    return String(inm)
      .split(',')
      .map((t) => t.trim())
      .some((t) => t === '*' || t.replace(/^W\//, '') === want);
  }
  const ims = req.headers['if-modified-since'];
  if (ims) {
    const t = Date.parse(String(ims));
    // HTTP dates have one-second resolution.
    return Number.isFinite(t) && Math.floor(lastModifiedMs / 1000) * 1000 <= t;
  }
  return false;
}
