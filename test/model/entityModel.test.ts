import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TickerpulseError } from '../../src/lib/errors.js';
import type { Prediction } from '../../src/lib/types.js';
import { forward } from '../../src/model/linear.js';
import { readOnnxWeights } from '../../src/model/onnxExport.js';
import { contrastPairs, examplesOf, placeMentions, type EntityHeadline } from '../../src/model/entity/entityData.js';
import { EntityFeaturizer, maskedText, mentionsOf, OTHER_WORD, TARGET_WORD, type EntitySpec } from '../../src/model/entity/entityFeatures.js';
import { defaultEntityModelDir, ENTITY_MODEL_FILE, ENTITY_TOKENIZER_FILE, EntitySentimentModel, type EntityTarget } from '../../src/model/entity/entityModel.js';
import { DEFAULT_ENTITY_RECIPE, fitEntity } from '../../src/model/entity/recipe.js';
import { decodeBuckets, encodeBuckets } from '../../src/model/tokenizer.js';

// Every headline below is made up for these tests (not from any data set).

/** Targets for `names` in `text`: each name's first occurrence, the other names as others. */
function targets(text: string, names: string[]): EntityTarget[] {
  const spans = names.map((n) => {
    const start = text.indexOf(n);
    assert.ok(start >= 0, `${n} not in ${text}`);
    return { start, end: start + n.length };
  });
  return spans.map((s, i) => ({ text, ...s, others: spans.filter((_, k) => k !== i) }));
}

/** [text, names, expected labels] */
const CONTRAST: [string, string[], string[]][] = [
  ['Acme shares surge while Globex plunges on profit warning', ['Acme', 'Globex'], ['positive', 'negative']],
  ['Globex plunges on profit warning while Acme shares surge', ['Globex', 'Acme'], ['negative', 'positive']],
  ['Initech rallies after record quarter; Hooli slides on weak guidance', ['Initech', 'Hooli'], ['positive', 'negative']],
  ['Hooli slides on weak guidance; Initech rallies after record quarter', ['Hooli', 'Initech'], ['negative', 'positive']],
  ['Umbrella Corp slumps 8% as Stark Industries jumps on strong orders', ['Umbrella Corp', 'Stark Industries'], ['negative', 'positive']],
  ['Oscorp shares tumble, Wayne Enterprises gains', ['Oscorp', 'Wayne Enterprises'], ['negative', 'positive']],
];

/** Headlines whose companies share one fate. */
const TOGETHER: [string, string[], string][] = [
  ['Acme and Globex shares rise after strong results', ['Acme', 'Globex'], 'positive'],
  ['Acme and Globex shares fall on weak demand', ['Acme', 'Globex'], 'negative'],
];

/** Assorted targets, including awkward inputs, for the ONNX vs TypeScript comparison. */
function assorted(): EntityTarget[] {
  const out: EntityTarget[] = [];
  for (const [text, names] of CONTRAST) out.push(...targets(text, names));
  for (const [text, names] of TOGETHER) out.push(...targets(text, names));
  out.push(...targets('Regulator fines Vandelay Industries; Kramerica to hold annual meeting on Tuesday', ['Vandelay Industries', 'Kramerica']));
  out.push(...targets('Dunder Mifflin, Sabre and Prestige Paper to be dropped from the index', ['Dunder Mifflin', 'Sabre', 'Prestige Paper']));
  out.push(...targets("Soylent's profit more than doubles to $1.2bn; Cyberdyne cuts outlook, Tyrell unchanged", ['Soylent', 'Cyberdyne', 'Tyrell']));
  const long = 'Massive Dynamic wins contract. '.repeat(200) + 'Bluth Company falls';
  out.push({ text: long, start: 0, end: 15, others: [{ start: long.length - 19, end: long.length - 7 }] });
  out.push({ text: 'Acme beats Globex', start: 0, end: 4 }); // no others given
  out.push({ text: 'Acme beats Globex', start: -5, end: 999, others: [{ start: 2, end: 3 }] }); // clamped, overlapping other ignored
  out.push({ text: 'Acme beats Globex', start: 4, end: 4 }); // empty span
  out.push({ text: '', start: 0, end: 0 });
  out.push({ text: 'Société Générale gains; Crédit Agricole — flat ✅', start: 0, end: 16, others: [{ start: 24, end: 39 }] });
  return out;
}

describe('entity featurizer helpers', () => {
  it('masks the target and the other mentions with different placeholder words', () => {
    const text = 'Acme beats Globex';
    const m = mentionsOf({ text, start: 0, end: 4, others: [{ start: 11, end: 17 }] }, text.length);
    assert.equal(maskedText(text, m), `${TARGET_WORD} beats ${OTHER_WORD}`);
    const swapped = mentionsOf({ text, start: 11, end: 17, others: [{ start: 0, end: 4 }] }, text.length);
    assert.equal(maskedText(text, swapped), `${OTHER_WORD} beats ${TARGET_WORD}`);
  });

  it('clamps offsets and drops others that overlap the target or each other', () => {
    const m = mentionsOf({ text: 'x', start: -3, end: 99, others: [{ start: 0, end: 1 }, { start: 5, end: 2 }] }, 10);
    assert.deepEqual(m, [{ start: 0, end: 10, target: true }]);
    const m2 = mentionsOf({ text: 'x', start: 0, end: 2, others: [{ start: 4, end: 8 }, { start: 6, end: 9 }, { start: 1.7, end: 3 }] }, 10);
    assert.deepEqual(m2.map((x) => [x.start, x.end, x.target]), [[0, 2, true], [4, 8, false]]);
  });

  it('places entity strings longest first, whole words first, case-insensitive as a fallback', () => {
    const text = 'Acme Bank lifts ACME outlook; Acme Bank shares up';
    const { mentions, unlocated } = placeMentions(text, [['Acme', 'neutral'], ['Acme Bank', 'positive'], ['Missing Co', 'negative'], ['Outlook', 'neutral']]);
    assert.equal(unlocated, 1);
    // "Acme Bank" claims the first "Acme"; "Acme" takes the next exact-case whole word; "Outlook" only matches case-insensitively
    assert.deepEqual(mentions.map((m) => [m.entity, m.start, m.end]), [['Acme Bank', 0, 9], ['Outlook', 21, 28], ['Acme', 30, 34]]);
    for (const m of mentions) assert.equal(text.slice(m.start, m.end).toLowerCase(), m.entity.toLowerCase());
  });

  it('synthetic contrast pairs keep each entity on its own clause with its own label', () => {
    const h = (text: string, name: string, label: 'positive' | 'negative' | 'neutral'): EntityHeadline => {
      const start = text.indexOf(name);
      return { set: 'toy', text, key: text.toLowerCase(), unlocated: 0, mentions: [{ entity: name, start, end: start + name.length, label }] };
    };
    const pairs = contrastPairs([h('Acme profit jumps', 'Acme', 'positive'), h('Globex misses estimates', 'Globex', 'negative'), h('Initech names new chief', 'Initech', 'neutral')], 9);
    assert.ok(pairs.length > 0);
    for (const p of pairs) {
      assert.equal(p.mentions.length, 2);
      for (const m of p.mentions) assert.equal(p.text.slice(m.start, m.end), m.entity);
    }
    const ex = examplesOf(pairs);
    assert.ok(ex.some((e) => e.opposite));
  });
});

describe('EntitySentimentModel load errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-badentity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('MODEL_LOAD_FAILED for a missing folder, naming the file and the fix', async () => {
    await assert.rejects(EntitySentimentModel.load(join(dir, 'nope')), (err: unknown) => {
      assert.ok(err instanceof TickerpulseError);
      assert.equal(err.code, 'MODEL_LOAD_FAILED');
      assert.match(err.message, /entity\.onnx/);
      assert.match(err.message, /npm run train:entity/);
      return true;
    });
  });

  it('MODEL_LOAD_FAILED when the feature spec does not belong to the graph', async () => {
    const bad = join(dir, 'mismatch');
    await import('node:fs/promises').then((fs) => fs.mkdir(bad, { recursive: true }));
    copyFileSync(join(defaultEntityModelDir, ENTITY_MODEL_FILE), join(bad, ENTITY_MODEL_FILE));
    const spec = JSON.parse(readFileSync(join(defaultEntityModelDir, ENTITY_TOKENIZER_FILE), 'utf8')) as EntitySpec;
    // a well-formed spec with more rows than the graph: only the load-time probe can tell
    const buckets = Array.from(decodeBuckets(spec.buckets));
    const taken = new Set(buckets);
    const free: number[] = [];
    for (let b = 0; free.length < 1000; b++) if (!taken.has(b)) free.push(b);
    const more = [...buckets, ...free].sort((x, y) => x - y);
    writeFileSync(join(bad, ENTITY_TOKENIZER_FILE), JSON.stringify({ ...spec, rows: more.length + 1, buckets: encodeBuckets(more) }));
    await assert.rejects(EntitySentimentModel.load(bad), (err: unknown) => {
      assert.ok(err instanceof TickerpulseError);
      assert.equal(err.code, 'MODEL_LOAD_FAILED');
      assert.match(err.message, /do not fit together/);
      return true;
    });
    // the untouched spec loads
    copyFileSync(join(defaultEntityModelDir, ENTITY_TOKENIZER_FILE), join(bad, ENTITY_TOKENIZER_FILE));
    await (await EntitySentimentModel.load(bad)).close();
  });

  it('MODEL_LOAD_FAILED for a corrupt feature spec', async () => {
    const bad = join(dir, 'corrupt');
    await import('node:fs/promises').then((fs) => fs.mkdir(bad, { recursive: true }));
    copyFileSync(join(defaultEntityModelDir, ENTITY_MODEL_FILE), join(bad, ENTITY_MODEL_FILE));
    writeFileSync(join(bad, ENTITY_TOKENIZER_FILE), '{"format": "tickerpulse-entity-features", "version": 1, "rows": ');
    await assert.rejects(EntitySentimentModel.load(bad), (err: unknown) => err instanceof TickerpulseError && err.code === 'MODEL_LOAD_FAILED' && /entity-tokenizer\.json/.test(err.message));
  });
});

describe('EntitySentimentModel (shipped model)', () => {
  let model: EntitySentimentModel;
  before(async () => {
    model = await EntitySentimentModel.load(undefined, { intraOpNumThreads: 1 });
  });
  after(async () => {
    await model?.close();
  });

  it('has a content id: sha256 of entity.onnx + entity-tokenizer.json', () => {
    const h = createHash('sha256').update(readFileSync(join(defaultEntityModelDir, ENTITY_MODEL_FILE))).update(readFileSync(join(defaultEntityModelDir, ENTITY_TOKENIZER_FILE))).digest('hex');
    assert.equal(model.id, 'entity-' + h.slice(0, 12));
  });

  it('gives opposite labels to the companies of a contrast headline, in either order', async () => {
    for (const [text, names, expected] of CONTRAST) {
      const preds = await model.classify(targets(text, names));
      assert.deepEqual(preds.map((p) => p.label), expected, text);
      // the scores point in opposite directions too
      assert.ok(preds[0].score * preds[1].score < 0, `${text}: scores ${preds.map((p) => p.score.toFixed(2))}`);
    }
  });

  it('gives the same label to companies that share one fate', async () => {
    for (const [text, names, expected] of TOGETHER) {
      const preds = await model.classify(targets(text, names));
      assert.deepEqual(preds.map((p) => p.label), names.map(() => expected), text);
    }
  });

  it('the other-mention list matters: the same span reads differently when the others are masked', async () => {
    const text = 'Acme shares surge while Globex plunges on profit warning';
    const [withOthers] = await model.classify(targets(text, ['Globex', 'Acme']));
    const start = text.indexOf('Globex');
    const [alone] = await model.classify([{ text, start, end: start + 6 }]);
    assert.equal(withOthers.label, 'negative');
    assert.notEqual(withOthers.pNeg.toFixed(6), alone.pNeg.toFixed(6));
  });

  it('returns well-formed predictions for awkward inputs, in order', async () => {
    const all = assorted();
    const preds = await model.classify(all);
    assert.equal(preds.length, all.length);
    for (const p of preds) {
      assert.ok(['negative', 'neutral', 'positive'].includes(p.label));
      assert.ok(Math.abs(p.pNeg + p.pNeu + p.pPos - 1) < 1e-9);
      assert.ok(Math.abs(p.score - (p.pPos - p.pNeg)) < 1e-12);
    }
    assert.deepEqual(await model.classify([]), []);
  });

  it('the ONNX graph matches the TypeScript forward pass', async () => {
    const weights = readOnnxWeights(readFileSync(join(defaultEntityModelDir, ENTITY_MODEL_FILE)));
    assert.equal(weights.dim, model.featurizer.rows);
    const all = assorted();
    const served = await model.classify(all);
    let maxDiff = 0;
    all.forEach((t, i) => {
      const { ids, values } = model.featurizer.featurize(t);
      const p = forward(weights, ids, values);
      maxDiff = Math.max(maxDiff, Math.abs(p[0] - served[i].pNeg), Math.abs(p[1] - served[i].pNeu), Math.abs(p[2] - served[i].pPos));
    });
    assert.ok(maxDiff < 1e-5, `max |Δp| ${maxDiff}`);
  });

  it('is deterministic: same input, same output, whatever the batch and the instance', async () => {
    const all = assorted();
    const a = await model.classify(all);
    const b = await model.classify(all);
    assert.deepEqual(a, b);
    const single: Prediction[] = [];
    for (const t of all) single.push(...(await model.classify([t])));
    single.forEach((p, i) => {
      assert.equal(p.label, a[i].label);
      assert.ok(Math.abs(p.pPos - a[i].pPos) < 1e-6 && Math.abs(p.pNeg - a[i].pNeg) < 1e-6);
    });
    const other = await EntitySentimentModel.load();
    try {
      assert.equal(other.id, model.id);
      assert.deepEqual(await other.classify(all), a);
    } finally {
      await other.close();
    }
  });

  it('splits large calls into chunks and keeps the order', async () => {
    const base = assorted();
    const many: EntityTarget[] = [];
    while (many.length < 1300) many.push(...base);
    const preds = await model.classify(many);
    const once = await model.classify(base);
    preds.forEach((p, i) => assert.equal(p.pPos, once[i % base.length].pPos));
  });

  it('the feature spec holds hashes and generic tokens only', () => {
    const spec = JSON.parse(readFileSync(join(defaultEntityModelDir, ENTITY_TOKENIZER_FILE), 'utf8')) as EntitySpec;
    assert.deepEqual(Object.keys(spec).sort(), ['buckets', 'entity', 'format', 'headline', 'labels', 'lexicons', 'rows', 'version']);
    for (const l of spec.lexicons ?? []) assert.match(l.data, /^[A-Za-z0-9+/=]*$/);
    assert.match(spec.buckets, /^[A-Za-z0-9+/=]*$/);
  });
});

describe('EntitySentimentModel lifecycle', () => {
  it('close() is idempotent and classify() afterwards fails with MODEL_RUN_FAILED', async () => {
    const m = await EntitySentimentModel.load();
    await m.close();
    await m.close();
    await assert.rejects(m.classify(targets('Acme beats Globex', ['Acme', 'Globex'])), (err: unknown) => err instanceof TickerpulseError && err.code === 'MODEL_RUN_FAILED');
  });
});

describe('entity training is deterministic', () => {
  it('the same toy examples give the same weights and the same bucket table', () => {
    const heads: EntityHeadline[] = [
      ['Acme profit jumps while Globex misses estimates', 'Acme', 'positive', 'Globex', 'negative'],
      ['Globex shares slump as Acme wins order', 'Acme', 'positive', 'Globex', 'negative'],
      ['Initech falls, Hooli rises', 'Hooli', 'positive', 'Initech', 'negative'],
      ['Hooli to hold board meeting; Initech unchanged', 'Hooli', 'neutral', 'Initech', 'neutral'],
    ].map(([text, a, la, b, lb]) => {
      const { mentions } = placeMentions(text, [[a, la as 'positive'], [b, lb as 'negative']]);
      return { set: 'sentfin', text, key: text.toLowerCase(), mentions, unlocated: 0 };
    });
    const recipe = { ...DEFAULT_ENTITY_RECIPE, maxIter: 40, l2: 1e-3, synthetic: 0 };
    const a = fitEntity(examplesOf(heads), recipe);
    const b = fitEntity(examplesOf(heads), recipe);
    assert.equal(a.spec.buckets, b.spec.buckets);
    assert.deepEqual(Array.from(a.model.W), Array.from(b.model.W));
    assert.ok(a.model.W.some((w) => w !== 0), 'the toy model learned something');
    // and the featurizer rebuilt from the spec agrees with the one the trainer used
    const f = new EntityFeaturizer(JSON.parse(JSON.stringify(a.spec)) as EntitySpec);
    const t = targets('Acme profit jumps while Globex misses estimates', ['Acme', 'Globex'])[0];
    assert.deepEqual(f.featurize(t), a.featurizer.featurize(t));
  });
});
