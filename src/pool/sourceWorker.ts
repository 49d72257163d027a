import { Piscina } from 'piscina';
import { TickerpulseError, fromWireError } from '../lib/errors.js';
import { defaultModelDir, workerFile } from '../lib/paths.js';
import type { ClassifyReply, ClassifyTask, ClassifyWorkerData } from '../../workers/classify.js';
import type { JsonlLinesResult, JsonlLinesTask } from '../../workers/jsonlLines.js';
import type { ParseJsonlLinesReply, ParseJsonMessagesReply, ParseJsonMessagesTask, ParseJsonReply, ParseJsonTask, ParseReply, ParseTask, TakePageReply, TakePageTask } from '../../workers/source.js';
import type { JsonDocumentResult, JsonMapping, JsonMessagesResult, MapMeta } from '../../workers/jsonMap.js';
import type { ParsedFeed, PagedItems } from '../../sources/types.js';
import type { RawItem } from '../lib/types.js';
import { workerFailure, type BatchResult } from './classifierPool.js';
import { sharedTickerTable } from './sharedTickerTable.js';
import { sharedModelTables } from './sharedModelTables.js';
import { NativeGate } from '../lib/nativeGate.js';

export interface SourceWorkerOptions {
  sourceId: string;
  modelDir?: string;
  /** Model of either kind; takes precedence over modelDir. */
  modelPath?: string;
  modelKind?: ClassifyWorkerData['modelKind'];
  /** hf models: overlap in tokens between windows of a long text. */
  windowStride?: number;
  intraOpNumThreads?: number;
  /** Tasks that may wait for the thread; the pipeline's own bound keeps it far below this. */
  maxQueue: number;
  /** V8 heap cap for the thread, so one hostile document cannot take the daemon's memory. */
  maxHeapMb?: number;
  /** V8 young generation of the thread (MiB); default WORKER_YOUNG_GENERATION_MB. */
  maxYoungMb?: number;
  /** Ticker linker options (config `tickers`). */
  tickers?: ClassifyWorkerData['tickers'];
}


/**
 * Young generation of a source's thread. V8 sizes it from the heap cap (up to 16–32 MiB of
 * semi-spaces per thread, every thread); a worker's garbage is short-lived batch arrays, and
 * 8 MiB kept ~8 MiB RSS per worker for ~5 % more time in scavenges on the worker (measured on
 * 3,000 templated headlines: 231 vs 149 ms of GC per ~2 s), which is not the bottleneck thread.
 */
export const WORKER_YOUNG_GENERATION_MB = 8;
/** At close, how long a model call still running may take (one batch; bounded for a thread that died inside one). */
const CLOSE_WAIT_MS = 10_000;

/** A batch's predictions plus, per text, the tickers it names (JSON; null: none) and the story signatures. */
export interface LinkedBatchResult extends BatchResult {
  tickers?: (string | null)[];
  sigs?: Uint32Array;
}

/**
 * A body the thread can take by transfer. httpFetch's body is a fresh Uint8Array of exactly its
 * size: it is moved, not copied (a copy here was one more body-sized buffer on the main thread,
 * 228 MB for a 228 MB feed). Anything else (a slice of a larger or pooled buffer) is copied once.
 */
function transferable(body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer) return body as Uint8Array<ArrayBuffer>;
  const owned = new Uint8Array(body.byteLength);
  owned.set(body);
  return owned;
}

/** The folder of the built-in sentiment model this worker will load, undefined for other kinds. */
function builtinModelDir(opts: SourceWorkerOptions): string | undefined {
  if (opts.modelKind === 'hf') return undefined;
  if (opts.modelPath !== undefined) return opts.modelKind === 'builtin' ? opts.modelPath : undefined; // auto: the worker decides
  return opts.modelDir ?? defaultModelDir;
}

/**
 * A source's own worker thread: a piscina pool with exactly one thread. Piscina replaces a
 * thread that dies; the task it was running rejects and the pipeline retries it.
 */
export class SourceWorker {
  private readonly pool: Piscina;
  private readonly maxQueue: number;
  readonly sourceId: string;
  private inFlight = 0;
  private readonly gate = new NativeGate();

  constructor(opts: SourceWorkerOptions) {
    this.sourceId = opts.sourceId;
    this.maxQueue = opts.maxQueue;
    const workerData: ClassifyWorkerData = {
      sourceId: opts.sourceId,
      modelDir: opts.modelDir,
      modelPath: opts.modelPath,
      modelKind: opts.modelKind,
      windowStride: opts.windowStride,
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
      tickers: opts.tickers,
      // one copy of the dictionary for all sources, shared, not cloned, with each thread
      tickerTable: sharedTickerTable(opts.tickers) ?? undefined,
      rowTables: sharedModelTables(builtinModelDir(opts)),
      nativeGate: this.gate.buffer,
    };
    this.pool = new Piscina({
      filename: workerFile('source'),
      minThreads: 1,
      maxThreads: 1,
      maxQueue: opts.maxQueue,
      // Several tasks handed to the thread at once: with one, the thread idles from finishing a
      // batch until the main thread (often busy in a commit) reads the reply and posts the next
      // task, which made classification and commits take turns instead of overlapping.
      concurrentTasksPerWorker: 8,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: opts.maxYoungMb ?? WORKER_YOUNG_GENERATION_MB, ...(opts.maxHeapMb ? { maxOldGenerationSizeMb: opts.maxHeapMb } : {}) },
    });
  }

  /** Tasks queued or running on this source's thread. */
  get queueDepth(): number {
    return this.inFlight;
  }

  private async run<R>(task: unknown, name: string, transferList?: ArrayBuffer[]): Promise<R> {
    if (this.inFlight >= this.maxQueue + 1) {
      throw new TickerpulseError('WORKER_QUEUE_FULL', `worker queue of source ${this.sourceId} is full (${this.maxQueue})`, { retryable: true });
    }
    this.inFlight++;
    try {
      return (await this.pool.run(task, { name, transferList })) as R;
    } catch (err) {
      throw workerFailure(err);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * A feed document → items, parsed on the thread. The body is moved to the thread when it owns
   * its whole buffer (httpFetch's do): the caller must not read it afterwards. With `pageSize`, at
   * most that many items come back at once and `rest` yields the others page by page
   * (workers/pages.ts), so a huge document never lands on the main thread in one message.
   */
  async parseFeed(body: Uint8Array, meta: ParseTask['meta'], pageSize?: number): Promise<ParsedFeed> {
    const owned = transferable(body);
    const reply = await this.run<ParseReply>({ body: owned, meta, pageSize } satisfies ParseTask, 'parseFeed', [owned.buffer]);
    if (!reply.ok) throw fromWireError(reply);
    return { items: reply.items, ttlMinutes: reply.ttlMinutes ?? null, ...this.rest(reply.more, pageSize) };
  }

  /** A JSON document → items, mapped on the thread (JSON_PARSE_FAILED, JSON_MAPPING_FAILED, FEED_EMPTY); moved and paged as parseFeed. */
  async parseJson(body: Uint8Array, meta: MapMeta, mapping: JsonMapping, pageSize?: number): Promise<JsonDocumentResult & PagedItems> {
    const owned = transferable(body);
    const reply = await this.run<ParseJsonReply>({ body: owned, meta, mapping, pageSize } satisfies ParseJsonTask, 'parseJson', [owned.buffer]);
    if (!reply.ok) throw fromWireError(reply);
    return { items: reply.items, skipped: reply.skipped, firstSkipped: reply.firstSkipped, ...this.rest(reply.more, pageSize) };
  }

  private rest(token: number | null | undefined, pageSize: number | undefined): PagedItems {
    if (token === null || token === undefined || !pageSize) return {};
    const take = (task: TakePageTask) => this.run<TakePageReply>(task, 'takePage');
    return {
      rest: (async function* pages(): AsyncGenerator<RawItem[]> {
        for (;;) {
          const page = await take({ token, pageSize });
          if (!page.ok) throw fromWireError(page);
          yield page.items;
          if (!page.more) return;
        }
      })(),
    };
  }

  /** A chunk of JSONL lines → items, parsed on the thread (the task is copied, not moved: the source keeps its buffer). */
  async parseJsonlLines(task: JsonlLinesTask): Promise<JsonlLinesResult> {
    const reply = await this.run<ParseJsonlLinesReply>(task, 'parseJsonlLines');
    if (!reply.ok) throw fromWireError(reply);
    return { items: reply.items, bad: reply.bad, firstInvalidUtf8: reply.firstInvalidUtf8, invalidUtf8: reply.invalidUtf8, blank: reply.blank };
  }

  /** A batch of stream messages → items, parsed and mapped on the thread (sent as one transferred buffer). */
  async parseJsonMessages(messages: readonly Uint8Array[], meta: MapMeta, mapping: JsonMapping): Promise<JsonMessagesResult> {
    let total = 0;
    for (const m of messages) total += m.byteLength;
    const data = new Uint8Array(total);
    const lengths: number[] = [];
    let off = 0;
    for (const m of messages) {
      data.set(m, off);
      off += m.byteLength;
      lengths.push(m.byteLength);
    }
    const reply = await this.run<ParseJsonMessagesReply>({ data, lengths, meta, mapping } satisfies ParseJsonMessagesTask, 'parseJsonMessages', [data.buffer]);
    if (!reply.ok) throw fromWireError(reply);
    return { items: reply.items, skipped: reply.skipped, ignored: reply.ignored, invalid: reply.invalid, firstInvalid: reply.firstInvalid };
  }

  /** Classifies the texts and links their tickers, in one task on the source's thread. */
  async classify(texts: string[]): Promise<LinkedBatchResult> {
    const reply = await this.run<ClassifyReply>({ texts, link: true } satisfies ClassifyTask, 'classify');
    if (!reply.ok) throw fromWireError(reply);
    return { model: reply.model, predictions: reply.predictions, tickers: reply.tickers, sigs: reply.sigs };
  }

  /**
   * Terminates the thread, but not inside a model call (that aborts the process, see
   * src/lib/nativeGate.ts): new calls are refused and the one running, if any, is waited for.
   */
  async close(): Promise<void> {
    await this.gate.close(CLOSE_WAIT_MS);
    await this.pool.destroy();
  }
}
