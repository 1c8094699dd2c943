/** A recorded stretch of a stream: one part. */
export interface TimelineSpan {
  readonly start: number;
  readonly end: number;
  readonly fileName: string;
}

export interface TimelineGap {
  readonly start: number;
  readonly end: number;
}

export interface Timeline {
  readonly spans: TimelineSpan[];
  readonly gaps: TimelineGap[];
}

/**
 * Spans and gaps of a stream over [from, to] (pure). `spans` are the parts
 * overlapping the range, oldest first; `gaps` the stretches of the range no
 * part covers, longer than `minGapMs` (consecutive rotated parts touch
 * within a few ms: no gap between them). Without a range the timeline runs
 * from the first part's start to the last part's end.
 */
export function buildTimeline(parts: readonly TimelineSpan[], from: number | null, to: number | null, minGapMs: number): Timeline {
  // the catalog hands them sorted already: sorting is then one pass
  const spans = isSorted(parts) ? (parts as TimelineSpan[]) : [...parts].sort((a, b) => a.start - b.start || a.end - b.end);
  const gaps: TimelineGap[] = [];
  if (spans.length === 0) {
    if (from !== null && to !== null && to > from) gaps.push({ start: from, end: to });
    return { spans, gaps };
  }
  const rangeStart = from ?? spans[0]!.start;
  const rangeEnd = to ?? spans.reduce((m, s) => Math.max(m, s.end), spans[0]!.end);
  let covered = rangeStart;
  for (const s of spans) {
    if (s.start - covered > minGapMs) gaps.push({ start: covered, end: Math.min(s.start, rangeEnd) });
    covered = Math.max(covered, s.end);
  }
  if (rangeEnd - covered > minGapMs) gaps.push({ start: covered, end: rangeEnd });
  return { spans, gaps: gaps.filter((g) => g.end > g.start) };
}

function isSorted(parts: readonly TimelineSpan[]): boolean {
  for (let i = 1; i < parts.length; i++) {
    const a = parts[i - 1]!;
    const b = parts[i]!;
    if (a.start > b.start || (a.start === b.start && a.end > b.end)) return false;
  }
  return true;
}
