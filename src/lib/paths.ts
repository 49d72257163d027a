import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository (package) root, found by walking up from this file. The code runs both
 * from TypeScript sources and from compiled `dist/`, so fixed `../..` paths would break.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'data'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('tickerpulse: cannot find the package root (package.json + data/)');
    dir = up;
  }
}

export const packageRoot = findRoot();
export const dataDir = join(packageRoot, 'data');
export const defaultModelDir = join(dataDir, 'model');
/** ../shared beside the checkout: training data and test fixtures, absent on a user's machine. */
export const sharedDir = resolve(packageRoot, '..', 'shared');

/** Compiled JS lives in dist/; a worker entry must be loaded from the same tree as its caller. */
export function workerFile(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  // here = <root>[/dist]/src/lib/paths.{ts,js}
  return resolve(dirname(here), '..', '..', 'workers', name + ext);
}
