/**
 * Macro-economic direction features: what a central-bank, statistics-office or wire headline
 * means for markets. The company-news direction features know that profit up is good and costs
 * up are bad; here unemployment, jobless claims, inflation, deficits, defaults or recession risk
 * going up is bad and GDP, payrolls, PMI, retail sales or confidence going up is good, a
 * comparison with expectations ("more than expected", "misses forecasts", "unexpectedly")
 * overrides the plain direction, and a central-bank action (hike / cut / hold, hawkish /
 * dovish) is its own signal, distinct from a stated market outcome (stocks rally / slump).
 * The labelling rules these features serve are in data/eval/MACRO_RUBRIC.md.
 *
 * Pure functions over the tokenizer's analysis (base tokens, negation flags, numeric values);
 * used by tokenizer.ts when FeatureConfig.macro is on, at training and serving time.
 */

/** Macro quantities where "up" is good news for markets. */
const GOOD = new Set([
  'gdp', 'economy', 'growth', 'payrolls', 'payroll', 'jobs', 'hiring', 'employment', 'retail', 'spending', 'consumption',
  'confidence', 'sentiment', 'pmi', 'ism', 'exports', 'output', 'production', 'manufacturing', 'factory', 'activity',
  'housing', 'starts', 'permits', 'investment', 'surplus', 'orders', 'expansion', 'recovery', 'productivity', 'sales',
  'openings', 'vacancies', 'rating', 'outlook',
]);
/** Macro quantities where "up" is bad news for markets. */
const BAD = new Set([
  'unemployment', 'jobless', 'claims', 'inflation', 'cpi', 'pce', 'deficit', 'debt', 'defaults', 'default', 'bankruptcies',
  'bankruptcy', 'insolvencies', 'foreclosures', 'delinquencies', 'recession', 'layoffs', 'redundancies', 'stagflation',
  'shortfall', 'deflation', 'contraction', 'downturn', 'slowdown', 'arrears', 'joblessness', 'layoff',
]);
/**
 * States rather than quantities: "slips into recession" is bad although "slips" is a down word,
 * "exits recession", "returns to growth" are good. Checked before the direction words.
 */
const STATE_BAD = new Set(['recession', 'contraction', 'deflation', 'stagflation', 'default']);
const ENTER = new Set(['into', 'enters', 'entered', 'entering', 'enter']);
const LEAVE = new Set(['exits', 'exited', 'exit', 'exiting', 'avoids', 'avoided', 'avoid', 'escapes', 'escaped', 'emerges', 'emerged']);
/** "consumer prices", "producer prices": prices are bad-when-up only after these. */
const PRICE_QUALIFIERS = new Set(['consumer', 'producer', 'import', 'food', 'energy', 'core', 'wholesale']);

const UP = new Set([
  'rose', 'rise', 'rises', 'rising', 'risen', 'increase', 'increased', 'increases', 'grew', 'grow', 'grows', 'growing',
  'up', 'jumped', 'jump', 'jumps', 'climbed', 'climb', 'climbs', 'surged', 'surge', 'surges', 'soared', 'soars', 'higher',
  'improved', 'improves', 'gained', 'gains', 'expanded', 'expands', 'expand', 'expanding', 'accelerated', 'accelerates',
  'accelerating', 'rebounded', 'rebounds', 'rebound', 'added', 'adds', 'add', 'created', 'creates', 'picked', 'picks',
  'strengthened', 'strengthens', 'spiked', 'spikes', 'hotter', 'firmer', 'stronger', 'strong', 'robust', 'solid',
  'advanced', 'advances', 'edged', 'edges', 'quickened', 'quickens', 'swelled', 'swells', 'widened', 'widens',
  'climbing', 'booming', 'boom', 'high', 'highest', 'peak', 'heated', 'mounted', 'mounting', 'ballooned', 'balloons',
  'raise', 'raises', 'raised', 'lifts', 'lifted', 'lift', 'upgrades', 'upgraded', 'upgrade', 'brightens', 'brightened',
  'accelerate', 'soar', 'improve', 'strengthen', 'quicken', 'swell', 'balloon', 'mount', 'spike',
]);
const DOWN = new Set([
  'fell', 'fall', 'falls', 'falling', 'fallen', 'decreased', 'decreases', 'declined', 'decline', 'declines', 'declining',
  'dropped', 'drop', 'drops', 'down', 'lower', 'slid', 'slides', 'plunged', 'plunges', 'narrowed', 'narrows', 'shrank',
  'shrink', 'shrinks', 'shrinking', 'slumped', 'slumps', 'sank', 'sinks', 'tumbled', 'tumbles', 'weaker', 'weak', 'dipped',
  'dips', 'eased', 'eases', 'easing', 'slipped', 'slips', 'contracted', 'contracts', 'contracting', 'plummeted', 'plummets',
  'sheds', 'shed', 'lost', 'loses', 'cut', 'cuts', 'softer', 'softened', 'softens', 'slowed', 'slows', 'slowing', 'slower',
  'cooled', 'cools', 'cooling', 'cooler', 'moderated', 'moderates', 'moderating', 'retreated', 'retreats', 'receded',
  'recedes', 'weakened', 'weakens', 'decelerated', 'decelerates', 'stalled', 'stalls', 'lowest', 'low', 'sluggish',
  'subdued', 'tame', 'tamer', 'halved', 'collapsed', 'collapses', 'deteriorated', 'deteriorates', 'worsened', 'worsens',
  'lowers', 'lowered', 'downgrades', 'downgraded', 'downgrade', 'trims', 'trimmed', 'darkens', 'darkened', 'sours', 'soured',
  'ease', 'cool', 'slow', 'slide', 'plunge', 'tumble', 'sink', 'slip', 'dip', 'retreat', 'weaken', 'soften', 'moderate',
  'recede', 'stall', 'contract', 'slump', 'worsen', 'deteriorate', 'collapse', 'plummet', 'shrink',
]);
/** The figure did not move or matched the forecast. */
const FLAT = new Set(['unchanged', 'steady', 'flat', 'stable', 'holds', 'held', 'stagnant', 'stagnates', 'stagnated']);
const EXPECT = new Set([
  'expected', 'expectations', 'expectation', 'forecast', 'forecasts', 'estimate', 'estimates', 'consensus', 'feared',
  'anticipated', 'predicted', 'projected', 'economists', 'analysts', 'hoped', 'thought',
]);
/**
 * Comparatives before "than expected". Level comparatives say where the figure is against the
 * forecast ("higher than expected"); move comparatives size the move ("falls more than
 * expected" is below the forecast, "rises more than expected" above it).
 */
const LEVEL_UP = new Set(['higher', 'stronger', 'hotter', 'firmer', 'warmer']);
const LEVEL_DOWN = new Set(['lower', 'weaker', 'cooler', 'softer', 'tamer', 'fewer']);
const MOVE_UP = new Set(['more', 'faster', 'bigger', 'larger', 'greater', 'steeper', 'sharper', 'further']);
const MOVE_DOWN = new Set(['less', 'slower', 'smaller', 'milder', 'shallower']);
/** "above / below forecasts", "beats / misses estimates". */
const VS_UP = new Set(['above', 'beat', 'beats', 'beating', 'smashes', 'smashed', 'crushes', 'crushed', 'tops', 'topped', 'top', 'exceeds', 'exceeded', 'surpasses', 'surpassed', 'outpaced', 'outpaces']);
const VS_DOWN = new Set(['below', 'miss', 'misses', 'missed', 'missing', 'undershoots', 'undershot', 'trails', 'trailed', 'short']);
const SURPRISE = new Set(['unexpectedly', 'surprise', 'surprisingly', 'surprises', 'shock', 'unexpected']);
/** Central-bank action words (a decision, not an outcome for markets). */
const CB = new Set([
  'fed', 'ecb', 'boe', 'boj', 'rba', 'rbi', 'snb', 'pboc', 'riksbank', 'norges', 'bundesbank', 'fomc', 'central', 'policymakers',
  'hawkish', 'dovish', 'hike', 'hikes', 'hiked', 'tightening', 'loosening', 'basis', 'bps', 'rates', 'rate',
]);
/** Market-outcome subjects: a stated move of these decides a central-bank headline. */
const MARKET = new Set(['stocks', 'shares', 'equities', 'markets', 'market', 'indexes', 'indices', 'index', 'dow', 'nasdaq', 's&p', 'ftse', 'dax', 'nikkei', 'sensex', 'nifty', 'stoxx', 'wall']);
const MKT_UP = new Set(['rally', 'rallies', 'rallied', 'surge', 'surges', 'surged', 'jump', 'jumps', 'jumped', 'climb', 'climbs', 'climbed', 'rise', 'rises', 'rose', 'gain', 'gains', 'gained', 'soar', 'soars', 'soared', 'cheer', 'cheers', 'cheered', 'higher', 'advance', 'advances', 'record']);
const MKT_DOWN = new Set(['fall', 'falls', 'fell', 'slide', 'slides', 'slid', 'drop', 'drops', 'dropped', 'tumble', 'tumbles', 'tumbled', 'sink', 'sinks', 'sank', 'slump', 'slumps', 'slumped', 'plunge', 'plunges', 'plunged', 'lower', 'selloff', 'sell-off', 'rout', 'sell', 'retreat', 'retreats', 'retreated', 'skid', 'skids', 'lose', 'loses', 'lost']);
const PMI = new Set(['pmi', 'ism']);

/** How far a direction word looks for its metric: headlines put the subject first ("defaults on auto loans hit …"). */
const WINDOW_LEFT = 6;
const WINDOW_RIGHT = 4;

export const MACRO_FEATURE_NAMES = [
  'mac_metric', 'mac_good_up', 'mac_good_down', 'mac_bad_up', 'mac_bad_down', 'mac_pos', 'mac_neg', 'mac_flat',
  'mac_exp_pos', 'mac_exp_neg', 'mac_exp_none', 'mac_final_pos', 'mac_final_neg', 'mac_final_neutral', 'mac_surprise',
  'mac_pmi_above', 'mac_pmi_below', 'mac_cb', 'mac_cb_only', 'mac_mkt_pos', 'mac_mkt_neg', 'mac_state_pos', 'mac_state_neg',
] as const;
export type MacroFeature = (typeof MACRO_FEATURE_NAMES)[number];

/** Polarity of token i as a macro metric: 1 good-when-up, -1 bad-when-up, 0 none. */
function metricAt(base: readonly string[], i: number): number {
  const w = base[i];
  if (GOOD.has(w)) return 1;
  if (BAD.has(w)) return -1;
  if ((w === 'prices' || w === 'price') && i > 0 && PRICE_QUALIFIERS.has(base[i - 1])) return -1;
  if ((w === 'rates' || w === 'rate') && i > 0 && base[i - 1] === 'unemployment') return -1;
  return 0;
}

/**
 * Emits the names of the macro features a text has (each at most once).
 * `num[i]` is the numeric value of token i, NaN when it is not a number.
 */
export function macroFeatures(base: readonly string[], neg: readonly boolean[], num: readonly number[], emit: (name: MacroFeature) => void): void {
  const n = base.length;
  const seen = new Set<MacroFeature>();
  const out = (f: MacroFeature): void => {
    if (!seen.has(f)) {
      seen.add(f);
      emit(f);
    }
  };
  const metric = new Array<number>(n);
  let anyMetric = false;
  for (let i = 0; i < n; i++) {
    metric[i] = metricAt(base, i);
    if (metric[i] !== 0) anyMetric = true;
  }
  // central bank language and stated market outcomes
  let cb = false;
  let mkt = 0;
  for (let i = 0; i < n; i++) {
    const w = base[i];
    if (CB.has(w)) cb = true;
    if (MARKET.has(w)) {
      for (let d = 1; d <= 3; d++) {
        const r = base[i + d];
        if (r === undefined) break;
        if (MKT_UP.has(r)) mkt = neg[i + d] ? -1 : 1;
        else if (MKT_DOWN.has(r)) mkt = neg[i + d] ? 1 : -1;
        if (mkt !== 0) break;
      }
    }
  }
  if (mkt > 0) out('mac_mkt_pos');
  else if (mkt < 0) out('mac_mkt_neg');
  if (cb) {
    out('mac_cb');
    if (mkt === 0 && !anyMetric) out('mac_cb_only');
  }
  if (!anyMetric) return;
  out('mac_metric');

  // states: entering / leaving a recession, returning to growth
  let state = 0;
  for (let i = 0; i < n; i++) {
    const w = base[i];
    if (STATE_BAD.has(w)) {
      const p1 = base[i - 1] ?? '';
      const p2 = base[i - 2] ?? '';
      if (neg[i] && !ENTER.has(p1)) state = 1;
      else if (ENTER.has(p1)) state = -1;
      else if (LEAVE.has(p1) || (p1 === 'of' && p2 === 'out')) state = 1;
    } else if ((w === 'growth' || w === 'expansion') && base[i - 1] === 'to' && (base[i - 2] === 'returns' || base[i - 2] === 'returned' || base[i - 2] === 'back')) {
      state = 1;
    }
  }
  if (state > 0) out('mac_state_pos');
  else if (state < 0) out('mac_state_neg');

  // plain direction: a direction word near a metric word
  let dirSum = 0;
  let lastDir = 0;
  let flat = false;
  for (let i = 0; i < n; i++) {
    const w = base[i];
    if (FLAT.has(w)) flat = true;
    let dir = UP.has(w) ? 1 : DOWN.has(w) ? -1 : 0;
    if (dir === 0) continue;
    // "slips into recession": the verb moves into a state, it is not the metric's direction
    if (ENTER.has(base[i + 1] ?? '')) continue;
    if (neg[i]) dir = -dir;
    lastDir = dir;
    let m = 0;
    for (let d = 1; d <= WINDOW_LEFT && m === 0; d++) {
      if (i - d >= 0 && metric[i - d] !== 0) m = metric[i - d];
      else if (d <= WINDOW_RIGHT && i + d < n && metric[i + d] !== 0) m = metric[i + d];
    }
    if (m === 0) continue;
    out(m > 0 ? (dir > 0 ? 'mac_good_up' : 'mac_good_down') : dir > 0 ? 'mac_bad_up' : 'mac_bad_down');
    dirSum += m * dir;
  }
  // the first metric word decides the polarity of comparisons with expectations
  let firstMetric = 0;
  for (let i = 0; i < n && firstMetric === 0; i++) firstMetric = metric[i];

  // comparison with expectations
  let exp = 0;
  for (let i = 0; i < n; i++) {
    const w = base[i];
    if (w === 'than' && i > 0) {
      const near = base.slice(i + 1, i + 4).some((x) => EXPECT.has(x));
      if (!near) continue;
      const c = base[i - 1];
      if (c === 'better') exp = 1;
      else if (c === 'worse') exp = -1;
      else if (LEVEL_UP.has(c)) exp = firstMetric;
      else if (LEVEL_DOWN.has(c)) exp = -firstMetric;
      else if (MOVE_UP.has(c) || MOVE_DOWN.has(c)) {
        // "by less than feared": the move of the last direction word, sized against the forecast
        const move = lastDir === 0 ? 1 : lastDir;
        exp = (MOVE_UP.has(c) ? 1 : -1) * move * firstMetric;
      }
    } else if (VS_UP.has(w) || VS_DOWN.has(w)) {
      const near = base.slice(i + 1, i + 4).some((x) => EXPECT.has(x));
      if (!near) continue;
      const up = VS_UP.has(w) !== neg[i];
      exp = up ? firstMetric : -firstMetric;
    } else if ((w === 'in' && base[i + 1] === 'line') || w === 'matches' || w === 'matched' || w === 'meets' || w === 'met') {
      if (base.slice(i + 1, i + 5).some((x) => EXPECT.has(x))) flat = true;
    }
  }
  const surprise = base.some((w) => SURPRISE.has(w));
  if (surprise) out('mac_surprise');
  if (exp > 0) out('mac_exp_pos');
  else if (exp < 0) out('mac_exp_neg');
  else out('mac_exp_none');

  // PMI / ISM level against the 50 line
  for (let i = 0; i < n; i++) {
    if (!PMI.has(base[i])) continue;
    for (let j = i + 1; j <= i + 6 && j < n; j++) {
      const v = num[j];
      if (!Number.isNaN(v) && v > 20 && v < 80) {
        if (v > 50) out('mac_pmi_above');
        else if (v < 50) out('mac_pmi_below');
        break;
      }
    }
  }

  if (dirSum > 0) out('mac_pos');
  else if (dirSum < 0) out('mac_neg');
  else if (flat) out('mac_flat');
  // the comparison with expectations decides when there is one (MACRO_RUBRIC.md rule 3)
  const final = exp !== 0 ? exp : state !== 0 ? state : dirSum;
  if (final > 0) out('mac_final_pos');
  else if (final < 0) out('mac_final_neg');
  else out('mac_final_neutral');
}
