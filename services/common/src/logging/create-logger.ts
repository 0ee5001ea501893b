import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * JSON logger to stdout (to stderr for a command whose stdout is its report); modules take
 * `logger.child({ module })`.
 */
export function createLogger(
  service: string,
  level: LoggerOptions['level'] = 'info',
  options: { to?: 'stdout' | 'stderr' } = {},
): Logger {
  const settings = { name: service, level, timestamp: pino.stdTimeFunctions.isoTime };
  return options.to === 'stderr' ? pino(settings, pino.destination({ dest: 2, sync: true })) : pino(settings);
}

export type { Logger };
