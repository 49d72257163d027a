/**
 * Truthful health in the browser (playwright-core + /usr/bin/chromium, as dashboard.test.ts):
 * with one of two sources failing, the header says degraded, in amber (the theme's warn colour),
 * with the reason, and the sources panel shows the cause of the error, not only its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { packageRoot } from '../../src/lib/paths.js';
import { startDaemonProcess, stopDaemon, type DaemonProcess } from '../daemon/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('dashboard: a failing source turns the header amber with the reason, and the sources panel shows the cause', { timeout: 180_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does it) to run the browser test`);
    return;
  }
  assert.ok(existsSync(join(packageRoot, 'dist', 'dashboard', 'index.html')), 'dist/dashboard is missing: npm run build bundles it');
  const dir = mkdtempSync(join(tmpdir(), 'tp-dash-health-'));
  const config = join(dir, 'config.json');
  // The offline demo source works; `broken` polls a loopback port nothing listens on (maxBackoff
  // 1s: failing — 3 errors in a row — within seconds).
  const broken = `http://127.0.0.1:${await closedPort()}/feed.xml`;
  writeFileSync(config, JSON.stringify({ limits: { maxBackoff: '1s' }, sources: [{ id: 'broken', kind: 'rss', url: broken, interval: '1s', allowPrivateNetworks: true }] }));
  let d: DaemonProcess | undefined;
  let ctx: BrowserContext | undefined;
  const problems: string[] = [];
  try {
    d = await startDaemonProcess(['--demo', '--db', join(dir, 'tp.db'), '--config', config]);
    ctx = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${d.port}/`);

    // The header re-reads /healthz every 10 s; the source needs a few seconds to be failing.
    await page.waitForSelector('#daemon.st-degraded', { timeout: 90_000 });
    const header = await page.locator('#daemon').evaluate((e) => ({ text: e.textContent ?? '', title: e.getAttribute('title') ?? '', color: getComputedStyle(e).color }));
    assert.match(header.text, /^daemon degraded: 1 of 2 sources failing: broken \(.*ECONNREFUSED/);
    assert.equal(header.title, header.text.replace(/^daemon degraded: /, ''));
    // Amber: the theme's --warn colour, neither the ok green nor the failing red.
    const warn = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--warn)';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    assert.equal(header.color, warn);

    // The sources panel: `broken` failing, its error row with the cause.
    await page.waitForSelector('#sources tr[data-source="broken"] .st-failing', { timeout: 30_000 });
    const row = await page.locator('#sources tr.err', { hasText: 'broken:' }).first().textContent({ timeout: 30_000 });
    assert.match(row ?? '', /^broken: FEED_FETCH_FAILED — .*ECONNREFUSED/);
    assert.deepEqual(problems, []);
  } finally {
    await ctx?.close().catch(() => undefined);
    if (d) assert.equal((await stopDaemon(d)).code, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});
