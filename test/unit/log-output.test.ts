import { describe, expect, it } from 'vitest';
import { chooseLogLevel, stdoutFormat } from '../../src/util/log-output.js';

describe('log output (pure)', () => {
  it.each([
    [undefined, 'info', { level: 'info', from: 'log_level', ignored: null }],
    ['', 'warn', { level: 'warn', from: 'log_level', ignored: null }],
    ['debug', 'info', { level: 'debug', from: 'LOG_LEVEL', ignored: null }],
    [' TRACE ', 'info', { level: 'trace', from: 'LOG_LEVEL', ignored: null }],
    ['loud', 'error', { level: 'error', from: 'log_level', ignored: 'loud' }],
  ] as const)('LOG_LEVEL=%s with log_level=%s', (env, property, expected) => {
    expect(chooseLogLevel(env, property)).toEqual(expected);
  });

  it.each([
    [true, undefined, 'pretty'],
    [false, undefined, 'json'],
    [true, 'json', 'json'],
    [false, 'pretty', 'pretty'],
    [false, 'fancy', 'json'],
  ] as const)('a terminal=%s with LOG_FORMAT=%s writes %s', (tty, override, expected) => {
    expect(stdoutFormat(tty, override)).toBe(expected);
  });
});
