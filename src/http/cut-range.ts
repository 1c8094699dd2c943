import { createHash } from 'node:crypto';
import { truncateUtf8 } from '../recording/naming.js';

/**
 * The `?start=S&end=E` part of a record request (pure): parsing, checks and
 * the name of the stored part, as in WCS (`stream.mp4?start=11&end=60` is
 * stored as `stream-s11-e60.mp4`). Times are kept in whole milliseconds so
 * that equal requests always give the same name.
 */

/** At least one of start and end, in milliseconds from the start of the record. */
export interface CutRange {
  readonly startMs?: number;
  readonly endMs?: number;
}

export class CutRangeError extends Error {}

/** Ten days: far beyond any record, small enough to stay exact in milliseconds. */
export const MAX_CUT_SECONDS = 864_000;

const SECONDS = /^(\d{1,7})(?:\.(\d{1,3}))?$/;

/** Parses one value in seconds ("11", "11.5", up to 3 decimals) into milliseconds. */
export function parseSeconds(name: 'start' | 'end', raw: string): number {
  const v = raw.trim();
  if (v === '') throw new CutRangeError(`${name} is empty; give a number of seconds such as 11 or 11.5`);
  if (/^-\s*\d/.test(v)) throw new CutRangeError(`${name} '${raw}' is negative; give a number of seconds from 0`);
  const m = SECONDS.exec(v);
  if (!m) {
    throw new CutRangeError(`${name} '${raw}' is not a number of seconds (such as 11 or 11.5, at most 3 decimals)`);
  }
  const ms = Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0'));
  if (ms > MAX_CUT_SECONDS * 1000) throw new CutRangeError(`${name} '${raw}' is too large (at most ${MAX_CUT_SECONDS} s)`);
  return ms;
}

/**
 * The range asked for by the query, or null when neither start nor end is
 * given (the whole record). Checks what can be checked without the file.
 */
export function parseCutRange(query: { readonly start?: string; readonly end?: string }): CutRange | null {
  if (query.start === undefined && query.end === undefined) return null;
  const startMs = query.start === undefined ? undefined : parseSeconds('start', query.start);
  const endMs = query.end === undefined ? undefined : parseSeconds('end', query.end);
  if (endMs !== undefined && endMs <= (startMs ?? 0)) {
    throw new CutRangeError(`end (${formatSeconds(endMs)}) must be after start (${formatSeconds(startMs ?? 0)})`);
  }
  const range: { startMs?: number; endMs?: number } = {};
  if (startMs !== undefined) range.startMs = startMs;
  if (endMs !== undefined) range.endMs = endMs;
  return range;
}

/**
 * Checks the range against the record's duration: the start must lie inside
 * the record. An end beyond the record is allowed (the part runs to the end).
 */
export function checkRangeInside(range: CutRange, durationSeconds: number): void {
  const durationMs = Math.floor(durationSeconds * 1000);
  if (range.startMs !== undefined && range.startMs >= durationMs) {
    throw new CutRangeError(
      `start (${formatSeconds(range.startMs)}) is beyond the end of the record (${formatSeconds(durationMs)} s long)`,
    );
  }
}

/**
 * The range a request really asks for, given the record's duration (pure):
 * an end at or beyond the end of the record, and a start of 0, say nothing
 * and are dropped, so that every such request names the same part (`?end=`
 * past the end no longer makes a new copy per value). null = the whole
 * record. Call checkRangeInside first.
 */
export function clampRange(range: CutRange, durationSeconds: number): CutRange | null {
  const durationMs = Math.floor(durationSeconds * 1000);
  const out: { startMs?: number; endMs?: number } = {};
  if (range.startMs !== undefined && range.startMs > 0) out.startMs = range.startMs;
  if (range.endMs !== undefined && range.endMs < durationMs) out.endMs = range.endMs;
  return out.startMs === undefined && out.endMs === undefined ? null : out;
}

/**
 * Bytes a part may take on disk (pure): its share of the record's size by
 * time, plus 10 % and 1 MiB for the moov and a keyframe before the start.
 * Used to refuse a cut that would not fit before it runs.
 */
export function estimatePartBytes(recordBytes: number, durationSeconds: number, range: CutRange): number {
  const durationMs = Math.max(1, Math.floor(durationSeconds * 1000));
  const from = Math.min(range.startMs ?? 0, durationMs);
  const to = Math.min(range.endMs ?? durationMs, durationMs);
  const share = Math.max(0, to - from) / durationMs;
  return Math.min(recordBytes, Math.ceil(recordBytes * share * 1.1)) + 1024 * 1024;
}

/** Milliseconds as the shortest decimal number of seconds: 11000 -> "11", 11500 -> "11.5". */
export function formatSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = ms % 1000;
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

/** The ffmpeg input options of a cut: seek on the input (-ss before -i), stop at -to. */
export function cutInputArgs(range: CutRange): string[] {
  const args: string[] = [];
  if (range.startMs !== undefined) args.push('-ss', formatSeconds(range.startMs));
  if (range.endMs !== undefined) args.push('-to', formatSeconds(range.endMs));
  return args;
}

const MAX_NAME_BYTES = 255;


/**
 * Name of the stored part of record `recordName`: `<base>-sS-eE.mp4` with
 * only the bounds that were given (`-sS` or `-eE`). It stays a plain file
 * name of at most 255 bytes: when the base must be shortened, a short hash
 * of the whole record name keeps different records apart.
 */
export function cutFileName(recordName: string, range: CutRange): string {
  const dot = recordName.lastIndexOf('.');
  const base = dot > 0 ? recordName.slice(0, dot) : recordName;
  let suffix = '';
  if (range.startMs !== undefined) suffix += `-s${formatSeconds(range.startMs)}`;
  if (range.endMs !== undefined) suffix += `-e${formatSeconds(range.endMs)}`;
  suffix += '.mp4';
  if (Buffer.byteLength(base) + Buffer.byteLength(suffix) <= MAX_NAME_BYTES) return base + suffix;
  const hash = '~' + createHash('sha256').update(recordName).digest('hex').slice(0, 12);
  return truncateUtf8(base, MAX_NAME_BYTES - Buffer.byteLength(suffix) - hash.length) + hash + suffix;
}

const CUT_NAME = /^(.+?)(?:-s(\d{1,7}(?:\.\d{1,3})?))?(?:-e(\d{1,7}(?:\.\d{1,3})?))?\.mp4$/;

/**
 * The record name a cut name was made from (`stream-s11-e60.mp4` ->
 * `stream.mp4`), or null when the name does not look like a cut. Used to
 * keep parts out of the record listing when they share record_dir.
 */
export function recordNameOfCut(fileName: string): string | null {
  const m = CUT_NAME.exec(fileName);
  if (!m || (m[2] === undefined && m[3] === undefined)) return null;
  return `${m[1]}.mp4`;
}
