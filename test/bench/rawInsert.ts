/**
 * The raw SQLite baseline of issue 13, in a process of its own (run by test/bench/run.ts): the
 * rows a replay round stored (--from, the daemon's database) are inserted again into a fresh
 * database (--db) holding nothing but a table of the same definition as `items` (its CREATE
 * statement copied from --from: same columns, primary key, UNIQUE and CHECK constraints; no
 * secondary index, no other table), WAL, synchronous=NORMAL, one prepared statement, one
 * transaction per --chunk rows. Prints one JSON line {"rows", "seconds", "perSec"}.
 *
 * This is the floor the daemon's own commit path is measured against: what SQLite alone costs
 * for these rows on this disk, with nothing of the daemon around it. The rows are read into
 * memory before the clock starts.
 */
import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values } = parseArgs({ options: { from: { type: 'string' }, db: { type: 'string' }, chunk: { type: 'string', default: '500' } } });
if (!values.from || !values.db) {
  console.error('usage: rawInsert --from DAEMON.db --db NEW.db [--chunk N]');
  process.exit(2);
}
const chunk = Number(values.chunk);

const src = new Database(values.from, { readonly: true });
const createSql = src.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'`).pluck().get() as string;
// Every stored column but the seq the table assigns itself (and hidden / generated ones).
const cols = (src.prepare(`PRAGMA table_xinfo(items)`).all() as { name: string; hidden: number; pk: number }[]).filter((c) => c.hidden === 0 && c.pk === 0).map((c) => c.name);
const rows = src.prepare(`SELECT ${cols.join(', ')} FROM items ORDER BY seq`).raw().all() as unknown[][];
src.close();

const db = new Database(values.db);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(createSql);
const insert = db.prepare(`INSERT INTO items (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
const insertChunk = db.transaction((from: number, to: number) => {
  for (let i = from; i < to; i++) insert.run(rows[i]);
});
const t0 = process.hrtime.bigint();
for (let i = 0; i < rows.length; i += chunk) insertChunk(i, Math.min(rows.length, i + chunk));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
db.close();
writeSync(1, JSON.stringify({ rows: rows.length, seconds, perSec: Math.round(rows.length / seconds) }) + '\n');
