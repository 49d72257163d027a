/**
 * The dashboard in a real browser (playwright-core driving Debian's /usr/bin/chromium, which
 * .ci/run installs when missing): the daemon in demo mode, stories arrive, a ticker's chart
 * renders with points, a label filter shows only matching stories, and a dropped connection
 * resumes (?since) with no gap and no duplicate against what the server stored. The alerts panel
 * is in time order and shows the webhook's refusals. Then a phone (390×844): no horizontal
 * overflow, stories first, filters folded, the chosen ticker's chart on the first screen, readable
 * time axes at 6h / 7d / 90d; its screenshots stay in the test's temp dir (see the diagnostic).
 *
 * TP_SCREENSHOT=1 also writes docs/dashboard.png (1400×900; TP_SCREENSHOT_SCHEME=dark for the
 * dark theme). CI leaves it unset, so the committed screenshot is not rewritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { packageRoot } from '../../src/lib/paths.js';
import { getJson, startDaemonProcess, stopDaemon, waitFor, type DaemonProcess } from '../daemon/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

interface AppState {
  conn: string;
  protocol: number;
  reconnects: number;
  cursor: number;
  duplicates: number;
  received: number;
}

const appState = (page: Page): Promise<AppState> => page.evaluate(() => (window as unknown as { __tp: { state(): AppState } }).__tp.state());
const appSeqs = (page: Page): Promise<number[]> => page.evaluate(() => (window as unknown as { __tp: { seqs(): number[] } }).__tp.seqs());
/** Every seq in the rendered rows, ascending. */
const domSeqs = (page: Page): Promise<number[]> =>
  page.$$eval('#stories li.story', (rows) =>
    rows
      .flatMap((r) => (r.getAttribute('data-seqs') ?? '').split(' ').filter(Boolean).map(Number))
      .sort((a, b) => a - b),
  );

test('dashboard: live stories, ticker chart, filter, resume after a dropped connection', { timeout: 240_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does it) to run the browser test`);
    return;
  }
  assert.ok(existsSync(join(packageRoot, 'dist', 'dashboard', 'index.html')), 'dist/dashboard is missing: npm run build bundles it');

  const dir = mkdtempSync(join(tmpdir(), 'tp-dash-'));
  // The phone screenshots stay after the test (the rest of dir is removed): look at them.
  const shots = join(dir, 'screenshots');
  mkdirSync(shots);
  const config = join(dir, 'offline.yaml');
  // A webhook that refuses every alert (400: no retries), so the panel shows failed deliveries.
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400).end());
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  // Only the loopback demo feed (no internet), and an alert rule that demo headlines trigger.
  writeFileSync(
    config,
    'sources: []\nalerts:\n  rules:\n    - { id: demo-watch, kind: threshold, tickers: [PFE, BAC, CRM, FDX, TGT, HD, JNJ, XOM], below: -0.8, cooldown: 10m }\n' +
      `  webhook: { url: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook", maxAttempts: 1 }\n`,
  );
  let d: DaemonProcess | undefined;
  let ctx: BrowserContext | undefined;
  const problems: string[] = [];
  try {
    d = await startDaemonProcess(['--demo', '--db', join(dir, 'demo.db'), '--config', config]);
    const port = d.port;
    ctx = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 900 },
      colorScheme: process.env.TP_SCREENSHOT_SCHEME === 'dark' ? 'dark' : 'light',
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    // Any script error or CSP violation (the page runs under a strict CSP) fails the test.
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // (Refused connections while the daemon restarts are the browser's expected reports.)
      if (m.type() === 'error' && !m.text().includes('ERR_CONNECTION_REFUSED')) problems.push(`console: ${m.text()}`);
    });
    // The page must not reach beyond its own origin (all assets local).
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.protocol !== 'data:' && u.host !== `127.0.0.1:${port}`) problems.push(`external request: ${r.url()}`);
    });

    // The first poll's alerts and the webhook's refusals are stored before the page loads (so
    // the panel reads them; a refusal is announced live only to pages connected at the time).
    await waitFor('refused alert deliveries recorded', async () => ((await getJson(port, '/api/alerts?since=90d')) as Array<{ deliveryError: string | null }>).some((a) => a.deliveryError), 30_000, 200);
    await page.goto(`http://127.0.0.1:${port}/`);

    // 1. Stories arrive (the demo's first poll stores 40) and the stream is live.
    await page.waitForFunction(() => document.querySelectorAll('#stories li.story').length >= 10, null, { timeout: 30_000 });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    const st0 = await appState(page);
    assert.ok(st0.protocol >= 1);

    // The demo's Pfizer headline (37 min old, score ≈ -0.99) fired the rule: the alerts panel lists it.
    await page.waitForSelector('#alerts li.alert', { timeout: 15_000 });
    // Newest event first (the demo's alerts are stored oldest event last: ids alone gave the
    // reverse), and the webhook's refusals are shown on them.
    await page.waitForSelector('#alerts li.alert.delivery-failed .delivery', { timeout: 15_000 });
    const alertTimes = await page.$$eval('#alerts li.alert', (lis) => lis.map((li) => li.getAttribute('data-at') ?? ''));
    assert.ok(alertTimes.length >= 2, `the demo raises several alerts (${alertTimes.length})`);
    assert.deepEqual(alertTimes, [...alertTimes].sort().reverse(), 'the alerts panel is in time order, newest first');
    // The source health panel shows the demo source.
    await page.waitForSelector('#sources tr[data-source="demo"]', { timeout: 15_000 });

    // 2. Click a ticker: its panel opens and the chart has points.
    const chip = page.locator('#stories li.story button.chip').first();
    const symbol = await chip.getAttribute('data-ticker');
    assert.ok(symbol, 'a demo story names a ticker');
    await chip.click();
    await page.waitForSelector(`#ticker-panel[data-ticker="${symbol}"]`, { timeout: 15_000 });
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points) > 0, null, { timeout: 15_000 });
    assert.ok((await page.locator('#chart canvas').count()) > 0, 'lightweight-charts drew on a canvas');
    const points = await page.evaluate(() => (window as unknown as { __tp: { chartPoints(): number } }).__tp.chartPoints());
    assert.ok(points > 0, `chart points: ${points}`);
    assert.match(page.url(), new RegExp(`[?&]ticker=${symbol!.replace('.', '\\.')}`), 'the selected ticker is in the URL');

    // 3. Label filter: only negative stories, and the filter is in the URL (bookmarkable).
    await page.locator('#f-negative').check();
    await page.waitForFunction(() => document.body.dataset.filter === 'labels=negative', null, { timeout: 10_000 });
    await page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll('#stories li.story')];
        return rows.length > 0 && rows.every((r) => r.getAttribute('data-labels') === 'negative');
      },
      null,
      { timeout: 15_000 },
    );
    assert.match(page.url(), /[?&]labels=negative/);
    const labels = await page.$$eval('#stories li.story .badge', (bs) => bs.map((b) => b.textContent));
    assert.ok(labels.length > 0 && labels.every((l) => l === 'negative'), `visible labels: ${labels.join(',')}`);

    // 4. Drop the connection and keep it down until the daemon has stored more items.
    const before = await appState(page);
    await page.evaluate(() => (window as unknown as { __tp: { dropConnection(ms: number): void } }).__tp.dropConnection(600_000));
    await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 5_000 });
    const shownBefore = await appSeqs(page);
    const lastShownBefore = shownBefore[shownBefore.length - 1] ?? before.cursor;
    // Down until a matching (negative) item has been stored that the dashboard has not seen.
    const latestWhileDown = await waitFor(
      'the daemon to store a negative item while the dashboard is disconnected',
      async () => {
        const [neg] = (await getJson(port, '/api/items?label=negative&sort=seq&limit=1')) as Array<{ seq: number }>;
        if (!neg || neg.seq <= lastShownBefore) return false;
        const [top] = (await getJson(port, '/api/items?sort=seq&limit=1')) as Array<{ seq: number }>;
        return top.seq;
      },
      150_000,
      500,
    );
    await page.evaluate(() => (window as unknown as { __tp: { dropConnection(ms: number): void } }).__tp.dropConnection(0));
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    // No gap, no duplicate: the shown seqs are exactly the stored negative items from the
    // oldest shown on (with a filtering server the cursor only moves on matching items, so wait
    // for the stored ones rather than for a seq).
    const storedNegative = async (from: number, to: number) =>
      ((await getJson(port, '/api/items?label=negative&sort=seq&order=asc&limit=1000')) as Array<{ seq: number }>).map((i) => i.seq).filter((s) => s >= from && s <= to);
    let shown: number[] = [];
    let stored: number[] = [];
    await waitFor(
      'the replay to deliver what was stored while the dashboard was down',
      async () => {
        shown = await appSeqs(page);
        stored = await storedNegative(shown[0] ?? 0, latestWhileDown);
        return stored.every((s) => shown.includes(s));
      },
      15_000,
      200,
    ).catch(() => undefined);
    const after = await appState(page);
    assert.ok(after.reconnects > before.reconnects, 'it reconnected');
    assert.equal(after.duplicates, 0, 'no item was received twice');
    await page.waitForTimeout(300); // the list renders on a 30 ms timer
    shown = await appSeqs(page);
    assert.deepEqual(await domSeqs(page), shown, 'the DOM shows what the app holds');
    assert.equal(new Set(shown).size, shown.length);
    stored = await storedNegative(shown[0], Math.max(latestWhileDown, shown[shown.length - 1]));
    assert.deepEqual(shown, stored, 'the stories shown after the resume are exactly the stored negative items');
    assert.ok(shown.some((s) => s > lastShownBefore), 'the negative items stored while it was down were replayed');

    // 4b. The daemon restarts (close 1001) on the same port and database: the page shows it
    // and resumes, still with nothing missing or doubled.
    assert.equal((await stopDaemon(d)).code, 0);
    await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 10_000 });
    d = await startDaemonProcess(['--demo', '--db', join(dir, 'demo.db'), '--config', config, '--port', String(port)]);
    assert.equal(d.port, port);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 30_000 });
    const restarted = await appState(page);
    assert.ok(restarted.reconnects > after.reconnects);
    assert.equal(restarted.duplicates, 0);
    await page.waitForTimeout(300);
    shown = await appSeqs(page);
    stored = await storedNegative(shown[0], shown[shown.length - 1]);
    assert.deepEqual(shown, stored, 'after the restart the shown stories still equal the stored negative items');

    // 5. Clearing the filter brings every story back, the URL loses the filter.
    await page.locator('#f-clear').click();
    await page.waitForFunction(() => document.body.dataset.filter === '', null, { timeout: 10_000 });
    await page.waitForFunction(() => new Set([...document.querySelectorAll('#stories li.story')].map((r) => r.getAttribute('data-label'))).size >= 2, null, { timeout: 15_000 });
    assert.doesNotMatch(page.url(), /labels=/);

    // 6. A phone (390×844): nothing wider than the screen, stories first with their headlines
    // across the width, the filters folded, and the chart of a chosen ticker on the first screen.
    const phone = await ctx.newPage();
    phone.on('pageerror', (e) => problems.push(`phone pageerror: ${e.message}`));
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`http://127.0.0.1:${port}/`);
    await phone.waitForFunction(() => document.querySelectorAll('#stories li.story').length >= 10, null, { timeout: 30_000 });
    await phone.waitForTimeout(300); // the list renders on a 30 ms timer
    await phone.screenshot({ path: join(shots, 'phone.png') });
    const layout = await phone.evaluate(() => {
      const rect = (sel: string) => document.querySelector(sel)!.getBoundingClientRect();
      const story = rect('#stories li.story');
      return {
        scrollWidth: document.scrollingElement!.scrollWidth,
        header: { right: rect('header.top').right, scrollWidth: document.querySelector('header.top')!.scrollWidth },
        filtersOpen: (document.getElementById('filters-box') as HTMLDetailsElement).open,
        storiesTop: rect('#stories').top,
        moversTop: rect('#movers').top,
        alertsTop: rect('#alerts').top,
        storyWidth: story.width,
        headlineWidth: document.querySelector('#stories li.story .main')!.getBoundingClientRect().width,
      };
    });
    t.diagnostic(`phone layout ${JSON.stringify(layout)}; screenshots in ${shots}`);
    assert.ok(layout.scrollWidth <= 390, `no horizontal overflow (scrollWidth ${layout.scrollWidth})`);
    assert.ok(layout.header.right <= 390 && layout.header.scrollWidth <= 390, `the header fits (${JSON.stringify(layout.header)})`);
    assert.equal(layout.filtersOpen, false, 'the filters are folded on a phone');
    assert.ok(layout.storiesTop < 844 / 2, `the stories start in the first half screen (${layout.storiesTop})`);
    assert.ok(layout.storiesTop < layout.moversTop && layout.storiesTop < layout.alertsTop, 'stories come before the side panels');
    assert.ok(layout.headlineWidth >= 0.8 * layout.storyWidth, `headlines use the row's width (${layout.headlineWidth} of ${layout.storyWidth})`);
    // The folded filters open on a tap.
    await phone.locator('#filters-box > summary').click();
    await phone.waitForSelector('#f-tickers', { state: 'visible', timeout: 5_000 });
    assert.ok((await phone.evaluate(() => document.scrollingElement!.scrollWidth)) <= 390, 'the open filter form fits too');

    // A ticker chosen far down the list: the page scrolls up to its chart, below the sticky header.
    const deepChip = phone.locator('#stories li.story button.chip').nth(8);
    const deepSymbol = await deepChip.getAttribute('data-ticker');
    await deepChip.scrollIntoViewIfNeeded();
    await deepChip.click();
    await phone.waitForSelector(`#ticker-panel[data-ticker="${deepSymbol}"]`, { timeout: 15_000 });
    const scrolled = await phone.evaluate(() => ({ panel: document.getElementById('ticker-panel')!.getBoundingClientRect().top, header: document.querySelector('header.top')!.getBoundingClientRect().bottom }));
    assert.ok(scrolled.panel >= scrolled.header - 1 && scrolled.panel < 844 / 2, `the chosen ticker's chart is scrolled into view (${JSON.stringify(scrolled)})`);

    await phone.goto(`http://127.0.0.1:${port}/?ticker=${encodeURIComponent(symbol!)}`);
    await phone.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points) > 0, null, { timeout: 15_000 });
    const chartAt = await phone.evaluate(() => ({ top: document.getElementById('ticker-panel')!.getBoundingClientRect().top, scrollY: window.scrollY, scrollWidth: document.scrollingElement!.scrollWidth }));
    await phone.screenshot({ path: join(shots, 'phone-chart.png') });
    assert.equal(chartAt.scrollY, 0);
    assert.ok(chartAt.top >= 0 && chartAt.top < 844 / 2, `the chart is at the top of the first screen (${chartAt.top})`);
    assert.ok(chartAt.scrollWidth <= 390, `no horizontal overflow with the chart (${chartAt.scrollWidth})`);
    // Readable time axes at every range: the 90-day axis once read as a lone "2".
    const axisLabels = (r: string) => phone.evaluate((range) => (window as unknown as { __tp: { axisLabels(r: string): string[] } }).__tp.axisLabels(range), r);
    const readable: Record<string, RegExp> = {
      '6h': /^(\d{2}:\d{2}|[A-Z][a-z]{2} \d{1,2})$/,
      '7d': /^(\d{2}:\d{2}|[A-Z][a-z]{2} \d{1,2}|[A-Z][a-z]{2} \d{4})$/,
      '90d': /^([A-Z][a-z]{2} \d{1,2}|[A-Z][a-z]{2} \d{4}|\d{4})$/,
    };
    for (const range of ['6h', '7d', '90d']) {
      await phone.locator(`#ticker-panel button.range[data-range="${range}"]`).click();
      await phone.waitForSelector(`#ticker-panel button.range.active[data-range="${range}"]`, { timeout: 5_000 });
      await waitFor(`axis labels of the ${range} chart`, async () => (await axisLabels(range)).length >= 2, 15_000, 100);
      await phone.waitForTimeout(300);
      await phone.locator('#ticker-panel').screenshot({ path: join(shots, `phone-chart-${range}.png`) });
      const labels = await axisLabels(range);
      assert.ok(labels.every((l) => readable[range].test(l)), `${range} axis labels: ${JSON.stringify(labels)}`);
    }
    await phone.close();

    if (process.env.TP_SCREENSHOT === '1') {
      // The most mentioned ticker makes the fullest chart.
      const [top] = (await getJson(port, '/api/tickers?since=7d&limit=1')) as Array<{ symbol: string }>;
      if (top) {
        await page.goto(`http://127.0.0.1:${port}/?ticker=${encodeURIComponent(top.symbol)}`);
        await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points) > 0, null, { timeout: 15_000 });
      }
      await page.mouse.move(0, 0);
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(packageRoot, 'docs', 'dashboard.png') });
    }
    assert.deepEqual(problems, [], 'no script error, CSP violation or external request');
  } finally {
    await ctx?.close().catch(() => undefined);
    hook.close();
    if (d) assert.equal((await stopDaemon(d)).code, 0);
    for (const f of readdirSync(dir)) if (f !== 'screenshots') rmSync(join(dir, f), { recursive: true, force: true });
  }
});
