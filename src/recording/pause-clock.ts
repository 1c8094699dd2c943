/**
 * Pause and resume of one recording (pure): decides which media chunks are
 * written and maps the stream's timestamps onto the record's timeline, so
 * that a pause leaves no gap. While paused nothing passes; after resume()
 * the record continues at the next keyframe, whose timestamp is placed one
 * frame interval after the last media written, and every later chunk is
 * shifted by the same offset (the media time left out). The record's
 * duration is then the sum of its recorded spans.
 */

/** One pause of a recording, as the API lists it. */
export interface PauseEntry {
  /** Wall clock of pause(), epoch ms. */
  readonly pausedAt: number;
  /** Wall clock of resume(), epoch ms; null while paused. */
  resumedAt: number | null;
  /** Where the pause is on the record's timeline: end of the last media written before it, ms (0 when nothing was written yet). */
  readonly atMs: number;
  /** The stream's own timestamp of the last media seen before the pause, ms (-1 when none). */
  readonly pausedAtStreamMs: number;
  /** The stream's timestamp of the keyframe the record continued at, ms; null until it came. */
  resumedAtStreamMs: number | null;
  /** Stream media time left out of the record by this pause, ms. */
  skippedMs: number;
}

export type PauseMode =
  /** Media passes (shifted by the offset). */
  | 'recording'
  /** Nothing passes. */
  | 'paused'
  /** Resumed: nothing passes until a keyframe. */
  | 'resuming';

/** The chunk fields the clock needs. */
export interface TimedChunk {
  readonly track: string;
  readonly keyframe: boolean;
  readonly timestampMs: number;
  readonly endTimestampMs: number;
}

export interface Admitted {
  /** Shift to subtract from the chunk's timestamps, ms. */
  readonly offsetMs: number;
  readonly timestampMs: number;
  readonly endTimestampMs: number;
}

/** Frame interval assumed before two frames of a track were seen, ms (30 fps). */
export const DEFAULT_FRAME_INTERVAL_MS = 33;
/** A "frame interval" above this is a hole in the stream, not a frame rate. */
const MAX_FRAME_INTERVAL_MS = 1000;

export class PauseClock {
  #mode: PauseMode = 'recording';
  #offset = 0;
  /** End of the last media written, record timeline, per track and overall (-1 = none). */
  readonly #lastOut = new Map<string, number>();
  #lastOutAll = -1;
  /** End of the previous chunk of each track seen while recording (stream time). */
  readonly #lastIn = new Map<string, number>();
  readonly #interval = new Map<string, number>();
  /** After a resume: chunks before the resume keyframe (late audio) are left out. */
  #resumeFromMs = Number.NEGATIVE_INFINITY;
  #lastSeenStreamMs = -1;
  readonly #pauses: PauseEntry[] = [];

  get mode(): PauseMode {
    return this.#mode;
  }

  /** Paused, or resumed and waiting for the keyframe to continue at. */
  get paused(): boolean {
    return this.#mode !== 'recording';
  }

  /** Media time left out so far, ms. */
  get offsetMs(): number {
    return this.#offset;
  }

  /** The stream's own timestamp of the last media seen (written or not), ms; -1 before any. */
  get lastStreamTimestampMs(): number {
    return this.#lastSeenStreamMs;
  }

  get pauses(): readonly PauseEntry[] {
    return this.#pauses;
  }

  /** Stops letting media through; false when already paused (or waiting to resume). */
  pause(nowMs: number): boolean {
    if (this.#mode !== 'recording') return false;
    this.#mode = 'paused';
    this.#lastIn.clear();
    this.#pauses.push({
      pausedAt: nowMs,
      resumedAt: null,
      atMs: Math.max(this.#lastOutAll, 0),
      pausedAtStreamMs: this.#lastSeenStreamMs,
      resumedAtStreamMs: null,
      skippedMs: 0,
    });
    return true;
  }

  /** Lets media through again from the next keyframe; false when not paused. */
  resume(nowMs: number): boolean {
    if (this.#mode !== 'paused') return false;
    this.#mode = 'resuming';
    const last = this.#pauses[this.#pauses.length - 1];
    if (last) last.resumedAt = nowMs;
    return true;
  }

  /**
   * Whether a media chunk goes into the record, and where on its timeline;
   * null = leave it out. Call written() once it is written.
   */
  admit(chunk: TimedChunk): Admitted | null {
    if (chunk.endTimestampMs > this.#lastSeenStreamMs) this.#lastSeenStreamMs = chunk.endTimestampMs;
    if (this.#mode === 'paused') return null;
    if (this.#mode === 'resuming') {
      if (!chunk.keyframe) return null;
      this.#continueAt(chunk);
    } else {
      if (chunk.timestampMs < this.#resumeFromMs) return null;
      const previous = this.#lastIn.get(chunk.track);
      const gap = previous === undefined ? 0 : chunk.timestampMs - previous;
      if (gap > 0 && gap <= MAX_FRAME_INTERVAL_MS) this.#interval.set(chunk.track, gap);
    }
    this.#lastIn.set(chunk.track, chunk.endTimestampMs);
    return { offsetMs: this.#offset, timestampMs: chunk.timestampMs - this.#offset, endTimestampMs: chunk.endTimestampMs - this.#offset };
  }

  /** Notes that an admitted chunk was written (its end on the record's timeline). */
  written(track: string, endTimestampMs: number): void {
    this.#lastOut.set(track, Math.max(this.#lastOut.get(track) ?? -1, endTimestampMs));
    if (endTimestampMs > this.#lastOutAll) this.#lastOutAll = endTimestampMs;
  }

  /** Resumes at this keyframe: one frame interval after what was written (nothing written yet: no shift). */
  #continueAt(key: TimedChunk): void {
    this.#mode = 'recording';
    this.#resumeFromMs = key.timestampMs;
    const pause = this.#pauses[this.#pauses.length - 1];
    if (this.#lastOutAll >= 0) {
      const interval = this.#interval.get(key.track) ?? DEFAULT_FRAME_INTERVAL_MS;
      const trackEnd = this.#lastOut.get(key.track) ?? this.#lastOutAll;
      const start = Math.max(trackEnd + interval, this.#lastOutAll + 1);
      const offset = key.timestampMs - start;
      // (a stream whose timestamps went back meanwhile gets a smaller, even negative, offset: no overlap either way)
      if (pause) pause.skippedMs = Math.max(0, offset - this.#offset);
      this.#offset = offset;
    }
    if (pause) pause.resumedAtStreamMs = key.timestampMs;
  }
}
