import type { PrettyOptions } from 'pino-pretty';

/** pino's levels, as log_level and LOG_LEVEL take them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LevelChoice {
  readonly level: LogLevel;
  /** Where it came from: the LOG_LEVEL environment variable or the log_level property. */
  readonly from: 'LOG_LEVEL' | 'log_level';
  /** A LOG_LEVEL that is not a level (ignored, so the daemon still starts); null when fine or absent. */
  readonly ignored: string | null;
}

/** The log level (pure): LOG_LEVEL in the environment wins over log_level when it names a level. */
export function chooseLogLevel(env: string | undefined, property: LogLevel): LevelChoice {
  const given = env?.trim() ?? '';
  if (given === '') return { level: property, from: 'log_level', ignored: null };
  const level = LOG_LEVELS.find((l) => l === given.toLowerCase());
  return level ? { level, from: 'LOG_LEVEL', ignored: null } : { level: property, from: 'log_level', ignored: given };
}

/**
 * How standard output is written (pure): readable lines for a person at a
 * terminal, JSON lines for everything else (systemd, Docker, pipes, tests).
 * LOG_FORMAT=json|pretty overrides the guess. logs/server.log is always JSON.
 */
export function stdoutFormat(isTty: boolean, override: string | undefined): 'pretty' | 'json' {
  const o = override?.trim().toLowerCase();
  if (o === 'json' || o === 'pretty') return o;
  return isTty ? 'pretty' : 'json';
}

/**
 * pino-pretty for a terminal: one line per entry, local time, the component
 * in brackets before the message and the other fields after it. In this
 * process and synchronous: a worker-thread transport could lose the last
 * lines when the daemon exits.
 */
export const PRETTY_OPTIONS: PrettyOptions = {
  colorize: true,
  sync: true,
  destination: 1,
  translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
  singleLine: true,
  messageFormat: '{if component}[{component}] {end}{msg}',
  ignore: 'pid,component',
};
