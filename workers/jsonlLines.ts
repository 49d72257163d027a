/**
 * JSONL lines → items: the per-line work of a `jsonl` source (UTF-8 decoding, JSON.parse, text
 * cleaning, guid), run on the source's worker thread (`parseJsonlLines` in workers/source.ts) so
 * the daemon's event loop only splits lines and keeps the resume cursor (sources/jsonl.ts).
 * Pure and synchronous: the source falls back to calling it in-process when it has no worker
 * (direct callers, tests).
 */
import { isUtf8 } from 'node:buffer';
import type { RawItem } from '../src/lib/types.js';
import { canonicalizeUrl, cleanText, stableGuid, truncate, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS } from './feedParser.js';
import { coerceDate } from './jsonMap.js';

/** One JSONL line → RawItem, or the reason it is invalid. */
export function parseJsonlLine(line: string, fetchedAt: string): RawItem | string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return `invalid JSON (${(err as Error).message})`;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'not a JSON object';
  const o = obj as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
  const hasTitle = str(o.title).trim() !== '';
  const title = truncate(cleanText(hasTitle ? str(o.title) : str(o.text)), TITLE_MAX_CHARS);
  if (!title) return 'no "title" or "text"';
  const url = canonicalizeUrl(str(o.url));
  // ISO/RFC 822 string, or epoch ms / s (a number below 1e11 is read as epoch seconds).
  const publishedAt = coerceDate(o.publishedAt);
  const summaryText = str(o.summary) || (hasTitle ? str(o.text) : '');
  const summary = truncate(cleanText(summaryText), SUMMARY_MAX_CHARS) || null;
  const guid = stableGuid(str(o.id), url, title, publishedAt);
  const item: RawItem = { guid, url, title, summary, publishedAt: publishedAt ?? fetchedAt };
  if (!publishedAt) item.dateMissing = true;
  return item;
}

/** Lines of one chunk, concatenated: line i is `data[ends[i-1] .. ends[i])` (without its newline). */
export interface JsonlLinesTask {
  data: Uint8Array;
  ends: Uint32Array;
  /** The first line is the file's first: a UTF-8 byte order mark before it is dropped. */
  bomFirst: boolean;
  fetchedAt: string;
}

export interface JsonlLinesResult {
  /** Items in line order. */
  items: RawItem[];
  /** Invalid lines: the line's index in the task and why. */
  bad: { index: number; reason: string }[];
  /** Index of the first line that is not valid UTF-8 (decoded with U+FFFD and kept), and how many such lines; -1 / 0: none. */
  firstInvalidUtf8: number;
  invalidUtf8: number;
  /** Lines that were empty or only white space. */
  blank: number;
}

export function parseJsonlLines(task: JsonlLinesTask): JsonlLinesResult {
  const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
  const out: JsonlLinesResult = { items: [], bad: [], firstInvalidUtf8: -1, invalidUtf8: 0, blank: 0 };
  let start = 0;
  for (let i = 0; i < task.ends.length; i++) {
    const end = task.ends[i];
    const bytes = data.subarray(start, end);
    start = end;
    if (!isUtf8(bytes)) {
      out.invalidUtf8++;
      if (out.firstInvalidUtf8 < 0) out.firstInvalidUtf8 = i;
    }
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (i === 0 && task.bomFirst && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') {
      out.blank++;
      continue;
    }
    const r = parseJsonlLine(text, task.fetchedAt);
    if (typeof r === 'string') out.bad.push({ index: i, reason: r });
    else out.items.push(r);
  }
  return out;
}
