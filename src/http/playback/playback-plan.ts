import { createHash } from 'node:crypto';
import type { RecordedPart } from '../../catalog/part-source.js';

/**
 * The rules of time-range playback (pure): parsing `from`/`to`, choosing the
 * parts that hold a range and where to enter and leave each, the gaps left
 * out between them, the cache key of the answer and the ffmpeg concat list.
 */

export class PlaybackRangeError extends Error {}

/** The longest range one request may ask for (and what `from` alone reaches at most). */
export const MAX_PLAYBACK_RANGE_MS = 24 * 3600_000;

/**
 * Wall-clock slack between one part's end and the next one's start that is
 * still one continuous recording: rotated parts meet within a few ms, but
 * their times are taken with Date.now() when a keyframe arrives.
 */
export const GAP_TOLERANCE_MS = 1000;

/** Epoch ms up to year 9999: beyond it dates stop being exact in a JS Date. */
const MAX_EPOCH_MS = 253_402_300_799_999;
const EPOCH_MS = /^\d{1,15}$/;
/** ISO 8601 with a date, a time and a zone (Z or ±hh:mm): a time without a zone would depend on the server's. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** One instant: epoch milliseconds ("1700000000000") or ISO 8601 with a zone ("2023-11-14T22:13:20Z"). */
export function parseInstant(name: 'from' | 'to', raw: string): number {
  const v = raw.trim();
  if (v === '') throw new PlaybackRangeError(`${name} is empty; give epoch milliseconds or an ISO 8601 time such as 2026-12-06T20:00:00Z`);
  let ms: number;
  if (EPOCH_MS.test(v)) {
    ms = Number(v);
  } else if (ISO_8601.test(v)) {
    // Date.parse takes at most milliseconds: extra fraction digits are cut, not rounded
    const normalized = v.replace(/(\.\d{3})\d+/, '$1').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    ms = Date.parse(normalized);
    if (Number.isNaN(ms)) throw new PlaybackRangeError(`${name} '${raw}' is not a valid date and time`);
  } else {
    throw new PlaybackRangeError(`${name} '${raw}' is neither epoch milliseconds nor an ISO 8601 time with a zone (such as 2026-12-06T20:00:00Z)`);
  }
  if (ms < 0 || ms > MAX_EPOCH_MS) throw new PlaybackRangeError(`${name} '${raw}' is out of range`);
  return ms;
}

export interface PlaybackRange {
  readonly fromMs: number;
  /** The end asked for; with `from` alone, `from` + MAX_PLAYBACK_RANGE_MS (then clamped to what exists). */
  readonly toMs: number;
  readonly openEnded: boolean;
}

/** The range of a `?from=&to=` query; `from` is required, `to` optional. */
export function parsePlaybackRange(query: { readonly from?: string; readonly to?: string }): PlaybackRange {
  if (query.from === undefined) throw new PlaybackRangeError('from is required (epoch milliseconds or ISO 8601)');
  const fromMs = parseInstant('from', query.from);
  if (query.to === undefined) return { fromMs, toMs: fromMs + MAX_PLAYBACK_RANGE_MS, openEnded: true };
  const toMs = parseInstant('to', query.to);
  if (toMs <= fromMs) throw new PlaybackRangeError(`to (${toMs}) must be after from (${fromMs})`);
  if (toMs - fromMs > MAX_PLAYBACK_RANGE_MS) {
    throw new PlaybackRangeError(`the range is ${toMs - fromMs} ms long; at most ${MAX_PLAYBACK_RANGE_MS} ms (24 h) may be asked for at once`);
  }
  return { fromMs, toMs, openEnded: false };
}

/** One part's share of the answer. */
export interface StitchSegment {
  readonly part: RecordedPart;
  /** Where to enter the file, ms from its start (0: from its first frame). */
  readonly inpointMs: number;
  /** Where to leave it, ms from its start; null: to its end. */
  readonly outpointMs: number | null;
  /** The wall-clock span this segment covers. */
  readonly startMs: number;
  readonly endMs: number;
}

export interface StitchPlan {
  readonly segments: readonly StitchSegment[];
  /** Wall-clock spans without media between segments, left out of the answer: [startMs, endMs]. */
  readonly gaps: readonly (readonly [number, number])[];
  /** The range actually answered: from the first segment's start to the last one's end. */
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Chooses what of `parts` plays [fromMs, toMs): each overlapping part, entered
 * at `fromMs` (first part) or where the media before it ends (parts that
 * overlap by more than the tolerance), left at `toMs` (last part). Parts that
 * meet within `toleranceMs` are continuous; a longer pause is a gap. Null
 * when nothing overlaps.
 */
export function planStitch(parts: readonly RecordedPart[], fromMs: number, toMs: number, toleranceMs = GAP_TOLERANCE_MS): StitchPlan | null {
  const overlapping = parts
    .filter((p) => p.endMs > p.startMs && p.endMs > fromMs && p.startMs < toMs)
    .sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs || a.fileName.localeCompare(b.fileName));
  const segments: StitchSegment[] = [];
  const gaps: [number, number][] = [];
  let covered: number | null = null;
  for (const part of overlapping) {
    let start = Math.max(part.startMs, fromMs);
    if (covered !== null) {
      if (start > covered + toleranceMs) gaps.push([covered, start]);
      else if (covered - start > toleranceMs) start = covered; // overlapping media already in the answer
    }
    const end = Math.min(part.endMs, toMs);
    if (end <= start || (covered !== null && end <= covered)) continue;
    segments.push({
      part,
      inpointMs: Math.max(0, start - part.startMs),
      outpointMs: end < part.endMs ? end - part.startMs : null,
      startMs: start,
      endMs: end,
    });
    covered = covered === null ? end : Math.max(covered, end);
  }
  const first = segments[0];
  const last = segments.at(-1);
  if (!first || !last) return null;
  return { segments, gaps, fromMs: first.startMs, toMs: last.endMs };
}

/** `X-Recording-Gaps`: epoch-ms pairs, `a-b,c-d` ('' when none). */
export function formatGaps(gaps: readonly (readonly [number, number])[]): string {
  return gaps.map(([a, b]) => `${a}-${b}`).join(',');
}

/** What identifies the content of a part file: a changed file makes a new answer. */
export interface PartFileState {
  readonly fileName: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Bump when the way answers are made changes, so older cached answers are not served. */
const CACHE_VERSION = 1;

/**
 * The cache key of an answer: stream, answered range, and every segment's
 * file (name, size, mtime) with its in and out points. 40 hex digits.
 */
export function playbackCacheKey(streamName: string, plan: StitchPlan, files: readonly PartFileState[]): string {
  const body = JSON.stringify({
    v: CACHE_VERSION,
    streamName,
    fromMs: plan.fromMs,
    toMs: plan.toMs,
    segments: plan.segments.map((s, i) => ({
      file: files[i]?.fileName ?? s.part.fileName,
      size: files[i]?.size ?? -1,
      mtimeMs: files[i]?.mtimeMs ?? -1,
      in: s.inpointMs,
      out: s.outpointMs,
    })),
  });
  return createHash('sha256').update(body).digest('hex').slice(0, 40);
}

/** Milliseconds as seconds with 3 decimals, for ffmpeg. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** A path for a concat list line: quoted, `'` escaped as ffmpeg's tokenizer wants; line breaks cannot be written. */
export function concatQuote(file: string): string {
  if (/[\r\n\0]/.test(file)) throw new PlaybackRangeError(`part path holds a line break: ${JSON.stringify(file)}`);
  return `'${file.replace(/'/g, "'\\''")}'`;
}

/** The ffmpeg concat demuxer list (`-f concat -safe 0`): one `file` per segment with its inpoint/outpoint. */
export function concatList(segments: readonly StitchSegment[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const s of segments) {
    lines.push(`file ${concatQuote(`file:${s.part.path}`)}`);
    if (s.inpointMs > 0) lines.push(`inpoint ${seconds(s.inpointMs)}`);
    if (s.outpointMs !== null) lines.push(`outpoint ${seconds(s.outpointMs)}`);
  }
  return lines.join('\n') + '\n';
}
