import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean;
  /** Where JSON lines go (default stdout). */
  destination?: number;
}

/**
 * Pretty when a person is watching, JSON lines otherwise (so logs can be shipped and grepped).
 * Secrets that may appear in source configs are redacted at the logger, not at each call site.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.TICKERPULSE_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const redact = { paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization'], censor: '[redacted]' };
  if (pretty) {
    return pino({
      level,
      redact,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, redact, base: { pid: process.pid } }, pino.destination({ fd: opts.destination ?? 1, sync: false }));
}
