import assert from 'node:assert/strict';
import { TickerpulseError } from '../../src/lib/errors.js';

/** The issues of the CONFIG_INVALID error `fn` throws (fails the test when it throws none). */
export function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TickerpulseError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return (err.details as { issues: { path: string; message: string }[] }).issues;
  }
  assert.fail('expected CONFIG_INVALID');
}
