import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * Feeds a file into `hash` in small chunks. The model loaders hash the .onnx file for the model
 * id and let ONNX Runtime read it by path: holding the whole file in a JS buffer as well cost
 * every worker thread its size again in RSS (~5 MiB for the sentiment model), long after the
 * buffer was garbage.
 */
export async function hashFileInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) hash.update(chunk as Buffer);
}
