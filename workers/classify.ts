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
import { workerData } from 'node:worker_threads';
import { SentimentModel } from '../src/model/sentimentModel.js';
import { toWireError, type WireError } from '../src/lib/errors.js';
import type { Prediction } from '../src/lib/types.js';
import { maybeInjectFault } from './faults.js';

export interface ClassifyTask {
  texts: string[];
}

export interface ClassifyOk {
  ok: true;
  model: string;
  predictions: Prediction[];
}

export type ClassifyReply = ClassifyOk | WireError;

export interface ClassifyWorkerData {
  modelDir?: string;
  intraOpNumThreads?: number;
  /** The source this thread serves, when it is a source's worker (used for fault injection in tests). */
  sourceId?: string;
}

let modelPromise: Promise<SentimentModel> | null = null;

function loadModel(): Promise<SentimentModel> {
  if (!modelPromise) {
    const data = (workerData ?? {}) as ClassifyWorkerData;
    const loading = SentimentModel.load(data.modelDir, { intraOpNumThreads: data.intraOpNumThreads ?? 1 });
    // A failed load must not be cached forever: the next task tries again (the file may be fixed).
    loading.catch(() => {
      if (modelPromise === loading) modelPromise = null;
    });
    modelPromise = loading;
    return loading;
  }
  return modelPromise;
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
    return { ok: true, model: model.id, predictions };
  } catch (err) {
    return toWireError(err, 'MODEL_RUN_FAILED');
  }
}

export default classify;
