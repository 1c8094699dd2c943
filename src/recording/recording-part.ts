import type { Logger } from 'pino';
import type { MediaChunk } from '../streams/media-tap.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg/ffmpeg-process.js';

/**
 * One file of a recording (the whole recording, or one rotated part): an
 * ffmpeg live muxer fed with the stream's chunks, writing a crash-safe temp
 * file. Knows its own time span and size, for naming and rotation.
 */
export class RecordingPart {
  readonly ffmpeg: FfmpegProcess;
  readonly startTimeMillis = Date.now();
  endTimeMillis = 0;
  firstTimestampMs = -1;
  lastTimestampMs = 0;
  bytes = 0;
  lastGopBytes = 0;
  #bytesAtKeyframe = 0;

  constructor(
    readonly index: number,
    readonly tmpFile: string,
    ffmpegBinary: string,
    args: string[],
    log: Logger,
    onError: (line: string) => void,
  ) {
    this.ffmpeg = new FfmpegProcess(ffmpegBinary, args, (line) => {
      log.warn({ ffmpeg: line, part: index }, 'Muxer message');
      if (/^\[(error|fatal|panic)\]/.test(line) || /^\[[^\]]+\] \[(error|fatal|panic)\]/.test(line)) onError(line);
    });
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
