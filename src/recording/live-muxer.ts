import type { FfmpegExit } from './ffmpeg/ffmpeg-process.js';

/**
 * What writes a part's crash-safe temp file from the stream's feed: an owned
 * ffmpeg (every container, audio encoding) or the in-process fragmented MP4
 * writer (H.264 + AAC copied into MP4, no process at all).
 */
export interface LiveMuxer {
  /** The muxer's process id; undefined for the in-process muxer. */
  readonly pid: number | undefined;
  /** Bytes written to the muxer that it has not taken yet. */
  readonly pendingInput: number;
  /** Resolves once when the muxer has stopped, for whatever reason. */
  readonly exited: Promise<FfmpegExit>;
  write(chunk: Buffer): void;
  /** Ends the input and resolves when the temp file is complete. */
  finish(timeoutMs: number): Promise<FfmpegExit>;
}
