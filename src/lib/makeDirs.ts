import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that fails instead of spinning: Node 20's `mkdirSync(dir, { recursive: true })`
 * retries forever when mkdir answers ENOENT under an existing parent (e.g. `/proc/nope`, where
 * nothing can be created). Walks up to the nearest existing ancestor (which must be a folder),
 * then creates the missing levels one by one. Throws the fs error (ENOENT, ENOTDIR, EACCES...).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    try {
      if (statSync(d).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a directory: ${d}`), { code: 'ENOTDIR', path: d });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const up = dirname(d);
      if (up === d) throw err;
      missing.push(d);
      d = up;
    }
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      // Created meanwhile by someone else: fine if it is a folder.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(m).isDirectory()) throw err;
    }
  }
}
