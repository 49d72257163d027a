/**
 * The `alerts` config key: rules evaluated as items arrive (pipelines/alerts.ts) and an optional
 * webhook they are POSTed to (src/alerts/webhook.ts). configSchema embeds it as
 * `alerts: alertsConfigSchema.prefault({})`, so no `alerts` key means no rules and no webhook.
 *
 * Durations use the grammar of `limits` ("30s", "5m", "1h", "7d", parsed to milliseconds).
 *
 * This module does not import ./schema.ts (which imports it): the shared value grammars are in
 * ./units.ts.
 */
import { z } from 'zod';
import { duration } from './units.js';

const ruleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit');

/** A ticker symbol as written in config (`AAPL`, `brk.b`, `BRK-B`), normalized to the linker's canonical form (`BRK.B`). */
const symbol = z
  .string()
  .regex(/^[A-Za-z]{1,6}(?:[./-][A-Za-z]{1,2})?$/, 'must be a ticker symbol like AAPL or BRK.B')
  .transform((s) => s.trim().toUpperCase().replace(/[-/]/g, '.'));

/** Fields every rule has. */
const common = {
  id: ruleId,
  /** Only these tickers (canonical symbols). Absent: every ticker (shift, volume) — threshold needs a list. */
  tickers: z.array(symbol).min(1, 'give at least one symbol, or leave tickers out').max(10_000).optional(),
  /** Also (or only, without `tickers`) the global watchlist, config `tickers.watchlist`. */
  watchlist: z.boolean().default(false),
  /** No second alert of this rule for the same ticker within this much event time. 0s = no cooldown. */
  cooldown: duration('0s', '30d').default(3_600_000),
  enabled: z.boolean().default(true),
};

/** Windows shared by shift and volume: the recent window is compared with the trailing window just before it. */
const windows = {
  /** The recent window (rolling). */
  recent: duration('1m', '1d').default(3_600_000),
  /** The trailing window before the recent one: the baseline. */
  trailing: duration('10m', '90d').default(7 * 86_400_000),
};

/**
 * `shift`: a ticker's mean score over `recent` moves more than `k` standard deviations (at least
 * `minSd`) from its mean over `trailing`, with ≥ `minItems` stories in recent and ≥ `minBaseline` in trailing.
 */
export const shiftRuleSchema = z
  .object({
    ...common,
    kind: z.literal('shift'),
    ...windows,
    direction: z.enum(['down', 'up', 'both']).default('both'),
    k: z.number().gt(0).max(100).default(3),
    /** Floor of the trailing standard deviation (a perfectly steady baseline would make any move infinite sd). */
    minSd: z.number().gt(0).max(2).default(0.1),
    minItems: z.number().int().min(1).max(10_000).default(5),
    minBaseline: z.number().int().min(2).max(1_000_000).default(20),
  })
  .strict();

/**
 * `volume`: stories about a ticker in `recent` ≥ `minItems` and > `factor` × the trailing average
 * per recent-sized window. No alert until the engine has seen `minHistory` of news (cold start).
 */
export const volumeRuleSchema = z
  .object({
    ...common,
    kind: z.literal('volume'),
    ...windows,
    factor: z.number().gt(1).max(10_000).default(3),
    minItems: z.number().int().min(1).max(100_000).default(5),
    /** How much event time the baseline must cover before this rule can fire. */
    minHistory: duration('1m', '90d').default(86_400_000),
  })
  .strict();

/** `threshold`: any story naming a listed ticker with ticker score ≤ `below` or ≥ `above`. */
export const thresholdRuleSchema = z
  .object({
    ...common,
    kind: z.literal('threshold'),
    below: z.number().min(-1).max(1).optional(),
    above: z.number().min(-1).max(1).optional(),
  })
  .strict();

const ruleSchema = z
  .discriminatedUnion('kind', [shiftRuleSchema, volumeRuleSchema, thresholdRuleSchema], {
    error: (iss) => (iss.code === 'invalid_union' ? 'kind must be one of shift, volume, threshold' : undefined),
  })
  .superRefine((r, ctx) => {
    if (r.kind === 'shift' || r.kind === 'volume') {
      if (r.trailing < 2 * r.recent) ctx.addIssue({ code: 'custom', path: ['trailing'], message: 'trailing must be at least twice as long as recent' });
    }
    if (r.kind === 'volume' && r.minHistory > r.trailing) ctx.addIssue({ code: 'custom', path: ['minHistory'], message: 'minHistory cannot be longer than trailing' });
    if (r.kind === 'threshold') {
      if (r.below === undefined && r.above === undefined) ctx.addIssue({ code: 'custom', path: ['below'], message: 'a threshold rule needs below, above or both' });
      if (r.below !== undefined && r.above !== undefined && r.below >= r.above) ctx.addIssue({ code: 'custom', path: ['above'], message: 'above must be greater than below' });
      if (!r.tickers && !r.watchlist) ctx.addIssue({ code: 'custom', path: ['tickers'], message: 'a threshold rule needs tickers, or watchlist: true' });
    }
  });

/** A header name (RFC 9110 token) that the delivery sets itself is refused rather than silently overridden. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'connection', 'transfer-encoding']);

export const webhookConfigSchema = z
  .object({
    url: z
      .string()
      .refine((s) => {
        try {
          const u = new URL(s);
          return u.protocol === 'http:' || u.protocol === 'https:';
        } catch {
          return false;
        }
      }, 'must be an absolute http:// or https:// URL')
      .refine((s) => {
        try {
          const u = new URL(s);
          return !u.username && !u.password;
        } catch {
          return true;
        }
      }, 'must not contain credentials: put them in headers (e.g. authorization: Bearer ...)'),
    /** Extra request headers (e.g. authorization); their values never appear in logs. */
    headers: z
      .record(z.string(), z.string().max(8192).regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII on one line'))
      .superRefine(
        (h, ctx) => {
          for (const name of Object.keys(h)) {
            if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid header name' });
            else if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by tickerpulse itself and cannot be configured' });
          }
        },
        { when: () => true },
      )
      .default({}),
    /** Deadline of one POST (connect + response). */
    timeout: duration('100ms', '5m').default(10_000),
    /** Tries per alert (1 = no retry). */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /** Alerts waiting for delivery; when full the oldest waiting one is dropped (logged with a count). */
    maxQueue: z.number().int().min(1).max(100_000).default(1000),
    /** First retry delay (exponential with full jitter) … */
    backoff: duration('1ms', '10m').default(1000),
    /** … capped here; also the cap of a Retry-After the receiver asks for. */
    maxBackoff: duration('1ms', '1h').default(60_000),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.maxBackoff < w.backoff) ctx.addIssue({ code: 'custom', path: ['maxBackoff'], message: 'maxBackoff cannot be shorter than backoff' });
  });

export const alertsConfigSchema = z
  .object({
    rules: z
      .array(ruleSchema)
      .max(1000)
      // `when`: also runs when some rule is invalid, so a duplicate id is reported together with the rest.
      .superRefine(
        (list, ctx) => {
          const seen = new Map<string, number>();
          list.forEach((r, i) => {
            const id = (r as { id?: unknown } | null)?.id;
            if (typeof id !== 'string') return;
            const first = seen.get(id);
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate rule id "${id}" (also rules[${first}])` });
            else seen.set(id, i);
          });
        },
        { when: () => true },
      )
      .default([]),
    webhook: webhookConfigSchema.optional(),
    /** Tickers whose windows and cooldowns are kept; past this the least recently seen is forgotten. */
    maxTrackedTickers: z.number().int().min(10).max(1_000_000).default(10_000),
  })
  .strict();

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertRuleConfig = z.output<typeof ruleSchema>;
export type ShiftRuleConfig = z.output<typeof shiftRuleSchema>;
export type VolumeRuleConfig = z.output<typeof volumeRuleSchema>;
export type ThresholdRuleConfig = z.output<typeof thresholdRuleSchema>;
export type WebhookConfig = z.output<typeof webhookConfigSchema>;
