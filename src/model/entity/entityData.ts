/**
 * Entity-level data for training and evaluating the entity model (never imported at serving
 * time): SEntFiN headlines with every named entity located in the text, SemEval / FiQA
 * headlines with their scored target, and the held-out split.
 *
 * The split is the headline model's (src/model/data.ts holdoutSplit: seeded, stratified,
 * grouped by normalized text, 20 %): a SEntFiN headline is held out here exactly when the
 * headline model held it out, so all entities of a headline are on one side and the
 * headline-model baseline is scored on headlines it never trained on either.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TickerpulseError } from '../../lib/errors.js';
import type { Label } from '../../lib/types.js';
import { holdoutSplit, labelFromScore, loadSharedSets, SCORE_THRESHOLD, SPLIT_SEED, textKey } from '../data.js';
import { fnv1a } from '../tokenizer.js';
import type { Span, TargetInput } from './entityFeatures.js';

export interface EntityMention extends Span {
  /** The entity string as labelled (kept in memory only, never written out). */
  entity: string;
  /** null: a score-labelled target with |score| < threshold (usable only as neutral). */
  label: Label | null;
}

export interface EntityHeadline {
  set: string;
  text: string;
  key: string;
  mentions: EntityMention[];
  /** Labelled entities that could not be located in the text (dropped). */
  unlocated: number;
}

/** One training / evaluation example: a target in its headline. */
export interface EntityExample extends TargetInput {
  others: Span[];
  label: Label;
  set: string;
  key: string;
  /** Entities located in the headline (1 = single-entity). */
  mentions: number;
  /** The headline has both a positive and a negative entity. */
  opposite: boolean;
  /** The headline's entities do not all share one label. */
  mixed: boolean;
}

const LABELS = new Set(['negative', 'neutral', 'positive']);

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c >= 0xc0;
}

/** All occurrences of `needle` in `hay` (`lower`: both lower-cased), word-bounded ones first. */
function occurrences(hay: string, needle: string): Span[] {
  const bounded: Span[] = [];
  const loose: Span[] = [];
  if (!needle) return [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    const e = i + needle.length;
    const okL = i === 0 || !isWordChar(hay.charCodeAt(i - 1)) || !isWordChar(needle.charCodeAt(0));
    const okR = e >= hay.length || !isWordChar(hay.charCodeAt(e)) || !isWordChar(needle.charCodeAt(needle.length - 1));
    (okL && okR ? bounded : loose).push({ start: i, end: e });
  }
  return [...bounded, ...loose];
}

/**
 * Candidate spans of an entity string in its text: exact, then case-insensitive, then with the
 * set's known substitution artefact undone (in a few SEntFiN entity strings the substrings
 * "hold", "sell", "buy" were replaced by label words, e.g. "Holdings" → "neutralings").
 */
export function locateEntity(text: string, entity: string): Span[] {
  let c = occurrences(text, entity);
  if (c.length > 0) return c;
  const lt = text.toLowerCase();
  c = occurrences(lt, entity.toLowerCase());
  if (c.length > 0) return c;
  const repaired = entity.toLowerCase().replace(/neutral/g, 'hold').replace(/negative/g, 'sell').replace(/positive/g, 'buy');
  return occurrences(lt, repaired);
}

/** Locate labelled entities in a text: longest first, each on its first free occurrence. */
export function placeMentions(text: string, labelled: [string, Label | null][]): { mentions: EntityMention[]; unlocated: number } {
  const order = [...labelled].sort((a, b) => b[0].length - a[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const mentions: EntityMention[] = [];
  let unlocated = 0;
  for (const [entity, label] of order) {
    const spot = locateEntity(text, entity).find((s) => !mentions.some((m) => s.start < m.end && m.start < s.end));
    if (!spot) unlocated++;
    else mentions.push({ ...spot, entity, label });
  }
  mentions.sort((a, b) => a.start - b.start);
  return { mentions, unlocated };
}

function readJsonl(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) throw new TickerpulseError('DATA_MISSING', `data file not found: ${file}`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (err) {
        throw new TickerpulseError('INPUT_INVALID', `${file}:${i + 1}: not JSON`, { cause: err });
      }
    });
}

/** SEntFiN-style file: `text` + `entities` {entity: label}. */
export function loadEntityFile(file: string, set = 'sentfin'): EntityHeadline[] {
  const out: EntityHeadline[] = [];
  for (const o of readJsonl(file)) {
    if (typeof o.text !== 'string' || !o.entities || typeof o.entities !== 'object') continue;
    const labelled = Object.entries(o.entities as Record<string, unknown>)
      .filter(([, v]) => typeof v === 'string' && LABELS.has(v.toLowerCase()))
      .map(([k, v]) => [k, (v as string).toLowerCase() as Label] as [string, Label]);
    const { mentions, unlocated } = placeMentions(o.text, labelled);
    out.push({ set, text: o.text, key: textKey(o.text), mentions, unlocated });
  }
  return out;
}

/**
 * Score-labelled target files (SemEval `company`, FiQA `target`): rows with the same text are
 * one headline with several targets; |score| ≥ threshold → sign, else label null.
 */
export function loadTargetFile(file: string, set: string, field: string, threshold = SCORE_THRESHOLD): EntityHeadline[] {
  const byText = new Map<string, Map<string, number[]>>();
  for (const o of readJsonl(file)) {
    if (typeof o.text !== 'string' || typeof o[field] !== 'string' || typeof o.score !== 'number') continue;
    const t = byText.get(o.text) ?? new Map<string, number[]>();
    const tgt = (o[field] as string).replace(/^\$/, '');
    t.set(tgt, [...(t.get(tgt) ?? []), o.score]);
    byText.set(o.text, t);
  }
  const out: EntityHeadline[] = [];
  for (const [text, targets] of byText) {
    const labelled = [...targets].map(([k, s]) => {
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      return [k, Math.abs(mean) >= threshold ? labelFromScore(mean, threshold) : null] as [string, Label | null];
    });
    const { mentions, unlocated } = placeMentions(text, labelled);
    out.push({ set, text, key: textKey(text), mentions, unlocated });
  }
  return out;
}

export interface EntitySplit {
  /** SEntFiN training headlines (never held out in any set). */
  train: EntityHeadline[];
  /** SEntFiN held-out headlines. */
  holdout: EntityHeadline[];
  /** SemEval / FiQA headlines with targets, training side and held-out side. */
  extraTrain: EntityHeadline[];
  extraHoldout: EntityHeadline[];
  /** SEntFiN headlines and labelled entities read, and entities that could not be located. */
  stats: { headlines: number; entities: number; unlocated: number };
}

/** The held-out split (the headline model's, see the module comment) over the entity data in `dir`. */
export function entitySplit(dir: string, seed = SPLIT_SEED): EntitySplit {
  const sets = loadSharedSets(dir);
  const { holdout } = holdoutSplit(sets, seed);
  const heldAny = new Set<string>();
  const heldBy = new Map<string, Set<string>>();
  for (const [id, rows] of holdout) {
    heldBy.set(id, new Set(rows.map((r) => r.key)));
    for (const r of rows) heldAny.add(r.key);
  }
  const sentfinFile = join(dir, 'sentfin-train.jsonl');
  const all = loadEntityFile(sentfinFile);
  const heldSentfin = heldBy.get('sentfin') ?? new Set<string>();
  const extra: EntityHeadline[] = [];
  if (existsSync(join(dir, 'semeval17-headlines-train.jsonl'))) extra.push(...loadTargetFile(join(dir, 'semeval17-headlines-train.jsonl'), 'semeval', 'company'));
  if (existsSync(join(dir, 'fiqa18-train.jsonl'))) extra.push(...loadTargetFile(join(dir, 'fiqa18-train.jsonl'), 'fiqa', 'target'));
  return {
    train: all.filter((h) => !heldAny.has(h.key)),
    holdout: all.filter((h) => heldSentfin.has(h.key)),
    extraTrain: extra.filter((h) => !heldAny.has(h.key)),
    extraHoldout: extra.filter((h) => heldBy.get(h.set)?.has(h.key)),
    stats: { headlines: all.length, entities: all.reduce((s, h) => s + h.mentions.length + h.unlocated, 0), unlocated: all.reduce((s, h) => s + h.unlocated, 0) },
  };
}

/**
 * One example per located, labelled mention; the other located mentions of the headline are
 * its `others`. `neutralUnlabelled`: score targets below the threshold become neutral examples.
 */
export function examplesOf(headlines: readonly EntityHeadline[], neutralUnlabelled = false): EntityExample[] {
  const out: EntityExample[] = [];
  for (const h of headlines) {
    const labels = new Set(h.mentions.map((m) => m.label ?? 'neutral'));
    const opposite = labels.has('positive') && labels.has('negative');
    for (const m of h.mentions) {
      const label = m.label ?? (neutralUnlabelled ? 'neutral' : null);
      if (label === null) continue;
      out.push({
        text: h.text,
        start: m.start,
        end: m.end,
        others: h.mentions.filter((o) => o !== m).map((o) => ({ start: o.start, end: o.end })),
        label,
        set: h.set,
        key: h.key,
        mentions: h.mentions.length,
        opposite,
        mixed: labels.size > 1,
      });
    }
  }
  return out;
}

/** Fold (0 … k-1) of a headline for cross-validation inside the training side, grouped by text. */
export function cvFold(key: string, k: number, seed = 0x2c9277b5): number {
  return fnv1a(key, seed) % k;
}

/** Joiners of synthetic two-clause headlines (generic contrast markers, not from any data set). */
const JOINERS = [', while ', '; ', ' but ', ', whereas ', ' - ', ' as '];

/**
 * Synthetic contrast headlines for training: two single-entity headlines with different labels
 * joined by a contrast marker ("⟨A rises⟩, while ⟨B falls⟩"); each entity keeps its own label,
 * which teaches the local blocks that the target's own clause decides. Deterministic: pairs
 * and joiners come from a seeded hash of the texts. Built only from the headlines passed in
 * (the training side), never written anywhere.
 */
export function contrastPairs(headlines: readonly EntityHeadline[], count: number, seed = 0x5f3759df): EntityHeadline[] {
  const singles = headlines
    .filter((h) => h.mentions.length === 1 && h.mentions[0].label !== null && h.unlocated === 0)
    .map((h) => ({ h, r: fnv1a(h.key, seed) }))
    .sort((a, b) => a.r - b.r || (a.h.key < b.h.key ? -1 : 1))
    .map((x) => x.h);
  const byLabel = new Map<string, EntityHeadline[]>();
  for (const h of singles) {
    const l = h.mentions[0].label as string;
    byLabel.set(l, [...(byLabel.get(l) ?? []), h]);
  }
  // every ordered pair of labels, same-label pairs included (most real multi-entity headlines agree)
  const pairs: [string, string][] = [
    ['positive', 'negative'], ['negative', 'negative'], ['negative', 'positive'], ['positive', 'positive'], ['positive', 'neutral'],
    ['neutral', 'neutral'], ['neutral', 'negative'], ['negative', 'neutral'], ['neutral', 'positive'],
  ];
  const out: EntityHeadline[] = [];
  const used = new Map<string, number>();
  for (let i = 0; out.length < count && i < count * 2; i++) {
    const [la, lb] = pairs[i % pairs.length];
    const A = byLabel.get(la) ?? [];
    const B = byLabel.get(lb) ?? [];
    if (A.length === 0 || B.length === 0) break;
    const ia = used.get(la) ?? 0;
    used.set(la, ia + 1);
    const ib = used.get(lb) ?? 0;
    used.set(lb, ib + 1);
    const a = A[ia % A.length];
    const b = B[ib % B.length];
    if (a === b) continue;
    const j = JOINERS[fnv1a(a.key + '|' + b.key, seed) % JOINERS.length];
    const t2 = b.text.charAt(0).toLowerCase() === b.text.charAt(0) ? b.text : b.mentions[0].start === 0 ? b.text : b.text.charAt(0).toLowerCase() + b.text.slice(1);
    const text = a.text.replace(/[.\s]+$/, '') + j + t2;
    const shift = a.text.replace(/[.\s]+$/, '').length + j.length;
    const ma = a.mentions[0];
    const mb = b.mentions[0];
    out.push({ set: 'synthetic', text, key: textKey(text), unlocated: 0, mentions: [{ ...ma }, { ...mb, start: mb.start + shift, end: mb.end + shift }] });
  }
  return out;
}
