import { type Logger, type LoggerOptions, pino } from 'pino';

/** JSON logger to stdout; modules take `logger.child({ module })`. */
export function createLogger(service: string, level: LoggerOptions['level'] = 'info'): Logger {
  return pino({ name: service, level, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
