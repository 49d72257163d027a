import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Label } from '../../src/lib/types.js';
import { evalRows, foldOf, holdoutSplit, labelFromScore, majorityLabel, textKey, type Row } from '../../src/model/data.js';
import { polarityAccuracy } from '../../src/model/evaluate.js';
import { accuracy, confusion, macroF1, scores } from '../../src/model/metrics.js';

describe('metrics', () => {
  const gold: Label[] = ['positive', 'positive', 'negative', 'neutral', 'neutral', 'neutral'];
  const pred: Label[] = ['positive', 'neutral', 'negative', 'neutral', 'positive', 'neutral'];

  it('confusion matrix: rows gold, columns predicted (neg, neu, pos)', () => {
    assert.deepEqual(confusion(gold, pred), [
      [1, 0, 0],
      [0, 2, 1],
      [0, 1, 1],
    ]);
  });

  it('accuracy', () => {
    assert.equal(accuracy(gold, pred), 4 / 6);
    assert.equal(accuracy([], []), 0);
  });

  it('macro-F1 averages the per-class F1', () => {
    // negative: P 1, R 1 → 1; neutral: P 2/3, R 2/3 → 2/3; positive: P 1/2, R 1/2 → 1/2
    const expected = (1 + 2 / 3 + 1 / 2) / 3;
    assert.ok(Math.abs(macroF1(gold, pred) - expected) < 1e-12);
    // a class absent from gold and predictions is left out
    assert.equal(macroF1(['positive', 'negative'], ['positive', 'negative']), 1);
    const s = scores(gold, pred);
    assert.equal(s.rows, 6);
  });

  it('polarity accuracy scores the sign on non-neutral gold rows', () => {
    const r = polarityAccuracy(['positive', 'negative', 'neutral', 'negative'], [0.2, 0.1, 0.9, -0.3]);
    assert.equal(r.polarityRows, 3);
    assert.equal(r.polarity, 2 / 3);
  });

  it('rejects mismatched lengths', () => {
    assert.throws(() => confusion(['positive'], []));
  });
});

describe('data labelling and splits', () => {
  it('thresholds scores and takes entity majorities', () => {
    assert.equal(labelFromScore(0.1), 'positive');
    assert.equal(labelFromScore(-0.25), 'negative');
    assert.equal(labelFromScore(0.05), 'neutral');
    assert.equal(majorityLabel(['positive', 'negative', 'positive']), 'positive');
    assert.equal(majorityLabel(['positive', 'negative']), null);
    assert.equal(majorityLabel(['constructor']), null);
  });

  const mk = (set: string, text: string, label: Label | null, score?: number): Row => ({
    set,
    text,
    key: textKey(text),
    label,
    source: score === undefined ? 'label' : 'score',
    score,
  });

  it('scores score-labelled rows only when |score| ≥ threshold', () => {
    const rows = [mk('s', 'a up', 'positive', 0.5), mk('s', 'b flat', 'neutral', 0.02), mk('s', 'c', null)];
    assert.deepEqual(evalRows(rows).map((r) => r.text), ['a up']);
  });

  it('holds out about a fifth of each label, keeps duplicate texts together and removes cross-set leaks', () => {
    const rows: Row[] = [];
    for (let i = 0; i < 100; i++) rows.push(mk('a', `alpha item number ${i}`, i % 2 ? 'positive' : 'negative'));
    rows.push(mk('a', 'Shared Headline Here', 'positive'), mk('a', 'shared headline here!', 'positive'));
    const other: Row[] = [mk('b', 'shared headline here', 'positive', 0.4), mk('b', 'beta only', 'negative', -0.4)];
    const sets = new Map([
      ['a', rows],
      ['b', other],
    ]);
    const { train, holdout } = holdoutSplit(sets, 7);
    const h = holdout.get('a')!;
    const pos = h.filter((r) => r.label === 'positive').length;
    const neg = h.filter((r) => r.label === 'negative').length;
    assert.ok(pos >= 9 && pos <= 12, `positives held out: ${pos}`);
    assert.ok(neg >= 9 && neg <= 11, `negatives held out: ${neg}`);
    // the duplicated text is on one side only
    const dupHeld = h.filter((r) => r.key === 'shared headline here').length;
    assert.ok(dupHeld === 0 || dupHeld === 2);
    // no held-out text is trained on, in any set
    const heldKeys = new Set([...holdout.values()].flat().map((r) => r.key));
    for (const r of [...train.values()].flat()) assert.ok(!heldKeys.has(r.key));
    // deterministic for a seed, independent of row order
    const again = holdoutSplit(new Map([
      ['a', [...rows].reverse()],
      ['b', other],
    ]), 7);
    assert.deepEqual(new Set(again.holdout.get('a')!.map((r) => r.key)), new Set(h.map((r) => r.key)));
    const folds = foldOf(rows, 5, 7);
    assert.equal(new Set(folds.values()).size, 5);
  });
});
