/**
 * Softmax regression on sparse hashed features, trained full-batch with L-BFGS on the weighted
 * cross-entropy + L2. One L-BFGS iteration is one pass over the data ("epoch"). Deterministic:
 * no random state at all, so the same data always gives the same weights.
 *
 * The sentiment model is a gated mixture of linear experts (heads):
 *   g(x)      = softmax(G·x + c)                      domain gate, K domains (absent when heads = 1)
 *   logits(x) = (W₀·x + b₀) + Σ_k g_k(x) (W_k·x + b_k)  shared head 0 + one head per domain
 *   p(x)      = softmax(logits(x))                    [negative, neutral, positive]
 * With fixed gate posteriors the expert objective is convex in W, so it is trained as one
 * softmax regression whose per-example head coefficients γ = [1, g₁ … g_K] are given.
 *
 * Row 0 of every weight matrix is the padding row (all zero, never updated): the ONNX graph
 * pads every batch with id 0 / value 0.
 */

/** Sparse rows in CSR form. Feature ids are model rows (1 … dim-1). */
export interface Dataset {
  n: number;
  /** Number of weight rows including the padding row 0. */
  dim: number;
  indptr: Int32Array;
  idx: Int32Array;
  val: Float32Array;
  y: Uint8Array;
  weight: Float64Array;
}

export interface LinearModel {
  dim: number;
  /** Expert heads: 1 (plain softmax regression) or 1 + K (shared head + one per gate domain). */
  heads: number;
  /** dim × heads × 3, row-major: W[(row * heads + head) * 3 + class]. */
  W: Float32Array;
  /** heads × 3. */
  b: Float32Array;
  /** Gate weights dim × K (only when heads > 1), bias K. */
  gateW?: Float32Array;
  gateB?: Float32Array;
}

export interface SoftmaxOptions {
  classes: number;
  /** Heads per row (default 1); with heads > 1, `gamma` gives each example's head coefficients. */
  heads?: number;
  /** n × heads coefficients (row-major). */
  gamma?: Float64Array;
  /** L2 strength on the weights (bias unregularised). */
  l2: number;
  /** Optional per-head multiplier of l2. */
  l2Head?: number[];
  /** Optional per-row multiplier of l2 (length dim). */
  l2Row?: Float64Array;
  maxIter?: number;
  /** Stop when the relative objective decrease over 5 iterations falls below this. */
  tol?: number;
  /** L-BFGS history size. */
  history?: number;
  onEpoch?: (epoch: number, loss: number, gradNorm: number) => void;
}

export interface SoftmaxWeights {
  W: Float32Array;
  b: Float32Array;
}

export function buildDataset(rows: { ids: ArrayLike<number>; values: ArrayLike<number> }[], y: ArrayLike<number>, weight: ArrayLike<number>, dim: number): Dataset {
  const n = rows.length;
  const indptr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) indptr[i + 1] = indptr[i] + rows[i].ids.length;
  const idx = new Int32Array(indptr[n]);
  const val = new Float32Array(indptr[n]);
  for (let i = 0; i < n; i++) {
    const { ids, values } = rows[i];
    for (let k = 0; k < ids.length; k++) {
      idx[indptr[i] + k] = ids[k];
      val[indptr[i] + k] = values[k];
    }
  }
  return { n, dim, indptr, idx, val, y: Uint8Array.from(y), weight: Float64Array.from(weight) };
}

/** In-place numerically stable softmax over z[0..c). */
export function softmaxInPlace(z: number[] | Float64Array, c = z.length): void {
  let m = -Infinity;
  for (let k = 0; k < c; k++) if (z[k] > m) m = z[k];
  let s = 0;
  for (let k = 0; k < c; k++) {
    z[k] = Math.exp(z[k] - m);
    s += z[k];
  }
  for (let k = 0; k < c; k++) z[k] /= s;
}

/** Gate posteriors g(x) (length K) of a model with heads > 1. */
export function gateProbs(model: LinearModel, ids: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const K = model.heads - 1;
  if (K <= 0 || !model.gateW || !model.gateB) return [];
  const g = Array.from(model.gateB);
  for (let k = 0; k < ids.length; k++) {
    const r = ids[k] * K;
    const v = values[k];
    for (let d = 0; d < K; d++) g[d] += v * model.gateW[r + d];
  }
  softmaxInPlace(g);
  return g;
}

/** The model's forward pass on one feature list: probabilities [neg, neu, pos]. */
export function forward(model: LinearModel, ids: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const H = model.heads;
  const gamma = H > 1 ? [1, ...gateProbs(model, ids, values)] : [1];
  const z = [0, 0, 0];
  for (let h = 0; h < H; h++) {
    let z0 = model.b[h * 3];
    let z1 = model.b[h * 3 + 1];
    let z2 = model.b[h * 3 + 2];
    for (let k = 0; k < ids.length; k++) {
      const r = (ids[k] * H + h) * 3;
      const v = values[k];
      z0 += v * model.W[r];
      z1 += v * model.W[r + 1];
      z2 += v * model.W[r + 2];
    }
    z[0] += gamma[h] * z0;
    z[1] += gamma[h] * z1;
    z[2] += gamma[h] * z2;
  }
  softmaxInPlace(z);
  return z;
}

/** Objective and gradient at θ = [W (dim × H × C) | b (H × C)]. */
function objective(ds: Dataset, theta: Float64Array, o: SoftmaxOptions, grad: Float64Array): number {
  const C = o.classes;
  const H = o.heads ?? 1;
  const HC = H * C;
  const wEnd = ds.dim * HC;
  grad.fill(0);
  let wsum = 0;
  for (let i = 0; i < ds.n; i++) wsum += ds.weight[i];
  const inv = wsum > 0 ? 1 / wsum : 0;
  let loss = 0;
  const z = new Float64Array(C);
  const hz = new Float64Array(HC);
  const gam = new Float64Array(H);
  for (let i = 0; i < ds.n; i++) {
    for (let h = 0; h < H; h++) gam[h] = o.gamma ? o.gamma[i * H + h] : 1;
    for (let q = 0; q < HC; q++) hz[q] = theta[wEnd + q];
    const a = ds.indptr[i];
    const e = ds.indptr[i + 1];
    for (let k = a; k < e; k++) {
      const r = ds.idx[k] * HC;
      const v = ds.val[k];
      for (let q = 0; q < HC; q++) hz[q] += v * theta[r + q];
    }
    z.fill(0);
    for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) z[c] += gam[h] * hz[h * C + c];
    softmaxInPlace(z, C);
    const y = ds.y[i];
    const w = ds.weight[i] * inv;
    loss -= w * Math.log(Math.max(z[y], 1e-300));
    z[y] -= 1;
    // dL/dθ[h, c] = w · γ_h · (p_c − y_c)
    for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) hz[h * C + c] = w * gam[h] * z[c];
    for (let q = 0; q < HC; q++) grad[wEnd + q] += hz[q];
    for (let k = a; k < e; k++) {
      const r = ds.idx[k] * HC;
      const v = ds.val[k];
      for (let q = 0; q < HC; q++) grad[r + q] += v * hz[q];
    }
  }
  let reg = 0;
  for (let j = 1; j < ds.dim; j++) {
    const lr = o.l2Row ? o.l2 * o.l2Row[j] : o.l2;
    for (let h = 0; h < H; h++) {
      const lj = o.l2Head ? lr * o.l2Head[h] : lr;
      const base = (j * H + h) * C;
      for (let c = 0; c < C; c++) {
        const t = theta[base + c];
        reg += lj * t * t;
        grad[base + c] += lj * t;
      }
    }
  }
  // the padding row never moves
  for (let q = 0; q < HC; q++) grad[q] = 0;
  return loss + 0.5 * reg;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Train by L-BFGS (two-loop recursion, backtracking Armijo line search). */
export function trainSoftmax(ds: Dataset, opts: SoftmaxOptions): SoftmaxWeights {
  const maxIter = opts.maxIter ?? 300;
  const tol = opts.tol ?? 1e-6;
  const m = opts.history ?? 8;
  const HC = (opts.heads ?? 1) * opts.classes;
  const size = ds.dim * HC + HC;
  const x = new Float64Array(size);
  const g = new Float64Array(size);
  let f = objective(ds, x, opts, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(size);
  const alpha = new Array<number>(m).fill(0);
  const xNew = new Float64Array(size);
  const gNew = new Float64Array(size);
  const history: number[] = [f];
  for (let iter = 1; iter <= maxIter; iter++) {
    // d = -H g
    for (let i = 0; i < size; i++) d[i] = -g[i];
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dot(S[j], d);
      const yj = Y[j];
      for (let i = 0; i < size; i++) d[i] -= alpha[j] * yj[i];
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < size; i++) d[i] *= gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      if (gn === 0) break;
      for (let i = 0; i < size; i++) d[i] /= gn;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j] * dot(Y[j], d);
      const sj = S[j];
      for (let i = 0; i < size; i++) d[i] += sj[i] * (alpha[j] - beta);
    }
    let gd = dot(g, d);
    if (!(gd < 0)) {
      // not a descent direction: restart from steepest descent
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < size; i++) d[i] = -g[i];
      gd = dot(g, d);
    }
    let step = 1;
    let fNew = 0;
    for (let ls = 0; ; ls++) {
      for (let i = 0; i < size; i++) xNew[i] = x[i] + step * d[i];
      fNew = objective(ds, xNew, opts, gNew);
      if (fNew <= f + 1e-4 * step * gd || ls >= 30) break;
      step *= 0.5;
    }
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = xNew[i] - x[i];
      yv[i] = gNew[i] - g[i];
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    x.set(xNew);
    g.set(gNew);
    f = fNew;
    history.push(f);
    opts.onEpoch?.(iter, f, Math.sqrt(dot(g, g)));
    if (history.length > 6) {
      const old = history[history.length - 6];
      if ((old - f) / Math.max(Math.abs(f), 1e-12) < tol) break;
    }
  }
  const wEnd = ds.dim * HC;
  const W = new Float32Array(wEnd);
  for (let i = HC; i < wEnd; i++) W[i] = x[i];
  return { W, b: Float32Array.from(x.subarray(wEnd)) };
}

/** Round every weight through float16 (what the exporter stores). */
export function roundToFloat16(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = halfToFloat(floatToHalf(a[i]));
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary32 → binary16 bits (round to nearest even). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
