#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/paths.js';

const USAGE = `usage: tickerpulse <command> [options]

commands:
  start      run the monitor daemon (sources → workers → SQLite → WebSocket)
  reload     make the running daemon re-read its config (SIGHUP) and print what changed
  classify   classify text lines or JSONL from files/stdin, one JSON result per line
  query      query stored items (newest first), tickers, series, alerts as a table, JSON or CSV
  reclassify re-score stored items with the current model (resumable; rebuilds affected rollups)
  backup     online, integrity-checked copy of the database (safe while the daemon runs)
  prune      delete data older than the retention settings now (--dry-run: only count)
  migrate    copy a single-node SQLite database into PostgreSQL (cluster mode; resumable)
  version    print the version

Run "tickerpulse <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return (await import('./start.js')).runStart(rest);
    case 'reload':
      return (await import('./reload.js')).runReload(rest);
    case 'classify':
      return (await import('./classify.js')).runClassify(rest);
    case 'query':
      return (await import('./query.js')).runQuery(rest, process.stdout);
    case 'reclassify':
      return (await import('./reclassify.js')).runReclassify(rest);
    case 'backup':
      return (await import('./backup.js')).runBackup(rest);
    case 'prune':
      return (await import('./prune.js')).runPrune(rest);
    case 'migrate':
      return (await import('./migrate.js')).runMigrate(rest);
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version + '\n');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`tickerpulse: unknown command "${cmd}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tickerpulse: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
