/**
 * Long inputs: a text whose tokens do not fit the model's window is cut into overlapping windows
 * (consecutive windows share `stride` tokens, as the `stride` of Hugging Face tokenizers), each
 * window is classified on its own and the text's probabilities are the mean over its windows.
 */

/** Default overlap, in tokens, between consecutive windows of a long text. */
export const DEFAULT_STRIDE = 64;
/** At most this many windows per text (the rest of a very long text is not read). */
export const MAX_WINDOWS = 32;

/**
 * Split content ids (no special tokens) into windows of at most `capacity` ids, consecutive
 * windows overlapping by `stride` ids (clamped to capacity / 2 so a window always advances).
 * An empty text is one empty window.
 */
export function splitWindows(ids: readonly number[], capacity: number, stride: number, maxWindows = MAX_WINDOWS): number[][] {
  if (capacity < 1) throw new RangeError(`window capacity must be ≥ 1, got ${capacity}`);
  if (ids.length <= capacity) return [ids.slice()];
  const overlap = Math.max(0, Math.min(Math.floor(stride), Math.floor(capacity / 2)));
  const step = capacity - overlap;
  const out: number[][] = [];
  for (let start = 0; out.length < maxWindows; start += step) {
    out.push(ids.slice(start, start + capacity));
    if (start + capacity >= ids.length) break;
  }
  return out;
}

/** Padded batch tensors (right padding to the longest row), int64 as the exported graphs expect. */
export interface PaddedBatch {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

export function padBatch(rows: ReadonlyArray<{ ids: readonly number[]; typeIds: readonly number[] }>, padId: number): PaddedBatch {
  const batch = rows.length;
  let length = 1;
  for (const r of rows) length = Math.max(length, r.ids.length);
  const inputIds = new BigInt64Array(batch * length).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * length);
  const tokenTypeIds = new BigInt64Array(batch * length);
  rows.forEach((r, b) => {
    for (let j = 0; j < r.ids.length; j++) {
      inputIds[b * length + j] = BigInt(r.ids[j]);
      attentionMask[b * length + j] = 1n;
      tokenTypeIds[b * length + j] = BigInt(r.typeIds[j] ?? 0);
    }
  });
  return { batch, length, inputIds, attentionMask, tokenTypeIds };
}
