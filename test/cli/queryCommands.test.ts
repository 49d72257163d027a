import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ItemStore } from '../../src/store/itemStore.js';
import { runQuery } from '../../src/cli/query.js';
import { ago, insertAlerts, insertItems } from '../query/fixtures.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runQuery(args, out, err);
  return { code, out: out.text, err: err.text };
}

const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|ORDER BY|LIMIT)\b/;
const SQL_NAMES = /item_tickers|rollups|alert_items|no such|syntax error/i;

let dir: string;
let db: string;
const now = new Date();
const seq: Record<string, number> = {};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickerpulse-querycmd-'));
  db = join(dir, 'q.db');
  const s = ItemStore.open(db);
  const ids = insertItems(s.database, [
    { guid: 'a1', source: 'reuters', title: 'Apple beats estimates', publishedAt: ago(now, 10), label: 'positive', score: 0.81, tickers: [{ symbol: 'AAPL' }, { symbol: 'MSFT', score: -0.4, label: 'negative' }] },
    { guid: 'x1', source: 'ft', title: '@SUM(A1) +1 =cmd', publishedAt: ago(now, 20), label: 'neutral', score: 0 },
    { guid: 'a2', source: 'ft', title: 'Apple falls', publishedAt: ago(now, 120), label: 'negative', score: -0.5, tickers: [{ symbol: 'AAPL' }] },
  ]);
  ['a1', 'x1', 'a2'].forEach((g, i) => (seq[g] = ids[i]));
  insertAlerts(s.database, [
    { rule: 'aapl-shift', kind: 'shift', ticker: 'AAPL', at: ago(now, 10), direction: 'up', message: 'AAPL sentiment up\u001b[31m', value: 0.81, baseline: 0.1, deviation: 3.2, seqs: [seq.a2, seq.a1] },
  ]);
  s.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (text: string) => text.trimEnd().split('\n');
const jsonLines = (text: string) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('query (items)', () => {
  test('JSON lines carry tickers and storyId; `query items` = `query`; --opt=value', async () => {
    const r = await run(['--db', db, '--format=json']);
    assert.equal(r.code, 0, r.err);
    const items = jsonLines(r.out);
    assert.deepEqual(items.map((i) => i.guid), ['a1', 'x1', 'a2']);
    assert.deepEqual(items[0].tickers, [{ symbol: 'AAPL', label: 'positive', score: 0.81 }, { symbol: 'MSFT', label: 'negative', score: -0.4 }]);
    assert.equal(items[0].storyId, seq.a1);
    assert.equal((await run(['items', '--db', db, '--format', 'json'])).out, r.out);
    assert.deepEqual(jsonLines((await run(['--db', db, '--format', 'json', '--ticker', 'aapl', '--sort', 'score', '--order', 'asc'])).out).map((i) => i.guid), ['a2', 'a1']);
  });

  test('table shows the tickers column like AAPL+0.81 MSFT-0.40', async () => {
    const r = await run(['--db', db]);
    assert.equal(r.code, 0, r.err);
    const l = lines(r.out);
    assert.match(l[0], /^TIME \(UTC\)\s+SOURCE\s+LABEL\s+SCORE\s+TICKERS\s+TITLE$/);
    assert.match(l[1], /positive\s+\+0\.81\s+AAPL\+0\.81 MSFT-0\.40\s+Apple beats estimates$/);
    assert.equal(l[1].indexOf('Apple beats'), l[0].indexOf('TITLE'));
  });

  test('csv: tickers and storyId columns; formula cells defused', async () => {
    const r = await run(['--db', db, '--format', 'csv']);
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split('\r\n');
    assert.equal(rows[0], 'seq,publishedAt,source,label,score,pNeg,pNeu,pPos,title,url,guid,summary,fetchedAt,model,dateMissing,tickers,storyId');
    assert.match(rows[1], new RegExp(`,AAPL\\+0\\.81 MSFT-0\\.40,${seq.a1}$`));
    assert.ok(rows[2].includes(",'@SUM(A1) +1 =cmd,"), rows[2]);
    assert.match(rows[3], /^\d+,[^,]+,ft,negative,-0\.5,/); // numbers are not prefixed
  });
});

describe('query tickers | series | alerts', () => {
  test('tickers: ranked by items, table / json / csv', async () => {
    let r = await run(['tickers', '--db', db]);
    assert.equal(r.code, 0, r.err);
    const l = lines(r.out);
    assert.match(l[0], /^SYMBOL\s+ITEMS\s+STORIES\s+MEAN\s+POS\s+NEU\s+NEG$/);
    assert.match(l[1], /^AAPL\s+2\s+2\s+\+0\.155\s+1\s+0\s+1$/);
    assert.match(l[2], /^MSFT\s+1\s+1\s+-0\.400\s+0\s+0\s+1$/);
    r = await run(['tickers', '--db', db, '--format', 'json', '--since', '1h', '--sort', 'symbol', '--order', 'desc']);
    assert.deepEqual(jsonLines(r.out).map((t) => [t.symbol, t.items]), [['MSFT', 1], ['AAPL', 1]]);
    r = await run(['tickers', '--db', db, '--format', 'csv', '--limit', '1']);
    assert.equal(r.out, `symbol,items,stories,meanScore,pos,neu,neg\r\nAAPL,2,2,${(0.81 - 0.5) / 2},1,0,1\r\n`);
  });

  test('series: --ticker T --bucket B [--since], ascending', async () => {
    let r = await run(['series', '--db', db, '--ticker', 'AAPL', '--bucket', '1m', '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    const rows = jsonLines(r.out);
    assert.equal(rows.length, 2);
    assert.ok((rows[0].start as string) < (rows[1].start as string));
    assert.deepEqual(Object.keys(rows[0]), ['start', 'items', 'stories', 'meanScore', 'pos', 'neu', 'neg']);
    r = await run(['series', '--db', db, '--source', 'ft', '--bucket', '1d']);
    assert.match(lines(r.out)[0], /^START \(UTC\)\s+ITEMS\s+STORIES\s+MEAN\s+POS\s+NEU\s+NEG$/);
    r = await run(['series', '--db', db, '--ticker', 'AAPL', '--bucket', '1h', '--since', '30m']);
    assert.equal(lines(r.out).length, 2); // header + the hour of a1
    r = await run(['series', '--db', db, '--ticker', 'ZZZ', '--bucket', '1h']);
    assert.equal(r.code, 0);
    assert.equal(r.out, '');
    assert.equal(r.err, 'no buckets match\n');
  });

  test('alerts: table (control characters removed) and json with seqs', async () => {
    let r = await run(['alerts', '--db', db]);
    assert.equal(r.code, 0, r.err);
    const l = lines(r.out);
    assert.match(l[0], /^TIME \(UTC\)\s+RULE\s+KIND\s+TICKER\s+DIR\s+VALUE\s+ITEMS\s+MESSAGE$/);
    assert.match(l[1], new RegExp(`aapl-shift\\s+shift\\s+AAPL\\s+up\\s+\\+0\\.81\\s+${seq.a1} ${seq.a2}\\s+AAPL sentiment up$`));
    assert.ok(!r.out.includes('\u001b'));
    r = await run(['alerts', '--db', db, '--format', 'json', '--ticker', 'aapl', '--kind', 'shift', '--rule', 'aapl-shift']);
    const [a] = jsonLines(r.out);
    assert.deepEqual(a.seqs, [seq.a1, seq.a2]);
    assert.equal(a.deviation, 3.2);
    r = await run(['alerts', '--db', db, '--kind', 'volume']);
    assert.equal(r.err, 'no alerts match\n');
  });

  test('--help lists the subcommands', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const s of ['query tickers', 'query series', 'query alerts', '--bucket', '--sort', '--order']) assert.ok(r.out.includes(s), s);
    assert.equal((await run(['series', '-h'])).code, 0);
  });
});

describe('bad input: exit 2, one line, no SQL', () => {
  const cases: [string[], RegExp][] = [
    [['--ticker', "x' OR 1=1 --"], /^ticker must be a symbol of 1-6 letters/],
    [['--ticker', '1; DROP TABLE items'], /^ticker must be a symbol/],
    [['alerts', '--ticker', "AAPL' OR '1'='1"], /^ticker must be a symbol/],
    [['series', '--bucket', '1h', '--ticker', "x' OR 1=1 --"], /^ticker must be a symbol/],
    [['--sort', 'secret'], /^sort must be one of published, seq, score \(got "secret"\)$/],
    [['--sort', 'seq; --'], /^sort must be one of published, seq, score \(got "seq; --"\)$/],
    [['tickers', '--sort', 'published'], /^sort must be one of items, stories, score, symbol/],
    [['--order', 'random'], /^order must be one of asc, desc/],
    // 0 is accepted by the CLI: every row, streamed (test/cli/queryExport.test.ts).
    [['--limit', '1000000000'], /^limit must be 0 \(no limit\) or an integer from 1 to 1000/],
    [['--limit', '1e9'], /^limit must be 0 \(no limit\) or an integer from 1 to 1000/],
    [['--limit', '-1'], /^limit must be 0 \(no limit\) or an integer from 1 to 1000/],
    [['--before', '-3'], /^before must be an item seq/],
    [['--sort', 'score', '--after', '10'], /^before and after page by seq: sort must be seq/],
    [['--search', 'x'.repeat(10_000)], /^search is longer than 200 characters$/],
    [['--ticker', 'AAPL', '--ticker', 'MSFT'], /^ticker given more than once$/],
    [['--nope', '1'], /^unknown option "--nope" for items \(allowed: --source, /],
    [['tickers', '--ticker', 'AAPL'], /^unknown option "--ticker" for tickers/],
    [['stories'], /^unknown query "stories" \(allowed: items, tickers, series, alerts\)$/],
    [['series', '--ticker', 'AAPL'], /^bucket is required \(one of 1m, 1h, 1d\)$/],
    [['series', '--ticker', 'AAPL', '--bucket', '5m'], /^bucket must be one of 1m, 1h, 1d/],
    [['series', '--bucket', '1h'], /^series needs exactly one of ticker or source$/],
    [['series', '--ticker', 'AAPL', '--bucket', '1m', '--since', '90d'], /^since is too far back for bucket 1m/],
    [['--since', 'yesterday'], /^since must be a duration/],
    [['--format', 'xml'], /^format must be one of table, json, csv/],
    [['--ticker'], /^--ticker needs a value/],
    [['--ticker', '--since', '24h'], /^--ticker needs a value/],
    [['--label', 'negative', 'extra'], /^unexpected argument "extra"/],
    [['-x'], /^unknown option "-x"/],
    [['--db', 'a.db'], /^--db given more than once$/],
  ];
  for (const [args, msg] of cases) {
    test(args.join(' ').slice(0, 60), async () => {
      // a query kind comes first, --db after it
      const kinds = ['stories', 'series', 'tickers', 'alerts'];
      const res = await run(kinds.includes(args[0]) ? [args[0], '--db', db, ...args.slice(1)] : ['--db', db, ...args]);
      assert.equal(res.code, 2, res.err);
      assert.equal(res.out, '');
      assert.match(res.err, /^tickerpulse query: .* \(see tickerpulse query --help\)\n$/);
      assert.equal(res.err.split('\n').length, 2, 'one line');
      const message = res.err.slice('tickerpulse query: '.length, res.err.length - ' (see tickerpulse query --help)\n'.length);
      assert.match(message, msg);
      assert.doesNotMatch(message, SQL_KEYWORDS);
      assert.doesNotMatch(message, SQL_NAMES);
      assert.ok(res.err.length < 300);
    });
  }
});

describe('store failures: exit 1, generic message', () => {
  test('a query SQLite cannot answer: STORE_FAILED with the SQLite code, no SQL text', async () => {
    const broken = join(dir, 'broken.db');
    const s = ItemStore.open(broken);
    // Fails at run time, not when the store opens: sum() of two int64 maxima overflows.
    const hour = (h: number) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - h * 3_600_000).toISOString();
    const ins = s.database.prepare(`INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg) VALUES ('ticker', 'AAPL', '1h', ?, ?, 0, 0, 0, 0, 0, 0)`);
    for (const h of [0, 1]) ins.run(hour(h), 9223372036854775807n);
    s.close();
    const r = await run(['tickers', '--db', broken]);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'tickerpulse query: the database could not answer the query [STORE_FAILED SQLITE_ERROR]\n');
    assert.equal(r.out, '');
    assert.equal((await run(['--db', broken])).code, 0); // items still work
    const missing = await run(['alerts', '--db', join(dir, 'missing.db')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /not found.*STORE_FAILED/);
  });
});
