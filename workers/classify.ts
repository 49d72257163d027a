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
import { createLinker, type LinkVia, type LinkerOptions, type TickerDictionary, type TickerLinker } from './tickerLinker.js';

export interface ClassifyTask {
  texts: string[];
  /** Also run the ticker linker on each text (the daemon's source workers; bulk CLI work skips it). */
  link?: boolean;
}

/** A ticker a text names, as the linker found it (workers/tickerLinker.ts). */
export interface TextTicker {
  symbol: string;
  via: LinkVia;
}

export interface ClassifyOk {
  ok: true;
  model: string;
  predictions: Prediction[];
  /** With `link: true`: the tickers of texts[i], one entry per symbol (empty when none or the dictionary is unavailable). */
  tickers?: TextTicker[][];
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
}

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
 * The thread's ticker linker, built once on first use (~130 ms for the 0.8 MB dictionary). A
 * missing or broken dictionary must not stop classification: the thread then links nothing and
 * says so once on stderr.
 */
function getLinker(): TickerLinker | null {
  if (linker === undefined) {
    const data = (workerData ?? {}) as ClassifyWorkerData;
    const file = data.tickerDictionary ?? join(dataDir, 'tickers', 'dictionary.json');
    try {
      linker = createLinker(JSON.parse(readFileSync(file, 'utf8')) as TickerDictionary, data.tickers ?? {});
    } catch (err) {
      linker = null;
      process.stderr.write(`tickerpulse: ticker dictionary ${file} could not be loaded, items get no tickers: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return linker;
}

/** Tickers of each text. Headlines only (the caller sends titles): summaries name too many incidental companies. */
function linkAll(texts: string[]): TextTicker[][] {
  const l = getLinker();
  if (!l) return texts.map(() => []);
  return texts.map((t) => l.link(t).map((x) => ({ symbol: x.symbol, via: x.via })));
}

export async function classify(task: ClassifyTask): Promise<ClassifyReply> {
  try {
    maybeInjectFault('classify', (workerData ?? {}) as ClassifyWorkerData);
    if (!task || !Array.isArray(task.texts)) {
      return { ok: false, code: 'INPUT_INVALID', message: 'classify task needs { texts: string[] }', retryable: false };
    }
    const model = await loadModel();
    const texts = task.texts.map((t) => (typeof t === 'string' ? t : String(t ?? '')));
    const predictions = await model.classify(texts);
    if (task.link === true) return { ok: true, model: model.id, predictions, tickers: linkAll(texts) };
    return { ok: true, model: model.id, predictions };
  } catch (err) {
    return toWireError(err, 'MODEL_RUN_FAILED');
  }
}

export default classify;
