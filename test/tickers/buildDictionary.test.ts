import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../src/lib/paths.js';
import { DICTIONARY_PATH, buildDictionary, cleanLegalName, serializeDictionary } from '../../src/tickers/buildDictionary.js';

test('cleanLegalName drops legal suffixes and title-cases capitals', () => {
  assert.equal(cleanLegalName('COSTCO WHOLESALE CORP /NEW'), 'Costco Wholesale');
  assert.equal(cleanLegalName('Apple Inc.'), 'Apple');
  assert.equal(cleanLegalName('JPMORGAN CHASE & CO'), 'Jpmorgan Chase');
  assert.equal(cleanLegalName('BANK OF AMERICA CORP /DE/'), 'Bank of America');
  assert.equal(cleanLegalName('Meta Platforms, Inc.'), 'Meta Platforms');
  assert.equal(cleanLegalName('VODAFONE GROUP PUBLIC LTD CO'), 'Vodafone');
  assert.equal(cleanLegalName('HSBC HOLDINGS PLC'), 'HSBC');
  assert.equal(cleanLegalName('AT&T INC.'), 'AT&T');
  assert.equal(cleanLegalName('Lloyds Banking Group plc'), 'Lloyds Banking');
  assert.equal(cleanLegalName('Spotify Technology S.A.'), 'Spotify Technology');
  assert.equal(cleanLegalName('Walt Disney Co'), 'Walt Disney');
  assert.equal(cleanLegalName('Northern Trust Corp', (w) => w === 'northern'), 'Northern Trust');
});

const secDir = join(sharedDir, 'data', 'tickers');
const corporaDir = join(sharedDir, 'data', 'sentiment');
// The build reads the SEC lists and (for its ordinary-word list) the sentiment corpora.
const missing = !existsSync(join(secDir, 'sec_company_tickers_exchange.json'))
  ? `no SEC lists at ${secDir}`
  : !existsSync(corporaDir)
    ? `no sentiment corpora at ${corporaDir}`
    : false;
test('the committed dictionary is what `npm run tickers` builds', { skip: missing }, () => {
  const { dictionary } = buildDictionary(secDir);
  const committed = readFileSync(DICTIONARY_PATH, 'utf8');
  assert.ok(committed.length < 2 * 1024 * 1024, 'dictionary stays under 2 MB');
  assert.equal(serializeDictionary(dictionary), committed, 'data/tickers/dictionary.json is stale: run npm run tickers');
});
