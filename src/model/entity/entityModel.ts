/**
 * Serving side of the entity-level (target-aware) sentiment model, used on worker threads next
 * to the headline model: one onnxruntime-node InferenceSession plus the featurizer described by
 * entity-tokenizer.json.
 *
 *   const model = await EntitySentimentModel.load();          // data/model/entity by default
 *   const text = 'Acme shares surge while Globex plunges on profit warning';
 *   const [acme, globex] = await model.classify([
 *     { text, start: 0, end: 4, others: [{ start: 30, end: 36 }] },
 *     { text, start: 30, end: 36, others: [{ start: 0, end: 4 }] },
 *   ]);                                                       // acme.label 'positive', globex.label 'negative'
 *
 * Meant for headlines naming two or more companies (one target per mention, the other mentions
 * as `others`); a headline naming one company keeps the headline model's prediction.
 * Imports only src/lib, ../sentimentModel (toPrediction), ./entityFeatures and onnxruntime-node.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TickerpulseError } from '../../lib/errors.js';
import { defaultModelDir } from '../../lib/paths.js';
import type { Prediction } from '../../lib/types.js';
import { toPrediction } from '../sentimentModel.js';
import { hashFileInto } from '../fileHash.js';
import { EntityFeaturizer, type EntitySpec } from './entityFeatures.js';

export const ENTITY_MODEL_FILE = 'entity.onnx';
export const ENTITY_TOKENIZER_FILE = 'entity-tokenizer.json';
export const defaultEntityModelDir = join(defaultModelDir, 'entity');

/** Targets per session.run (larger calls are split; the padded batch stays small). */
const CHUNK = 512;

export interface EntityTarget {
  text: string;
  /** UTF-16 offsets of the mention in text, end exclusive */
  start: number;
  end: number;
  /** other mentions in the same text (offsets), so the featurizer can mask them */
  others?: { start: number; end: number }[];
}

export interface EntityLoadOptions {
  /** onnxruntime intra-op threads; 1 by default (parallelism comes from worker threads). */
  intraOpNumThreads?: number;
}

const HINT = 'run `npm run train:entity` to rebuild data/model/entity, or point the entity model directory at a folder holding entity.onnx and entity-tokenizer.json';

function loadFailed(message: string, cause?: unknown): TickerpulseError {
  return new TickerpulseError('MODEL_LOAD_FAILED', message, { cause });
}

export class EntitySentimentModel {
  /** Content id: `entity-` + the first 12 hex digits of sha256(entity.onnx ‖ entity-tokenizer.json). */
  readonly id: string;
  readonly dir: string;
  readonly featurizer: EntityFeaturizer;
  private readonly session: InferenceSession;
  private closed = false;

  private constructor(dir: string, id: string, featurizer: EntityFeaturizer, session: InferenceSession) {
    this.dir = dir;
    this.id = id;
    this.featurizer = featurizer;
    this.session = session;
  }

  /**
   * Open the entity model in `dir` (default data/model/entity). Throws
   * TickerpulseError('MODEL_LOAD_FAILED') when a file is missing, unreadable, corrupt, or the
   * two files do not belong together.
   */
  static async load(dir: string = defaultEntityModelDir, opts: EntityLoadOptions = {}): Promise<EntitySentimentModel> {
    const modelPath = join(dir, ENTITY_MODEL_FILE);
    const tokPath = join(dir, ENTITY_TOKENIZER_FILE);
    const read = async (p: string, what: string): Promise<Buffer> => {
      try {
        return await readFile(p);
      } catch (err) {
        throw loadFailed(`cannot read the ${what} ${p} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${HINT}`, err);
      }
    };
    const contentHash = createHash('sha256');
    try {
      await hashFileInto(contentHash, modelPath);
    } catch (err) {
      throw loadFailed(`cannot read the entity model ${modelPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${HINT}`, err);
    }
    const tokBytes = await read(tokPath, 'entity feature spec');
    let featurizer: EntityFeaturizer;
    try {
      featurizer = new EntityFeaturizer(JSON.parse(tokBytes.toString('utf8')) as EntitySpec);
    } catch (err) {
      throw loadFailed(`the entity feature spec ${tokPath} is corrupt (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
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
      throw loadFailed(`the entity model ${modelPath} is corrupt or not a valid ONNX graph (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
    }
    if (!session.inputNames.includes('ids') || !session.inputNames.includes('values') || !session.outputNames.includes('probabilities')) {
      await session.release().catch(() => undefined);
      throw loadFailed(`the entity model ${modelPath} has inputs [${session.inputNames.join(', ')}] / outputs [${session.outputNames.join(', ')}], expected ids, values → probabilities: ${HINT}`);
    }
    // Probe: the highest row id must exist in the graph's weight table (catches an onnx file
    // and a feature spec from different training runs).
    try {
      const out = await session.run({
        ids: new Tensor('int64', new BigInt64Array([0n, BigInt(featurizer.rows - 1)]), [1, 2]),
        values: new Tensor('float32', new Float32Array([0, 0]), [1, 2]),
      });
      const p = out.probabilities;
      if (!p || p.dims.length !== 2 || p.dims[1] !== 3) throw new Error(`probabilities have shape [${p?.dims.join(', ')}], expected [batch, 3]`);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw loadFailed(`${modelPath} and ${tokPath} do not fit together (${err instanceof Error ? err.message : String(err)}): ${HINT}`, err);
    }
    const id = 'entity-' + contentHash.update(tokBytes).digest('hex').slice(0, 12);
    return new EntitySentimentModel(dir, id, featurizer, session);
  }

  /**
   * One Prediction per target, in order. Offsets are clamped to the text; others that overlap
   * the target are ignored; a target with an empty span is classified from the headline-level
   * features alone. Only the first 4,000 characters of a text are read.
   */
  async classify(targets: EntityTarget[]): Promise<Prediction[]> {
    if (this.closed) throw new TickerpulseError('MODEL_RUN_FAILED', `entity model ${this.id} is closed`, { retryable: false });
    const preds: Prediction[] = new Array(targets.length);
    for (let at = 0; at < targets.length; at += CHUNK) {
      const end = Math.min(targets.length, at + CHUNK);
      const rows: { ids: number[]; values: number[] }[] = new Array(end - at);
      let width = 1;
      for (let i = at; i < end; i++) {
        const t = targets[i];
        const f = this.featurizer.featurize({ text: typeof t?.text === 'string' ? t.text : String(t?.text ?? ''), start: Number(t?.start), end: Number(t?.end), others: Array.isArray(t?.others) ? t.others : undefined });
        rows[i - at] = f;
        if (f.ids.length > width) width = f.ids.length;
      }
      const batch = end - at;
      const buf = new ArrayBuffer(batch * width * 8);
      // little-endian int64: the low 32-bit word carries the (non-negative) row id
      const lo = new Int32Array(buf);
      const values = new Float32Array(batch * width);
      for (let i = 0; i < batch; i++) {
        const { ids, values: vs } = rows[i];
        const base = i * width;
        for (let k = 0; k < ids.length; k++) {
          lo[(base + k) * 2] = ids[k];
          values[base + k] = vs[k];
        }
      }
      let probs: Float32Array;
      try {
        const out = await this.session.run({
          ids: new Tensor('int64', new BigInt64Array(buf), [batch, width]),
          values: new Tensor('float32', values, [batch, width]),
        });
        probs = out.probabilities.data as Float32Array;
      } catch (err) {
        throw new TickerpulseError('MODEL_RUN_FAILED', `entity model ${this.id} failed on a batch of ${batch}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retryable: false });
      }
      for (let i = 0; i < batch; i++) preds[at + i] = toPrediction(probs[i * 3], probs[i * 3 + 1], probs[i * 3 + 2]);
    }
    return preds;
  }

  /** Release the session (idempotent); classify() afterwards throws MODEL_RUN_FAILED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
