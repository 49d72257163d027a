/**
 * The one CSV writer of `tickerpulse query --format csv` and `/api/*?format=csv`.
 *
 * - RFC 4180: a header row, CRLF line ends, a field with a comma, a double quote, CR or LF is
 *   quoted and its quotes doubled; null/undefined is an empty field.
 * - Spreadsheet formula injection guard (OWASP "CSV injection"): headlines come from the
 *   internet, and Excel/LibreOffice/Sheets run a cell that starts with `=`, `+`, `-` or `@` (also
 *   TAB or CR) as a formula, e.g. `=HYPERLINK(…)`. Such a *text* cell is written with a leading
 *   `'` (`'=HYPERLINK(…)`), which spreadsheets show as text. Numbers are never prefixed (`-0.85`
 *   stays a number). Consumers parsing the CSV as data see the extra `'` on those text cells.
 */

export interface CsvColumn<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field, guarded and quoted as described above. */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'number') s = Number.isFinite(v) ? String(v) : '';
  else if (typeof v === 'boolean') s = v ? 'true' : 'false';
  else s = FORMULA_START.test(v) ? "'" + v : v;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Header row plus one row per element, CRLF after every row. */
export function toCsv<T>(columns: readonly CsvColumn<T>[], rows: readonly T[]): string {
  return csvHeader(columns) + csvRows(columns, rows);
}

/** The header row alone (a streamed export writes it once, then csvRows per chunk). */
export function csvHeader<T>(columns: readonly CsvColumn<T>[]): string {
  return columns.map((c) => csvCell(c.header)).join(',') + '\r\n';
}

/** One row per element, CRLF after every row; '' for none. */
export function csvRows<T>(columns: readonly CsvColumn<T>[], rows: readonly T[]): string {
  let out = '';
  for (const r of rows) out += columns.map((c) => csvCell(c.value(r))).join(',') + '\r\n';
  return out;
}
