/**
 * JSONL source: one JSON object per line, from a file or standard input, streaming (memory stays
 * bounded whatever the size), emitted in chunks of up to `chunkSize` items — awaiting
 * ctx.waitForRoom() before each, so a fast file pauses instead of filling memory.
 *
 * Modes:
 * - file (default): replayed once, then the observable completes.
 * - file with `follow: true`: like `tail -F` — at the end of the file the chunk read so far is
 *   emitted, then the file is polled every `pollIntervalMs` (fs.watch is unreliable across
 *   platforms and file systems). New lines are read as they are appended (a last line without
 *   its newline waits for it). Rotation (the path now names another inode: the old file is read
 *   to its end first, then the new one from byte 0) and truncation (size below the read offset,
 *   or the first bytes rewritten → start over at byte 0) are followed. A file that does not
 *   exist (yet) is reported once as SOURCE_FAILED and waited for. Never completes by itself.
 * - `path: "-"`: standard input (no resume cursor). What was read is emitted when `chunkSize`
 *   lines are waiting or the input has been idle for `pollIntervalMs`; at EOF the observable
 *   completes (with `follow`, the source stays up, idle, until shutdown).
 *
 * Line format: `{"title": "...", "id"?: "...", "url"?: "...", "publishedAt"?: ISO | epoch ms, "summary"?: "..."}`
 * (`text` is accepted instead of `title`). guid = id → canonical url → sha1(title + publishedAt).
 * Bad lines (invalid JSON, no title/text, longer than MAX_LINE_BYTES) are skipped, counted,
 * logged (rate-limited) and reported in that chunk's PollResult as `error: { code: 'INPUT_INVALID' }`
 * alongside the chunk's good items.
 *
 * Resume cursor (state.cursor, files only): `v1:<offset>:<headLen>:<sha1>` — the byte offset
 * just after the chunk's last line, plus the SHA-1 of the file's first `headLen`
 * (= min(offset, 4096)) bytes. On restart the replay resumes at `offset` only when the file is
 * at least `offset` bytes long and its first `headLen` bytes still hash the same (appending to
 * the file is fine); otherwise (file shrank, was replaced or rewritten, unreadable cursor) it
 * starts over from byte 0 — harmless, because items are deduplicated by guid downstream. After a
 * followed file was rotated or truncated, the cursor points at byte 0 of the new content.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import type { PollResult, RawItem } from '../src/lib/types.js';
import { parseJsonlLines, type JsonlLinesResult, type JsonlLinesTask } from '../workers/jsonlLines.js';
import { ABORTED, linkedAbort, sleepUnlessAborted, untilAborted, type JsonlSourceConfig, type SourceContext } from './types.js';

export const DEFAULT_CHUNK_SIZE = 500;
/** How often a followed file is checked for growth, rotation and truncation; also stdin's idle flush. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;
/** Bytes per read. */
const READ_BYTES = 64 * 1024;
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

export { parseJsonlLine } from '../workers/jsonlLines.js';

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

/** What a reader yields to the line consumer. */
type ReadEvent =
  /** Bytes at the current read position (valid until the next event is requested). */
  | { kind: 'data'; chunk: Buffer }
  /** No more data for now (followed file at its end, idle stdin): emit what is waiting. */
  | { kind: 'idle' }
  /**
   * The followed file was rotated (`rotated`: the old one was read to its end, its last line is
   * complete even without a newline) or truncated/rewritten/reopened (the partial line is
   * dropped); reading continues at byte 0 of the file now at the path.
   */
  | { kind: 'restart'; reason: 'rotated' | 'truncated' | 'rewritten' | 'reopened' }
  /** A read failed (followed file): reported, then the reader reopens the path. */
  | { kind: 'error'; err: unknown };

/** Bytes of `fh` from `pos` up to its current end. */
async function* readToEnd(fh: FileHandle, pos: number, buf: Buffer, onRead: (n: number) => void): AsyncGenerator<ReadEvent> {
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    onRead(bytesRead);
    yield { kind: 'data', chunk: buf.subarray(0, bytesRead) };
  }
}

async function headOf(fh: FileHandle): Promise<Buffer> {
  const buf = Buffer.alloc(CURSOR_HEAD_BYTES);
  const { bytesRead } = await fh.read(buf, 0, CURSOR_HEAD_BYTES, 0);
  return buf.subarray(0, bytesRead);
}

/**
 * `tail -F` over `path` starting with the open handle `first` at `offset`: read to the end, yield
 * `idle`, sleep `pollMs`, then check for rotation (the path names another inode), truncation
 * (size below the offset) and a rewritten head, and go on. `file.fh` is always the handle being
 * read (for the cursor's head hash).
 */
async function* followFile(path: string, file: { fh: FileHandle }, offset: number, pollMs: number, signal: AbortSignal): AsyncGenerator<ReadEvent> {
  const buf = Buffer.alloc(READ_BYTES);
  let pos = offset;
  let st = await file.fh.stat();
  // The first bytes of this file as last seen (up to CURSOR_HEAD_BYTES): a rewrite changes them.
  let seenHead = (await headOf(file.fh)).subarray(0, Math.min(pos, CURSOR_HEAD_BYTES));
  const advance = (n: number) => (pos += n);
  for (;;) {
    try {
      yield* readToEnd(file.fh, pos, buf, advance);
      if (seenHead.length < Math.min(pos, CURSOR_HEAD_BYTES)) seenHead = (await headOf(file.fh)).subarray(0, Math.min(pos, CURSOR_HEAD_BYTES));
    } catch (err) {
      yield { kind: 'error', err };
      if (!(await sleepUnlessAborted(pollMs, signal))) return;
      const reopened = await tryOpen(path);
      if (!reopened) continue; // keep the old handle and try again
      await file.fh.close().catch(() => undefined);
      file.fh = reopened;
      st = await file.fh.stat();
      pos = 0;
      seenHead = Buffer.alloc(0);
      yield { kind: 'restart', reason: 'reopened' };
      continue;
    }
    yield { kind: 'idle' };
    if (!(await sleepUnlessAborted(pollMs, signal))) return;

    const atPath = await stat(path).catch(() => null); // missing: mid-rotation, keep reading the old inode
    if (atPath && (atPath.ino !== st.ino || atPath.dev !== st.dev)) {
      const next = await tryOpen(path);
      if (next) {
        // Rotated: whatever was appended to the old file before the switch is read first.
        try {
          yield* readToEnd(file.fh, pos, buf, advance);
        } catch (err) {
          yield { kind: 'error', err };
        }
        await file.fh.close().catch(() => undefined);
        file.fh = next;
        st = await next.stat();
        pos = 0;
        seenHead = Buffer.alloc(0);
        yield { kind: 'restart', reason: 'rotated' };
        continue;
      }
    }
    const now = await file.fh.stat().catch(() => null);
    if (now && now.size < pos) {
      pos = 0;
      seenHead = Buffer.alloc(0);
      yield { kind: 'restart', reason: 'truncated' };
    } else if (now && seenHead.length > 0 && now.size >= seenHead.length) {
      // Truncated and rewritten past our offset between two polls (copytruncate): the head changed.
      const head = (await headOf(file.fh)).subarray(0, seenHead.length);
      if (!head.equals(seenHead)) {
        pos = 0;
        seenHead = Buffer.alloc(0);
        yield { kind: 'restart', reason: 'rewritten' };
      }
    }
  }
}

async function tryOpen(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, 'r');
  } catch {
    return null;
  }
}

/** A stream (stdin) as read events: data as it comes, `idle` after `idleMs` without any. Ends at EOF or abort. */
async function* streamEvents(stream: Readable, idleMs: number, signal: AbortSignal): AsyncGenerator<ReadEvent> {
  const it = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  let next = it.next();
  const aborted = new Promise<'aborted'>((r) => (signal.aborted ? r('aborted') : signal.addEventListener('abort', () => r('aborted'), { once: true })));
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<'idle'>((r) => (timer = setTimeout(() => r('idle'), idleMs)));
      const r = await Promise.race([next, idle, aborted]);
      clearTimeout(timer);
      if (r === 'aborted') return;
      if (r === 'idle') {
        yield { kind: 'idle' };
        continue;
      }
      if (r.done) return;
      next = it.next();
      yield { kind: 'data', chunk: typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value };
    }
  } finally {
    next.catch(() => undefined);
  }
}

/** A plain file from `start` to its end, as read events. */
async function* fileEvents(path: string, start: number, signal: AbortSignal): AsyncGenerator<ReadEvent> {
  const stream = createReadStream(path, { start, highWaterMark: READ_BYTES, signal });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield { kind: 'data', chunk };
  } finally {
    stream.destroy();
  }
}

export function jsonlSource(cfg: JsonlSourceConfig, ctx: SourceContext): Observable<PollResult> {
  const chunkSize = Math.max(1, Math.floor(cfg.chunkSize ?? DEFAULT_CHUNK_SIZE));
  const follow = cfg.follow ?? false;
  const pollIntervalMs = Math.max(1, cfg.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  const isStdin = cfg.path === '-';
  const label = isStdin ? 'stdin' : cfg.path;
  return new Observable<PollResult>((subscriber) => {
    const stop = linkedAbort(ctx.signal);
    const signal = stop.signal;
    const log = ctx.log;
    let failures = ctx.state?.consecutiveErrors ?? 0;

    async function run(): Promise<void> {
      if (isStdin) {
        await consume(streamEvents(cfg.stdin ?? process.stdin, pollIntervalMs, signal), { offset: 0, reason: 'start' }, null);
        if (follow && !signal.aborted) {
          // EOF on stdin cannot be followed further: stay up (idle) until shutdown.
          log.info({ sourceId: cfg.id }, 'stdin closed; following: idle until shutdown');
          await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
        }
        return;
      }
      if (!follow) {
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
        await consume(fileEvents(cfg.path, resume.offset, signal), resume, async () => head);
        return;
      }
      // follow: wait for the file to exist (reported once), then tail it.
      let fh: FileHandle | null = null;
      for (let reported = false; !fh; ) {
        try {
          fh = await open(cfg.path, 'r');
        } catch (err) {
          if (signal.aborted) return;
          if (!reported) emitFailure(err, 0);
          reported = true;
          if (!(await sleepUnlessAborted(pollIntervalMs, signal))) return;
        }
      }
      const file = { fh };
      try {
        const size = (await fh.stat()).size;
        const resume = resolveResume(ctx.state?.cursor, size, await headOf(fh));
        await consume(followFile(cfg.path, file, resume.offset, pollIntervalMs, signal), resume, () => headOf(file.fh));
      } finally {
        await file.fh.close().catch(() => undefined);
      }
    }

    /**
     * Split the events' bytes into lines (by hand: readline would lose exact byte offsets), parse
     * them, and emit chunks. `headOf` gives the current file's first bytes for the cursor (null:
     * stdin, no cursor).
     */
    async function consume(events: AsyncGenerator<ReadEvent>, resume: ResumePoint, headOf: (() => Promise<Buffer>) | null): Promise<void> {
      if (resume.reason !== 'start') log.info({ sourceId: cfg.id, path: cfg.path, offset: resume.offset, reason: resume.reason }, 'jsonl replay start point');
      let fetchedAt = new Date().toISOString();

      // Complete lines waiting to be parsed, concatenated (the reader reuses its buffer: copied);
      // they are parsed a chunk at a time on the source's worker (workers/jsonlLines.ts).
      let batch = Buffer.allocUnsafe(READ_BYTES);
      let batchLen = 0;
      let lineEnds: number[] = [];
      let lineNos: number[] = [];
      let bomFirst = false;
      let warnedUtf8 = false;
      let bad = 0;
      let firstBad: string | null = null;
      let totalItems = 0;
      let totalBad = 0;
      let startOffset = resume.offset; // where reading of the current file began
      let cursorOffset = resume.offset;
      let emittedOffset = resume.offset;
      let lineNo = 0; // counted from startOffset (1-based; absolute when starting at 0)
      let linesFromStart = startOffset === 0;
      let pending: Buffer[] = [];
      let pendingLen = 0;
      let oversize = false;
      let pos = resume.offset; // offset of the first byte of the next chunk
      // Resuming inside a line (the cursor was put after a final line without newline that has
      // since been extended): skip the rest of that line.
      let skipPartial = false;
      /** The cursor must be written even without items (it moved past blank or skipped lines). */
      let restarted = false;
      // Lines after the committed cursor (or of a source that has never stored anything) cannot
      // be stored yet, so the pipeline may skip its known-guid lookup for them — a round trip
      // queued behind the writer's commits, which stalled classification every few chunks of a
      // replay. Re-read content (a shrunk, changed or rotated file, stdin) keeps the lookup.
      let newSinceCursor = headOf !== null && (resume.reason === 'resume' || (resume.reason === 'start' && ctx.state === null));

      /** Items parsed and not emitted yet. */
      let items: RawItem[] = [];
      /** The waiting lines → `items` (on the worker; in-process when it fails, so no line is lost). */
      const parseBatch = async (): Promise<void> => {
        if (lineEnds.length === 0) return;
        // Not transferred but copied into the message: `batch` stays intact until the next line is
        // queued, so a failed worker call can be parsed again here.
        const task: JsonlLinesTask = { data: batch.subarray(0, batchLen), ends: Uint32Array.from(lineEnds), bomFirst, fetchedAt };
        const nos = lineNos;
        batchLen = 0;
        lineEnds = [];
        lineNos = [];
        let r: JsonlLinesResult;
        if (ctx.parseJsonlLines) {
          try {
            r = await ctx.parseJsonlLines(task);
          } catch (err) {
            log.warn({ sourceId: cfg.id, path: label, code: (err as { code?: string }).code, err: (err as Error)?.message ?? String(err) }, 'parsing JSONL lines on the worker failed: parsed on the main thread instead');
            r = parseJsonlLines(task);
          }
        } else r = parseJsonlLines(task);
        for (const b of r.bad) badLine(b.reason, nos[b.index]);
        if (r.invalidUtf8 > 0 && !warnedUtf8) {
          // Once per source: such a file is usually in another encoding throughout.
          warnedUtf8 = true;
          log.warn({ sourceId: cfg.id, path: label, line: nos[r.firstInvalidUtf8], lines: r.invalidUtf8 }, 'JSONL line(s) are not valid UTF-8: stored with U+FFFD in place of the invalid bytes (convert the file to UTF-8)');
        }
        totalItems += r.items.length;
        if (items.length === 0) items = r.items;
        else for (const it of r.items) items.push(it);
      };

      const emit = async (): Promise<boolean> => {
        if (lineEnds.length === 0 && bad === 0 && cursorOffset === emittedOffset && !restarted) return true;
        if ((await untilAborted(ctx.waitForRoom(), signal)) === ABORTED) return false;
        await parseBatch();
        const state: PollResult['state'] = { lastPollAt: new Date().toISOString(), consecutiveErrors: 0, lastError: bad > 0 ? 'INPUT_INVALID' : null };
        if (headOf) state.cursor = formatCursor(cursorOffset, await headOf());
        const result: PollResult = { sourceId: cfg.id, items, state };
        if (newSinceCursor) result.newSinceCursor = true;
        items = [];
        if (bad > 0) result.error = { code: 'INPUT_INVALID', message: `${bad} invalid line(s) skipped; first: ${firstBad}` };
        bad = 0;
        firstBad = null;
        emittedOffset = cursorOffset;
        restarted = false;
        failures = 0;
        subscriber.next(result);
        return true;
      };

      const lineLabel = (n: number) => (linesFromStart ? `line ${n}` : `line ${n} after byte ${startOffset}`);
      const badLine = (reason: string, n: number) => {
        bad++;
        totalBad++;
        if (firstBad === null) firstBad = `${lineLabel(n)}: ${reason}`;
        if (totalBad <= BAD_LINE_LOG_FIRST) {
          log.warn({ sourceId: cfg.id, path: label, line: n, fromByte: startOffset, reason }, 'skipping invalid JSONL line');
          if (totalBad === BAD_LINE_LOG_FIRST) log.warn({ sourceId: cfg.id }, `further invalid lines are logged once per ${BAD_LINE_LOG_EVERY}`);
        } else if (totalBad % BAD_LINE_LOG_EVERY === 0) {
          log.warn({ sourceId: cfg.id, path: label, invalidLines: totalBad, line: n }, 'still skipping invalid JSONL lines');
        }
      };

      /** Queue one complete line (without its newline) for parsing; `end` = byte offset after it. */
      const handleLine = async (bytes: Buffer, end: number): Promise<boolean> => {
        lineNo++;
        cursorOffset = end;
        // Empty lines are skipped here, so they do not count towards a chunk (lines of only other
        // white space are rare: the worker skips those).
        if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0x0d)) return true;
        if (lineEnds.length === 0) bomFirst = lineNo === 1 && linesFromStart;
        if (batchLen + bytes.length > batch.length) {
          const grown = Buffer.allocUnsafe(Math.max(batch.length * 2, batchLen + bytes.length));
          batch.copy(grown, 0, 0, batchLen);
          batch = grown;
        }
        batchLen += bytes.copy(batch, batchLen);
        lineEnds.push(batchLen);
        lineNos.push(lineNo);
        if (lineEnds.length + bad >= chunkSize) return emit();
        return true;
      };

      /** The bytes after the last newline, as a last line (end of input, or the end of a rotated file). */
      const finishPartial = async (): Promise<boolean> => {
        if (oversize) {
          oversize = false;
          lineNo++;
          cursorOffset = pos;
          badLine(`longer than ${MAX_LINE_BYTES} bytes`, lineNo);
        } else if (pendingLen > 0) {
          const line = Buffer.concat(pending, pendingLen);
          pending = [];
          pendingLen = 0;
          if (!(await handleLine(line, pos))) return false;
        } else if (skipPartial) cursorOffset = pos;
        skipPartial = false;
        return true;
      };

      try {
        if (resume.offset > 0 && headOf) {
          const head = await headOf();
          const prev = resume.offset <= head.length ? head[resume.offset - 1] : await byteAt(cfg.path, resume.offset - 1);
          skipPartial = prev !== 0x0a;
        }
        for await (const ev of events) {
          if (ev.kind === 'idle') {
            if (!(await emit())) return;
            fetchedAt = new Date().toISOString();
            continue;
          }
          if (ev.kind === 'error') {
            if (signal.aborted) return;
            if (!(await emit())) return;
            emitFailure(ev.err, lineNo);
            continue;
          }
          if (ev.kind === 'restart') {
            newSinceCursor = false;
            // A rotated file is complete: its unterminated last line is a line. Otherwise the
            // partial line belonged to overwritten content.
            if (ev.reason === 'rotated') {
              if (!(await finishPartial())) return;
            }
            pending = [];
            pendingLen = 0;
            oversize = false;
            skipPartial = false;
            // Parsed now, while line numbers still refer to the old content.
            await parseBatch();
            log.info({ sourceId: cfg.id, path: cfg.path, reason: ev.reason, items: totalItems, fromByte: startOffset, toByte: pos }, 'followed file restarts at byte 0');
            // The waiting items are emitted with a cursor at the start of the new content.
            pos = cursorOffset = startOffset = 0;
            restarted = true;
            lineNo = 0;
            linesFromStart = true;
            if (!(await emit())) return;
            continue;
          }
          const chunk = ev.chunk;
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
              badLine(`longer than ${MAX_LINE_BYTES} bytes`, lineNo);
              if (lineEnds.length + bad >= chunkSize && !(await emit())) return;
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
            } else pending.push(Buffer.from(rest)); // copy: the reader reuses its buffer
          }
          pos += chunk.length;
        }
        if (signal.aborted) return;
        // End of input (a followed file never gets here): a last line without a trailing newline.
        if (!(await finishPartial())) return;
        if (!(await emit())) return;
        log.info({ sourceId: cfg.id, path: label, items: totalItems, invalidLines: totalBad, endOffset: cursorOffset }, isStdin ? 'jsonl stdin finished' : 'jsonl replay finished');
      } catch (err) {
        if (signal.aborted) return;
        // Keep what was read before the failure, then report it.
        if (!(await emit())) return;
        emitFailure(err, lineNo);
      } finally {
        await events.return(undefined).catch(() => undefined);
      }
    }

    function emitFailure(err: unknown, line: number): void {
      const message = `cannot read ${label}${line ? ` (after line ${line})` : ''}: ${(err as Error)?.message ?? String(err)}`;
      log.error({ sourceId: cfg.id, path: label, err: message }, 'jsonl source failed');
      failures++;
      subscriber.next({
        sourceId: cfg.id,
        items: [],
        state: { lastPollAt: new Date().toISOString(), consecutiveErrors: failures, lastError: 'SOURCE_FAILED' },
        error: { code: 'SOURCE_FAILED', message },
      });
    }

    run()
      .catch((err: unknown) => log.error({ sourceId: cfg.id, err: (err as Error)?.message ?? String(err) }, 'jsonl source loop crashed'))
      .finally(() => {
        stop.dispose();
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
