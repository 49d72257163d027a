/**
 * Entry point of a source's own worker thread (a piscina pool with exactly one thread per
 * source). It does the two jobs that must not run on the daemon's event loop: parsing the
 * untrusted bytes a source fetched, and classifying that source's items. Named exports are
 * selected with `pool.run(task, { name })`.
 */
import { workerData } from 'node:worker_threads';
import { toWireError, type WireError } from '../src/lib/errors.js';
import type { RawItem } from '../src/lib/types.js';
import { parseFeedDocumentWithMeta } from './feedParser.js';
import { maybeInjectFault } from './faults.js';

export { classify } from './classify.js';

export interface ParseTask {
  body: Uint8Array;
  meta: { contentType: string | null; url: string; fetchedAt: string };
}

/** `ttlMinutes`: the RSS channel <ttl> (null when absent), a floor on the next poll. */
export type ParseReply = { ok: true; items: RawItem[]; ttlMinutes: number | null } | WireError;

export async function parseFeed(task: ParseTask): Promise<ParseReply> {
  try {
    maybeInjectFault('parse', (workerData ?? {}) as { sourceId?: string });
    const { items, ttlMinutes } = await parseFeedDocumentWithMeta(task.body, task.meta);
    return { ok: true, items, ttlMinutes };
  } catch (err) {
    return toWireError(err, 'FEED_PARSE_FAILED');
  }
}
