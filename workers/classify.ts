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
import { loadClassifier, type Classifier, type ModelKind } from '../src/model/hf/loadClassifier.js';
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
