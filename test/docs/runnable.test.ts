/**
 * Every command in README.md and docs/*.md works as written (issue 16 item 10).
 *
 * Blocks fenced as ```sh runnable, ```console runnable (its `$ ` lines) and ```sql runnable are
 * run against a daemon on the offline demo feed: shell blocks with bash (-e -o pipefail) from
 * the daemon's working directory, so `data/tickerpulse.db` is its database, with `tickerpulse`
 * on PATH as `npm link` puts it there; SQL blocks on that database. The docs use the default
 * port 8787; the test's daemon listens on a free port, substituted for it. A ```… output block
 * right after a runnable block is what the block prints, exactly. No network: the demo feed is
 * served on loopback.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/lib/paths.js';
import { CLI, getJson, startDaemonProcess, stopDaemon, waitFor, type DaemonProcess } from '../daemon/harness.js';

interface Block {
  file: string;
  line: number;
  lang: string;
  runnable: boolean;
  text: string;
  /** Index of its closing fence line. */
  end: number;
  /** The ```… output block that follows it, if any. */
  output?: string;
}

export function blocksOf(file: string, markdown: string): Block[] {
  const lines = markdown.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const tags = open[2].trim().split(/\s+/);
    const block: Block = { file, line: start + 1, lang: open[1], runnable: tags.includes('runnable'), text: body.join('\n'), end: i };
    const prev = out.at(-1);
    // Only blank lines between the two blocks.
    if (tags.includes('output') && prev?.runnable && lines.slice(prev.end + 1, start).every((l) => !/\S/.test(l))) prev.output = block.text;
    out.push(block);
  }
  return out;
}

const docFiles = ['README.md', ...readdirSync(join(packageRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const blocks = docFiles.flatMap((f) => blocksOf(f, readFileSync(join(packageRoot, f), 'utf8')));
const shellLangs = new Set(['sh', 'bash', 'shell', 'console']);
const where = (b: Block) => `${b.file}:${b.line}`;

test('shell examples in the docs: one port (8787), and URLs with ? quoted (zsh globs an unquoted ?)', () => {
  for (const b of blocks.filter((x) => shellLangs.has(x.lang))) {
    for (const line of b.text.split('\n')) {
      if (b.lang === 'console' && !line.startsWith('$ ')) continue;
      const unquoted = /(^|[\s=])((?:https?|wss?):\/\/[^\s'"]*\?[^\s'"]*)/.exec(line);
      assert.equal(unquoted, null, `${where(b)}: quote the URL ${unquoted?.[2]}`);
      for (const m of line.matchAll(/(?:127\.0\.0\.1|localhost):(\d+)/g)) assert.equal(m[1], '8787', `${where(b)}: port ${m[1]}; the docs use the default port 8787`);
    }
  }
  for (const f of docFiles) assert.doesNotMatch(readFileSync(join(packageRoot, f), 'utf8'), /127\.0\.0\.1:8080|"port": ?8080/, f);
});

test('the runnable blocks are found (README quick start, PROTOCOL HTTP, SCHEMA queries)', () => {
  const count = (file: string) => blocks.filter((b) => b.file === file && b.runnable).length;
  assert.ok(count('README.md') >= 3, `README.md: ${count('README.md')}`);
  assert.ok(count('docs/PROTOCOL.md') >= 1);
  assert.ok(count('docs/SCHEMA.md') >= 10);
  assert.ok(blocks.some((b) => b.output !== undefined), 'an output block is checked');
});

let dir = '';
let d: DaemonProcess | undefined;
after(async () => {
  if (d) await stopDaemon(d);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every runnable block runs as written against a demo daemon', async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-docs-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // What `npm link` installs: the package's bin on PATH.
  writeFileSync(join(bin, 'tickerpulse'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
  chmodSync(join(bin, 'tickerpulse'), 0o755);
  d = await startDaemonProcess(['--demo'], {}, 30_000, { cwd: dir });
  const port = d.port;
  await waitFor('demo items stored', async () => (await getJson(port, '/healthz')).sources.some((s: { items: number }) => s.items > 0), 60_000);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const ran: string[] = [];
  for (const b of blocks.filter((x) => x.runnable)) {
    if (b.lang === 'sql') {
      const db = new Database(join(dir, 'data', 'tickerpulse.db'), { readonly: true });
      try {
        assert.doesNotThrow(() => db.exec(b.text), `${where(b)}`);
      } finally {
        db.close();
      }
    } else {
      assert.ok(shellLangs.has(b.lang), `${where(b)}: runnable ${b.lang} blocks are not supported`);
      const script = b.lang === 'console' ? b.text.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2)).join('\n') : b.text;
      assert.doesNotMatch(script, /\bnpx\b/, `${where(b)}: npx would install a copy of the package (network)`);
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script.replace(/(127\.0\.0\.1|localhost):8787/g, `$1:${port}`)], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `${where(b)} failed (${r.status ?? r.signal}):\n${script}\nstderr: ${r.stderr}`);
      if (b.output !== undefined) assert.equal(r.stdout.trim(), b.output.trim(), `${where(b)} prints something else than its output block`);
    }
    ran.push(where(b));
  }
  assert.ok(ran.length >= 14, `ran ${ran.join(', ')}`);
});
