/**
 * One end-to-end replay round in a process of its own (run by test/bench/run.ts): the daemon of
 * the tree at --root replays the JSONL file --file into the new database --db and this prints one
 * JSON line, {"seconds": …, "peakRssMb": …}.
 *
 * A process per round, as the daemon runs in production: no JIT state, heap or threads are left
 * over from the bench's other figures or from the other tree's rounds (in one shared process,
 * whichever tree ran second inherited the first one's heap), and the peak RSS is the daemon's own.
 * The tree is imported by path, so a --baseline worktree of an older revision runs the same way.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { resolveConfig as ResolveConfig } from '../../src/config/load.js';
import type { startDaemon as StartDaemon } from '../../src/daemon/daemon.js';
import type { createLogger as CreateLogger } from '../../src/lib/log.js';

const { values } = parseArgs({ options: { root: { type: 'string' }, file: { type: 'string' }, db: { type: 'string' } } });
if (!values.root || !values.file || !values.db) {
  console.error('usage: replayRound --root TREE --file ITEMS.jsonl --db NEW.db');
  process.exit(2);
}
const { resolveConfig } = (await import(join(values.root, 'dist/src/config/load.js'))) as { resolveConfig: typeof ResolveConfig };
const { startDaemon } = (await import(join(values.root, 'dist/src/daemon/daemon.js'))) as { startDaemon: typeof StartDaemon };
const { createLogger } = (await import(join(values.root, 'dist/src/lib/log.js'))) as { createLogger: typeof CreateLogger };

const cfg = resolveConfig({ db: values.db, server: { host: '127.0.0.1', port: 0 }, sources: [{ id: 'replay', kind: 'jsonl', path: values.file }] });
const t0 = process.hrtime.bigint();
const daemon = await startDaemon(cfg, { log: createLogger({ level: 'warn', pretty: false, destination: 2 }) });
await daemon.idle;
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await daemon.shutdown('bench done');
// maxRSS (KiB): the process's high-water mark, main and worker threads together.
// Written synchronously: stdout is a pipe, and exit() must not cut the line short.
writeSync(1, JSON.stringify({ seconds, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
process.exit(0);
