/**
 * The daemon's own part of /healthz `status` (src/server/health.ts adds the database check):
 * degraded when any source is failing, the webhook's last delivery failed or the writer lags;
 * failing when every source is failing or the writer thread is gone.
 */
import type { HealthStatus } from '../server/health.js';

export interface HealthInputs {
  sources: readonly { id: string; status: string; lastError: string | null; lastErrorMessage?: string | null }[];
  /** null without a webhook. */
  webhook: { lastFailed: boolean; lastError: string | null } | null;
  writer: { alive: boolean; lagMs: number };
  /** limits.writerLagDegraded. */
  writerLagLimitMs: number;
}

export function daemonHealth(h: HealthInputs): { status: HealthStatus; reason: string | null } {
  const reasons: string[] = [];
  let status: HealthStatus = 'ok';
  const failing = h.sources.filter((s) => s.status === 'failing');
  if (!h.writer.alive) {
    status = 'failing';
    reasons.push('the writer thread is gone');
  }
  if (failing.length > 0) {
    const every = failing.length === h.sources.length;
    if (every) status = 'failing';
    else if (status === 'ok') status = 'degraded';
    const shown = failing.slice(0, 3).map((s) => `${s.id} (${s.lastErrorMessage ?? s.lastError ?? 'error'})`);
    const more = failing.length > shown.length ? ` and ${failing.length - shown.length} more` : '';
    reasons.push(`${every ? 'every source is' : `${failing.length} of ${h.sources.length} sources`} failing: ${shown.join(', ')}${more}`);
  }
  if (h.webhook?.lastFailed) {
    if (status === 'ok') status = 'degraded';
    reasons.push(`the alert webhook is failing${h.webhook.lastError ? ` (${h.webhook.lastError})` : ''}`);
  }
  if (h.writer.alive && h.writer.lagMs >= h.writerLagLimitMs) {
    if (status === 'ok') status = 'degraded';
    reasons.push(`the writer lags: its oldest request waits for ${Math.round(h.writer.lagMs / 1000)} s`);
  }
  return { status, reason: reasons.length ? reasons.join('; ') : null };
}
