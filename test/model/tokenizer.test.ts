import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_FEATURE_CONFIG,
  Featurizer,
  decodeBuckets,
  decodeLexicon,
  encodeBuckets,
  encodeLexicon,
  hashFeatures,
  isCashtag,
  lexiconKey,
  registerOf,
  tokenize,
  type TokenizerSpec,
} from '../../src/model/tokenizer.js';

describe('tokenize', () => {
  it('keeps cashtags upper-case as their own tokens, including class shares', () => {
    const t = tokenize('$aapl and $BRK.B rally while $tsla lags');
    assert.deepEqual(t, ['$AAPL', 'and', '$BRK.B', 'rally', 'while', '$TSLA', 'lags']);
    assert.ok(isCashtag('$AAPL'));
    assert.ok(!isCashtag('aapl'));
    // a dollar amount is money, not a cashtag
    assert.deepEqual(tokenize('pays $5 per share'), ['pays', '<money>', 'per', 'share']);
    // a cashtag glued to other letters/digits is not a cashtag
    assert.ok(!tokenize('costs $12abc').some(isCashtag));
  });

  it('normalizes signed percentages, numbers, years and money amounts', () => {
    assert.deepEqual(tokenize('Widgets Inc +3.2% premarket, Gadgets -12% after hours'), ['widgets', 'inc', '<pct_up>', 'premarket', 'gadgets', '<pct_down>', 'after', 'hours']);
    assert.deepEqual(tokenize('margin of 4.5 percent in 2023'), ['margin', 'of', '<pct>', 'in', '<year>']);
    assert.deepEqual(tokenize('revenue of EUR 12.5 mn versus USD 3bn'), ['revenue', 'of', '<money>', 'versus', '<money>']);
    assert.deepEqual(tokenize('shares climbed +7 points'), ['shares', 'climbed', '<num_up>', 'points']);
    // a hyphen inside a word is not a minus sign
    assert.deepEqual(tokenize('Q3-2024 results'), ['q3-2024', 'results']);
  });

  it('marks the negation scope with not_ and ends it at punctuation', () => {
    assert.deepEqual(tokenize('The bank did not raise its dividend, analysts said'), ['the', 'bank', 'did', 'not', 'not_raise', 'not_its', 'not_dividend', 'analysts', 'said']);
    assert.deepEqual(tokenize("Profit won't grow this year"), ['profit', "won't", 'not_grow', 'not_this', 'not_year']);
    assert.deepEqual(tokenize('Retailer fails to meet forecast'), ['retailer', 'fails', 'to', 'not_meet', 'not_forecast']);
    assert.deepEqual(tokenize('no growth but margins held'), ['no', 'not_growth', 'but', 'margins', 'held']);
    assert.deepEqual(tokenize('never again', 0), ['never', 'again']);
  });

  it('replaces links and mentions', () => {
    assert.deepEqual(tokenize('Read more https://example.com/a?b=1 via @newsdesk'), ['read', 'more', '<url>', 'via', '<user>']);
    assert.deepEqual(tokenize('see www.example.org now'), ['see', '<url>', 'now']);
    assert.deepEqual(tokenize('details at example.com/story'), ['details', 'at', '<url>']);
  });

  it('handles empty, whitespace-only and odd input', () => {
    assert.deepEqual(tokenize(''), []);
    assert.deepEqual(tokenize('   \n\t'), []);
    assert.deepEqual(tokenize('!!!'), ['!', '!', '!']);
    // words that are Object.prototype keys must not confuse the lookup tables
    assert.deepEqual(tokenize('constructor toString 5 constructor'), ['constructor', 'tostring', '<num>', 'constructor']);
  });

  it('repairs mojibake and curly quotes', () => {
    assert.deepEqual(tokenize('Acme’s â€œbigâ€ Â£5m deal'), ["acme's", 'big', '<money>', 'deal']);
  });
});

describe('registerOf', () => {
  const facts = { hasUrl: false, hasCashtag: false, hasUser: false, hasHashtag: false, endsWithStop: false, words: 6, titleCase: 0.2 };
  it('derives the register from the text alone', () => {
    assert.equal(registerOf({ ...facts, hasCashtag: true }), 'tweet');
    assert.equal(registerOf({ ...facts, hasUrl: true }), 'tweet');
    assert.equal(registerOf({ ...facts, endsWithStop: true, words: 14 }), 'sentence');
    assert.equal(registerOf({ ...facts, titleCase: 0.9 }), 'title');
    assert.equal(registerOf(facts), 'headline');
  });
});

describe('featurizer', () => {
  it('is deterministic and length-independent in scale', () => {
    const a = hashFeatures('Shares of Acme jumped after strong results', DEFAULT_FEATURE_CONFIG);
    const b = hashFeatures('Shares of Acme jumped after strong results', DEFAULT_FEATURE_CONFIG);
    assert.deepEqual(a, b);
    assert.ok(a.hashes.length > 8);
    const sq = a.values.reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(sq - 1) < 1e-9, `l2-scaled values should have unit norm, got ${sq}`);
  });

  it('emits direction features for "loss narrowed" and number comparisons', () => {
    const cfgDir = { ...DEFAULT_FEATURE_CONFIG, unigrams: false, bigrams: false, register: false };
    assert.ok(hashFeatures('Net loss narrowed in the quarter', cfgDir).hashes.length > 0);
    const up = hashFeatures('Sales rose to EUR 9.1 mn from EUR 7.0 mn', cfgDir).hashes;
    const down = hashFeatures('Sales fell to EUR 7.0 mn from EUR 9.1 mn', cfgDir).hashes;
    assert.notDeepEqual(up, down);
    // the same comparison in the other word order gives the same comparison features
    const up2 = hashFeatures('Sales rose from EUR 7.0 mn to EUR 9.1 mn', cfgDir).hashes;
    assert.deepEqual([...up].sort(), [...up2].sort());
    assert.deepEqual(hashFeatures('Nothing to see here', cfgDir).hashes, []);
  });

  it('round-trips the bucket table and hashed lexicons', () => {
    const buckets = [0, 1, 2, 127, 128, 300000, 1048575];
    assert.deepEqual([...decodeBuckets(encodeBuckets(buckets))], buckets);
    const lex = decodeLexicon(encodeLexicon([['gain', 2], ['slump', -3], ['meh', 0]]));
    assert.equal(lex.get(lexiconKey('gain')), 2);
    assert.equal(lex.get(lexiconKey('slump')), -3);
    assert.equal(lex.size, 2);
  });

  it('maps known buckets to rows and drops unknown ones; batches pad with id 0', () => {
    const cfg = { ...DEFAULT_FEATURE_CONFIG, hashBits: 12 };
    const known = hashFeatures('profit up', cfg).hashes.map((h) => h & 4095);
    const sorted = [...new Set(known)].sort((a, b) => a - b);
    const spec: TokenizerSpec = { format: 'tickerpulse-features', version: 1, labels: ['negative', 'neutral', 'positive'], config: cfg, rows: sorted.length + 1, buckets: encodeBuckets(sorted) };
    const f = new Featurizer(spec);
    const one = f.featurize('profit up');
    assert.equal(one.ids.length, known.length);
    assert.ok(one.ids.every((id) => id >= 1 && id < spec.rows));
    const b = f.batch(['profit up', '', 'completely unrelated words here']);
    assert.equal(b.batch, 3);
    assert.equal(b.ids.length, 3 * b.width);
    assert.equal(b.values.length, 3 * b.width);
    // each row holds its own features, then padding (id 0, value 0)
    const texts = ['profit up', '', 'completely unrelated words here'];
    texts.forEach((t, i) => {
      const own = f.featurize(t);
      for (let k = 0; k < b.width; k++) {
        assert.equal(b.ids[i * b.width + k], k < own.ids.length ? BigInt(own.ids[k]) : 0n);
        assert.ok(Math.abs(b.values[i * b.width + k] - (k < own.values.length ? own.values[k] : 0)) < 1e-7);
      }
    });
  });
});
