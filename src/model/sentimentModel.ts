/**
 * Serving side of the sentiment model, used by worker threads: one onnxruntime-node
 * InferenceSession plus the featurizer described by tokenizer.json.
 *
 *   const model = await SentimentModel.load();            // data/model by default
 *   const preds = await model.classify(['Acme beats estimates, raises outlook']);
 *
 * Imports only src/lib, ./tokenizer and npm runtime dependencies (onnxruntime-node).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TickerpulseError } from '../lib/errors.js';
import { defaultModelDir } from '../lib/paths.js';
import type { Label, Prediction } from '../lib/types.js';
import { Featurizer, type TokenizerSpec } from './tokenizer.js';
import { hashFileInto } from './fileHash.js';

export const MODEL_FILE = 'sentiment.onnx';
export const TOKENIZER_FILE = 'tokenizer.json';

/** Only this many characters of a text are read (headlines and summaries are far shorter). */
export const MAX_TEXT_CHARS = 4000;

const LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

export interface LoadOptions {
  /** onnxruntime intra-op threads; 1 by default (parallelism comes from worker threads). */
  intraOpNumThreads?: number;
}

function loadFailed(message: string, cause?: unknown): TickerpulseError {
  return new TickerpulseError('MODEL_LOAD_FAILED', message, { cause });
}

const HINT = 'run `npm run train` to rebuild data/model, or point the model directory at a folder holding sentiment.onnx and tokenizer.json';

export class SentimentModel {
  /** Content id: `builtin-` + the first 12 hex digits of sha256(sentiment.onnx ‖ tokenizer.json). */
  readonly id: string;
  readonly dir: string;
  readonly featurizer: Featurizer;
  private readonly session: InferenceSession;

  private constructor(dir: string, id: string, featurizer: Featurizer, session: InferenceSession) {
    this.dir = dir;
    this.id = id;
    this.featurizer = featurizer;
    this.session = session;
  }

  /**
   * Open the model in `dir` (default data/model). Throws TickerpulseError('MODEL_LOAD_FAILED')
   * when a file is missing, unreadable, corrupt or the two files do not belong together.
   */
  static async load(dir: string = defaultModelDir, opts: LoadOptions = {}): Promise<SentimentModel> {
    const modelPath = join(dir, MODEL_FILE);
    const tokPath = join(dir, TOKENIZER_FILE);
    const contentHash = createHash('sha256');
    let tokBytes: Buffer;
    try {
      await hashFileInto(contentHash, modelPath);
    } catch (err) {
      throw loadFailed(`cannot read the sentiment model ${modelPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${HINT}`, err);
    }
    try {
      tokBytes = await readFile(tokPath);
    } catch (err) {
      throw loadFailed(`cannot read the feature spec ${tokPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${HINT}`, err);
    }
    let featurizer: Featurizer;
    try {
      featurizer = new Featurizer(JSON.parse(tokBytes.toString('utf8')) as TokenizerSpec);
    } catch (err) {
      throw loadFailed(`the feature spec ${tokPath} is corrupt (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
    }
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(modelPath, {
        intraOpNumThreads: Math.max(1, opts.intraOpNumThreads ?? 1),
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw loadFailed(`the sentiment model ${modelPath} is corrupt or not a valid ONNX graph (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
    }
    if (!session.inputNames.includes('ids') || !session.inputNames.includes('values') || !session.outputNames.includes('probabilities')) {
      await session.release().catch(() => undefined);
      throw loadFailed(`the sentiment model ${modelPath} has inputs [${session.inputNames.join(', ')}] / outputs [${session.outputNames.join(', ')}], expected ids, values → probabilities: ${HINT}`);
    }
    const id = 'builtin-' + contentHash.update(tokBytes).digest('hex').slice(0, 12);
    const model = new SentimentModel(dir, id, featurizer, session);
    // Probe: the highest row id must exist in the graph's weight table (catches an onnx file
    // and a tokenizer.json from different training runs).
    try {
      const ids = new BigInt64Array([0n, BigInt(featurizer.rows - 1)]);
      const out = await session.run({ ids: new Tensor('int64', ids, [1, 2]), values: new Tensor('float32', new Float32Array([0, 0]), [1, 2]) });
      const p = out.probabilities;
      if (!p || p.dims.length !== 2 || p.dims[1] !== 3) throw new Error(`probabilities have shape [${p?.dims.join(', ')}], expected [batch, 3]`);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw loadFailed(`${modelPath} and ${tokPath} do not fit together (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
    }
    return model;
  }

  /** Classify texts in one session.run; one Prediction per text, in order. */
  async classify(texts: readonly string[]): Promise<Prediction[]> {
    if (texts.length === 0) return [];
    const clipped = texts.map((t) => {
      const s = typeof t === 'string' ? t : String(t ?? '');
      return s.length > MAX_TEXT_CHARS ? s.slice(0, MAX_TEXT_CHARS) : s;
    });
    const fb = this.featurizer.batch(clipped);
    let probs: Float32Array;
    try {
      const out = await this.session.run({
        ids: new Tensor('int64', fb.ids, [fb.batch, fb.width]),
        values: new Tensor('float32', fb.values, [fb.batch, fb.width]),
      });
      probs = out.probabilities.data as Float32Array;
    } catch (err) {
      throw new TickerpulseError('MODEL_RUN_FAILED', `sentiment model ${this.id} failed on a batch of ${texts.length}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retryable: false });
    }
    const preds: Prediction[] = new Array(texts.length);
    for (let i = 0; i < texts.length; i++) preds[i] = toPrediction(probs[i * 3], probs[i * 3 + 1], probs[i * 3 + 2]);
    return preds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Probabilities → Prediction (renormalised in double precision; label = argmax). */
export function toPrediction(a: number, b: number, c: number): Prediction {
  const s = a + b + c;
  const pNeg = s > 0 ? a / s : 1 / 3;
  const pNeu = s > 0 ? b / s : 1 / 3;
  const pPos = s > 0 ? c / s : 1 / 3;
  let best = 1;
  if (pNeg > pNeu && pNeg >= pPos) best = 0;
  else if (pPos > pNeu && pPos > pNeg) best = 2;
  return { label: LABELS[best], pNeg, pNeu, pPos, score: pPos - pNeg };
}
