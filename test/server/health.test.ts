/** /healthz's status from the database check and the daemon's report; frame counting for the sent-messages metric. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { healthResponse } from '../../src/server/health.js';
import { countFrames } from '../../src/server/countingOutbound.js';
import { textFrame } from '../../src/server/outbound.js';

describe('healthResponse', () => {
  test('ok: 200, no reason; db merged', () => {
    const h = healthResponse(true, () => ({ status: 'ok', sources: [], db: { path: 'x' } }));
    assert.deepEqual({ status: h.status, reason: h.reason, code: h.httpStatus, db: h.db, rest: h.rest }, { status: 'ok', reason: null, code: 200, db: { path: 'x', ok: true }, rest: { sources: [] } });
  });

  test('degraded keeps 200 with the reason; an unknown status counts as degraded', () => {
    assert.deepEqual(pick(healthResponse(true, () => ({ status: 'degraded', reason: 'a failing' }))), ['degraded', 'a failing', 200]);
    assert.deepEqual(pick(healthResponse(true, () => ({ status: 'weird' }))), ['degraded', 'degraded', 200]);
  });

  test('failing: 503; a database that does not answer is failing whatever the daemon says, its reason first', () => {
    assert.deepEqual(pick(healthResponse(true, () => ({ status: 'failing', reason: 'every source is failing' }))), ['failing', 'every source is failing', 503]);
    assert.deepEqual(pick(healthResponse(false, () => ({ status: 'degraded', reason: 'a failing' }))), ['failing', 'the database does not answer; a failing', 503]);
    assert.deepEqual(pick(healthResponse(false, () => ({}))), ['failing', 'the database does not answer', 503]);
  });

  test('a report that throws is failing, with its message kept', () => {
    const h = healthResponse(true, () => {
      throw new Error('boom');
    });
    assert.deepEqual(pick(h), ['failing', 'the health check failed', 503]);
    assert.equal(h.rest.healthError, 'boom');
  });
});

describe('countFrames', () => {
  test('counts frames of every length encoding in a concatenation', () => {
    const frames = [textFrame('a'), textFrame('x'.repeat(125)), textFrame('y'.repeat(126)), textFrame('z'.repeat(70_000)), textFrame('')];
    assert.equal(countFrames(Buffer.concat(frames)), 5);
    assert.equal(countFrames(frames[3]), 1);
    assert.equal(countFrames(Buffer.alloc(0)), 0);
  });
});

function pick(h: ReturnType<typeof healthResponse>): [string, string | null, number] {
  return [h.status, h.reason, h.httpStatus];
}
