/** JSON logs in the runbook's shape: timestamp, level (upper case), message, service, event, correlation_id. */
import pino, { type LevelWithSilent, type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(service: string, level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
    messageKey: 'message',
    base: { service },
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
  });
}
export type { Logger };
