/**
 * Fault injection for tests of the daemon's failure handling (a real worker death cannot be
 * provoked from outside otherwise). Off unless TICKERPULSE_FAULT_INJECT is set, e.g.
 * `crash-worker:flaky-source` makes every task on that source's worker kill its thread.
 */
export function maybeInjectFault(stage: 'classify' | 'parse', data: { sourceId?: string }): void {
  const spec = process.env.TICKERPULSE_FAULT_INJECT;
  if (!spec || !data.sourceId) return;
  for (const rule of spec.split(',')) {
    const [kind, sourceId] = rule.split(':');
    if (sourceId !== data.sourceId) continue;
    if (kind === 'crash-worker' || (kind === 'crash-classify' && stage === 'classify')) {
      // process.exit in a worker thread ends that thread only: the pool sees a dead worker.
      process.exit(70);
    }
    if (kind === 'throw-classify' && stage === 'classify') throw new Error('injected classify failure');
  }
}
