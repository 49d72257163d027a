/** src/server/static.ts: the dashboard's files, their headers, and what it refuses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DASHBOARD_CSP, dashboardHandler } from '../../src/server/static.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Raw request (fetch would normalize `..` away before it is sent). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(dir: string) {
  const handle = dashboardHandler(dir);
  const srv = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!handle(req, res, url.pathname)) res.writeHead(299, { 'content-type': 'text/plain' }).end('fallthrough');
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { srv, port: (srv.address() as { port: number }).port };
}

test('serves index.html at / and assets under /assets with types, CSP, ETag and 304', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tp-static-'));
  const dir = join(root, 'dashboard');
  mkdirSync(dir);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'styles.css'), 'body{}');
  writeFileSync(join(dir, 'app.js.map'), '{}');
  writeFileSync(join(dir, '.secret'), 'no');
  writeFileSync(join(root, 'outside.js'), 'no');
  const { srv, port } = await serve(dir);
  try {
    const page = await get(port, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], DASHBOARD_CSP);
    assert.match(DASHBOARD_CSP, /default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['cache-control'], 'no-cache');
    const etag = page.headers.etag as string;
    assert.match(etag, /^"[\w-]+"$/);
    assert.equal((await get(port, '/', { 'if-none-match': etag })).status, 304);
    assert.equal((await get(port, '/', { 'if-none-match': `W/${etag}` })).status, 304);

    assert.equal((await get(port, '/assets/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await get(port, '/assets/styles.css')).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await get(port, '/assets/app.js.map')).headers['content-type'], 'application/json; charset=utf-8');
    const head = await get(port, '/assets/app.js', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    // A rebuilt file gets a new ETag.
    writeFileSync(join(dir, 'app.js'), 'console.log(22)');
    const again = await get(port, '/assets/app.js');
    assert.equal(again.body, 'console.log(22)');

    for (const bad of ['/assets/../outside.js', '/assets/%2e%2e/outside.js', '/assets/..%2foutside.js', '/assets/.secret', '/assets/', '/assets/index.html', '/assets/sub/app.js', '/assets/app.exe']) {
      const r = await get(port, bad);
      // 404, or (after URL normalisation took the path out of /assets) left to the caller.
      assert.ok(r.status === 404 || r.status === 299, `${bad}: ${r.status}`);
      assert.notEqual(r.body, 'no', bad);
    }
    // Not a dashboard path: left to the caller.
    assert.equal((await get(port, '/healthz')).status, 299);
  } finally {
    srv.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('without a built dashboard nothing is served (the caller keeps its placeholder page)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tp-static-'));
  const { srv, port } = await serve(join(root, 'missing'));
  try {
    assert.equal((await get(port, '/')).status, 299);
    assert.equal((await get(port, '/assets/app.js')).status, 299);
  } finally {
    srv.close();
    rmSync(root, { recursive: true, force: true });
  }
});
