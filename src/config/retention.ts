/** Config `retention` (docs/OPERATIONS.md, "Retention"): how long data is kept; default everything. */
import { z } from 'zod';
import { duration } from './units.js';

export const retentionSchema = z
  .object({
    /**
     * Items older than this (by publication time, in whole UTC days) are deleted, with their
     * ticker index rows and finished stories; rollups are kept. At least 3d: the story clusterer
     * remembers 48 h.
     */
    items: duration('3d', '100y').optional(),
    /** Alerts older than this (by event time), with their item lists. */
    alerts: duration('1d', '100y').optional(),
    /** Dead letters older than this (by the time they were stored). */
    deadLetters: duration('1h', '100y').optional(),
    /** How often the daemon prunes (the first run is one minute after start). */
    interval: duration('1m', '7d').default(3_600_000),
    /**
     * Rows per prune transaction. A deleted item costs ~60 µs of writer time (its indexes, ticker
     * index rows, story), so the default 100 holds the writer ~6 ms, a commit's wait at most.
     */
    batchSize: z.number().int().min(10).max(100_000).default(100),
    /** Free pages given back to the file system per step, after a prune (~50 µs a page; needs auto_vacuum = INCREMENTAL). */
    vacuumPages: z.number().int().min(1).max(1_000_000).default(256),
  })
  .strict();

export type RetentionConfig = z.output<typeof retentionSchema>;
