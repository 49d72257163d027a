/**
 * Piscina worker: classify a batch of texts with the sentiment model.
 *
 * One InferenceSession per thread, opened lazily on the first task (so a pool that is never
 * used never pays for it) and kept for the thread's life. intraOpNumThreads is 1 by default:
 * parallelism comes from having one worker per source / per core, not from ORT's own pool,
 * which would oversubscribe a 2-core machine.
 *
 * Results and errors are plain objects: class instances do not survive postMessage.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import { dataDir } from '../src/lib/paths.js';
import { loadClassifier, type Classifier, type ModelKind } from '../src/model/hf/loadClassifier.js';
import { toWireError, type WireError } from '../src/lib/errors.js';
import type { Prediction } from '../src/lib/types.js';
import { maybeInjectFault } from './faults.js';
import { StorySigner } from './storySignature.js';
import { createLinker, linkerFromTable, type LinkVia, type LinkerOptions, type TickerDictionary, type TickerLink, type TickerLinker } from './tickerLinker.js';
import { EntitySentimentModel, type EntityTarget } from '../src/model/entity/entityModel.js';
import { registerSharedRowTables } from '../src/model/sharedRows.js';
import { guarded, resetGateForSoleThread } from '../src/lib/nativeGate.js';

export interface ClassifyTask {
  texts: string[];
  /**
   * The daemon's source workers: also link each text's tickers (with the sentiment towards each)
   * and compute its story signature. Bulk CLI work skips both.
   */
  link?: boolean;
}

/** A company a text names (workers/tickerLinker.ts) and the sentiment towards it. */
export interface TextTicker extends Prediction {
  symbol: string;
  via: LinkVia;
}

export interface ClassifyOk {
  ok: true;
  model: string;
  predictions: Prediction[];
  /**
   * With `link: true`: the tickers of texts[i] as a JSON array of TextTicker (the items.tickers
   * column), one entry per symbol, or null when it names none (always null when the dictionary
   * is unavailable). A string crosses postMessage far cheaper than objects do.
   */
  tickers?: (string | null)[];
  /** With `link: true`: story signatures, STORY_HASHES values per text, texts in order (workers/storySignature.ts). */
  sigs?: Uint32Array;
}

export type ClassifyReply = ClassifyOk | WireError;

export interface ClassifyWorkerData {
  /** Built-in model folder (kept for callers that predate modelKind/modelPath). */
  modelDir?: string;
  /** 'builtin' | 'hf' | 'auto' (detect from the folder); default auto when modelPath is set, else builtin. */
  modelKind?: ModelKind | 'auto';
  /** Model folder of either kind; takes precedence over modelDir. */
  modelPath?: string;
  /** hf models: overlap in tokens between windows of a long text. */
  windowStride?: number;
  intraOpNumThreads?: number;
  /** The source this thread serves, when it is a source's worker (used for fault injection in tests). */
  sourceId?: string;
  /** Linker options (config `tickers`): extra nicknames and watchlist symbols. */
  tickers?: LinkerOptions;
  /** Ticker dictionary file; default data/tickers/dictionary.json. */
  tickerDictionary?: string;
  /**
   * The dictionary already compiled with `tickers` (workers/tickerTable.ts), shared by every
   * source's thread; when absent the thread compiles the file into a table of its own.
   */
  tickerTable?: SharedArrayBuffer;
  /** Feature row tables of the models, shared by every source's thread (src/model/sharedRows.ts). */
  rowTables?: Record<string, SharedArrayBuffer>;
  /** Entity (per-company) sentiment model folder; default data/model/entity. */
  entityModelDir?: string;
  /**
   * A source's thread (the only one of its pool): model calls count themselves in this gate, so
   * the thread is never terminated inside one (src/lib/nativeGate.ts).
   */
  nativeGate?: SharedArrayBuffer;
}

// before any model loads: its featurizers then use the tables the main thread shared
registerSharedRowTables(((workerData ?? {}) as ClassifyWorkerData).rowTables);
const nativeGate = ((workerData ?? {}) as ClassifyWorkerData).nativeGate;
resetGateForSoleThread(nativeGate);

let modelPromise: Promise<Classifier> | null = null;

function loadModel(): Promise<Classifier> {
  if (!modelPromise) {
    const data = (workerData ?? {}) as ClassifyWorkerData;
    const path = data.modelPath ?? data.modelDir;
    const loading = loadClassifier({
      kind: data.modelKind ?? (data.modelPath !== undefined ? 'auto' : 'builtin'),
      path,
      intraOpNumThreads: data.intraOpNumThreads ?? 1,
      stride: data.windowStride,
    });
    // A failed load must not be cached forever: the next task tries again (the file may be fixed).
    loading.catch(() => {
      if (modelPromise === loading) modelPromise = null;
    });
    modelPromise = loading;
    return loading;
  }
  return modelPromise;
}

/** undefined: not loaded yet; null: the dictionary could not be loaded (linking is then skipped). */
let linker: TickerLinker | null | undefined;

/**
 * The thread's ticker linker, made once on first use: over the shared table the daemon built
 * (no copy), or else compiled from the file (~130 ms for the 0.8 MB dictionary). A
 * missing or broken dictionary must not stop classification: the thread then links nothing and
 * says so once on stderr.
 */
function getLinker(): TickerLinker | null {
  if (linker === undefined) {
    const data = (workerData ?? {}) as ClassifyWorkerData;
    const file = data.tickerDictionary ?? join(dataDir, 'tickers', 'dictionary.json');
    try {
      linker = data.tickerTable ? linkerFromTable(data.tickerTable) : createLinker(JSON.parse(readFileSync(file, 'utf8')) as TickerDictionary, data.tickers ?? {});
    } catch (err) {
      linker = null;
      process.stderr.write(`tickerpulse: ticker dictionary ${file} could not be loaded, items get no tickers: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return linker;
}

/** undefined: not loaded yet; null: could not be loaded (per-ticker sentiment is then the headline's). */
let entityModel: Promise<EntitySentimentModel | null> | undefined;

function getEntityModel(): Promise<EntitySentimentModel | null> {
  entityModel ??= EntitySentimentModel.load(((workerData ?? {}) as ClassifyWorkerData).entityModelDir, { intraOpNumThreads: 1 }).catch((err: unknown) => {
    process.stderr.write(`tickerpulse: entity model could not be loaded, each ticker gets its headline's sentiment: ${err instanceof Error ? err.message : String(err)}\n`);
    return null;
  });
  return entityModel;
}

/**
 * Tickers of each text as the items.tickers JSON, one entry per symbol (its first, strongest
 * mention), with the sentiment towards it: a text naming ONE company keeps the headline's
 * prediction; a text naming several gets one entity-model prediction per company (its mention
 * as the target, the other companies' mentions masked). Headlines only (the caller sends
 * titles): summaries name too many incidental companies.
 */
async function linkAll(texts: string[], predictions: Prediction[]): Promise<(string | null)[]> {
  const l = getLinker();
  const out: (string | null)[] = new Array(texts.length).fill(null);
  if (!l) return out;
  const lists: (TextTicker[] | null)[] = new Array(texts.length).fill(null);
  const targets: EntityTarget[] = [];
  const targetOf: TextTicker[] = [];
  for (let i = 0; i < texts.length; i++) {
    const links = l.link(texts[i]);
    if (links.length === 0) continue;
    const p = predictions[i];
    const firsts = new Map<string, TickerLink>();
    for (const x of links) if (!firsts.has(x.symbol)) firsts.set(x.symbol, x);
    const list: TextTicker[] = [];
    for (const x of firsts.values()) list.push({ symbol: x.symbol, via: x.via, label: p.label, score: p.score, pNeg: p.pNeg, pNeu: p.pNeu, pPos: p.pPos });
    lists[i] = list;
    if (firsts.size > 1) {
      for (const t of list) {
        const m = firsts.get(t.symbol)!;
        const others = links.filter((x) => x.symbol !== t.symbol).map((x) => ({ start: x.start, end: x.end }));
        targets.push({ text: texts[i], start: m.start, end: m.end, others });
        targetOf.push(t);
      }
    }
  }
  if (targets.length > 0) {
    const em = await getEntityModel();
    if (em) {
      const preds = await em.classify(targets);
      for (let k = 0; k < preds.length; k++) {
        const t = targetOf[k];
        const p = preds[k];
        t.label = p.label;
        t.score = p.score;
        t.pNeg = p.pNeg;
        t.pNeu = p.pNeu;
        t.pPos = p.pPos;
      }
    }
  }
  for (let i = 0; i < texts.length; i++) if (lists[i]) out[i] = JSON.stringify(lists[i]);
  return out;
}

let signer: StorySigner | undefined;

function signAll(texts: string[]): Uint32Array {
  signer ??= new StorySigner();
  const n = signer.numHashes;
  const sigs = new Uint32Array(texts.length * n);
  for (let i = 0; i < texts.length; i++) signer.signInto(texts[i], sigs, i * n);
  return sigs;
}

export async function classify(task: ClassifyTask): Promise<ClassifyReply> {
  try {
    maybeInjectFault('classify', (workerData ?? {}) as ClassifyWorkerData);
    if (!task || !Array.isArray(task.texts)) {
      return { ok: false, code: 'INPUT_INVALID', message: 'classify task needs { texts: string[] }', retryable: false };
    }
    // Loading and running the models are ONNX Runtime calls (linkAll runs the entity model).
    return await guarded(nativeGate, async (): Promise<ClassifyReply> => {
      const model = await loadModel();
      const texts = task.texts.map((t) => (typeof t === 'string' ? t : String(t ?? '')));
      const predictions = await model.classify(texts);
      if (task.link === true) return { ok: true, model: model.id, predictions, tickers: await linkAll(texts, predictions), sigs: signAll(texts) };
      return { ok: true, model: model.id, predictions };
    });
  } catch (err) {
    return toWireError(err, 'MODEL_RUN_FAILED');
  }
}

export default classify;
