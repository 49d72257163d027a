/**
 * The dashboard's files (built into dist/dashboard by `npm run build`): `/` → index.html,
 * `/assets/<file>` → a file of that folder. Only plain file names directly in the folder are
 * served (no `/`, no `..`, no dot files), with a strict Content-Security-Policy, a strong ETag
 * (304 on If-None-Match) and `Cache-Control: no-cache` (always revalidated: the names are not
 * content-hashed). When the folder has no index.html, nothing is served here and the caller
 * keeps its placeholder page.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { packageRoot } from '../lib/paths.js';

export const DASHBOARD_DIR = join(packageRoot, 'dist', 'dashboard');

/** No inline script or style, no external host: the page talks to its own origin only. */
export const DASHBOARD_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

interface Cached {
  mtimeMs: number;
  size: number;
  etag: string;
  body: Buffer;
}

/**
 * Returns a request handler: true when it answered (a dashboard path), false when the request
 * is not for it (or the dashboard is not built) and the caller should route it.
 */
export function dashboardHandler(dir: string = DASHBOARD_DIR): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const cache = new Map<string, Cached>();

  function load(name: string): Cached | null {
    const file = join(dir, name);
    let st;
    try {
      st = statSync(file);
    } catch {
      cache.delete(name);
      return null;
    }
    if (!st.isFile()) return null;
    const hit = cache.get(name);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      return null;
    }
    const entry = { mtimeMs: st.mtimeMs, size: st.size, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    cache.set(name, entry);
    return entry;
  }

  return (req, res, pathname) => {
    let name: string;
    if (pathname === '/' || pathname === '/index.html') name = 'index.html';
    else if (pathname.startsWith('/assets/')) name = pathname.slice('/assets/'.length);
    else return false;
    // A built dashboard has index.html; without it `/` stays the caller's placeholder.
    if (name === 'index.html' && pathname.startsWith('/assets/')) name = '';
    const index = load('index.html');
    if (!index) return false;
    if (!SAFE_NAME.test(name) || TYPES[extname(name).toLowerCase()] === undefined) return notFound(res, pathname);
    const f = name === 'index.html' ? index : load(name);
    if (!f) return notFound(res, pathname);
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[extname(name).toLowerCase()],
      'Cache-Control': 'no-cache',
      ETag: f.etag,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    };
    if (name.endsWith('.html')) {
      headers['Content-Security-Policy'] = DASHBOARD_CSP;
      headers['X-Frame-Options'] = 'DENY';
    }
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === f.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers['Content-Length'] = f.body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : f.body);
    return true;
  };
}

function notFound(res: ServerResponse, pathname: string): true {
  const body = JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route for ${pathname.slice(0, 100)}` } });
  res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return true;
}

/** The daemon's handler for dist/dashboard (src/server/server.ts calls it before its routes). */
export const serveDashboard = dashboardHandler();
