/**
 * /healthz, /readyz: the overall status from the database check and the daemon's own report.
 *   ok        — everything works;
 *   degraded  — it works, with a problem worth a look (a source or the webhook failing, the
 *               writer lagging): HTTP 200, so a probe does not restart a working monitor;
 *   failing   — it cannot do its job (the database does not answer, every source fails):
 *               HTTP 503.
 * /livez is not here: it answers 200 whenever the event loop does.
 */

export type HealthStatus = 'ok' | 'degraded' | 'failing';

/** What the server serves on /metrics (the daemon's DaemonMetrics). */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface HealthAnswer {
  status: HealthStatus;
  /** Why it is not ok (null when ok). */
  reason: string | null;
  httpStatus: 200 | 503;
  db: Record<string, unknown>;
  /** The daemon's other fields (sources, stages, …). */
  rest: Record<string, unknown>;
}

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, failing: 2 };

export function healthResponse(dbOk: boolean, report: () => Record<string, unknown>): HealthAnswer {
  let extra: Record<string, unknown>;
  let status: HealthStatus = 'ok';
  const reasons: string[] = [];
  try {
    extra = report() ?? {};
  } catch (err) {
    extra = { healthError: err instanceof Error ? err.message : String(err) };
    status = 'failing';
    reasons.push('the health check failed');
  }
  const { status: given, reason: givenReason, port: _p, db: extraDb, ...rest } = extra;
  if (given !== undefined && given !== 'ok') {
    // Anything unknown counts as degraded: a typo must not hide a problem, nor fail the probe.
    const s: HealthStatus = given === 'failing' ? 'failing' : 'degraded';
    if (RANK[s] > RANK[status]) status = s;
    if (typeof givenReason === 'string' && givenReason) reasons.push(givenReason);
  }
  if (!dbOk) {
    status = 'failing';
    reasons.unshift('the database does not answer');
  }
  const db = typeof extraDb === 'object' && extraDb !== null ? { ...extraDb, ok: dbOk } : { ok: dbOk };
  return { status, reason: status === 'ok' ? null : reasons.join('; ') || status, httpStatus: status === 'failing' ? 503 : 200, db, rest };
}
