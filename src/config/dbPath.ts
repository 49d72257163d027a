import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { TickerpulseError } from '../lib/errors.js';
import { makeDirs } from '../lib/makeDirs.js';

/**
 * Creates the database's folder, before anything else starts: a `db` path that cannot be a
 * database file (its folder cannot be made, or it is a folder itself) is a setting to change,
 * so CONFIG_INVALID (exit 2) naming the path, not a store failure found by the writer thread.
 */
export function prepareDbPath(file: string): void {
  try {
    makeDirs(dirname(file));
  } catch (err) {
    throw new TickerpulseError('CONFIG_INVALID', `db: cannot create the folder of ${file}: ${(err as Error).message}`, { cause: err, details: { path: 'db' } });
  }
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    // does not exist yet: the writer creates it
  }
  if (isDir) throw new TickerpulseError('CONFIG_INVALID', `db: ${file} is a folder; give the path of a database file in it (e.g. ${file}/tickerpulse.db)`, { details: { path: 'db' } });
}
