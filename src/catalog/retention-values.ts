import { ValueError, type ValueParser } from '../config/values.js';

/**
 * Values of the record_retention_* properties (pure). Durations: seconds,
 * or a number with s, m, h or d; sizes: bytes, or a number with K, M, G or
 * T (powers of 1024). 0 turns a rule off.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A duration such as `30d`, `12h`, `90m`, `45s` or plain seconds; returns seconds. */
export const retentionDurationValue: ValueParser<number> = (raw) => {
  const m = /^(\d{1,9})\s*([smhd]?)$/i.exec(raw.trim());
  if (!m) throw new ValueError('a duration such as 30d, 12h, 90m, 45s or a number of seconds (0 = off)');
  return Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
};

/** A size such as `500G`, `2T`, `100M`, `64K` or plain bytes; returns bytes. */
export const retentionSizeValue: ValueParser<number> = (raw) => {
  const m = /^(\d{1,13})\s*([kmgt]?)(?:i?b)?$/i.exec(raw.trim());
  if (!m) throw new ValueError('a size such as 500G, 2T, 100M, 64K or a number of bytes (0 = off)');
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw new ValueError('a size below 8 PiB');
  return n;
};

/** record_retention_check_interval: a duration of at least 1 s. */
export const retentionIntervalValue: ValueParser<number> = (raw) => {
  const s = retentionDurationValue(raw);
  if (s < 1) throw new ValueError('a duration of at least 1 s such as 60, 30s, 5m');
  return s;
};
