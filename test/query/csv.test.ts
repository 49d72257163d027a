import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, toCsv } from '../../src/query/csv.js';
import { formatTickers } from '../../src/query/output.js';

test('RFC 4180: header row, CRLF rows, quoting of comma, quote, CR and LF', () => {
  const csv = toCsv([{ header: 'a', value: (r: { a: unknown }) => r.a as string }, { header: 'b,c', value: () => 1 }], [{ a: 'x' }, { a: 'say "hi", then\nleave' }, { a: null }]);
  assert.equal(csv, 'a,"b,c"\r\nx,1\r\n"say ""hi"", then\nleave",1\r\n,1\r\n');
  assert.equal(csvCell('line\rbreak'), '"line\rbreak"');
  assert.equal(csvCell(undefined), '');
  assert.equal(csvCell(true), 'true');
  assert.equal(csvCell(Number.NaN), '');
});

test('formula injection: text starting with = + - @ TAB CR gets a leading quote; numbers never', () => {
  assert.equal(csvCell('=HYPERLINK("http://evil","x")'), `"'=HYPERLINK(""http://evil"",""x"")"`);
  assert.equal(csvCell('+1 555'), "'+1 555");
  assert.equal(csvCell('-5% guidance'), "'-5% guidance");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvCell('\tcmd'), "'\tcmd");
  assert.equal(csvCell('\r=1'), `"'\r=1"`);
  assert.equal(csvCell(-0.85), '-0.85');
  assert.equal(csvCell('a=b'), 'a=b');
  assert.equal(csvCell("'quoted"), "'quoted");
});

test('formatTickers: AAPL+0.81 MSFT-0.40', () => {
  assert.equal(formatTickers([{ symbol: 'AAPL', score: 0.812 }, { symbol: 'MSFT', score: -0.4 }, { symbol: 'X', score: 0 }]), 'AAPL+0.81 MSFT-0.40 X+0.00');
  assert.equal(formatTickers([]), '');
  assert.equal(formatTickers(undefined), '');
});
