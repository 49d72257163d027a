/**
 * `tickerpulse query`: read stored items (newest first) as an aligned table, JSON lines or CSV.
 * Opens the database read-only, so it is safe to run while the daemon writes (WAL).
 */
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import type { StoredItem } from '../lib/types.js';
import { parseFilterText, parseLabel, parseLimit, parseSince } from '../store/filters.js';
import { ItemStore, type ItemFilter } from '../store/itemStore.js';
import { toApiItem, type ApiItem } from '../server/wire.js';

export const DEFAULT_DB = 'data/tickerpulse.db';
const DEFAULT_LIMIT = 50;
const FORMATS = ['table', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

const USAGE = `usage: tickerpulse query [options]

Stored items, newest first (by publication time).

options:
  --db FILE        database file (default ${DEFAULT_DB}, relative to the current directory)
  --source ID      only this source
  --label L        negative | neutral | positive
  --since WHEN     a duration back from now (30m, 24h, 7d) or an ISO-8601 time (2024-05-01T09:00Z)
  --search TEXT    case-insensitive substring of title or summary
  --limit N        at most N items (default ${DEFAULT_LIMIT})
  --format F       table (default) | json (one object per line) | csv
  -h, --help       show this help

In the table, times are UTC; a * after the time marks an item whose feed gave no date
(the time shown is when it was fetched).`;

class UsageError extends Error {}

/** Returns the process exit code: 0 ok, 1 store error (e.g. missing database), 2 bad arguments. */
export async function runQuery(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let dbPath: string;
  let format: Format;
  let filter: ItemFilter;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        source: { type: 'string' },
        label: { type: 'string' },
        since: { type: 'string' },
        search: { type: 'string' },
        limit: { type: 'string' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      await write(out, USAGE + '\n');
      return 0;
    }
    dbPath = values.db ?? DEFAULT_DB;
    if (dbPath === '') throw new UsageError('--db must not be empty');
    const f = values.format ?? 'table';
    if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got "${f}")`);
    format = f as Format;
    filter = { limit: values.limit === undefined ? DEFAULT_LIMIT : parseLimit(values.limit) };
    if (values.source !== undefined) filter.source = parseFilterText('--source', values.source);
    if (values.label !== undefined) filter.label = parseLabel(values.label);
    if (values.since !== undefined) filter.since = parseSince(values.since);
    if (values.search !== undefined) filter.search = parseFilterText('--search', values.search);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    await write(err, `tickerpulse query: ${msg}\n\n${USAGE}\n`);
    return 2;
  }

  let items: StoredItem[];
  let store: ItemStore | undefined;
  try {
    store = ItemStore.open(dbPath, { readonly: true });
    items = store.query(filter);
  } catch (e) {
    const code = e instanceof TickerpulseError ? e.code : 'STORE_FAILED';
    await write(err, `tickerpulse query: ${e instanceof Error ? e.message : String(e)} [${code}]\n`);
    return 1;
  } finally {
    store?.close();
  }

  const text =
    format === 'json' ? items.map((i) => JSON.stringify(toJsonLine(i)) + '\n').join('') : format === 'csv' ? toCsv(items) : toTable(items, terminalWidth(out));
  if (format === 'table' && items.length === 0) {
    await write(err, 'no items match\n');
    return 0;
  }
  try {
    await write(out, text);
  } catch (e) {
    // `tickerpulse query | head`: the reader went away; that is not an error.
    if ((e as { code?: string }).code === 'EPIPE') return 0;
    throw e;
  }
  return 0;
}

/** The WebSocket item fields plus summary, fetchedAt, model (and dateMissing). */
function toJsonLine(item: StoredItem): ApiItem {
  return toApiItem(item);
}

const CSV_COLUMNS: (keyof ApiItem)[] = ['seq', 'publishedAt', 'source', 'label', 'score', 'pNeg', 'pNeu', 'pPos', 'title', 'url', 'guid', 'summary', 'fetchedAt', 'model', 'dateMissing'];

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled; CRLF rows. */
function toCsv(items: StoredItem[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const item of items) {
    const api = toApiItem(item);
    rows.push(CSV_COLUMNS.map((c) => csvField(api[c])).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function terminalWidth(out: NodeJS.WritableStream): number | undefined {
  const tty = out as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  return tty.isTTY && tty.columns ? tty.columns : undefined;
}

/** Titles come from the internet: no control characters (ANSI escapes, newlines) reach the terminal. */
function clean(s: string): string {
  return s
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '') // ANSI CSI sequences (colors, cursor moves)
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .trim();
}

function truncate(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

/** time (UTC), source, label, score, title — title cut to the terminal width (or 100 when not a terminal). */
function toTable(items: StoredItem[], columns: number | undefined): string {
  const rows = items.map((i) => ({
    time: (i.publishedAt ?? i.fetchedAt).slice(0, 16).replace('T', ' ') + (i.dateMissing ? '*' : ' '),
    source: truncate(clean(i.source), 24),
    label: i.label,
    score: (i.score >= 0 ? '+' : '') + i.score.toFixed(2),
    title: clean(i.title),
  }));
  const head = { time: 'TIME (UTC)', source: 'SOURCE', label: 'LABEL', score: 'SCORE', title: 'TITLE' };
  const w = {
    time: 17,
    source: Math.max(head.source.length, ...rows.map((r) => [...r.source].length)),
    label: 8,
    score: 5,
  };
  const prefix = w.time + w.source + w.label + w.score + 4 * 2;
  const titleWidth = columns !== undefined ? Math.max(20, columns - prefix - 1) : 100;
  const line = (r: typeof head) =>
    [r.time.padEnd(w.time), padEndChars(r.source, w.source), r.label.padEnd(w.label), r.score.padStart(w.score), truncate(r.title, titleWidth)].join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function padEndChars(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - [...s].length));
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const onError = (e: Error) => {
      failed = true;
      reject(e);
    };
    stream.on('error', onError);
    stream.write(text, (e?: Error | null) => {
      // After a failed write the stream may still emit 'error' (e.g. EPIPE on stdout): keep a
      // listener so it cannot become an uncaught exception.
      if (!e && !failed) stream.off('error', onError);
      if (e) reject(e);
      else resolve();
    });
  });
}
