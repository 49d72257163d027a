import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { macroFeatureNames } from '../../src/model/tokenizer.js';
import { CLI } from '../daemon/harness.js';

// The headlines of issue 17 (the first three were misread by the previous model), labelled by
// data/eval/MACRO_RUBRIC.md. Written for tickerpulse.
const PINNED: [string, 'negative' | 'neutral' | 'positive'][] = [
  ['US economy unexpectedly shrinks in first quarter as imports surge', 'negative'],
  ['Jobless claims rise more than expected', 'negative'],
  ['Unemployment rate falls to 3.5%', 'positive'],
  ['Retail sales rise more than expected in May', 'positive'],
  ['Fed raises rates by 25 basis points', 'neutral'],
];

describe('macro headlines through `tickerpulse classify` (shipped model, loaded once)', () => {
  it('labels the issue-17 headlines by the macro rubric', () => {
    const input = PINNED.map(([t]) => t).join('\n') + '\n';
    const r = spawnSync(process.execPath, [CLI, 'classify', '--format', 'json', '--threads', '1'], { input, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { text: string; label: string; score: number });
    assert.equal(got.length, PINNED.length);
    got.forEach((g, i) => {
      assert.equal(g.text, PINNED[i][0]);
      assert.equal(g.label, PINNED[i][1], `${g.text}: ${g.label} (score ${g.score})`);
    });
  });
});

describe('macroFeatures', () => {
  it('reads the direction of a macro metric by its polarity', () => {
    assert.ok(macroFeatureNames('Jobless claims rise').includes('mac_neg'));
    assert.ok(macroFeatureNames('Unemployment rate falls to 3.5%').includes('mac_pos'));
    assert.ok(macroFeatureNames('Economy unexpectedly shrinks').includes('mac_neg'));
    assert.ok(macroFeatureNames('Retail sales climb 0.7%').includes('mac_pos'));
    assert.ok(macroFeatureNames('Consumer prices jump 0.6%').includes('mac_neg'));
  });

  it('lets a comparison with expectations decide, reading "more / less than" with the verb it sizes', () => {
    const final = (t: string) => macroFeatureNames(t).filter((f) => f.startsWith('mac_final_'));
    assert.deepEqual(final('Jobless claims rise less than expected'), ['mac_final_pos']);
    assert.deepEqual(final('Inflation falls more than expected'), ['mac_final_pos']);
    assert.deepEqual(final('GDP grows less than expected'), ['mac_final_neg']);
    assert.deepEqual(final('GDP shrinks less than feared'), ['mac_final_pos']);
    assert.deepEqual(final('Payrolls miss forecasts'), ['mac_final_neg']);
    assert.deepEqual(final('Core inflation higher than expected'), ['mac_final_neg']);
    assert.deepEqual(final('Inflation in line with expectations'), ['mac_final_neutral']);
  });

  it('reads a PMI against the 50 line, and keeps central-bank language apart from market outcomes', () => {
    assert.ok(macroFeatureNames('Manufacturing PMI rises to 52.3').includes('mac_pmi_above'));
    assert.ok(macroFeatureNames('Services PMI slips to 48.9').includes('mac_pmi_below'));
    assert.ok(macroFeatureNames('ECB holds rates').includes('mac_cb_only'));
    const rally = macroFeatureNames('Stocks rally after Fed cuts rates');
    assert.ok(rally.includes('mac_mkt_pos') && !rally.includes('mac_cb_only'));
    assert.ok(macroFeatureNames('Shares slide as ECB signals more hikes').includes('mac_mkt_neg'));
  });

  it('is silent on company news without macro words', () => {
    assert.deepEqual(macroFeatureNames('Acme Corp beats profit estimates and raises guidance'), []);
  });
});
