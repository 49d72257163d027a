/**
 * `tickerpulse backup FILE`: an online, integrity-checked copy of the database (src/store/backup.ts),
 * safe while the daemon runs. Progress bar on stderr when it is a terminal.
 */
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import { backupDatabase, type BackupProgress } from '../store/backup.js';
import { DEFAULT_DB } from './query.js';

export const BACKUP_USAGE = `usage: tickerpulse backup FILE [--db DB] [--force]

  FILE        where the copy goes (a single SQLite file; refused if it exists, unless --force)
  --db DB     database to copy (default ${DEFAULT_DB})
  --force     replace FILE if it exists

Safe while the daemon runs (SQLite's online backup API); the copy passes PRAGMA integrity_check
before it is renamed to FILE. Restore: stop the daemon, copy FILE over the database file (and
delete its -wal/-shm files), start again. See docs/OPERATIONS.md.`;

export async function runBackup(argv: string[], stderr: NodeJS.WriteStream = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { db: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    stderr.write(`tickerpulse backup: ${(err as Error).message}\n${BACKUP_USAGE}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(BACKUP_USAGE + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    stderr.write(`tickerpulse backup: give exactly one target FILE\n${BACKUP_USAGE}\n`);
    return 2;
  }
  const bar = stderr.isTTY ? progressBar(stderr) : undefined;
  try {
    const r = await backupDatabase(parsed.values.db ?? DEFAULT_DB, parsed.positionals[0], { force: parsed.values.force, onProgress: bar });
    if (bar) stderr.write('\n');
    stderr.write(`tickerpulse backup: ${r.dest}: ${r.items} items (latest seq ${r.latestSeq}), ${(r.bytes / 1048576).toFixed(1)} MiB, integrity ok, ${r.ms} ms${r.restarts ? `, restarted ${r.restarts}x by concurrent commits` : ''}\n`);
    return 0;
  } catch (err) {
    if (bar) stderr.write('\n');
    if (err instanceof TickerpulseError) {
      stderr.write(`tickerpulse backup: ${err.message}\n`);
      return err.code === 'INPUT_INVALID' ? 2 : 1;
    }
    throw err;
  }
}

function progressBar(out: NodeJS.WriteStream): (p: BackupProgress) => void {
  const width = 30;
  return (p) => {
    const done = p.totalPages ? (p.totalPages - p.remainingPages) / p.totalPages : 1;
    const n = Math.round(done * width);
    out.write(`\r[${'#'.repeat(n)}${' '.repeat(width - n)}] ${(done * 100).toFixed(0).padStart(3)}%  ${p.totalPages - p.remainingPages}/${p.totalPages} pages`);
  };
}
