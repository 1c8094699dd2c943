/**
 * What time-range playback needs from the catalog: the finished parts of a
 * stream that overlap a wall-clock range, oldest first. The catalog
 * implements it; the playback code knows only this.
 */
export interface RecordedPart {
  /** Absolute path of the finished file. */
  readonly path: string;
  readonly fileName: string;
  readonly streamName: string;
  /** Wall-clock start and end of the media in the file, epoch ms. */
  readonly startMs: number;
  readonly endMs: number;
  /** 'mp4' | 'mkv' | 'webm' | 'ts' */
  readonly container: string;
  /** The node whose disk holds the file (path is a path on that node). */
  readonly nodeId: string;
}

export interface PartSource {
  /** Finished (or recovered) parts of `streamName` whose [startMs, endMs) overlaps [fromMs, toMs), sorted by startMs. */
  partsOverlapping(streamName: string, fromMs: number, toMs: number): Promise<readonly RecordedPart[]>;
}

/** The parts exist but cannot be made readable now (too many fetched from the bucket at once): try again shortly (503). */
export class PartsBusyError extends Error {}
