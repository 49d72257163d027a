/**
 * Config reload of a running daemon (issue 15, Reload): SIGHUP adds, removes and restarts the
 * sources that changed and leaves the others alone; an invalid config is refused with every
 * problem and the running sources keep going; `tickerpulse reload` signals the daemon found
 * through the database lock and prints its outcome, and fails clearly with no daemon.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI, connectWs, getJson, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor, type DaemonProcess, type FeedServer } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-reload-'));
const db = join(dir, 'tp.db');
const configFile = join(dir, 'config.json');
const feeds: FeedServer[] = [];
after(async () => {
  await Promise.all(feeds.map((f) => f.close()));
  rmSync(dir, { recursive: true, force: true });
});

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function countBySource(): Record<string, number> {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn.prepare('SELECT source, count(*) AS n FROM items GROUP BY source').all() as Array<{ source: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.source, r.n]));
  } finally {
    conn.close();
  }
}

function guidsOf(source: string): string[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (conn.prepare('SELECT guid FROM items WHERE source = ? ORDER BY guid').all(source) as Array<{ guid: string }>).map((r) => r.guid);
  } finally {
    conn.close();
  }
}

const rss = (id: string, url: string, interval: string) => ({ id, kind: 'rss', url, interval, allowPrivateNetworks: true });
const writeConfig = (cfg: object) => writeFileSync(configFile, JSON.stringify(cfg, null, 2));
const logsWith = (d: DaemonProcess, msg: string, source?: string) => d.logs.filter((l) => l.msg === msg && (source === undefined || l.source === source));

test('SIGHUP adds, removes and restarts changed sources, leaves the others; a broken config is kept out; tickerpulse reload', async () => {
  const [keep, drop, oldFeed, newFeed, added] = await Promise.all([
    startFeedServer(makeItems(3, 'keep')),
    startFeedServer(makeItems(3, 'drop')),
    startFeedServer(makeItems(3, 'old')),
    startFeedServer(makeItems(3, 'new')),
    startFeedServer(makeItems(3, 'added')),
  ]);
  feeds.push(keep, drop, oldFeed, newFeed, added);
  const base = { db, server: { host: '127.0.0.1', port: 0 } };
  writeConfig({ ...base, sources: [rss('keep', keep.url, '1h'), rss('drop', drop.url, '1s'), rss('change', oldFeed.url, '1h')] });
  let d: DaemonProcess | undefined;
  try {
    d = await startDaemonProcess(['--config', configFile]);
    const daemon = d;
    const port = d.port;
    await waitFor('the three sources stored their items', () => {
      const c = countBySource();
      return c.keep === 3 && c.drop === 3 && c.change === 3;
    }, 60_000);
    const keepRequests = keep.requests;
    assert.equal(keepRequests, 1, 'interval 1h: one poll so far');

    // 1. A valid new config: drop removed, change points at another feed, added is new, keep
    // is as it was; limits.dbCacheMb cannot change at runtime.
    const ws = await connectWs(port);
    const second = { ...base, limits: { dbCacheMb: 32 }, sources: [rss('keep', keep.url, '1h'), rss('change', newFeed.url, '1h'), rss('added', added.url, '1h')] };
    writeConfig(second);
    d.child.kill('SIGHUP');
    const done = await waitFor('the reload log line', () => logsWith(daemon, 'config reloaded')[0]);
    assert.deepEqual({ added: done.added, removed: done.removed, changed: done.changed, unchanged: done.unchanged }, { added: 1, removed: 1, changed: 1, unchanged: 1 });
    assert.deepEqual(done.sources, { added: ['added'], removed: ['drop'], changed: ['change'], unchanged: ['keep'] });
    assert.deepEqual(done.needsRestart, ['limits.dbCacheMb']);
    // The setting that needs a restart is named in a warning (the line after, maybe in a later chunk).
    await waitFor('the needs-a-restart warning', () => daemon.logs.some((l) => l.level === 40 && Array.isArray(l.settings) && (l.settings as string[]).includes('limits.dbCacheMb')));
    // Open dashboards see the removed source stop and the added one appear, without a poll of it.
    await waitFor('the /ws source messages of the reload', () => {
      const seen = ws.messages.filter((m) => m.type === 'source').map((m) => `${m.source.id}:${m.source.status}`);
      return seen.includes('drop:stopped') && seen.some((x) => x.startsWith('added:'));
    });
    ws.ws.close();
    // The removed source stopped before the reload finished: no request of it from now on.
    const dropRequests = drop.requests;
    assert.equal(logsWith(d, 'source stopped', 'drop').length, 1);

    // The added source and the changed one (its new URL polled at once) store their items.
    await waitFor('items of the added source and of the changed source\'s new feed', () => {
      const c = countBySource();
      return c.added === 3 && guidsOf('change').filter((g) => g.startsWith('new-')).length === 3;
    }, 60_000);
    const h = await getJson(port, '/healthz');
    assert.deepEqual(h.sources.map((s: { id: string }) => s.id).sort(), ['added', 'change', 'keep']);
    // The removed source's items stay; the changed source kept its earlier items too.
    assert.equal(countBySource().drop, 3);
    assert.equal(guidsOf('change').filter((g) => g.startsWith('old-')).length, 3);
    // The changed source was stopped then started again; the untouched one never was.
    assert.equal(logsWith(d, 'source stopped', 'change').length, 1);
    assert.equal(logsWith(d, 'source started', 'change').length, 2);
    assert.equal(logsWith(d, 'source started', 'keep').length, 1);
    assert.equal(logsWith(d, 'source stopped', 'keep').length, 0);
    assert.equal(keep.requests, keepRequests, 'the unchanged source was not polled again');

    // 2. A broken config: every problem in one line, and nothing changes.
    const broken = { ...base, sources: [rss('keep', 'not a url', '1h'), { ...rss('keep', added.url, '1h') }, rss('other', added.url, 'soon')], limits: { batchSize: 0 } };
    writeConfig(broken);
    d.child.kill('SIGHUP');
    const refused = await waitFor('the refusal log line', () => d!.logs.find((l) => l.code === 'CONFIG_INVALID'));
    const paths = (refused.issues as Array<{ path: string }>).map((i) => i.path).sort();
    assert.deepEqual(paths, ['limits.batchSize', 'sources[0].url', 'sources[1].id', 'sources[2].interval']);
    assert.equal(refused.problems, 4);
    const h2 = await getJson(port, '/healthz');
    assert.deepEqual(h2.sources.map((s: { id: string }) => s.id).sort(), ['added', 'change', 'keep']);
    assert.equal(logsWith(d, 'source started').length, 5, 'no source started or restarted by the refused config');
    assert.equal(d.child.exitCode, null, 'the daemon runs on');

    // 3. tickerpulse reload: refused config → exit 1 with the problems; fixed → exit 0 with counts.
    const cliRefused = await runCli(['reload', '--db', db]);
    assert.equal(cliRefused.code, 1, cliRefused.stderr);
    assert.match(cliRefused.stdout, new RegExp(`signal sent to pid ${d.child.pid}`));
    assert.match(cliRefused.stdout, /config refused, 4 problem\(s\)/);
    assert.match(cliRefused.stdout, /sources\[0\]\.url/);
    writeConfig(second);
    const cliOk = await runCli(['reload', '--config', configFile]);
    assert.equal(cliOk.code, 0, cliOk.stdout + cliOk.stderr);
    assert.match(cliOk.stdout, /reloaded: 0 added, 0 removed, 0 changed, 3 unchanged/);
    assert.match(cliOk.stdout, /needs a restart.*limits\.dbCacheMb/);

    // 4. The reloads are counted by outcome on /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const count = (outcome: string) => Number(new RegExp(`^tickerpulse_config_reloads_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.deepEqual({ ok: count('ok'), invalid: count('invalid'), error: count('error') }, { ok: 2, invalid: 2, error: 0 });

    assert.equal(drop.requests, dropRequests, 'the removed source was not polled after the reload');
    assert.equal(keep.requests, keepRequests);
    const exit = await stopDaemon(d);
    assert.equal(exit.code, 0);
  } finally {
    if (d) await stopDaemon(d, 'SIGKILL');
  }
  // No daemon (any more): a clear error, exit 1, and no signal sent anywhere.
  const none = await runCli(['reload', '--db', db]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no tickerpulse daemon is running on .*tp\.db/);
  const never = await runCli(['reload', '--db', join(dir, 'never.db')]);
  assert.equal(never.code, 1);
  assert.match(never.stderr, /no tickerpulse daemon is running/);
});
