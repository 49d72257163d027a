/**
 * Config → component options, in one place for the single-node daemon (daemon.ts) and the
 * cluster roles (src/cluster/), so a setting added to one cannot be forgotten in the other.
 */
import type { Config } from '../config/schema.js';
import type { WebhookOptions } from '../alerts/webhook.js';
import type { SourceWorkerOptions } from '../pool/sourceWorker.js';
import type { ServerLimits } from '../server/server.js';

/** The server's WebSocket and connection limits from config `server`. */
export function serverLimits(sv: Config['server']): Partial<ServerLimits> {
  return {
    maxConnectionsPerIp: sv.maxConnectionsPerIp,
    maxInboundBytes: sv.maxClientMessageBytes,
    clientMessagesPerSecond: sv.clientMessagesPerSecond,
    clientMessageBurst: 2 * sv.clientMessagesPerSecond,
    maxBufferedBytes: sv.maxBufferedBytes,
    pingIntervalMs: sv.pingInterval,
    rollupIntervalMs: sv.rollupInterval,
  };
}

/** Config `alerts.webhook` as WebhookDelivery options; the caller adds `log` and the outcome callbacks. */
export function webhookOptions(w: NonNullable<Config['alerts']['webhook']>): Omit<WebhookOptions, 'log'> {
  return { url: w.url, headers: w.headers, timeoutMs: w.timeout, maxAttempts: w.maxAttempts, maxQueue: w.maxQueue, backoffMs: w.backoff, maxBackoffMs: w.maxBackoff };
}

/** The options of source `sourceId`'s worker thread. */
export function sourceWorkerOptions(cfg: Config, sourceId: string): SourceWorkerOptions {
  return {
    sourceId,
    modelKind: cfg.model.kind,
    modelPath: cfg.model.path ?? cfg.model.dir,
    windowStride: cfg.model.stride,
    intraOpNumThreads: cfg.model.intraOpNumThreads,
    maxQueue: cfg.limits.workerQueue,
    maxHeapMb: cfg.limits.workerHeapMb,
    tickers: { extraAliases: cfg.tickers.extraAliases, watchlist: cfg.tickers.watchlist },
  };
}
