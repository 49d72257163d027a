import { TickerpulseError, errorCode } from '../src/lib/errors.js';
import type { ClassifiedItem, Prediction, RawItem } from '../src/lib/types.js';

export interface BatchResult {
  model: string;
  predictions: Prediction[];
  /** A source's worker also links tickers: per text a JSON array of ItemTicker (null: it names none) … */
  tickers?: (string | null)[];
  /** … and computes story signatures: `sigs.length / texts.length` values per text, in order. */
  sigs?: Uint32Array;
}

export interface BatchClassifier {
  classify(texts: string[]): Promise<BatchResult>;
}

export interface ClassifyOptions {
  source: string;
  batchSize: number;
  /** Tries per batch before it is split (and, for a single item, given up). */
  attempts: number;
  fetchedAt: string;
  /** Batches of one poll in flight on the worker at once (keeps the thread busy while replies are handled). */
  concurrency?: number;
  /** Delay before retry n (1-based); injectable for tests. */
  backoffMs?: (attempt: number) => number;
  /**
   * Told before every retry of a failed batch and every split, so the daemon can show a source
   * that is waiting on a crashed worker as retrying (a poll's retries can take half a minute
   * before its report arrives).
   */
  onRetry?: (notice: RetryNotice) => void;
}

/** A failed batch about to be tried again. */
export interface RetryNotice {
  /** Items in the batch that failed. */
  items: number;
  /** The attempt that failed (1-based) and the tries the batch gets. */
  attempt: number;
  attempts: number;
  /** 'retry': the same batch again after delayMs; 'split': its halves now, one try each. */
  next: 'retry' | 'split';
  delayMs: number;
  code: string;
  message: string;
}

export interface FailedItem {
  item: RawItem;
  code: string;
  message: string;
  attempts: number;
}

export interface ClassifyOutcome {
  classified: ClassifiedItem[];
  failed: FailedItem[];
}

/** The text the model reads: the headline. Summaries are boilerplate-heavy and the model was trained on headlines and sentences. */
export function textOf(item: RawItem): string {
  return item.title;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Classifies a poll's items on the source's worker in batches of `batchSize`. A batch that
 * keeps failing (worker died, model error) is split in halves and retried, so one poisonous
 * item ends up alone in the dead-letter list instead of taking its 63 neighbours with it.
 */
export async function classifyItems(items: readonly RawItem[], classifier: BatchClassifier, opts: ClassifyOptions): Promise<ClassifyOutcome> {
  const backoff = opts.backoffMs ?? ((n: number) => Math.min(2000, 50 * 2 ** n));
  const batches: RawItem[][] = [];
  for (let i = 0; i < items.length; i += opts.batchSize) batches.push(items.slice(i, i + opts.batchSize));
  // Each batch collects into its own slot so the output keeps input order whatever finishes first.
  const results: ClassifyOutcome[] = batches.map(() => ({ classified: [], failed: [] }));
  let next = 0;
  const lanes = Math.max(1, Math.min(opts.concurrency ?? 1, batches.length));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < batches.length) {
        const k = next++;
        await classifyBatch(batches[k], opts.attempts, results[k]);
      }
    }),
  );
  return { classified: results.flatMap((r) => r.classified), failed: results.flatMap((r) => r.failed) };

  async function classifyBatch(batch: RawItem[], attempts: number, outcome: ClassifyOutcome): Promise<void> {
    let lastErr: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const { model, predictions, tickers, sigs } = await classifier.classify(batch.map(textOf));
        if (predictions.length !== batch.length || (tickers && tickers.length !== batch.length) || (sigs && sigs.length % batch.length !== 0)) {
          throw new TickerpulseError('MODEL_RUN_FAILED', `worker returned ${predictions.length} predictions for ${batch.length} texts`);
        }
        const sigLen = sigs ? sigs.length / batch.length : 0;
        batch.forEach((item, k) => {
          const p = predictions[k];
          const t = tickers?.[k];
          // Built field by field: object spread of structured-clone results is slow on this hot path.
          outcome.classified.push({
            guid: item.guid,
            url: item.url,
            title: item.title,
            summary: item.summary,
            publishedAt: item.publishedAt,
            dateMissing: item.dateMissing,
            label: p.label,
            pNeg: p.pNeg,
            pNeu: p.pNeu,
            pPos: p.pPos,
            score: p.score,
            source: opts.source,
            fetchedAt: opts.fetchedAt,
            model,
            // Only the JSON travels on: the writer parses it where it needs the objects
            // (rollups, stories, alerts), which keeps that per-item work off the main thread
            // and halves what the ItemBatch clones.
            tickersJson: t === undefined ? undefined : t,
            storySig: sigs ? sigs.subarray(k * sigLen, (k + 1) * sigLen) : undefined,
          });
        });
        return;
      } catch (err) {
        lastErr = err;
        if (attempt < attempts) {
          const delayMs = backoff(attempt);
          notify(batch.length, attempt, attempts, 'retry', delayMs, err);
          await sleep(delayMs);
        }
      }
    }
    if (batch.length > 1) {
      notify(batch.length, attempts, attempts, 'split', 0, lastErr);
      const mid = Math.ceil(batch.length / 2);
      // Halves get one try each: the full batch already spent the retries on transient causes.
      await classifyBatch(batch.slice(0, mid), 1, outcome);
      await classifyBatch(batch.slice(mid), 1, outcome);
      return;
    }
    const message = lastErr instanceof Error ? lastErr.message : String(lastErr);
    outcome.failed.push({ item: batch[0], code: errorCode(lastErr), message, attempts });
  }

  function notify(items: number, attempt: number, attempts: number, next: RetryNotice['next'], delayMs: number, err: unknown): void {
    if (!opts.onRetry) return;
    const message = err instanceof Error ? err.message : String(err);
    try {
      opts.onRetry({ items, attempt, attempts, next, delayMs, code: errorCode(err), message });
    } catch {
      // A reporting hook must not change what is classified.
    }
  }
}
