/**
 * The ticker dictionary as one SharedArrayBuffer per process (workers/tickerTable.ts), built on
 * the main thread the first time a source's worker is created and handed to every worker in
 * workerData: N sources hold one copy of the dictionary instead of N (each used to cost ~22 MiB).
 * Keyed by the linker options, which the table bakes in (config `tickers` is the same for every
 * source, so in practice there is one entry).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../lib/paths.js';
import { buildTickerTable } from '../../workers/tickerTable.js';
import type { LinkerOptions, TickerDictionary } from '../../workers/tickerLinker.js';

const tables = new Map<string, SharedArrayBuffer | null>();

export const defaultDictionaryFile = (): string => join(dataDir, 'tickers', 'dictionary.json');

/**
 * The shared table for these options, or null when the dictionary cannot be read or built: the
 * worker then tries the file itself and says once on stderr why it links nothing (the behaviour
 * the daemon always had), so a broken dictionary never stops a source.
 */
export function sharedTickerTable(opts: LinkerOptions = {}, file = defaultDictionaryFile()): SharedArrayBuffer | null {
  const key = JSON.stringify([file, opts.extraAliases ?? {}, opts.watchlist ?? []]);
  let t = tables.get(key);
  if (t === undefined) {
    try {
      t = buildTickerTable(JSON.parse(readFileSync(file, 'utf8')) as TickerDictionary, opts, { shared: true }) as SharedArrayBuffer;
    } catch {
      t = null;
    }
    tables.set(key, t);
  }
  return t;
}
