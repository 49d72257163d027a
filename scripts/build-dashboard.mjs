#!/usr/bin/env node
/**
 * Builds the browser dashboard: bundles src/dashboard/main.ts (with lightweight-charts) into
 * dist/dashboard/app.js (minified, with a source map) and copies index.html and styles.css.
 * Run by `npm run build` (and so by `npm install`'s prepare) after the TypeScript checks.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'dashboard');
const out = join(root, 'dist', 'dashboard');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [join(src, 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'eof',
  conditions: ['production'],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  metafile: true,
});
for (const f of ['index.html', 'styles.css']) copyFileSync(join(src, f), join(out, f));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`dashboard: dist/dashboard (app.js + map ${(bytes / 1024).toFixed(0)} KiB, index.html, styles.css)`);
