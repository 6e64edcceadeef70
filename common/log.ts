import pino, { type Logger } from 'pino';

export type { Logger };

/** A JSON logger for one process role; `level` comes from the configuration. */
export function createLogger(role: string, level: string): Logger {
  return pino({ name: `odcs-${role}`, level, base: { role, pid: process.pid } });
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
