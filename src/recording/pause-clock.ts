/**
 * Pause and resume of one recording (pure): decides which media chunks are
 * written and maps the stream's timestamps onto the record's timeline, so
 * that a pause leaves no gap. While paused nothing passes; after resume()
 * the record continues at the next keyframe, whose timestamp is placed one
 * frame interval after the last media written, and every later chunk is
 * shifted by the same offset (the media time left out). The record's
 * duration is then the sum of its recorded spans.
 *
 * Video with B-frames (frames sent before the ones they are shown after):
 * a pause takes effect at the next video frame shown after every frame
 * written (a new reference frame), so the B-frames of the last group are
 * written and no picture is missing before the cut; the continuation is
 * also placed after the last picture shown, not only after the last one
 * decoded.
 */

/** One pause of a recording, as the API lists it. */
export interface PauseEntry {
  /** Wall clock of pause(), epoch ms. */
  readonly pausedAt: number;
  /** Wall clock of resume(), epoch ms; null while paused. */
  resumedAt: number | null;
  /** Where the pause is on the record's timeline: end of the last media written before it, ms (0 when nothing was written yet). */
  atMs: number;
  /** The stream's own timestamp of the last media seen before the pause, ms (-1 when none). */
  pausedAtStreamMs: number;
  /** The stream's timestamp of the keyframe the record continued at, ms; null until it came. */
  resumedAtStreamMs: number | null;
  /** Stream media time left out of the record by this pause, ms. */
  skippedMs: number;
}

export type PauseMode =
  /** Media passes (shifted by the offset). */
  | 'recording'
  /** Paused, the B-frames of the last group still pass: the cut comes at the next reference frame. */
  | 'pausing'
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
  /** When the chunk's (last) frame is shown, stream time, ms; default endTimestampMs (FLV video: + composition offset). */
  readonly ptsMs?: number;
}

export interface Admitted {
  /** Shift to subtract from the chunk's timestamps, ms. */
  readonly offsetMs: number;
  readonly timestampMs: number;
  readonly endTimestampMs: number;
  /** When the chunk's (last) frame is shown, record timeline, ms. */
  readonly ptsMs: number;
}

/** Frame interval assumed before two frames of a track were seen, ms (30 fps). */
export const DEFAULT_FRAME_INTERVAL_MS = 33;
/** A "frame interval" above this is a hole in the stream, not a frame rate. */
const MAX_FRAME_INTERVAL_MS = 1000;

export class PauseClock {
  /** `maxPauses`: pauses kept at most; a further pause() is refused (atPauseLimit). */
  constructor(readonly maxPauses = Number.POSITIVE_INFINITY) {}

  #mode: PauseMode = 'recording';
  #offset = 0;
  /** End of the last media written, record timeline, per track and overall (-1 = none). */
  readonly #lastOut = new Map<string, number>();
  #lastOutAll = -1;
  /** Latest presentation time written per track (record timeline), and that of video ('video' chunks: FLV, video-only WebM). */
  readonly #maxPtsOut = new Map<string, number>();
  #maxVideoPtsOut = -1;
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

  /** A new pause would be one too many (a resume waiting for its keyframe can still be taken back). */
  get atPauseLimit(): boolean {
    return this.#mode === 'recording' && this.#pauses.length >= this.maxPauses;
  }

  /** Stops letting media through; false when already paused. A resume still waiting for its keyframe is taken back. */
  pause(nowMs: number): boolean {
    if (this.#mode === 'resuming') {
      // nothing was written since the last pause: it goes on
      this.#mode = 'paused';
      const last = this.#pauses[this.#pauses.length - 1];
      if (last) last.resumedAt = null;
      return true;
    }
    if (this.#mode !== 'recording' || this.atPauseLimit) return false;
    // video written: wait for the next reference frame (with B-frames the last ones of the group are still to come)
    this.#mode = this.#maxVideoPtsOut >= 0 ? 'pausing' : 'paused';
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
    if (this.#mode !== 'paused' && this.#mode !== 'pausing') return false;
    const last = this.#pauses[this.#pauses.length - 1];
    if (last) last.resumedAt = nowMs;
    if (this.#mode === 'pausing') {
      // the cut had not come yet: nothing was left out
      this.#mode = 'recording';
      if (last) {
        last.atMs = Math.max(this.#lastOutAll, 0);
        last.resumedAtStreamMs = this.#lastSeenStreamMs;
      }
      return true;
    }
    this.#mode = 'resuming';
    return true;
  }

  /** The pause takes effect here: what was written so far is all the record holds before it. */
  #cut(): void {
    this.#mode = 'paused';
    this.#lastIn.clear();
    const last = this.#pauses[this.#pauses.length - 1];
    if (last) {
      last.atMs = Math.max(this.#lastOutAll, 0);
      last.pausedAtStreamMs = this.#lastSeenStreamMs;
    }
  }

  /**
   * Whether a media chunk goes into the record, and where on its timeline;
   * null = leave it out. Call written() once it is written.
   */
  admit(chunk: TimedChunk): Admitted | null {
    if (this.#mode === 'pausing' && chunk.track === 'video' && (chunk.ptsMs ?? chunk.endTimestampMs) - this.#offset > this.#maxVideoPtsOut) this.#cut();
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
    return {
      offsetMs: this.#offset,
      timestampMs: chunk.timestampMs - this.#offset,
      endTimestampMs: chunk.endTimestampMs - this.#offset,
      ptsMs: (chunk.ptsMs ?? chunk.endTimestampMs) - this.#offset,
    };
  }

  /** Notes that an admitted chunk was written (on the record's timeline: its end, and when its last frame is shown). */
  written(track: string, endTimestampMs: number, ptsMs = endTimestampMs): void {
    this.#lastOut.set(track, Math.max(this.#lastOut.get(track) ?? -1, endTimestampMs));
    if (endTimestampMs > this.#lastOutAll) this.#lastOutAll = endTimestampMs;
    if (ptsMs > (this.#maxPtsOut.get(track) ?? -1)) this.#maxPtsOut.set(track, ptsMs);
    if (track === 'video' && ptsMs > this.#maxVideoPtsOut) this.#maxVideoPtsOut = ptsMs;
  }

  /** Resumes at this keyframe: one frame interval after what was written (nothing written yet: no shift). */
  #continueAt(key: TimedChunk): void {
    this.#mode = 'recording';
    this.#resumeFromMs = key.timestampMs;
    const pause = this.#pauses[this.#pauses.length - 1];
    if (this.#lastOutAll >= 0) {
      const interval = this.#interval.get(key.track) ?? DEFAULT_FRAME_INTERVAL_MS;
      const trackEnd = this.#lastOut.get(key.track) ?? this.#lastOutAll;
      // shown after the last picture written too (a keyframe is shown its composition offset after it is decoded)
      const keyShownAfter = key.ptsMs === undefined ? 0 : key.ptsMs - key.timestampMs;
      const trackShown = this.#maxPtsOut.get(key.track) ?? trackEnd;
      const start = Math.max(trackEnd + interval, this.#lastOutAll + 1, trackShown + interval - keyShownAfter);
      const offset = key.timestampMs - start;
      // (a stream whose timestamps went back meanwhile gets a smaller, even negative, offset: no overlap either way)
      if (pause) pause.skippedMs = Math.max(0, offset - this.#offset);
      this.#offset = offset;
    }
    if (pause) pause.resumedAtStreamMs = key.timestampMs;
  }
}
