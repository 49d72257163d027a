/**
 * `tickerpulse query [items|tickers|series|alerts]`: stored items, ticker rankings, rollup
 * series and alerts as an aligned table, JSON lines or CSV. Parameters are validated and run by
 * src/query, exactly like the HTTP API's (`--ticker AAPL` here = `?ticker=AAPL` there).
 * Opens the database read-only, so it is safe to run while the daemon writes (WAL).
 */
import { TickerpulseError } from '../lib/errors.js';
import type { StoredAlert, StoredItem } from '../lib/types.js';
import {
  ALERT_KINDS,
  ALERT_SORTS,
  BUCKETS,
  ITEM_SORTS,
  MAX_LIMIT,
  QUERY_KINDS,
  SERIES_DEFAULT_SINCE,
  TICKER_SORTS,
  shown,
  validateParams,
  type ParamInput,
  type QueryKind,
} from '../query/params.js';
import type { QueryResult, SeriesRow, TickerRow } from '../query/queries.js';
import { formatTickers, resultToCsv } from '../query/output.js';
import { openStoreReader, type StoreReader } from '../query/storeReader.js';
import { toApiRows } from '../server/wire.js';
import { exportQuery } from './queryExport.js';

export const DEFAULT_DB = 'data/tickerpulse.db';

const USAGE = `usage: tickerpulse query [items] [options]     stored items, newest first (by publication time)
       tickerpulse query tickers [options]     tickers ranked by item count, with mean score
       tickerpulse query series --ticker T|--source ID --bucket B [--since WHEN]
       tickerpulse query alerts [options]      alerts, newest first

common options:
  --db FILE        database file (default ${DEFAULT_DB}, relative to the current directory)
  --store STORE    an SQLite file or a PostgreSQL URL (postgres://user:pass@host:5432/db; cluster mode)
  --format F       table (default) | json (one object per line) | csv
  --since WHEN     a duration back from now (30m, 24h, 7d; also s, w) or an ISO-8601 time (2024-05-01T09:00Z)
  --limit N        at most N rows, 1-${MAX_LIMIT}; 0 = every row (streamed, see --all)
  --all            every matching row (= --limit 0): streamed from a cursor in bounded memory,
                   for exports (csv or json; a table takes its column widths from the first rows)
  --order O        asc | desc (default desc; sort=symbol: asc)
  -h, --help       show this help

items (default):
  --source ID      only this source
  --ticker T       only items naming this ticker symbol (AAPL, brk-b = BRK.B)
  --label L        negative | neutral | positive
  --search TEXT    case-insensitive substring of title or summary
  --sort F         ${ITEM_SORTS.join(' | ')} (default published)
  --before SEQ     only items with seq < SEQ (newest first; sort is seq)
  --after SEQ      only items with seq > SEQ (oldest first unless --order desc; sort is seq)
  (--limit default 50; --since default: all)

tickers:
  --sort F         ${TICKER_SORTS.join(' | ')} (default items)
  (--since default 24h, --limit default 50)

series:
  --ticker T | --source ID    exactly one
  --bucket B       ${BUCKETS.join(' | ')} (required)
  (--since default ${BUCKETS.map((b) => `${SERIES_DEFAULT_SINCE[b]} for ${b}`).join(', ')}; buckets without items are left out)

alerts:
  --ticker T       only alerts about this ticker
  --rule ID        only alerts of this rule
  --kind K         ${ALERT_KINDS.join(' | ')}
  --sort F         ${ALERT_SORTS.join(' | ')} (default at)
  (--since default 24h, --limit default 100)

In tables, times are UTC; a * after an item's time marks an item whose feed gave no date
(the time shown is when it was fetched). Exit codes: 0 ok, 1 database error, 2 bad arguments.`;

class UsageError extends Error {}

interface ParsedArgs {
  kind: QueryKind;
  db: string;
  help: boolean;
  /** --all: every row, streamed (= --limit 0). */
  all: boolean;
  params: ParamInput;
}

/**
 * argv → the query kind, --db and the parameter record src/query validates. `--name value` and
 * `--name=value`; a repeated option becomes an array (which validation refuses); unknown
 * options are passed on so the message lists what the kind accepts.
 */
function parseArgv(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { kind: 'items', db: DEFAULT_DB, help: false, all: false, params: {} };
  let i = 0;
  if (argv.length > 0 && !argv[0].startsWith('-')) {
    const k = argv[0];
    if (!(QUERY_KINDS as readonly string[]).includes(k)) throw new UsageError(`unknown query ${shown(k)} (allowed: ${QUERY_KINDS.join(', ')})`);
    out.kind = k as QueryKind;
    i = 1;
  }
  let db: string | undefined;
  let dbName = '';
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      out.help = true;
      continue;
    }
    if (a === '--all') {
      if (out.all) throw new UsageError('--all given more than once');
      out.all = true;
      continue;
    }
    const m = /^--([a-z][a-z0-9-]{0,30})(?:=([\s\S]*))?$/.exec(a);
    if (!m) throw new UsageError(a.startsWith('-') ? `unknown option ${shown(a)}` : `unexpected argument ${shown(a)} (the query kind comes first: ${QUERY_KINDS.join(', ')})`);
    const name = m[1];
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value (write --${name}=VALUE for a value starting with --)`);
      value = next;
      i++;
    }
    if (name === 'db' || name === 'store') {
      // --store is --db that also takes a postgres:// URL; one of them, once.
      if (db !== undefined) throw new UsageError(dbName === name ? `--${name} given more than once` : 'give --db or --store, not both');
      dbName = name;
      if (value === '') throw new UsageError(`--${name} must not be empty`);
      db = value;
      continue;
    }
    const prev = out.params[name];
    out.params[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  if (db !== undefined) out.db = db;
  if (out.all) {
    if (out.params.limit !== undefined && out.params.limit !== '0') throw new UsageError('give --all or --limit N, not both (--all = --limit 0)');
    // A series has no limit: it is always every bucket of its window.
    if (out.kind !== 'series') out.params.limit = '0';
  }
  return out;
}

/** Returns the process exit code: 0 ok, 1 store error (e.g. missing database), 2 bad arguments. */
export async function runQuery(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const now = new Date();
  let args: ParsedArgs;
  let params;
  try {
    args = parseArgv(argv);
    if (args.help) {
      await write(out, USAGE + '\n');
      return 0;
    }
    params = validateParams(args.kind, args.params, { channel: 'cli', now, allowUnlimited: true });
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof TickerpulseError && e.code === 'INPUT_INVALID')) throw e;
    await write(err, `tickerpulse query: ${e.message} (see tickerpulse query --help)\n`);
    return 2;
  }

  const storeFailed = async (e: unknown): Promise<number> => {
    // An export can also fail writing (ENOSPC on `> file`): name that error's own code.
    const own = (e as { code?: unknown })?.code;
    const code = e instanceof TickerpulseError ? e.code : typeof own === 'string' ? own : 'STORE_FAILED';
    const detail = e instanceof TickerpulseError ? (e.details?.sqliteCode ?? e.details?.sqlState) : undefined;
    await write(err, `tickerpulse query: ${e instanceof Error ? e.message : String(e)} [${code}${typeof detail === 'string' ? ' ' + detail : ''}]\n`);
    return 1;
  };

  let result: QueryResult;
  let store: StoreReader | undefined;
  try {
    store = await openStoreReader(args.db);
    if (params.kind !== 'series' && params.limit === 0) {
      // --all: streamed, never built in memory (queryExport.ts).
      const r = await exportQuery(store, params, out, { format: params.format, table: tableFor(params.kind, terminalWidth(out)) }, now);
      if (r.rows === 0 && !r.readerGone && params.format === 'table') await write(err, `no ${params.kind} match\n`);
      return 0;
    }
    result = await store.query(params, now);
  } catch (e) {
    return await storeFailed(e);
  } finally {
    await store?.close();
  }

  if (params.format === 'table' && result.rows.length === 0) {
    await write(err, `no ${result.kind === 'series' ? 'buckets' : result.kind} match\n`);
    return 0;
  }
  const text =
    params.format === 'json'
      ? toApiRows(result)
          .map((r) => JSON.stringify(r) + '\n')
          .join('')
      : params.format === 'csv'
        ? resultToCsv(result)
        : toTable(result, terminalWidth(out));
  try {
    await write(out, text);
  } catch (e) {
    // `tickerpulse query | head`: the reader went away; that is not an error.
    if ((e as { code?: string }).code === 'EPIPE') return 0;
    throw e;
  }
  return 0;
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

function padEndChars(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - [...s].length));
}

const signed = (x: number | null, digits = 2): string => (x === null ? '' : (x >= 0 ? '+' : '') + x.toFixed(digits));
const minute = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

interface Col<T> {
  head: string;
  cell: (r: T) => string;
  /** Right-aligned (numbers). */
  right?: boolean;
  /** At most this wide (cut with …). */
  max?: number;
  /** Cut further on a narrow terminal (one column per table). */
  shrink?: boolean;
}

/** The last column (title / message) gets at least this much of a narrow terminal. */
const MIN_LAST = 20;

/**
 * Aligned columns, two spaces apart. The last column (title / message) is cut to what is left
 * of the terminal width (or to 100 characters when not a terminal); on a narrow terminal the
 * `shrink` column is cut first so that the last one keeps MIN_LAST characters.
 *
 * The widths come from the rows of the first call; later calls (the chunks of a streamed
 * `--all` export, whose rows cannot all be held to measure) reuse them and cut longer cells with
 * `…`. For an exact export use csv or json.
 */
function tableRenderer<T>(cols: Col<T>[], last: Col<T> | undefined, columns: number | undefined): (rows: T[], header: boolean) => string {
  let w: number[] | undefined;
  let lastWidth = 100;
  return (rows, header) => {
    const raw = rows.map((r) => cols.map((c) => (c.max ? truncate(c.cell(r), c.max) : c.cell(r))));
    if (!w) {
      const widths = cols.map((c, j) => Math.max([...c.head].length, ...raw.map((row) => [...row[j]].length)));
      const prefixOf = () => widths.reduce((a, b) => a + b, 0) + 2 * cols.length;
      if (columns !== undefined && last) {
        const j = cols.findIndex((c) => c.shrink);
        const over = prefixOf() + MIN_LAST + 1 - columns;
        if (j >= 0 && over > 0) widths[j] = Math.max([...cols[j].head].length, widths[j] - over);
      }
      if (columns !== undefined) lastWidth = Math.max(MIN_LAST, columns - prefixOf() - 1);
      w = widths;
    }
    const width = w;
    const cells = raw.map((row) => row.map((v, j) => truncate(v, width[j])));
    const line = (vals: string[], lastVal: string | undefined) =>
      [...vals.map((v, j) => (cols[j].right ? ' '.repeat(Math.max(0, width[j] - [...v].length)) + v : padEndChars(v, width[j]))), ...(last ? [truncate(lastVal ?? '', lastWidth)] : [])]
        .join('  ')
        .trimEnd();
    const lines = rows.map((r, i) => line(cells[i], last ? clean(last.cell(r)) : undefined));
    if (header) lines.unshift(line(cols.map((c) => c.head), last?.head));
    return lines.length ? lines.join('\n') + '\n' : '';
  };
}

/** Renders results of one kind as a table; the first call sets the widths and writes the header. */
export type TableRenderer = (r: QueryResult) => string;

export function tableFor(kind: QueryKind, columns: number | undefined): TableRenderer {
  let first = true;
  const once = <T>(render: (rows: T[], header: boolean) => string) => (rows: T[]) => {
    const text = render(rows, first);
    first = false;
    return text;
  };
  switch (kind) {
    case 'items': {
      const render = once(
        tableRenderer<StoredItem>(
          [
            { head: 'TIME (UTC)', cell: (i) => minute(i.publishedAt ?? i.fetchedAt) + (i.dateMissing ? '*' : ' ') },
            { head: 'SOURCE', cell: (i) => clean(i.source), max: 24 },
            { head: 'LABEL', cell: (i) => i.label },
            { head: 'SCORE', cell: (i) => signed(i.score), right: true },
            { head: 'TICKERS', cell: (i) => formatTickers(i.tickers), max: 32, shrink: true },
          ],
          { head: 'TITLE', cell: (i) => i.title },
          columns,
        ),
      );
      return (r) => render(r.rows as StoredItem[]);
    }
    case 'tickers': {
      const render = once(tableRenderer<TickerRow>([{ head: 'SYMBOL', cell: (t) => t.symbol }, ...aggCols<TickerRow>()], undefined, columns));
      return (r) => render(r.rows as TickerRow[]);
    }
    case 'series': {
      const render = once(tableRenderer<SeriesRow>([{ head: 'START (UTC)', cell: (s) => minute(s.start) }, ...aggCols<SeriesRow>()], undefined, columns));
      return (r) => render(r.rows as SeriesRow[]);
    }
    case 'alerts': {
      const render = once(
        tableRenderer<StoredAlert>(
          [
            { head: 'TIME (UTC)', cell: (a) => minute(a.at) },
            { head: 'RULE', cell: (a) => clean(a.rule), max: 24 },
            { head: 'KIND', cell: (a) => a.kind },
            { head: 'TICKER', cell: (a) => a.ticker },
            { head: 'DIR', cell: (a) => a.direction ?? '' },
            { head: 'VALUE', cell: (a) => signed(a.value), right: true },
            { head: 'ITEMS', cell: (a) => a.seqs.join(' '), max: 24, shrink: true },
          ],
          { head: 'MESSAGE', cell: (a) => a.message },
          columns,
        ),
      );
      return (r) => render(r.rows as StoredAlert[]);
    }
  }
}

function toTable(r: QueryResult, columns: number | undefined): string {
  return tableFor(r.kind, columns)(r);
}

function aggCols<T extends TickerRow | SeriesRow>(): Col<T>[] {
  return [
    { head: 'ITEMS', cell: (r) => String(r.items), right: true },
    { head: 'STORIES', cell: (r) => String(r.stories), right: true },
    { head: 'MEAN', cell: (r) => signed(r.meanScore, 3), right: true },
    { head: 'POS', cell: (r) => String(r.pos), right: true },
    { head: 'NEU', cell: (r) => String(r.neu), right: true },
    { head: 'NEG', cell: (r) => String(r.neg), right: true },
  ];
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
