/**
 * One entry point for both model kinds: the built-in model (data/model: sentiment.onnx +
 * tokenizer.json of ours) and a Hugging Face export (model.onnx + tokenizer.json + config.json).
 *
 *   const model = await loadClassifier({ kind: 'hf', path: 'models/finbert-onnx' });
 *   const model = await loadClassifier({ kind: 'auto', path: someFolder });   // detect
 *   model.id; await model.classify(texts); await model.release();
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TickerpulseError } from '../../lib/errors.js';
import { defaultModelDir } from '../../lib/paths.js';
import type { Prediction } from '../../lib/types.js';
import { MODEL_FILE, SentimentModel, TOKENIZER_FILE } from '../sentimentModel.js';
import { HF_CONFIG_FILE, HF_MODEL_FILE, HfModel } from './hfModel.js';

export type ModelKind = 'builtin' | 'hf';

/** What the workers, the CLI and eval need of a model. */
export interface Classifier {
  readonly id: string;
  classify(texts: readonly string[]): Promise<Prediction[]>;
  release(): Promise<void>;
}

export interface ClassifierSpec {
  /** 'auto' (default when only a path is given): detect the kind from the folder's files. */
  kind?: ModelKind | 'auto';
  /** Model folder; default data/model (built-in). */
  path?: string;
  intraOpNumThreads?: number;
  /** hf only: overlap in tokens between windows of a long text. */
  stride?: number;
}

/**
 * Which kind a folder holds: config.json + model.onnx → hf; sentiment.onnx + tokenizer.json →
 * builtin. MODEL_LOAD_FAILED (naming the folder and what was looked for) otherwise.
 */
export function detectModelKind(path: string): ModelKind {
  const dir = resolve(path);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new TickerpulseError('MODEL_LOAD_FAILED', `no model folder at ${dir}: give a folder holding model.onnx + tokenizer.json + config.json (a Hugging Face export, see docs/MODELS.md) or sentiment.onnx + tokenizer.json (the built-in model, data/model)`);
  }
  if (!isDir) throw new TickerpulseError('MODEL_LOAD_FAILED', `${dir} is a file: give the model's folder, not a file in it`);
  if (existsSync(join(dir, HF_CONFIG_FILE)) && existsSync(join(dir, HF_MODEL_FILE))) return 'hf';
  if (existsSync(join(dir, MODEL_FILE)) && existsSync(join(dir, TOKENIZER_FILE))) return 'builtin';
  if (existsSync(join(dir, HF_CONFIG_FILE)) || existsSync(join(dir, HF_MODEL_FILE))) return 'hf'; // let HfModel name what is missing
  if (existsSync(join(dir, MODEL_FILE))) return 'builtin';
  throw new TickerpulseError(
    'MODEL_LOAD_FAILED',
    `${dir} holds no model: expected model.onnx + tokenizer.json + config.json (a Hugging Face export, see docs/MODELS.md) or sentiment.onnx + tokenizer.json (the built-in model)`,
  );
}

export async function loadClassifier(spec: ClassifierSpec = {}): Promise<Classifier> {
  const path = spec.path ?? defaultModelDir;
  const kind = spec.kind === undefined || spec.kind === 'auto' ? (spec.path === undefined ? 'builtin' : detectModelKind(path)) : spec.kind;
  if (kind === 'hf') {
    if (spec.path === undefined) throw new TickerpulseError('MODEL_LOAD_FAILED', 'model kind hf needs model.path: the folder holding model.onnx, tokenizer.json and config.json (see docs/MODELS.md)');
    return HfModel.load(path, { intraOpNumThreads: spec.intraOpNumThreads, stride: spec.stride });
  }
  return SentimentModel.load(path, { intraOpNumThreads: spec.intraOpNumThreads });
}

/** Load once and release: the daemon's startup check (errors are the load errors, unchanged). */
export async function validateClassifier(spec: ClassifierSpec): Promise<string> {
  const model = await loadClassifier(spec);
  const id = model.id;
  await model.release().catch(() => undefined);
  return id;
}
