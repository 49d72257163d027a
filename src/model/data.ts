/**
 * Labelled data: loading the shared JSONL sets (or any JSONL file with `text` + `label`
 * / `score` / `entities`), turning scores into labels, and the deterministic splits
 * (held-out 20 % per set, cross-validation folds inside the training 80 %).
 *
 * Splits depend only on the seed and the text, never on file order: every row is keyed by
 * its normalized text, rows with the same key always land on the same side, and a text
 * held out in one set is removed from the training rows of every set (the FiQA and
 * SemEval headline sets share headlines).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TickerpulseError } from '../lib/errors.js';
import type { Label } from '../lib/types.js';
import { fnv1a } from './tokenizer.js';

export const LABEL_INDEX: Record<Label, number> = { negative: 0, neutral: 1, positive: 2 };
export const LABEL_NAMES: readonly Label[] = ['negative', 'neutral', 'positive'];

/** |score| at or above this is a polarity (sign → positive/negative); below it is neutral. */
export const SCORE_THRESHOLD = 0.1;
export const SPLIT_SEED = 20240611;
export const HOLDOUT_FRACTION = 0.2;

/** The shared sets, by file name, with a short id. */
export const SHARED_SETS = [
  { id: 'fpb', file: 'fpb-train.jsonl' },
  { id: 'tfns', file: 'tfns-train.jsonl' },
  { id: 'semeval', file: 'semeval17-headlines-train.jsonl' },
  { id: 'fiqa', file: 'fiqa18-train.jsonl' },
  { id: 'sentfin', file: 'sentfin-train.jsonl' },
] as const;

/**
 * The hand-written macro evaluation set (central-bank, statistics-office and wire headlines,
 * labelled by data/eval/MACRO_RUBRIC.md), relative to the package root. Never trained on.
 */
export const MACRO_EVAL_FILE = 'data/eval/macro-eval.jsonl';
export const MACRO_EVAL_SET = 'macro';

export type LabelSource = 'label' | 'score' | 'entities';

export interface Row {
  /** Set id (file base name for non-shared files). */
  set: string;
  text: string;
  /** Normalized text: rows with the same key are never split apart. */
  key: string;
  /** Gold label; null when the row has none usable (e.g. SEntFiN tie). */
  label: Label | null;
  /** Where the label came from. */
  source: LabelSource;
  /** Original score for score-labelled rows. */
  score?: number;
  /** FPB annotator agreement (50, 66, 75, 100). */
  agree?: number;
  /** FiQA kind (headline/post). */
  kind?: string;
  /** SEntFiN: number of entities in the headline. */
  entities?: number;
}

export function textKey(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9$%]+/g, ' ').trim();
}

export function labelFromScore(score: number, threshold = SCORE_THRESHOLD): Label {
  return score >= threshold ? 'positive' : score <= -threshold ? 'negative' : 'neutral';
}

const LABEL_ALIASES: Record<string, Label> = Object.assign(Object.create(null) as Record<string, Label>, {
  negative: 'negative', neg: 'negative', bearish: 'negative',
  neutral: 'neutral', neu: 'neutral',
  positive: 'positive', pos: 'positive', bullish: 'positive',
});

/** Majority of entity labels; null on a tie between the top two. */
export function majorityLabel(labels: string[]): Label | null {
  const counts = new Map<Label, number>();
  for (const l of labels) {
    const lab = LABEL_ALIASES[String(l).toLowerCase()];
    if (lab) counts.set(lab, (counts.get(lab) ?? 0) + 1);
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (sorted.length === 0) return null;
  if (sorted.length > 1 && sorted[0][1] === sorted[1][1]) return null;
  return sorted[0][0];
}

/** Parse one JSONL file. Each row needs `text` and one of `label`, `score`, `entities`. */
export function loadJsonl(file: string, setId?: string, threshold = SCORE_THRESHOLD): Row[] {
  if (!existsSync(file)) {
    throw new TickerpulseError('DATA_MISSING', `data file not found: ${file}`);
  }
  const set = setId ?? basename(file).replace(/\.jsonl$/, '');
  const rows: Row[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (!line) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new TickerpulseError('INPUT_INVALID', `${file}:${ln + 1}: not JSON`, { cause: err });
    }
    const text = typeof o.text === 'string' ? o.text : null;
    if (text === null) throw new TickerpulseError('INPUT_INVALID', `${file}:${ln + 1}: missing "text"`);
    const base = { set, text, key: textKey(text) };
    if (typeof o.label === 'string' || typeof o.label === 'number') {
      const label = LABEL_ALIASES[String(o.label).toLowerCase()] ?? null;
      if (label === null) throw new TickerpulseError('INPUT_INVALID', `${file}:${ln + 1}: unknown label ${JSON.stringify(o.label)}`);
      rows.push({ ...base, label, source: 'label', agree: typeof o.agree === 'number' ? o.agree : undefined });
    } else if (typeof o.score === 'number') {
      rows.push({ ...base, label: labelFromScore(o.score, threshold), source: 'score', score: o.score, kind: typeof o.kind === 'string' ? o.kind : undefined });
    } else if (o.entities && typeof o.entities === 'object') {
      const labels = Object.values(o.entities as Record<string, string>);
      rows.push({ ...base, label: majorityLabel(labels), source: 'entities', entities: labels.length });
    } else {
      throw new TickerpulseError('INPUT_INVALID', `${file}:${ln + 1}: needs "label", "score" or "entities"`);
    }
  }
  return rows;
}

/** Load the shared sets from `dir` (default ../shared/data/sentiment). Missing files are skipped. */
export function loadSharedSets(dir: string): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const s of SHARED_SETS) {
    const f = join(dir, s.file);
    if (existsSync(f)) out.set(s.id, loadJsonl(f, s.id));
  }
  if (out.size === 0) {
    throw new TickerpulseError('DATA_MISSING', `no training sets found in ${dir} (expected ${SHARED_SETS.map((s) => s.file).join(', ')}); pass --data DIR`);
  }
  return out;
}

/**
 * Rows that count in evaluation: score-labelled rows only when |score| ≥ threshold
 * (polarity, as in the SemEval task), rows without a label never.
 */
export function evalRows(rows: Row[], threshold = SCORE_THRESHOLD): Row[] {
  return rows.filter((r) => r.label !== null && (r.source !== 'score' || Math.abs(r.score ?? 0) >= threshold));
}

/** Stratification label of a group of rows sharing one key. */
function groupLabel(rows: Row[]): string {
  const scored = rows.filter((r) => r.source === 'score');
  if (scored.length > 0) {
    const mean = scored.reduce((s, r) => s + (r.score ?? 0), 0) / scored.length;
    return labelFromScore(mean);
  }
  return majorityLabel(rows.map((r) => r.label ?? '')) ?? 'none';
}

/**
 * Deterministic stratified split of one set into `parts` folds: rows grouped by key, groups
 * stratified by label, ordered by a seeded hash of the key, dealt round-robin.
 */
export function foldOf(rows: Row[], parts: number, seed: number): Map<string, number> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const g = groups.get(r.key);
    if (g) g.push(r);
    else groups.set(r.key, [r]);
  }
  const byLabel = new Map<string, { key: string; h: number }[]>();
  for (const [key, g] of groups) {
    const lab = groupLabel(g);
    const list = byLabel.get(lab) ?? [];
    list.push({ key, h: fnv1a(key, seed >>> 0) });
    byLabel.set(lab, list);
  }
  const fold = new Map<string, number>();
  for (const lab of [...byLabel.keys()].sort()) {
    const list = byLabel.get(lab)!;
    list.sort((a, b) => a.h - b.h || (a.key < b.key ? -1 : 1));
    list.forEach((g, i) => fold.set(g.key, i % parts));
  }
  return fold;
}

export interface HoldoutSplit {
  train: Map<string, Row[]>;
  holdout: Map<string, Row[]>;
}

/**
 * The held-out 20 %: fold 0 of a 5-way stratified split of each set (seed SPLIT_SEED).
 * Training rows whose text is held out in any set are dropped.
 */
export function holdoutSplit(sets: Map<string, Row[]>, seed = SPLIT_SEED): HoldoutSplit {
  const parts = Math.round(1 / HOLDOUT_FRACTION);
  const train = new Map<string, Row[]>();
  const holdout = new Map<string, Row[]>();
  const heldKeys = new Set<string>();
  for (const [id, rows] of sets) {
    const fold = foldOf(rows, parts, seed);
    const h = rows.filter((r) => fold.get(r.key) === 0);
    holdout.set(id, h);
    for (const r of h) heldKeys.add(r.key);
  }
  for (const [id, rows] of sets) {
    train.set(id, rows.filter((r) => !heldKeys.has(r.key)));
  }
  return { train, holdout };
}

/**
 * Fold `f` of a k-fold cross-validation inside `sets` (per set, stratified, grouped by key):
 * fold f is the validation part; training rows whose text is in any validation part are dropped.
 */
export function cvSplit(sets: Map<string, Row[]>, k: number, f: number, seed: number): { train: Map<string, Row[]>; valid: Map<string, Row[]> } {
  const train = new Map<string, Row[]>();
  const valid = new Map<string, Row[]>();
  const validKeys = new Set<string>();
  for (const [id, rows] of sets) {
    const fold = foldOf(rows, k, (seed ^ 0x5bd1e995) >>> 0);
    const v = rows.filter((r) => fold.get(r.key) === f);
    valid.set(id, v);
    for (const r of v) validKeys.add(r.key);
  }
  for (const [id, rows] of sets) train.set(id, rows.filter((r) => !validKeys.has(r.key)));
  return { train, valid };
}
