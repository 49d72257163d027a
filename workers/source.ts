/**
 * Entry point of a source's own worker thread (a piscina pool with exactly one thread per
 * source). It does the two jobs that must not run on the daemon's event loop: parsing the
 * untrusted bytes a source fetched (feeds: `parseFeed`; JSON APIs: `parseJson`; WebSocket
 * message batches: `parseJsonMessages`; JSONL lines: `parseJsonlLines`), and classifying that source's items. Named exports are
 * selected with `pool.run(task, { name })`.
 */
import { getHeapStatistics } from 'node:v8';
import { workerData } from 'node:worker_threads';
import { TickerpulseError, toWireError, type WireError } from '../src/lib/errors.js';
import { formatBytes, PARSE_HEAP_FACTOR } from '../src/lib/bodyHeap.js';
import type { RawItem } from '../src/lib/types.js';
import { parseFeedDocumentWithMeta } from './feedParser.js';
import { mapJsonDocument, mapJsonMessages, type JsonDocumentResult, type JsonMapping, type JsonMessagesResult, type MapMeta } from './jsonMap.js';
import { maybeInjectFault } from './faults.js';
import { parseJsonlLines as parseLines, type JsonlLinesResult, type JsonlLinesTask } from './jsonlLines.js';
import { firstPage, nextPage } from './pages.js';

export { classify } from './classify.js';

/**
 * FEED_TOO_LARGE before parsing a body this thread's heap cap could not hold parsed
 * (src/lib/bodyHeap.ts): the config check makes this rare (e.g. a larger per-source
 * maxBodyBytes on a thread started with a smaller cap); without it the parse would end with the
 * thread killed at its heap limit and the poll retried into the same wall.
 */
function assertFitsHeap(body: Uint8Array, url: string): void {
  const limit = Math.floor(getHeapStatistics().heap_size_limit / PARSE_HEAP_FACTOR);
  if (body.byteLength > limit) {
    throw new TickerpulseError('FEED_TOO_LARGE', `feed body from ${url} (${formatBytes(body.byteLength)}) is more than a quarter of the worker heap (${formatBytes(limit)} of ${formatBytes(getHeapStatistics().heap_size_limit)}): raise limits.workerHeapMb or lower maxBodyBytes`, {
      details: { bytes: body.byteLength, limit },
    });
  }
}

export interface ParseTask {
  body: Uint8Array;
  meta: { contentType: string | null; url: string; fetchedAt: string };
  /** Items in the reply at most; the rest are held here for `takePage` (workers/pages.ts). */
  pageSize?: number;
}

/**
 * `ttlMinutes`: the RSS channel <ttl> (null when absent), a floor on the next poll. `more`: the
 * token of the items not in this reply (null: all are), `total`: all items of the document.
 */
export type ParseReply = { ok: true; items: RawItem[]; ttlMinutes: number | null; more: number | null; total: number } | WireError;

export async function parseFeed(task: ParseTask): Promise<ParseReply> {
  try {
    maybeInjectFault('parse', (workerData ?? {}) as { sourceId?: string });
    assertFitsHeap(task.body, task.meta.url);
    const { items, ttlMinutes } = await parseFeedDocumentWithMeta(task.body, task.meta);
    return { ok: true, ttlMinutes, ...firstPage(items, task.pageSize) };
  } catch (err) {
    return toWireError(err, 'FEED_PARSE_FAILED');
  }
}

export interface TakePageTask {
  token: number;
  pageSize: number;
}

export type TakePageReply = { ok: true; items: RawItem[]; more: boolean } | WireError;

/** The next page of a parse result held by parseFeed / parseJson. */
export async function takePage(task: TakePageTask): Promise<TakePageReply> {
  const page = nextPage(task.token, task.pageSize);
  if (!page) return { ok: false, code: 'INTERNAL', message: `no parse result ${task.token} is held (a newer parse replaced it)`, retryable: false };
  return { ok: true, ...page };
}

export interface ParseJsonTask {
  body: Uint8Array;
  meta: MapMeta;
  mapping: JsonMapping;
  /** As ParseTask.pageSize. */
  pageSize?: number;
}

export type ParseJsonReply = ({ ok: true; more: number | null; total: number } & JsonDocumentResult) | WireError;

/** A JSON document fetched by a `json` source → items (workers/jsonMap.ts `mapJsonDocument`). */
export async function parseJson(task: ParseJsonTask): Promise<ParseJsonReply> {
  try {
    maybeInjectFault('parse', (workerData ?? {}) as { sourceId?: string });
    assertFitsHeap(task.body, task.meta.url ?? 'the JSON API');
    const r = mapJsonDocument(task.body, task.mapping, task.meta);
    return { ok: true, skipped: r.skipped, firstSkipped: r.firstSkipped, ...firstPage(r.items, task.pageSize) };
  } catch (err) {
    return toWireError(err, 'JSON_PARSE_FAILED');
  }
}

/** A batch of WebSocket messages, concatenated into one transferable buffer: `lengths[i]` bytes each, in order. */
export interface ParseJsonMessagesTask {
  data: Uint8Array;
  lengths: number[];
  meta: MapMeta;
  mapping: JsonMapping;
}

export type ParseJsonMessagesReply = ({ ok: true } & JsonMessagesResult) | WireError;

/** Stream messages received by a `websocket` source → items (workers/jsonMap.ts `mapJsonMessages`). */
export async function parseJsonMessages(task: ParseJsonMessagesTask): Promise<ParseJsonMessagesReply> {
  try {
    maybeInjectFault('parse', (workerData ?? {}) as { sourceId?: string });
    const messages: Uint8Array[] = [];
    let off = 0;
    for (const len of task.lengths) {
      messages.push(task.data.subarray(off, off + len));
      off += len;
    }
    return { ok: true, ...mapJsonMessages(messages, task.mapping, task.meta) };
  } catch (err) {
    return toWireError(err, 'JSON_PARSE_FAILED');
  }
}

export type ParseJsonlLinesReply = ({ ok: true } & JsonlLinesResult) | WireError;

/** A chunk of a `jsonl` source's lines → items (workers/jsonlLines.ts); bad lines are reported in the result, not thrown. */
export async function parseJsonlLines(task: JsonlLinesTask): Promise<ParseJsonlLinesReply> {
  try {
    maybeInjectFault('parse', (workerData ?? {}) as { sourceId?: string });
    return { ok: true, ...parseLines(task) };
  } catch (err) {
    return toWireError(err, 'INPUT_INVALID');
  }
}
