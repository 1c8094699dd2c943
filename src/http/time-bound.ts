/** A `from`/`to` of a records query that is neither epoch ms nor an ISO 8601 time (400). */
export class TimeBoundError extends Error {}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch ms from a number (ms) or a string: digits (ms) or ISO 8601 (pure). Throws TimeBoundError naming `field`. */
export function parseTimeBound(field: string, value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || value > 8.64e15) throw new TimeBoundError(`${field}: epoch ms from 0 to 8.64e15 expected`);
    return Math.floor(value);
  }
  const v = value.trim();
  if (/^\d{1,16}$/.test(v)) return parseTimeBound(field, Number(v));
  if (!ISO_8601.test(v)) throw new TimeBoundError(`${field}: '${value.slice(0, 40)}' is neither epoch ms nor an ISO 8601 time such as 2026-12-06T20:00:00Z`);
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new TimeBoundError(`${field}: '${value.slice(0, 40)}' is not a valid time`);
  return ms;
}

/** Both bounds of a range, checked: from before to (pure). */
export function parseTimeRange(from: number | string | undefined, to: number | string | undefined): { fromMs?: number; toMs?: number } {
  const fromMs = from === undefined ? undefined : parseTimeBound('from', from);
  const toMs = to === undefined ? undefined : parseTimeBound('to', to);
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs) throw new TimeBoundError('to must be after from');
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}) };
}
