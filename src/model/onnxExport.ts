/**
 * The linear model as an ONNX graph (opset 13), built with onnx-proto (a devDependency: only
 * training and tests import this module; serving just opens the .onnx file).
 *
 *   ids    int64   [batch, width]  model rows, padded with 0
 *   values float32 [batch, width]  feature values, padded with 0
 *
 *   Gather(weights [rows, cols], ids) ─▶ [Cast f16→f32] ─▶ Mul(·, Unsqueeze(values, 2))
 *     ─▶ ReduceSum(axis 1) ─▶ Add(bias) ─▶ logits [batch, 3] ─▶ Softmax ─▶ probabilities [batch, 3]
 *
 * Gated mixture (heads = 1 + K): the weight row holds 3 columns per head (shared head first)
 * followed by K gate columns; domains = Softmax(gate columns), logits = shared +
 * ReduceSum(Reshape(heads, [-1, K, 3]) · Unsqueeze(domains, 2), axis 1).
 * Probabilities are in the order negative, neutral, positive.
 */
import onnxProto from 'onnx-proto';
import { floatToHalf, halfToFloat, type LinearModel } from './linear.js';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const INPUT_IDS = 'ids';
export const INPUT_VALUES = 'values';
export const OUTPUT_PROBS = 'probabilities';
export const OUTPUT_LOGITS = 'logits';
/** Gate posteriors p(domain | text), only in gated models. */
export const OUTPUT_DOMAINS = 'domains';

export interface ExportOptions {
  /** Store weights as float16 (half the size; the graph casts back to float32). Default true. */
  float16?: boolean;
  /** Free-form key/value pairs stored as model metadata. */
  metadata?: Record<string, string>;
  docString?: string;
}

function int64Tensor(name: string, values: number[]): ITensorProto {
  return { name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], int64Data: values };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Weights the graph actually computes with (float16-rounded when stored as float16). */
export function effectiveModel(model: LinearModel, float16 = true): LinearModel {
  if (!float16) return model;
  const round = (a: Float32Array): Float32Array => {
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = halfToFloat(floatToHalf(a[i]));
    return out;
  };
  const m: LinearModel = { dim: model.dim, heads: model.heads, W: round(model.W), b: Float32Array.from(model.b) };
  if (model.gateW && model.gateB) {
    m.gateW = round(model.gateW);
    m.gateB = Float32Array.from(model.gateB);
  }
  return m;
}

/** Columns per weight row: 3 per expert head, then K gate columns. */
function layout(model: LinearModel): { H: number; K: number; cols: number } {
  const H = model.heads;
  const K = H > 1 ? H - 1 : 0;
  if (K > 0 && (!model.gateW || !model.gateB || model.gateW.length !== model.dim * K)) throw new Error('exportOnnx: gated model without gate weights');
  return { H, K, cols: 3 * H + K };
}

export function exportOnnx(model: LinearModel, opts: ExportOptions = {}): Uint8Array {
  const f16 = opts.float16 ?? true;
  const T = onnx.TensorProto.DataType;
  const INT = onnx.AttributeProto.AttributeType.INT;
  const rows = model.dim;
  const { H, K, cols } = layout(model);
  const combined = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < 3 * H; q++) combined[r * cols + q] = model.W[r * 3 * H + q];
    for (let d = 0; d < K; d++) combined[r * cols + 3 * H + d] = model.gateW![r * K + d];
  }
  const biasAll = Float32Array.from([...model.b, ...(K > 0 ? model.gateB! : [])]);
  let weights: ITensorProto;
  if (f16) {
    const raw = new Uint8Array(rows * cols * 2);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < rows * cols; i++) view.setUint16(i * 2, floatToHalf(combined[i]), true);
    weights = { name: 'weights', dataType: T.FLOAT16, dims: [rows, cols], rawData: raw };
  } else {
    weights = { name: 'weights', dataType: T.FLOAT, dims: [rows, cols], rawData: new Uint8Array(combined.buffer) };
  }
  const bias: ITensorProto = { name: 'bias', dataType: T.FLOAT, dims: [cols], rawData: new Uint8Array(biasAll.buffer) };
  const inits: ITensorProto[] = [weights, bias, int64Tensor('axes_1', [1]), int64Tensor('axes_2', [2])];

  const nodes: onnxProto.onnx.INodeProto[] = [];
  nodes.push({ opType: 'Gather', input: ['weights', INPUT_IDS], output: ['gathered'], name: 'gather', attribute: [{ name: 'axis', type: INT, i: 0 }] });
  let g = 'gathered';
  if (f16) {
    nodes.push({ opType: 'Cast', input: ['gathered'], output: ['gathered_f32'], name: 'cast', attribute: [{ name: 'to', type: INT, i: T.FLOAT }] });
    g = 'gathered_f32';
  }
  nodes.push({ opType: 'Unsqueeze', input: [INPUT_VALUES, 'axes_2'], output: ['values_3d'], name: 'unsqueeze' });
  nodes.push({ opType: 'Mul', input: [g, 'values_3d'], output: ['weighted'], name: 'mul' });
  nodes.push({ opType: 'ReduceSum', input: ['weighted', 'axes_1'], output: ['summed'], name: 'reduce_sum', attribute: [{ name: 'keepdims', type: INT, i: 0 }] });
  const outputs = [valueInfo(OUTPUT_PROBS, T.FLOAT, ['batch', 3]), valueInfo(OUTPUT_LOGITS, T.FLOAT, ['batch', 3])];
  if (K === 0) {
    nodes.push({ opType: 'Add', input: ['summed', 'bias'], output: [OUTPUT_LOGITS], name: 'add_bias' });
  } else {
    // shared head + Σ_k gate_k · head_k
    inits.push(
      int64Tensor('s_shared', [0]), int64Tensor('e_shared', [3]),
      int64Tensor('s_heads', [3]), int64Tensor('e_heads', [3 * H]),
      int64Tensor('s_gate', [3 * H]), int64Tensor('e_gate', [3 * H + K]),
      int64Tensor('heads_shape', [-1, K, 3]),
    );
    nodes.push({ opType: 'Add', input: ['summed', 'bias'], output: ['all_logits'], name: 'add_bias' });
    nodes.push({ opType: 'Slice', input: ['all_logits', 's_shared', 'e_shared', 'axes_1'], output: ['shared_logits'], name: 'slice_shared' });
    nodes.push({ opType: 'Slice', input: ['all_logits', 's_heads', 'e_heads', 'axes_1'], output: ['head_logits_flat'], name: 'slice_heads' });
    nodes.push({ opType: 'Slice', input: ['all_logits', 's_gate', 'e_gate', 'axes_1'], output: ['gate_logits'], name: 'slice_gate' });
    nodes.push({ opType: 'Softmax', input: ['gate_logits'], output: [OUTPUT_DOMAINS], name: 'gate_softmax', attribute: [{ name: 'axis', type: INT, i: -1 }] });
    nodes.push({ opType: 'Reshape', input: ['head_logits_flat', 'heads_shape'], output: ['head_logits'], name: 'reshape_heads' });
    nodes.push({ opType: 'Unsqueeze', input: [OUTPUT_DOMAINS, 'axes_2'], output: ['gate_3d'], name: 'unsqueeze_gate' });
    nodes.push({ opType: 'Mul', input: ['head_logits', 'gate_3d'], output: ['gated_heads'], name: 'mul_gate' });
    nodes.push({ opType: 'ReduceSum', input: ['gated_heads', 'axes_1'], output: ['mixed_logits'], name: 'sum_heads', attribute: [{ name: 'keepdims', type: INT, i: 0 }] });
    nodes.push({ opType: 'Add', input: ['shared_logits', 'mixed_logits'], output: [OUTPUT_LOGITS], name: 'add_shared' });
    outputs.push(valueInfo(OUTPUT_DOMAINS, T.FLOAT, ['batch', K]));
  }
  nodes.push({ opType: 'Softmax', input: [OUTPUT_LOGITS], output: [OUTPUT_PROBS], name: 'softmax', attribute: [{ name: 'axis', type: INT, i: -1 }] });

  const graph: onnxProto.onnx.IGraphProto = {
    name: 'tickerpulse_sentiment',
    node: nodes,
    initializer: inits,
    input: [valueInfo(INPUT_IDS, T.INT64, ['batch', 'width']), valueInfo(INPUT_VALUES, T.FLOAT, ['batch', 'width'])],
    output: outputs,
  };
  const metadata = { labels: 'negative,neutral,positive', heads: String(H), ...(opts.metadata ?? {}) };
  const m = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'tickerpulse',
    producerVersion: '1',
    docString: opts.docString ?? 'tickerpulse finance sentiment: gated linear softmax over hashed features (see MODEL_CARD.md)',
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(m).finish();
}

/** Recover the weights from an exported graph (for tests and diagnostics). */
export function readOnnxWeights(bytes: Uint8Array): LinearModel {
  const m = onnx.ModelProto.decode(bytes);
  const inits = m.graph?.initializer ?? [];
  const w = inits.find((t) => t.name === 'weights');
  const b = inits.find((t) => t.name === 'bias');
  if (!w || !b || !w.dims || !w.rawData || !b.rawData) throw new Error('readOnnxWeights: no weights/bias initializer with raw data');
  const rows = Number(w.dims[0]);
  const cols = Number(w.dims[1]);
  const K = cols === 3 ? 0 : (cols - 3) / 4;
  if (!Number.isInteger(K) || K < 0) throw new Error(`readOnnxWeights: unexpected weight width ${cols}`);
  const H = K + 1;
  const raw = w.rawData;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const get = w.dataType === onnx.TensorProto.DataType.FLOAT16 ? (i: number) => halfToFloat(view.getUint16(i * 2, true)) : (i: number) => view.getFloat32(i * 4, true);
  const W = new Float32Array(rows * 3 * H);
  const gateW = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < 3 * H; q++) W[r * 3 * H + q] = get(r * cols + q);
    for (let d = 0; d < K; d++) gateW[r * K + d] = get(r * cols + 3 * H + d);
  }
  const braw = b.rawData;
  const bview = new DataView(braw.buffer, braw.byteOffset, braw.byteLength);
  const all = Array.from({ length: cols }, (_, i) => bview.getFloat32(i * 4, true));
  const model: LinearModel = { dim: rows, heads: H, W, b: Float32Array.from(all.slice(0, 3 * H)) };
  if (K > 0) {
    model.gateW = gateW;
    model.gateB = Float32Array.from(all.slice(3 * H));
  }
  return model;
}
