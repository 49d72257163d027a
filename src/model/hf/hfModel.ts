/**
 * A Hugging Face text-classification model exported to ONNX (`optimum-cli export onnx --task
 * text-classification`): `model.onnx` + `tokenizer.json` + `config.json` in one folder.
 *
 *   const model = await HfModel.load('models/finbert-onnx');
 *   const preds = await model.classify(['Acme beats estimates, raises outlook']);
 *
 * Labels come from config.json's id2label, mapped case-insensitively onto negative / neutral /
 * positive (neg / neu / pos also accepted). A 2-label model (negative + positive) is accepted:
 * its pNeu is 0. Any other label set is refused (MODEL_UNSUPPORTED) naming the labels.
 *
 * Inputs are fed by name: input_ids, attention_mask and token_type_ids (the latter two only if
 * the graph declares them), int64 (or int32 if the graph says so), dynamic batch and sequence length; a batch is padded to its
 * longest row. Texts longer than the window are split into overlapping windows (see windows.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TickerpulseError } from '../../lib/errors.js';
import type { Prediction } from '../../lib/types.js';
import { toPrediction } from '../sentimentModel.js';
import { HfTokenizer, TokenizerSpecError } from './tokenizer.js';
import { DEFAULT_STRIDE, MAX_WINDOWS, padBatch, splitWindows } from './windows.js';

export const HF_MODEL_FILE = 'model.onnx';
export const HF_TOKENIZER_FILE = 'tokenizer.json';
export const HF_CONFIG_FILE = 'config.json';
/** Optional: model_max_length is read from it when tokenizer.json has no truncation. */
export const HF_TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** Characters of a text that are read (windows cover at most MAX_WINDOWS windows of it anyway). */
export const HF_MAX_TEXT_CHARS = 20_000;
/** Window rows per session.run. */
export const HF_MAX_BATCH_ROWS = 64;

const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];
const EXPORT_HINT = 'export the model with `optimum-cli export onnx --model <name> --task text-classification <folder>` (see docs/MODELS.md)';

export interface HfLoadOptions {
  /** onnxruntime intra-op threads; 1 by default (parallelism comes from worker threads). */
  intraOpNumThreads?: number;
  /** Overlap in tokens between consecutive windows of a long text (default 64). */
  stride?: number;
  /** Window length in tokens (special tokens included); default from the model files. */
  maxLength?: number;
}

type SentimentIndex = { neg: number; neu: number | null; pos: number };

const LABEL_NAMES: Record<string, 'neg' | 'neu' | 'pos'> = {
  negative: 'neg',
  neg: 'neg',
  neutral: 'neu',
  neu: 'neu',
  positive: 'pos',
  pos: 'pos',
};

function loadFailed(message: string, cause?: unknown): TickerpulseError {
  return new TickerpulseError('MODEL_LOAD_FAILED', message, { cause });
}

function unsupported(message: string, cause?: unknown): TickerpulseError {
  return new TickerpulseError('MODEL_UNSUPPORTED', message, { cause });
}

/** id2label → which logit is negative / neutral / positive. */
export function sentimentIndex(id2label: unknown, where: string): SentimentIndex {
  if (!id2label || typeof id2label !== 'object' || Array.isArray(id2label)) {
    throw unsupported(`${where} has no id2label map: a text-classification config.json names its labels, e.g. {"0": "negative", "1": "neutral", "2": "positive"}`);
  }
  const entries = Object.entries(id2label as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)] as const);
  const names = entries.map(([, v]) => v);
  const idx: Partial<Record<'neg' | 'neu' | 'pos', number>> = {};
  const n = entries.length;
  let ok = n === 2 || n === 3;
  for (const [k, v] of entries) {
    const key = LABEL_NAMES[v.trim().toLowerCase()];
    if (!Number.isInteger(k) || k < 0 || k >= n || !key || idx[key] !== undefined) ok = false;
    else idx[key] = k;
  }
  if (!ok || idx.neg === undefined || idx.pos === undefined || (n === 3 && idx.neu === undefined)) {
    throw unsupported(
      `${where}: the model's labels [${names.join(', ')}] are not sentiment labels; tickerpulse needs negative, neutral and positive (or just negative and positive), matched case-insensitively — ` +
        `if the labels mean that (e.g. LABEL_0 = negative), rename them in id2label of config.json`,
    );
  }
  return { neg: idx.neg, neu: idx.neu ?? null, pos: idx.pos };
}

async function sha256File(path: string, hash = createHash('sha256')): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

export class HfModel {
  /** `hf-<folder name>-<first 12 hex digits of sha256(model.onnx ‖ tokenizer.json ‖ config.json)>`. */
  readonly id: string;
  readonly dir: string;
  readonly tokenizer: HfTokenizer;
  readonly labels: SentimentIndex;
  readonly numLabels: number;
  /** Window length, special tokens included. */
  readonly maxLength: number;
  readonly stride: number;
  private readonly session: InferenceSession;
  private readonly feeds: { attentionMask: boolean; tokenTypeIds: boolean };
  /** Inputs the graph declares as int32 (optimum exports int64; some optimized graphs use int32). */
  private readonly int32Inputs: Set<string>;
  private readonly output: string;

  private constructor(init: {
    dir: string;
    id: string;
    tokenizer: HfTokenizer;
    labels: SentimentIndex;
    numLabels: number;
    maxLength: number;
    stride: number;
    session: InferenceSession;
    output: string;
  }) {
    this.dir = init.dir;
    this.id = init.id;
    this.tokenizer = init.tokenizer;
    this.labels = init.labels;
    this.numLabels = init.numLabels;
    this.maxLength = init.maxLength;
    this.stride = init.stride;
    this.session = init.session;
    this.output = init.output;
    this.feeds = { attentionMask: init.session.inputNames.includes('attention_mask'), tokenTypeIds: init.session.inputNames.includes('token_type_ids') };
    const meta = (init.session as { inputMetadata?: ReadonlyArray<{ name: string; isTensor: boolean; type?: string }> }).inputMetadata ?? [];
    this.int32Inputs = new Set(meta.filter((m) => m.isTensor && m.type === 'int32').map((m) => m.name));
  }

  /**
   * Open the exported model in `dir`. MODEL_LOAD_FAILED: the folder or a file is missing,
   * unreadable or corrupt. MODEL_UNSUPPORTED: it loads but tickerpulse cannot serve it (labels
   * that are not sentiment, graph inputs it does not feed, a tokenizer type it does not implement).
   */
  static async load(path: string, opts: HfLoadOptions = {}): Promise<HfModel> {
    const dir = resolve(path);
    if (!existsSync(dir)) throw loadFailed(`no model folder at ${dir}: ${EXPORT_HINT}, and set model.path to that folder`);
    const files = { model: join(dir, HF_MODEL_FILE), tokenizer: join(dir, HF_TOKENIZER_FILE), config: join(dir, HF_CONFIG_FILE) };
    const missing = Object.values(files).filter((f) => !existsSync(f));
    if (missing.length) {
      throw loadFailed(`the model folder ${dir} lacks ${missing.map((f) => basename(f)).join(', ')}: a Hugging Face model folder holds model.onnx, tokenizer.json and config.json — ${EXPORT_HINT}`);
    }
    const readJson = async (file: string): Promise<Record<string, any>> => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw loadFailed(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
      }
      try {
        const v = JSON.parse(text);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
        return v;
      } catch (err) {
        throw loadFailed(`${file} is not valid JSON (${(err as Error).message}): ${EXPORT_HINT}`, err);
      }
    };
    const config = await readJson(files.config);
    const tokJson = await readJson(files.tokenizer);
    const labels = sentimentIndex(config.id2label, files.config);
    const numLabels = Object.keys(config.id2label).length;

    let tokConfig: Record<string, any> = {};
    const tokConfigFile = join(dir, HF_TOKENIZER_CONFIG_FILE);
    if (existsSync(tokConfigFile)) tokConfig = await readJson(tokConfigFile).catch(() => ({}));
    let tokenizer: HfTokenizer;
    try {
      tokenizer = new HfTokenizer(tokJson, { maxLength: opts.maxLength, padId: Number.isInteger(config.pad_token_id) ? config.pad_token_id : undefined });
    } catch (err) {
      if (err instanceof TokenizerSpecError) throw unsupported(`${files.tokenizer}: ${err.message}`, err);
      throw loadFailed(`${files.tokenizer} is corrupt (${err instanceof Error ? err.message : String(err)})`, err);
    }
    const maxLength = tokenizer.maxLength ?? modelMaxLength(config, tokConfig);
    if (maxLength <= tokenizer.specialCount) throw unsupported(`${dir}: window length ${maxLength} leaves no room for text after ${tokenizer.specialCount} special tokens`);

    let session: InferenceSession;
    try {
      session = await InferenceSession.create(files.model, {
        intraOpNumThreads: Math.max(1, opts.intraOpNumThreads ?? 1),
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw loadFailed(`${files.model} is corrupt or not a valid ONNX graph (${err instanceof Error ? err.message : String(err)}): ${EXPORT_HINT}`, err);
    }
    const fail = async (e: TickerpulseError): Promise<never> => {
      await session.release().catch(() => undefined);
      throw e;
    };
    const extra = session.inputNames.filter((n) => !KNOWN_INPUTS.includes(n));
    if (!session.inputNames.includes('input_ids') || extra.length) {
      await fail(
        unsupported(
          `${files.model} declares inputs [${session.inputNames.join(', ')}]; tickerpulse feeds input_ids (required), attention_mask and token_type_ids` +
            (extra.length ? ` and cannot supply ${extra.join(', ')}` : '') +
            ` — ${EXPORT_HINT} (a text-classification export, without past key values)`,
        ),
      );
    }
    const meta = (session as { inputMetadata?: ReadonlyArray<{ name: string; isTensor: boolean; type?: string }> }).inputMetadata;
    for (const m of meta ?? []) {
      if (!m.isTensor || (m.type && m.type !== 'int64' && m.type !== 'int32')) await fail(unsupported(`${files.model}: input ${m.name} is ${m.isTensor ? m.type : 'not a tensor'}; tickerpulse feeds int64 (or int32) id tensors as optimum exports them — ${EXPORT_HINT}`));
    }
    const output = session.outputNames.includes('logits') ? 'logits' : session.outputNames.length === 1 ? session.outputNames[0] : null;
    if (output === null) await fail(unsupported(`${files.model} has outputs [${session.outputNames.join(', ')}] and none is named logits — ${EXPORT_HINT}`));

    const hash = createHash('sha256');
    await sha256File(files.model, hash);
    await sha256File(files.tokenizer, hash);
    await sha256File(files.config, hash);
    const id = `hf-${basename(dir)}-${hash.digest('hex').slice(0, 12)}`;
    const model = new HfModel({ dir, id, tokenizer, labels, numLabels, maxLength, stride: opts.stride ?? DEFAULT_STRIDE, session, output: output! });
    // Probe: one short text and the highest vocabulary id must run and give [1, numLabels]
    // (catches a tokenizer.json from another model, a wrong output shape, an id2label that
    // does not match the head).
    try {
      const maxId = tokenizer.idToToken.length - 1;
      const row = tokenizer.wrap([...tokenizer.encode('probe').ids, maxId].slice(0, maxLength - tokenizer.specialCount));
      const logits = await model.runRows([row]);
      if (logits.length !== numLabels) throw new Error(`output ${output} has ${logits.length} values per row, config.json id2label has ${numLabels} labels`);
    } catch (err) {
      await fail(unsupported(`${dir}: model.onnx, tokenizer.json and config.json do not fit together (${err instanceof Error ? err.message : String(err)}): ${EXPORT_HINT}`, err));
    }
    return model;
  }

  /** One session.run over padded rows; returns the raw output values, row-major. */
  private async runRows(rows: ReadonlyArray<{ ids: number[]; typeIds: number[] }>): Promise<Float32Array> {
    const pb = padBatch(rows, this.tokenizer.padId);
    const dims = [pb.batch, pb.length];
    const tensor = (name: string, data: BigInt64Array) => (this.int32Inputs.has(name) ? new Tensor('int32', Int32Array.from(data, Number), dims) : new Tensor('int64', data, dims));
    const feeds: Record<string, Tensor> = { input_ids: tensor('input_ids', pb.inputIds) };
    if (this.feeds.attentionMask) feeds.attention_mask = tensor('attention_mask', pb.attentionMask);
    if (this.feeds.tokenTypeIds) feeds.token_type_ids = tensor('token_type_ids', pb.tokenTypeIds);
    const out = await this.session.run(feeds);
    const t = out[this.output];
    if (!t || t.dims.length !== 2 || t.dims[0] !== pb.batch) throw new Error(`output ${this.output} has shape [${t?.dims.join(', ')}], expected [batch, labels]`);
    return t.data as Float32Array;
  }

  /** Classify texts; one Prediction per text, in order. */
  async classify(texts: readonly string[]): Promise<Prediction[]> {
    if (texts.length === 0) return [];
    const capacity = this.maxLength - this.tokenizer.specialCount;
    const rows: Array<{ ids: number[]; typeIds: number[]; text: number }> = [];
    for (let i = 0; i < texts.length; i++) {
      const s = typeof texts[i] === 'string' ? texts[i] : String(texts[i] ?? '');
      const ids = this.tokenizer.encode(s.length > HF_MAX_TEXT_CHARS ? s.slice(0, HF_MAX_TEXT_CHARS) : s).ids;
      for (const w of splitWindows(ids, capacity, this.stride, MAX_WINDOWS)) rows.push({ ...this.tokenizer.wrap(w), text: i });
    }
    // Similar lengths share a run, so padding to the longest row wastes little.
    const order = rows.map((_, k) => k).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
    const sums = new Float64Array(texts.length * 3);
    const counts = new Uint32Array(texts.length);
    const L = this.numLabels;
    try {
      for (let s = 0; s < order.length; s += HF_MAX_BATCH_ROWS) {
        const chunk = order.slice(s, s + HF_MAX_BATCH_ROWS).map((k) => rows[k]);
        const logits = await this.runRows(chunk);
        if (logits.length !== chunk.length * L) throw new Error(`output has ${logits.length / chunk.length} values per row, expected ${L}`);
        chunk.forEach((r, b) => {
          const p = softmax(logits, b * L, L);
          sums[r.text * 3] += p[this.labels.neg];
          sums[r.text * 3 + 1] += this.labels.neu === null ? 0 : p[this.labels.neu];
          sums[r.text * 3 + 2] += p[this.labels.pos];
          counts[r.text]++;
        });
      }
    } catch (err) {
      throw new TickerpulseError('MODEL_RUN_FAILED', `model ${this.id} failed on a batch of ${texts.length}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retryable: false });
    }
    const preds: Prediction[] = new Array(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const c = counts[i] || 1;
      preds[i] = toPrediction(sums[i * 3] / c, sums[i * 3 + 1] / c, sums[i * 3 + 2] / c);
    }
    return preds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Softmax of `n` logits at `off`, in double precision. */
export function softmax(x: ArrayLike<number>, off: number, n: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[off + i]);
  const e: number[] = [];
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.exp(x[off + i] - max);
    e.push(v);
    s += v;
  }
  return e.map((v) => v / s);
}

const ROBERTA_LIKE = new Set(['roberta', 'xlm-roberta', 'camembert', 'bart', 'longformer']);

/** Window length from the model files: tokenizer_config model_max_length, else config max_position_embeddings, else 512. */
export function modelMaxLength(config: Record<string, any>, tokConfig: Record<string, any> = {}): number {
  const mml = tokConfig.model_max_length;
  if (Number.isInteger(mml) && mml > 0 && mml < 1_000_000) return mml;
  const mpe = config.max_position_embeddings;
  if (Number.isInteger(mpe) && mpe > 2) {
    // RoBERTa-family position ids start after the padding index: 514 positions → 512 tokens.
    return ROBERTA_LIKE.has(String(config.model_type)) ? mpe - 2 : mpe;
  }
  return 512;
}
