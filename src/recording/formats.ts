/**
 * Container choice and muxer arguments (pure). This issue records H.264 /
 * AAC (and H.264-only, AAC-only) into MP4; the other containers of
 * record_formats plug in here.
 */

export interface RecordFormat {
  readonly container: 'mp4';
  readonly extension: string;
}

export const MP4: RecordFormat = { container: 'mp4', extension: 'mp4' };

/** Audio codecs MP4 takes by copy; anything else is encoded to AAC. */
const MP4_AUDIO_COPY = new Set(['AAC', 'MP3']);

export interface MuxerInput {
  /** Audio codec of the stream as the registry names it ('' when unknown or none). */
  readonly audioCodec: string;
  readonly audioSampleRate: number;
  readonly audioChannels: number;
}

/** ffmpeg arguments that read the tap's FLV feed on stdin and write `output`. */
export function ffmpegRecordArgs(format: RecordFormat, input: MuxerInput, output: string): string[] {
  const audio =
    input.audioCodec === '' || MP4_AUDIO_COPY.has(input.audioCodec)
      ? ['-c:a', 'copy']
      : ['-c:a', 'aac', '-ar', String(input.audioSampleRate), '-ac', String(input.audioChannels)];
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel', 'warning',
    '-f', 'flv',
    '-i', 'pipe:0',
    '-map', '0:v?',
    '-map', '0:a?',
    '-c:v', 'copy',
    ...audio,
    '-movflags', '+faststart',
    '-f', format.container,
    '-y', output,
  ];
}
