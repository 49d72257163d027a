/**
 * `tickerpulse query … --all` (= `--limit 0`): every matching row, streamed. Rows come from the
 * store in chunks through a cursor (StoreReader.stream: better-sqlite3 `.iterate()` or a
 * PostgreSQL server-side cursor) and each chunk is written before the next is read, waiting for
 * 'drain' whenever the output's buffer is full — so memory holds about one chunk, whatever the
 * row count. A reader that goes away (`| head`) ends the export quietly.
 */
import type { Format, QueryParams } from '../query/params.js';
import type { QueryResult } from '../query/queries.js';
import type { StoreReader } from '../query/storeReader.js';
import { resultToCsv } from '../query/output.js';
import { toApiRows } from '../server/wire.js';

/** Rows per chunk read from the store and written at once (a few hundred KB of output at most). */
export const EXPORT_CHUNK_ROWS = 500;

/** Errors that mean the reader closed its end: not a failure of the export. */
const READER_GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ECONNRESET']);

export function readerGone(err: unknown): boolean {
  return READER_GONE.has((err as { code?: string })?.code ?? '');
}

/**
 * Writes to a stream, honouring backpressure: `write()` resolves at once while the stream
 * buffers below its high-water mark and after 'drain' once `stream.write` returned false. The
 * first error (e.g. EPIPE) is kept and thrown by the next write or by `flush()`.
 */
export class BackpressureWriter {
  private failure: Error | null = null;
  private last: Promise<void> = Promise.resolve();
  private readonly onError = (e: Error): void => {
    this.failure ??= e;
  };

  constructor(private readonly out: NodeJS.WritableStream) {
    // Stays attached: a stdout that failed may emit 'error' again later, which must not become
    // an uncaught exception.
    out.on('error', this.onError);
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (text === '') return;
    let settle!: (e?: Error | null) => void;
    this.last = new Promise<void>((resolve) => {
      settle = (e) => {
        if (e) this.failure ??= e;
        resolve();
      };
    });
    if (!this.out.write(text, settle)) await this.drained();
    // Let I/O callbacks run between chunks (an EPIPE on a synchronous stdout pipe is reported
    // on a later tick), so a closed reader stops the export at the next chunk.
    await new Promise<void>((r) => setImmediate(r));
    if (this.failure) throw this.failure;
  }

  /** Resolves once everything written so far was handed to the OS; throws the first error. */
  async flush(): Promise<void> {
    await this.last;
    if (this.failure) throw this.failure;
  }

  private drained(): Promise<void> {
    const out = this.out as NodeJS.WritableStream & { destroyed?: boolean };
    if (out.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
      out.on('error', done);
    });
  }
}

export interface ExportOptions {
  format: Format;
  /** The table renderer (query.ts `tableFor`): sets its widths from the first chunk. */
  table: (r: QueryResult) => string;
  chunkRows?: number;
}

/** The text of one chunk; `first`: the chunk that carries the CSV header. */
function render(r: QueryResult, first: boolean, opts: ExportOptions): string {
  switch (opts.format) {
    case 'json': {
      // JSON lines, as the limited query writes them: one object per row, so a consumer can
      // read row by row too.
      let text = '';
      for (const row of toApiRows(r)) text += JSON.stringify(row) + '\n';
      return text;
    }
    case 'csv':
      return resultToCsv(r, first);
    case 'table':
      return opts.table(r);
  }
}

/**
 * Streams every row of `params` to `out`. Returns the number of rows written and whether the
 * reader went away first (`| head`: then the cursor is closed and the rest is not read).
 * Store errors (STORE_FAILED) are thrown.
 */
export async function exportQuery(store: StoreReader, params: QueryParams, out: NodeJS.WritableStream, opts: ExportOptions, now: Date = new Date()): Promise<{ rows: number; readerGone: boolean }> {
  const writer = new BackpressureWriter(out);
  let rows = 0;
  try {
    for await (const chunk of store.stream(params, now, opts.chunkRows ?? EXPORT_CHUNK_ROWS)) {
      await writer.write(render(chunk, rows === 0, opts));
      rows += chunk.rows.length;
    }
    // No rows: a CSV still gets its header (an empty export is a valid file).
    if (rows === 0 && opts.format === 'csv') await writer.write(resultToCsv({ kind: params.kind, rows: [] } as QueryResult, true));
    await writer.flush();
  } catch (e) {
    if (readerGone(e)) return { rows, readerGone: true };
    throw e;
  }
  return { rows, readerGone: false };
}
