/**
 * How much worker heap a fetched body needs to be parsed. An RSS body becomes a decoded string
 * (2 bytes a character), a repaired copy of it and xml2js's object tree on the source's thread:
 * a 39 MiB feed failed with a 96 MiB heap cap and parsed with 128 MiB (~3×). The rule keeps a
 * margin: a body may be at most a quarter of `limits.workerHeapMb`. Checked when the config is
 * loaded (src/config/schema.ts, CONFIG_INVALID) and again on the thread before parsing
 * (FEED_TOO_LARGE), so a body never drives a worker into its heap limit.
 */
export const PARSE_HEAP_FACTOR = 4;

/** Largest body (bytes) a worker with a heap cap of `heapMb` MiB is given to parse. */
export function maxBodyForHeap(heapMb: number): number {
  return Math.floor((heapMb * 1024 * 1024) / PARSE_HEAP_FACTOR);
}

/** `1536 KiB`-style size for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}MiB`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)}MiB`;
  if (n >= 1024) return `${Math.floor(n / 1024)}KiB`;
  return `${n} bytes`;
}
