/**
 * Synthetic macro training rows: the training sets are company news and tweets with almost no
 * central-bank or statistics-office headlines, so the model never learns that jobless claims
 * rising is bad or unemployment falling is good. These rows are composed from the phrase lists
 * below (written for tickerpulse, no third-party text) and labelled by the rules of
 * data/eval/MACRO_RUBRIC.md. They are a training set only: the macro evaluation set
 * (data/eval/macro-eval.jsonl) is written separately, by hand, with its own wording, and is
 * never trained on.
 */
import type { Label } from '../lib/types.js';
import type { Row } from './data.js';
import { fmix32 } from '../lib/hash.js';
import { fnv1a } from './tokenizer.js';

export const MACRO_SYNTH_SET = 'macrosynth';

const PLACES = ['US', 'U.S.', 'Euro zone', 'UK', 'Japan', 'China', 'German', 'French', 'Canadian', 'Australian', 'Indian', 'Brazil', 'Mexico', 'South Korea', 'Italian', 'Spanish', 'Swedish', 'Polish', 'Turkish', 'Swiss'];
const PERIODS = ['in May', 'in the second quarter', 'in January', 'last month', 'in Q3', 'in October', 'in the fourth quarter', 'in August', 'for a second month', ''];

/** [phrase, takes singular verb] */
const GOOD: [string, boolean][] = [
  ['GDP', true], ['economic growth', true], ['economy', true], ['nonfarm payrolls', false], ['job creation', true],
  ['retail sales', false], ['consumer confidence', true], ['factory output', true], ['industrial production', true],
  ['exports', false], ['manufacturing PMI', true], ['services PMI', true], ['housing starts', false],
  ['business investment', true], ['consumer spending', true], ['factory orders', false], ['business sentiment', true],
  ['employment', true], ['hiring', true], ['building permits', false],
];
const BAD: [string, boolean][] = [
  ['unemployment', true], ['jobless rate', true], ['jobless claims', false], ['initial jobless claims', false],
  ['inflation', true], ['consumer prices', false], ['core inflation', true], ['CPI inflation', true],
  ['budget deficit', true], ['trade deficit', true], ['corporate bankruptcies', false], ['loan defaults', false],
  ['mortgage delinquencies', false], ['recession risk', true], ['layoffs', false], ['public debt', true],
  ['producer prices', false], ['unemployment rate', true], ['insolvencies', false], ['household debt', true],
];
const UP_S = ['rises', 'climbs', 'jumps', 'increases', 'accelerates', 'picks up', 'surges', 'edges up', 'grows', 'soars'];
const UP_P = ['rise', 'climb', 'jump', 'increase', 'accelerate', 'pick up', 'surge', 'edge up', 'grow', 'soar'];
const DOWN_S = ['falls', 'drops', 'declines', 'slows', 'eases', 'cools', 'shrinks', 'contracts', 'slips', 'dips', 'retreats', 'slumps'];
const DOWN_P = ['fall', 'drop', 'decline', 'slow', 'ease', 'cool', 'shrink', 'contract', 'slip', 'dip', 'retreat', 'slump'];
const AMOUNTS = ['to 3.8%', 'by 0.4%', '0.6%', 'to 4.1%', 'by 1.2%', '2.3%', '{FROM_TO}', ''];

/**
 * [suffix, comparison with the forecast, relative to the move]: "falls more than expected" is
 * below the forecast, "rises more than expected" above it; "above expectations", "beating
 * forecasts" are absolute (the figure is above the forecast, whatever the move).
 */
const VS: [string, number, 'move' | 'level'][] = [
  ['', 0, 'move'], ['', 0, 'move'], ['', 0, 'move'], ['more than expected', 1, 'move'], ['less than expected', -1, 'move'],
  ['faster than forecast', 1, 'move'], ['slower than economists expected', -1, 'move'], ['above expectations', 1, 'level'],
  ['below consensus', -1, 'level'], ['beating forecasts', 1, 'level'], ['missing estimates', -1, 'level'],
  ['more than forecast', 1, 'move'], ['by less than feared', -1, 'move'], ['topping estimates', 1, 'level'],
];

const NEUTRAL_DATA = [
  '{P} {M} unchanged at 4.2% {T}', '{P} {M} holds steady {T}', '{P} {M} in line with expectations', '{P} {M} matches forecasts {T}',
  '{P} {M} flat {T}, as expected', 'Statistics office to publish {P} {M} data on Friday', '{P} {M} figures due next week',
  '{P} {M} data delayed by government shutdown', 'Economists expect {P} {M} report to show little change',
  '{P} {M} revised to 2.0% from 2.0% estimate', 'Preview: what to watch in {P} {M} figures',
];
const CB_NAMES = ['Fed', 'ECB', 'Bank of England', 'Bank of Japan', 'RBA', 'RBI', 'Bank of Canada', 'SNB', 'Riksbank', 'Norges Bank', 'PBOC', 'central bank'];
const CB_NEUTRAL = [
  '{C} lifts its policy rate by a quarter point', '{C} cuts interest rate to 3.5%', '{C} holds rates steady', '{C} keeps policy unchanged',
  'Hawkish {C} signals more hikes ahead', 'Dovish {C} opens door to rate cuts', '{C} hikes key rate by half a point',
  '{C} lowers benchmark rate for first time in four years', '{C} official says inflation fight not over',
  '{C} minutes show policymakers divided on next move', '{C} chief to testify before lawmakers', '{C} leaves deposit rate at 4%',
  '{C} governor says further tightening may be needed', '{C} signals patience on rate cuts', '{C} ends bond purchases as planned',
  '{C} announces 50 bp hike, as widely expected', '{C} policymaker backs gradual easing',
  // "raises" / "lowers" read as company news (guidance, dividends) unless rate decisions say otherwise
  '{C} raises interest rates to 5.25%', '{C} raises its key rate by a quarter point', '{C} raises benchmark rate for a fifth time',
  '{C} increases policy rate to 4%', '{C} lowers interest rates by half a point', '{C} cuts rates by 25 bps',
  '{C} raises rates again, as expected', '{C} lifts deposit rate to 3.75%', '{C} reduces key rate to 2.5%',
];
const CB_MARKET: [string, Label][] = [
  ['Stocks rally after {C} cuts rates', 'positive'], ['Shares slide as {C} signals more hikes', 'negative'],
  ['Markets tumble after hawkish {C} decision', 'negative'], ['Equities jump as {C} holds rates', 'positive'],
  ['Wall Street falls after {C} raises rates', 'negative'], ['Stocks climb to record as {C} turns dovish', 'positive'],
  ['Global markets sink on surprise {C} hike', 'negative'], ['Shares gain after {C} signals pause', 'positive'],
  ['Indexes drop as {C} rules out cuts', 'negative'], ['Stock markets cheer {C} rate cut', 'positive'],
];
const OUTLOOK: [string, Label][] = [
  ['IMF raises {P} growth forecast', 'positive'], ['OECD cuts {P} growth outlook', 'negative'], ['World Bank lowers {P} GDP forecast', 'negative'],
  ['Economists upgrade {P} growth outlook', 'positive'], ['{P} avoids recession as economy expands', 'positive'],
  ['{P} slips into recession', 'negative'], ['{P} recession fears mount', 'negative'], ['{P} economy rebounds strongly', 'positive'],
  ['Rating agency downgrades {P} sovereign debt', 'negative'], ['{P} credit rating upgraded', 'positive'],
];

function fill(t: string, m: Record<string, string>): string {
  return t.replace(/\{(\w)\}/g, (_, k: string) => m[k] ?? '').replace(/\s+/g, ' ').replace(/ ,/g, ',').trim();
}

function pick<T>(xs: readonly T[], h: number): T {
  return xs[h % xs.length];
}

/** Deterministic synthetic macro rows (no randomness: choices come from hashes of the index). */
export function macroSynthRows(count = 1500): Row[] {
  const rows: Row[] = [];
  const seen = new Set<string>();
  const add = (text: string, label: Label): void => {
    const key = text.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ set: MACRO_SYNTH_SET, text, key, label, source: 'label' });
  };
  const polar = Math.round(count * 0.55);
  // 1. data releases with a direction (and maybe a comparison with forecasts)
  for (let i = 0; rows.length < polar && i < count * 20; i++) {
    const h = (k: number): number => fmix32(fnv1a(`${i}:${k}`, 0x6d2b79f5));
    const good = h(0) % 2 === 0;
    const [metric, singular] = pick(good ? GOOD : BAD, h(1));
    const up = h(2) % 2 === 0;
    const verb = pick(up ? (singular ? UP_S : UP_P) : singular ? DOWN_S : DOWN_P, h(3));
    const [vs, vsRel, vsKind] = pick(VS, h(4));
    const vsDir = vsKind === 'move' ? vsRel * (up ? 1 : -1) : vsRel;
    const surprise = vsDir === 0 && h(5) % 4 === 0;
    const place = pick(PLACES, h(6));
    const text = fill(`{P} {M} ${surprise ? 'unexpectedly ' : ''}{V} {A} {T}${vs ? ', ' + vs : ''}`, {
      P: place, M: metric, V: verb, A: pick(AMOUNTS, h(7)).replace('{FROM_TO}', up ? 'from 2.9% to 3.1%' : 'from 3.1% to 2.9%'), T: pick(PERIODS, h(8)),
    });
    const polarity = good ? 1 : -1;
    const signal = vsDir !== 0 ? vsDir * polarity : (up ? 1 : -1) * polarity;
    add(text, signal > 0 ? 'positive' : 'negative');
  }
  // 2. outlooks and central banks with a stated market outcome
  for (let i = 0; i < 400; i++) {
    const h = (k: number): number => fmix32(fnv1a(`o${i}:${k}`, 0x6d2b79f5));
    const [t, label] = h(0) % 2 === 0 ? pick(CB_MARKET, h(1)) : pick(OUTLOOK, h(1));
    add(fill(t, { C: pick(CB_NAMES, h(2)), P: pick(PLACES, h(3)) }), label);
  }
  // 3. neutral (a third): releases without a direction, central-bank decisions without a market outcome
  const end = rows.length + Math.round(count / 3);
  for (let i = 0; rows.length < end && i < count * 20; i++) {
    const h = (k: number): number => fmix32(fnv1a(`n${i}:${k}`, 0x6d2b79f5));
    if (h(0) % 2 === 0) {
      const [metric] = pick(h(1) % 2 === 0 ? GOOD : BAD, h(2));
      add(fill(pick(NEUTRAL_DATA, h(3)), { P: pick(PLACES, h(4)), M: metric, T: pick(PERIODS, h(5)) }), 'neutral');
    } else {
      add(fill(pick(CB_NEUTRAL, h(3)), { C: pick(CB_NAMES, h(4)) }), 'neutral');
    }
  }
  return rows;
}
