/**
 * Value grammars shared by the config schema (schema.ts) and the schemas it embeds (alerts.ts),
 * in a module of their own so neither has to import the other (schema.ts imports alerts.ts).
 */
import { z } from 'zod';

// y is 365 days, w 7 days (retention ages: 90d, 1y).
const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** "30s", "5m", "1h", "250ms", "1d", "2w", "1y" → milliseconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS_MS[m[2]]);
}

/** What parseDuration accepts, for the JSON Schema of the config (docs/config.schema.json). */
export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d|w|y)\\s*$';

/** A duration setting within [min, max], parsed to milliseconds. */
export const duration = (min: string, max: string) =>
  z.string().meta({ pattern: DURATION_PATTERN, description: `a duration from ${min} to ${max}, e.g. 30s, 5m, 1h, 7d, 1y` }).transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration: write e.g. 30s, 5m, 1h, 7d` });
      return z.NEVER;
    }
    if (ms < parseDuration(min)! || ms > parseDuration(max)!) {
      ctx.addIssue({ code: 'custom', message: `${s} is out of range: use ${min} to ${max}` });
      return z.NEVER;
    }
    return ms;
  });
