/** What test/bench/probes.ts reports (one JSON array on stdout with --json), and its one-line form. */

export interface LatencySummary {
  samples: number;
  timeouts: number;
  timeoutMs: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ProbeResult {
  name: 'slow-clients' | 'big-poll';
  completed: boolean;
  /** How long the phase was probed (s). */
  seconds: number;
  latencyMs: LatencySummary;
  items: number;
  /** Items committed / s over the phase (big-poll: from the feed request to the last commit). */
  itemsPerSec: number;
  clients?: number;
  /** Slow clients no longer open at the end (from /healthz `websocket.clients`). */
  clientsCutOff?: number;
  /** The daemon's "closing (4008)" log lines. */
  closes4008?: number;
  feedBytes?: number;
  daemonPeakRssMb: number;
}

export function probeLine(r: ProbeResult): string {
  const l = r.latencyMs;
  const what =
    r.name === 'slow-clients'
      ? `${r.clients} non-reading clients cut off (${r.clientsCutOff} gone, ${r.closes4008} 4008 log lines) while ${r.items} items committed`
      : `one ${((r.feedBytes ?? 0) / 2 ** 20).toFixed(1)} MiB RSS poll of ${r.items} items committed (${r.itemsPerSec.toLocaleString('en')} items/s from the feed request)`;
  return `/healthz during ${what}: p50 ${l.p50} / p99 ${l.p99} / max ${l.max} ms (${l.samples} probes, ${l.timeouts} timed out at ${l.timeoutMs} ms) over ${r.seconds.toFixed(1)} s${r.completed ? '' : ' — DEADLINE REACHED, incomplete'}; daemon peak RSS ${r.daemonPeakRssMb} MiB`;
}

