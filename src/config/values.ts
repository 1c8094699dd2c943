/**
 * Parsers for property values. Each takes the raw string of a property and
 * returns the typed value or throws a ValueError saying what is allowed.
 * Pure: no I/O.
 */

export class ValueError extends Error {
  constructor(readonly allowed: string) {
    super(allowed);
  }
}

export type ValueParser<T> = (raw: string) => T;

export const booleanValue: ValueParser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ValueError('true or false');
};

export function integerValue(min: number, max: number): ValueParser<number> {
  return (raw) => {
    const v = raw.trim();
    if (!/^-?\d+$/.test(v)) throw new ValueError(`an integer from ${min} to ${max}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ValueError(`an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export const portValue: ValueParser<number> = integerValue(1, 65535);

/** A port, or empty for "off" (null). */
export const optionalPortValue: ValueParser<number | null> = (raw) => {
  if (raw.trim() === '') return null;
  try {
    return portValue(raw);
  } catch {
    throw new ValueError('empty (off) or an integer from 1 to 65535');
  }
};

export function enumValue<T extends string>(allowed: readonly T[]): ValueParser<T> {
  return (raw) => {
    const v = raw.trim();
    const found = allowed.find((a) => a === v);
    if (found === undefined) throw new ValueError(`one of ${allowed.join(', ')}`);
    return found;
  };
}

/** Any string; surrounding whitespace removed. */
export const stringValue: ValueParser<string> = (raw) => raw.trim();

export const nonEmptyStringValue: ValueParser<string> = (raw) => {
  const v = raw.trim();
  if (v === '') throw new ValueError('a non-empty string');
  return v;
};

/** A file name template: non-empty, no path separator outside of placeholders. */
export const templateValue: ValueParser<string> = (raw) => {
  const v = raw.trim();
  if (v === '') throw new ValueError('a non-empty file name template such as stream-{mediaSessionId}-{login}');
  return v;
};

/** A size such as `1g`, `1024m`, `500k` or plain bytes (file_recorder_min_space). */
export const byteSizeValue: ValueParser<number> = (raw) => {
  const m = /^(\d{1,12})\s*([kmgt]?)b?$/i.exec(raw.trim());
  if (!m) throw new ValueError('a size such as 1g, 1024m, 500k or a number of bytes');
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * unit;
};

/** A length such as `1h`, `30m`, `120s` or plain seconds; returns seconds (0 = none). */
export const lengthSecondsValue: ValueParser<number> = (raw) => {
  const m = /^(\d{1,9})\s*([hms]?)$/i.exec(raw.trim());
  if (!m) throw new ValueError('a length such as 1h, 30m, 120s or a number of seconds (0 = no limit)');
  const unit = { '': 1, s: 1, m: 60, h: 3600 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
};
