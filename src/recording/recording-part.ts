import fs from 'node:fs';
import type { Logger } from 'pino';
import { freeBoxHeader } from './mp4/box-tree.js';
import type { MediaChunk } from '../streams/media-tap.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg/ffmpeg-process.js';
import type { LiveMuxer } from './live-muxer.js';
import type { Fmp4WriterOptions } from './mp4/fmp4-writer.js';
import { InProcessMp4Muxer } from './mp4/in-process-mp4-muxer.js';

/** Which muxer writes a part: an ffmpeg with these arguments, or the in-process MP4 writer. */
export type MuxerSpec =
  | { readonly kind: 'ffmpeg'; readonly binary: string; readonly args: string[]; readonly env?: Readonly<Record<string, string>> }
  | { readonly kind: 'in-process'; readonly mp4: Fmp4WriterOptions };

/**
 * One file of a recording (the whole recording, or one rotated part): an
 * ffmpeg live muxer fed with the stream's chunks, writing a crash-safe temp
 * file. Knows its own time span and size, for naming and rotation.
 */
export class RecordingPart {
  /** The live muxer (named ffmpeg for history: it is one unless the in-process MP4 writer does the job). */
  readonly ffmpeg: LiveMuxer;
  /** Wall-clock start: names the record and is its creation time. */
  readonly startTimeMillis: number;
  endTimeMillis = 0;
  firstTimestampMs = -1;
  lastTimestampMs = 0;
  bytes = 0;
  lastGopBytes = 0;
  #bytesAtKeyframe = 0;

  constructor(
    readonly index: number,
    readonly tmpFile: string,
    muxer: MuxerSpec,
    log: Logger,
    onError: (line: string) => void,
    /**
     * Bytes kept free at the start of the temp file (an MP4 `free` box) for
     * the moov of the finished record; the muxer then writes behind it
     * (an ffmpeg through `pipe:3`: its output argument must be `pipe:3`).
     */
    readonly reservedBytes = 0,
    /** The creation time the muxer was given, so that both agree. */
    startTimeMillis = Date.now(),
  ) {
    this.startTimeMillis = startTimeMillis;
    if (muxer.kind === 'in-process') {
      this.ffmpeg = new InProcessMp4Muxer(
        tmpFile,
        muxer.mp4,
        (line) => {
          log.warn({ muxer: line, part: index }, 'Muxer message');
          if (line.startsWith('[error]')) onError(line);
        },
        reservedBytes,
      );
      return;
    }
    const { binary: ffmpegBinary, args, env } = muxer;
    let fd: number | undefined;
    if (reservedBytes > 0) {
      const reserve = Buffer.alloc(reservedBytes);
      freeBoxHeader(reservedBytes).copy(reserve, 0);
      fs.writeFileSync(tmpFile, reserve);
      fd = fs.openSync(tmpFile, 'a');
    }
    try {
      this.ffmpeg = new FfmpegProcess(
        ffmpegBinary,
        args,
        (line) => {
          log.warn({ ffmpeg: line, part: index }, 'Muxer message');
          if (/^\[(error|fatal|panic)\]/.test(line) || /^\[[^\]]+\] \[(error|fatal|panic)\]/.test(line)) onError(line);
        },
        { fd, ...(env ? { env } : {}) },
      );
    } finally {
      // the child holds its own copy of the descriptor
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** Header and codec configuration: written as they are, not counted as media. */
  writeRaw(data: Buffer): void {
    this.ffmpeg.write(data);
    this.bytes += data.length;
  }

  write(chunk: MediaChunk): void {
    if (chunk.kind === 'media') {
      if (this.firstTimestampMs < 0) this.firstTimestampMs = chunk.timestampMs;
      if (chunk.endTimestampMs > this.lastTimestampMs) this.lastTimestampMs = chunk.endTimestampMs;
      if (chunk.keyframe && chunk.track !== 'audio') {
        if (this.#bytesAtKeyframe > 0) this.lastGopBytes = this.bytes - this.#bytesAtKeyframe;
        this.#bytesAtKeyframe = this.bytes;
      }
    }
    this.ffmpeg.write(chunk.data);
    this.bytes += chunk.data.length;
  }

  /** Media duration from the stream's own timestamps, ms. */
  get durationMs(): number {
    return this.firstTimestampMs < 0 ? 0 : this.lastTimestampMs - this.firstTimestampMs;
  }

  async finish(timeoutMs: number): Promise<FfmpegExit> {
    this.endTimeMillis = Date.now();
    return this.ffmpeg.finish(timeoutMs);
  }
}
