/**
 * JSONL replay source: reads a file of one JSON object per line once, streaming (memory stays
 * bounded whatever the file size), emits chunks of up to `chunkSize` items — awaiting
 * ctx.waitForRoom() before each, so a fast file pauses instead of filling memory — then completes.
 *
 * Line format: `{"title": "...", "id"?: "...", "url"?: "...", "publishedAt"?: ISO | epoch ms, "summary"?: "..."}`
 * (`text` is accepted instead of `title`). guid = id → canonical url → sha1(title + publishedAt).
 * Bad lines (invalid JSON, no title/text, longer than MAX_LINE_BYTES) are skipped, counted,
 * logged (rate-limited) and reported in that chunk's PollResult as `error: { code: 'INPUT_INVALID' }`
 * alongside the chunk's good items.
 *
 * Resume cursor (state.cursor): `v1:<offset>:<headLen>:<sha1>` — the byte offset just after the
 * chunk's last line, plus the SHA-1 of the file's first `headLen` (= min(offset, 4096)) bytes.
 * On restart the replay resumes at `offset` only when the file is at least `offset` bytes long
 * and its first `headLen` bytes still hash the same (appending to the file is fine); otherwise
 * (file shrank, was replaced or rewritten, unreadable cursor) it starts over from byte 0 —
 * harmless, because items are deduplicated by guid downstream.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Observable } from 'rxjs';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { canonicalizeUrl, cleanText, parseFeedDate, stableGuid, truncate, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS } from '../workers/feedParser.js';
import { ABORTED, untilAborted, type JsonlSourceConfig, type SourceContext } from './types.js';

export const DEFAULT_CHUNK_SIZE = 500;
/** A line longer than this (bytes) is skipped as invalid without being buffered whole. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Bytes of the file head hashed into the cursor. */
export const CURSOR_HEAD_BYTES = 4096;
/** Bad lines logged one by one; after that one summary warning per BAD_LINE_LOG_EVERY. */
const BAD_LINE_LOG_FIRST = 10;
const BAD_LINE_LOG_EVERY = 1000;

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

export function formatCursor(offset: number, head: Buffer): string {
  const headLen = Math.min(offset, head.length, CURSOR_HEAD_BYTES);
  return `v1:${offset}:${headLen}:${sha1(head.subarray(0, headLen))}`;
}

export interface ResumePoint {
  offset: number;
  /** Why the replay starts where it does (logged). */
  reason: 'start' | 'resume' | 'file-shrank' | 'file-changed' | 'bad-cursor';
}

/** Decide where to start reading from a persisted cursor and the file's current size and head. */
export function resolveResume(cursor: string | null | undefined, size: number, head: Buffer): ResumePoint {
  if (!cursor) return { offset: 0, reason: 'start' };
  const m = /^v1:(\d+):(\d+):([0-9a-f]{40})$/.exec(cursor);
  if (!m) return { offset: 0, reason: 'bad-cursor' };
  const offset = Number(m[1]);
  const headLen = Number(m[2]);
  if (offset > size || headLen > head.length) return { offset: 0, reason: 'file-shrank' };
  if (sha1(head.subarray(0, headLen)) !== m[3]) return { offset: 0, reason: 'file-changed' };
  return { offset, reason: 'resume' };
}

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
  const publishedAt = parsePublishedAt(o.publishedAt);
  const summaryText = str(o.summary) || (hasTitle ? str(o.text) : '');
  const summary = truncate(cleanText(summaryText), SUMMARY_MAX_CHARS) || null;
  const guid = stableGuid(str(o.id), url, title, publishedAt);
  const item: RawItem = { guid, url, title, summary, publishedAt: publishedAt ?? fetchedAt };
  if (!publishedAt) item.dateMissing = true;
  return item;
}

/** ISO/RFC 822 string, or epoch milliseconds (a number below 1e11 is taken as epoch seconds). */
function parsePublishedAt(v: unknown): string | null {
  let ms: number | null = null;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v;
  else if (typeof v === 'string' && /^\s*\d{9,14}\s*$/.test(v)) ms = Number(v);
  else if (typeof v === 'string') return parseFeedDate(v);
  if (ms === null || ms <= 0) return null;
  if (ms < 1e11) ms *= 1000;
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CURSOR_HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, CURSOR_HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function jsonlSource(cfg: JsonlSourceConfig, ctx: SourceContext): Observable<PollResult> {
  const chunkSize = Math.max(1, Math.floor(cfg.chunkSize ?? DEFAULT_CHUNK_SIZE));
  return new Observable<PollResult>((subscriber) => {
    const stop = new AbortController();
    const onCtxAbort = () => stop.abort();
    if (ctx.signal.aborted) stop.abort();
    else ctx.signal.addEventListener('abort', onCtxAbort, { once: true });
    const signal = stop.signal;
    const log = ctx.log;

    async function run(): Promise<void> {
      let size: number;
      let head: Buffer;
      try {
        size = (await stat(cfg.path)).size;
        head = await readHead(cfg.path);
      } catch (err) {
        if (signal.aborted) return;
        emitFailure(err, 0);
        return;
      }
      const resume = resolveResume(ctx.state?.cursor, size, head);
      if (resume.reason !== 'start') log.info({ sourceId: cfg.id, path: cfg.path, offset: resume.offset, reason: resume.reason }, 'jsonl replay start point');
      const fetchedAt = new Date().toISOString();

      let items: RawItem[] = [];
      let bad = 0;
      let firstBad: string | null = null;
      let totalItems = 0;
      let totalBad = 0;
      let cursorOffset = resume.offset;
      let emittedOffset = resume.offset;
      let lineNo = 0; // counted from the resume point (1-based; absolute when starting at 0)
      const linesFromStart = resume.offset === 0;

      const emit = async (): Promise<boolean> => {
        if (items.length === 0 && bad === 0 && cursorOffset === emittedOffset) return true;
        if ((await untilAborted(ctx.waitForRoom(), signal)) === ABORTED) return false;
        const result: PollResult = {
          sourceId: cfg.id,
          items,
          state: {
            cursor: formatCursor(cursorOffset, head),
            lastPollAt: new Date().toISOString(),
            consecutiveErrors: 0,
            lastError: bad > 0 ? 'INPUT_INVALID' : null,
          },
        };
        if (bad > 0) result.error = { code: 'INPUT_INVALID', message: `${bad} invalid line(s) skipped; first: ${firstBad}` };
        items = [];
        bad = 0;
        firstBad = null;
        emittedOffset = cursorOffset;
        subscriber.next(result);
        return true;
      };

      const lineLabel = () => (linesFromStart ? `line ${lineNo}` : `line ${lineNo} after byte ${resume.offset}`);
      const badLine = (reason: string) => {
        bad++;
        totalBad++;
        if (firstBad === null) firstBad = `${lineLabel()}: ${reason}`;
        if (totalBad <= BAD_LINE_LOG_FIRST) {
          log.warn({ sourceId: cfg.id, path: cfg.path, line: lineNo, fromByte: resume.offset, reason }, 'skipping invalid JSONL line');
          if (totalBad === BAD_LINE_LOG_FIRST) log.warn({ sourceId: cfg.id }, `further invalid lines are logged once per ${BAD_LINE_LOG_EVERY}`);
        } else if (totalBad % BAD_LINE_LOG_EVERY === 0) {
          log.warn({ sourceId: cfg.id, path: cfg.path, invalidLines: totalBad, line: lineNo }, 'still skipping invalid JSONL lines');
        }
      };

      /** Handle one complete line (without its newline); `end` = byte offset after it. */
      const handleLine = async (bytes: Buffer, end: number): Promise<boolean> => {
        lineNo++;
        cursorOffset = end;
        let text = bytes.toString('utf8');
        if (text.endsWith('\r')) text = text.slice(0, -1);
        if (lineNo === 1 && linesFromStart && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        if (text.trim() === '') return true;
        const r = parseJsonlLine(text, fetchedAt);
        if (typeof r === 'string') badLine(r);
        else {
          items.push(r);
          totalItems++;
        }
        if (items.length + bad >= chunkSize) return emit();
        return true;
      };

      // Manual line splitting on bytes (readline would lose exact byte offsets).
      const stream = createReadStream(cfg.path, { start: resume.offset, highWaterMark: 64 * 1024, signal });
      let pending: Buffer[] = [];
      let pendingLen = 0;
      let oversize = false;
      let pos = resume.offset; // file offset of the start of the current chunk
      // Resuming inside a line (the cursor was put after a final line without newline that has
      // since been extended): skip the rest of that line.
      let skipPartial = false;
      try {
        if (resume.offset > 0) {
          const prev = resume.offset <= head.length ? head[resume.offset - 1] : await byteAt(cfg.path, resume.offset - 1);
          skipPartial = prev !== 0x0a;
        }
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          let start = 0;
          for (;;) {
            const nl = chunk.indexOf(0x0a, start);
            if (nl < 0) break;
            const end = pos + nl + 1;
            if (skipPartial) {
              skipPartial = false;
              cursorOffset = end;
            } else if (oversize) {
              oversize = false;
              lineNo++;
              cursorOffset = end;
              badLine(`longer than ${MAX_LINE_BYTES} bytes`);
              if (items.length + bad >= chunkSize && !(await emit())) return;
            } else {
              const piece = chunk.subarray(start, nl);
              const line = pendingLen ? Buffer.concat([...pending, piece], pendingLen + piece.length) : piece;
              pending = [];
              pendingLen = 0;
              if (!(await handleLine(line, end))) return;
            }
            start = nl + 1;
          }
          if (start < chunk.length && !skipPartial && !oversize) {
            const rest = chunk.subarray(start);
            pendingLen += rest.length;
            if (pendingLen > MAX_LINE_BYTES) {
              pending = [];
              pendingLen = 0;
              oversize = true;
            } else pending.push(Buffer.from(rest)); // copy: the stream may reuse its buffer
          }
          pos += chunk.length;
        }
        if (signal.aborted) return;
        // A last line without a trailing newline.
        if (oversize) {
          lineNo++;
          cursorOffset = pos;
          badLine(`longer than ${MAX_LINE_BYTES} bytes`);
        } else if (pendingLen > 0) {
          if (!(await handleLine(Buffer.concat(pending, pendingLen), pos))) return;
        } else if (skipPartial) cursorOffset = pos;
        if (!(await emit())) return;
        log.info({ sourceId: cfg.id, path: cfg.path, items: totalItems, invalidLines: totalBad, endOffset: cursorOffset }, 'jsonl replay finished');
      } catch (err) {
        if (signal.aborted) return;
        // Keep what was read before the failure, then report it.
        if (!(await emit())) return;
        emitFailure(err, lineNo);
      } finally {
        stream.destroy();
      }
    }

    function emitFailure(err: unknown, line: number): void {
      const message = `cannot read ${cfg.path}${line ? ` (after line ${line})` : ''}: ${(err as Error)?.message ?? String(err)}`;
      log.error({ sourceId: cfg.id, path: cfg.path, err: message }, 'jsonl source failed');
      subscriber.next({
        sourceId: cfg.id,
        items: [],
        state: { lastPollAt: new Date().toISOString(), consecutiveErrors: (ctx.state?.consecutiveErrors ?? 0) + 1, lastError: 'SOURCE_FAILED' },
        error: { code: 'SOURCE_FAILED', message },
      });
    }

    run()
      .catch((err: unknown) => log.error({ sourceId: cfg.id, err: (err as Error)?.message ?? String(err) }, 'jsonl source loop crashed'))
      .finally(() => {
        ctx.signal.removeEventListener('abort', onCtxAbort);
        if (!subscriber.closed) subscriber.complete();
      });

    return () => stop.abort();
  });
}

async function byteAt(path: string, offset: number): Promise<number | null> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fh.read(b, 0, 1, offset);
    return bytesRead === 1 ? b[0] : null;
  } finally {
    await fh.close();
  }
}
