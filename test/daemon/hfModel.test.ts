/**
 * The daemon with `model: { kind: hf, path }`: a tiny BERT-shaped export generated here, a
 * loopback RSS source, items checked in SQLite against a hand-computed forward pass; and an
 * unusable model stops the daemon at start with one clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expectedProbs, writeTinyModel } from '../../src/model/hf/testModel.js';
import { HfTokenizer } from '../../src/model/hf/tokenizer.js';
import { splitWindows } from '../../src/model/hf/windows.js';
import { CLI, makeItems, startDaemonProcess, startFeedServer, stopDaemon, waitFor } from './harness.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tp-hfdaemon-'));
}

function writeConfig(dir: string, model: unknown, sources: unknown[] = []): string {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ db: 'tp.db', server: { host: '127.0.0.1', port: 0 }, model, sources }, null, 2));
  return file;
}

interface Row {
  guid: string;
  title: string;
  label: string;
  p_neg: number;
  p_neu: number;
  p_pos: number;
  score: number;
  model: string;
}

function rows(dir: string): Row[] {
  try {
    const db = new Database(join(dir, 'tp.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT guid, title, label, p_neg, p_neu, p_pos, score, model FROM items ORDER BY seq').all() as Row[];
    } finally {
      db.close();
    }
  } catch {
    return [];
  }
}

test('daemon with model kind hf (relative path): every item is classified as the hand-computed forward pass says', async () => {
  const dir = tmp();
  const tiny = writeTinyModel(join(dir, 'models', 'tiny-finbert'), { maxPositions: 10 });
  const feed = await startFeedServer(makeItems(12, 'hf'));
  const config = writeConfig(dir, { kind: 'hf', path: './models/tiny-finbert', stride: 4 }, [{ id: 'alpha', kind: 'rss', url: feed.url, interval: '1s', allowPrivateNetworks: true }]);
  const d = await startDaemonProcess(['--config', config]);
  try {
    const stored = await waitFor('12 items stored', () => {
      const r = rows(dir);
      return r.length >= 12 ? r : undefined;
    });
    const checked = d.logs.find((l) => l.msg === 'model loaded and checked');
    assert.ok(checked, 'the model is checked once at start');
    const tok = new HfTokenizer(JSON.parse(readFileSync(join(tiny.dir, 'tokenizer.json'), 'utf8')));
    for (const r of stored) {
      assert.match(r.model, /^hf-tiny-finbert-[0-9a-f]{12}$/);
      const windows = splitWindows(tok.encode(r.title).ids, 8, 4);
      const want = expectedProbs(tiny, windows.map((w) => tok.wrap(w)).map((w) => tiny.forward(w.ids, w.typeIds)));
      for (const [got, exp] of [[r.p_neg, want.pNeg], [r.p_neu, want.pNeu], [r.p_pos, want.pPos]] as const) {
        assert.ok(Math.abs(got - exp) < 1e-5, `${r.title}: ${got} vs hand-computed ${exp}`);
      }
      assert.ok(Math.abs(r.score - (want.pPos - want.pNeg)) < 2e-5);
    }
    assert.ok(stored.some((r) => tok.encode(r.title).ids.length > 8), 'some titles are longer than one window');
  } finally {
    await stopDaemon(d);
    await feed.close();
  }
});

async function failedStart(config: string): Promise<{ code: number | null; output: string; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b) => (output += b));
  child.stderr!.on('data', (b) => (output += b));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output, ms: Date.now() - t0 };
}

test('an unusable model stops the daemon at start with one clear, typed error (hf and builtin)', async () => {
  const dir = tmp();
  const feed = await startFeedServer(makeItems(3, 'x'));
  const source = [{ id: 'alpha', kind: 'rss', url: feed.url, interval: '1s', allowPrivateNetworks: true }];
  try {
    writeTinyModel(join(dir, 'topics'), { labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] });
    let r = await failedStart(writeConfig(dir, { kind: 'hf', path: './topics' }, source));
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /MODEL_UNSUPPORTED/);
    assert.match(r.output, /LABEL_0, LABEL_1, LABEL_2/);
    assert.doesNotMatch(r.output, /listening on/);

    r = await failedStart(writeConfig(dir, { kind: 'hf', path: './no-such-model' }, source));
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /MODEL_LOAD_FAILED/);
    assert.match(r.output, /no-such-model/);

    r = await failedStart(writeConfig(dir, { kind: 'builtin', dir: './no-such-builtin' }, source));
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /MODEL_LOAD_FAILED/);
    assert.match(r.output, /no-such-builtin/);

    // kind hf without a path is a config error (exit 2), reported before anything starts.
    r = await failedStart(writeConfig(dir, { kind: 'hf' }, source));
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /model\.path: kind hf needs path/);
    assert.equal(feed.requests, 0, 'no source was started');
  } finally {
    await feed.close();
  }
});
