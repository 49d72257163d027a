import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TickerpulseError } from '../../src/lib/errors.js';
import { MAX_LIMIT, MAX_PARAM_LENGTH, fromSearchParams, validateParams, type ParamInput, type QueryKind } from '../../src/query/params.js';

const now = new Date('2024-05-10T12:34:56.789Z');
const http = <K extends QueryKind>(kind: K, input: ParamInput) => validateParams(kind, input, { channel: 'http', now });
const cli = <K extends QueryKind>(kind: K, input: ParamInput) => validateParams(kind, input, { channel: 'cli', now });

/** Words that would only appear in a message if SQL (or SQLite's own error text) leaked into it. */
const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|ORDER BY)\b/;
const SQL_NAMES = /item_tickers|rollups|sqlite|syntax error|no such/i;

/** Asserts INPUT_INVALID whose message matches `msg` and carries no SQL; returns the message. */
function refuses(fn: () => unknown, msg: RegExp, what = String(msg)): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TickerpulseError, `${what}: expected a TickerpulseError, got ${String(caught)}`);
  assert.equal(caught.code, 'INPUT_INVALID', what);
  assert.match(caught.message, msg, what);
  assert.doesNotMatch(caught.message, SQL_KEYWORDS, what);
  assert.doesNotMatch(caught.message, SQL_NAMES, what);
  assert.ok(caught.message.length < 300, `${what}: message too long (${caught.message.length})`);
  assert.ok(!caught.message.includes('\n'), `${what}: one line`);
  return caught.message;
}

describe('query params: defaults', () => {
  test('items: newest 100 (HTTP) / 50 (CLI), by publication time, descending, JSON / table', () => {
    assert.deepEqual(http('items', {}), { kind: 'items', format: 'json', limit: 100, sort: 'published', order: 'desc' });
    assert.deepEqual(cli('items', {}), { kind: 'items', format: 'table', limit: 50, sort: 'published', order: 'desc' });
    assert.equal(validateParams('items', {}, { channel: 'http', now, itemsDefaultLimit: 20 }).limit, 20);
  });

  test('tickers: last 24 h, 50, by items; symbol sorts ascending by default', () => {
    const p = http('tickers', {});
    assert.deepEqual(p, { kind: 'tickers', format: 'json', since: new Date(now.getTime() - 86_400_000), limit: 50, sort: 'items', order: 'desc' });
    assert.equal(http('tickers', { sort: 'symbol' }).order, 'asc');
    assert.equal(http('tickers', { sort: 'symbol', order: 'desc' }).order, 'desc');
  });

  test('series: since defaults per bucket (1m → 6h, 1h → 7d, 1d → 90d)', () => {
    const h = 3_600_000;
    assert.deepEqual(http('series', { ticker: 'aapl', bucket: '1m' }), { kind: 'series', format: 'json', bucket: '1m', since: new Date(now.getTime() - 6 * h), ticker: 'AAPL' });
    assert.equal(http('series', { ticker: 'AAPL', bucket: '1h' }).since.getTime(), now.getTime() - 7 * 24 * h);
    assert.equal(http('series', { source: 'reuters', bucket: '1d' }).since.getTime(), now.getTime() - 90 * 24 * h);
    assert.equal(http('series', { source: 'reuters', bucket: '1d' }).source, 'reuters');
  });

  test('alerts: last 24 h, 100, newest first', () => {
    assert.deepEqual(http('alerts', {}), { kind: 'alerts', format: 'json', since: new Date(now.getTime() - 86_400_000), limit: 100, sort: 'at', order: 'desc' });
  });
});

describe('query params: accepted values', () => {
  test('items: every parameter', () => {
    const p = http('items', { source: 'reuters', label: 'NEGATIVE', since: '2024-05-01', search: "it's 50%", ticker: 'brk-b', limit: '1000', sort: 'score', order: 'asc', format: 'csv' });
    assert.deepEqual(p, {
      kind: 'items',
      format: 'csv',
      limit: 1000,
      sort: 'score',
      order: 'asc',
      source: 'reuters',
      label: 'negative',
      since: new Date('2024-05-01T00:00:00Z'),
      search: "it's 50%",
      ticker: 'BRK.B',
    });
    assert.equal(http('items', { since: '90m' }).since?.getTime(), now.getTime() - 90 * 60_000);
    assert.equal(http('items', { search: '' }).search, undefined); // empty search = no filter
    assert.equal(http('items', { limit: '1' }).limit, 1);
    assert.equal(cli('items', { format: 'table' }).format, 'table');
  });

  test('alerts: ticker, rule, kind, sort value', () => {
    const p = http('alerts', { ticker: 'msft', rule: 'aapl-shift_1', kind: 'Shift', sort: 'value', since: '7d' });
    assert.equal(p.ticker, 'MSFT');
    assert.equal(p.rule, 'aapl-shift_1');
    assert.equal(p.alertKind, 'shift');
    assert.equal(p.sort, 'value');
  });

  test('fromSearchParams keeps repeated names as arrays', () => {
    assert.deepEqual(fromSearchParams(new URLSearchParams('a=1&b=2&a=3')), { a: ['1', '3'], b: '2' });
    refuses(() => http('items', fromSearchParams(new URLSearchParams('ticker=AAPL&ticker=MSFT'))), /^ticker given more than once$/);
  });
});

describe('query params: refusals name the parameter and what is allowed', () => {
  test('unknown parameter (per kind), listing the allowed ones', () => {
    refuses(() => http('items', { nope: '1' }), /^unknown parameter "nope" for items \(allowed: source, label, since, search, ticker, before, after, limit, sort, order, format\)$/);
    refuses(() => http('tickers', { ticker: 'AAPL' }), /^unknown parameter "ticker" for tickers \(allowed: since, limit, sort, order, format\)$/);
    refuses(() => http('series', { limit: '5', ticker: 'AAPL', bucket: '1h' }), /^unknown parameter "limit" for series/);
    refuses(() => cli('items', { nope: '1' }), /^unknown option "--nope" for items \(allowed: --source, /);
    refuses(() => http('items', { "x' OR 1=1 --": '1' }), /^unknown parameter "x' OR 1=1 --" for items/);
    const long = refuses(() => http('items', { ['k'.repeat(10_000)]: '1' }), /^unknown parameter "k{20}…" for items/);
    assert.ok(long.length < 200);
  });

  test('repeated parameter', () => {
    for (const name of ['source', 'label', 'since', 'search', 'ticker', 'limit', 'sort', 'order', 'format']) {
      refuses(() => http('items', { [name]: ['a', 'b'] }), new RegExp(`^${name} given more than once$`), name);
    }
    refuses(() => http('series', { ticker: 'A', bucket: ['1h', '1h'] }), /^bucket given more than once$/);
  });

  test('bad since', () => {
    for (const bad of ['yesterday', '24', '24x', '1e3h', '2024-13-45', '', "x' OR 1=1 --"]) {
      refuses(() => http('items', { since: bad }), /^since must be a duration like 30m, 24h, 7d .* or an ISO-8601 time/, bad);
      refuses(() => http('alerts', { since: bad }), /^since must be/, bad);
    }
  });

  test('bad bucket; series needs a bucket and exactly one of ticker or source', () => {
    for (const bad of ['5m', '1w', '60', '1h; --']) refuses(() => http('series', { ticker: 'AAPL', bucket: bad }), /^bucket must be one of 1m, 1h, 1d \(got /, bad);
    refuses(() => http('series', { ticker: 'AAPL' }), /^bucket is required \(one of 1m, 1h, 1d\)$/);
    refuses(() => http('series', { bucket: '1h' }), /^series needs exactly one of ticker or source$/);
    refuses(() => http('series', { bucket: '1h', ticker: 'AAPL', source: 'reuters' }), /^series needs exactly one of ticker or source$/);
  });

  test('series: a span of more than 20000 buckets is refused, suggesting a larger bucket', () => {
    refuses(() => http('series', { ticker: 'AAPL', bucket: '1m', since: '30d' }), /^since is too far back for bucket 1m: a series spans at most 20000 buckets \(13\.9 days\); use a larger bucket$/);
    refuses(() => http('series', { ticker: 'AAPL', bucket: '1h', since: '1000-01-01' }), /^since is too far back for bucket 1h/);
    assert.equal(http('series', { ticker: 'AAPL', bucket: '1m', since: '13d' }).bucket, '1m');
  });

  test('limit out of 1..1000', () => {
    for (const bad of ['0', '1001', '1000000000', '1e9', '-1', '1.5', '10abc', 'ten', '']) {
      refuses(() => http('items', { limit: bad }), new RegExp(`^limit must be an integer from 1 to ${MAX_LIMIT} \\(got `), bad);
    }
    refuses(() => http('tickers', { limit: '5000' }), /^limit must be an integer from 1 to 1000 \(got 5000\)$/);
    refuses(() => validateParams('items', { limit: '500' }, { channel: 'http', now, maxLimit: 200 }), /^limit must be an integer from 1 to 200 \(got 500\)$/);
  });

  test('limit 0 (no limit) only where allowUnlimited is set (the CLI), never over HTTP', () => {
    assert.equal(validateParams('items', { limit: '0' }, { channel: 'cli', now, allowUnlimited: true }).limit, 0);
    assert.equal(validateParams('alerts', { limit: '0' }, { channel: 'cli', now, allowUnlimited: true }).limit, 0);
    refuses(() => validateParams('items', { limit: '0' }, { channel: 'cli', now }), /^limit must be an integer from 1 to 1000/);
    refuses(() => http('items', { limit: '0' }), /^limit must be an integer from 1 to 1000/);
  });

  test('cursors: before/after are seqs; they page by seq (after alone: oldest first)', () => {
    const a = http('items', { after: '10' });
    assert.deepEqual([a.after, a.before, a.sort, a.order], [10, undefined, 'seq', 'asc']);
    const b = http('items', { before: '10' });
    assert.deepEqual([b.before, b.sort, b.order], [10, 'seq', 'desc']);
    const both = http('items', { after: '0', before: '10', order: 'asc', sort: 'seq' });
    assert.deepEqual([both.after, both.before, both.sort, both.order], [0, 10, 'seq', 'asc']);
    assert.equal(http('items', {}).before, undefined);
    for (const bad of ['-1', '1.5', 'x', '', '0x1', '99999999999999999']) refuses(() => http('items', { before: bad }), /^before must be an item seq, an integer from 0 to \d+ \(got /, bad);
    refuses(() => http('items', { after: '1', sort: 'published' }), /^before and after page by seq: sort must be seq/);
    refuses(() => http('alerts', { after: '1' }), /^unknown parameter "after" for alerts/);
  });

  test('unknown sort field (allowlist per kind) and order', () => {
    refuses(() => http('items', { sort: 'secret' }), /^sort must be one of published, seq, score \(got "secret"\)$/);
    refuses(() => http('items', { sort: 'seq; --' }), /^sort must be one of published, seq, score \(got "seq; --"\)$/);
    refuses(() => http('items', { sort: 'published_at' }), /^sort must be one of published, seq, score/); // column names are not sort fields
    refuses(() => http('tickers', { sort: 'published' }), /^sort must be one of items, stories, score, symbol \(got "published"\)$/);
    refuses(() => http('alerts', { sort: 'items' }), /^sort must be one of at, value/);
    refuses(() => http('items', { order: 'up' }), /^order must be one of asc, desc \(got "up"\)$/);
    refuses(() => http('tickers', { order: 'desc, 1' }), /^order must be one of asc, desc/);
  });

  test('bad ticker (parseTicker)', () => {
    for (const bad of ["x' OR 1=1 --", '1; DROP TABLE items', '', 'TOOLONGSYM', '$AAPL', 'A.B.C', 'AAPL%', 'A_PL']) {
      refuses(() => http('items', { ticker: bad }), /^ticker must be a symbol of 1-6 letters/, bad);
      refuses(() => http('alerts', { ticker: bad }), /^ticker must be a symbol/, bad);
    }
    refuses(() => http('series', { bucket: '1h', ticker: "x' OR 1=1 --" }), /^ticker must be a symbol/);
  });

  test('format: json|csv over HTTP, also table on the CLI', () => {
    refuses(() => http('items', { format: 'table' }), /^format must be one of json, csv \(got "table"\)$/);
    refuses(() => http('tickers', { format: 'xml' }), /^format must be one of json, csv/);
    refuses(() => cli('items', { format: 'xml' }), /^format must be one of table, json, csv \(got "xml"\)$/);
  });

  test('label, alert kind, rule', () => {
    refuses(() => http('items', { label: 'meh' }), /^label must be one of negative, neutral, positive \(got "meh"\)$/);
    refuses(() => http('alerts', { kind: 'panic' }), /^kind must be one of shift, volume, threshold \(got "panic"\)$/);
    refuses(() => http('alerts', { rule: "r' OR '1'='1" }), /^rule must be a rule id/);
    refuses(() => http('alerts', { rule: '' }), /^rule must be a rule id/);
    refuses(() => http('items', { source: '' }), /^source must not be empty$/);
  });

  test('hostile values: a 10,000-character value is refused by length, whatever the parameter', () => {
    const big = 'A'.repeat(10_000);
    for (const name of ['source', 'search', 'ticker', 'since', 'limit', 'sort', 'format']) {
      const msg = refuses(() => http('items', { [name]: big }), new RegExp(`^${name} is longer than ${MAX_PARAM_LENGTH} characters$`), name);
      assert.ok(!msg.includes('AAAA'), name);
    }
    refuses(() => http('series', { bucket: '1h', source: "x'".repeat(5000) }), /^source is longer than 200 characters$/);
  });

  test('hostile values are echoed at most 20 characters, JSON-quoted', () => {
    const msg = refuses(() => http('items', { sort: "score DESC; DROP TABLE items; SELECT * FROM sources --" }), /^sort must be one of/);
    assert.match(msg, /\(got "score DESC; DROP TAB…"\)$/);
    const ctl = refuses(() => http('items', { order: '\u001b[31mred\nline' }), /^order must be/);
    assert.ok(!ctl.includes('\u001b') && !ctl.includes('\n'));
  });

  test('an unknown query kind', () => {
    refuses(() => validateParams('stories' as QueryKind, {}, { channel: 'http', now }), /^unknown query "stories" \(allowed: items, tickers, series, alerts\)$/);
  });
});
