/**
 * Options of one recording given by REST (`config` of /recorder/startup):
 * container, which tracks, longest length, transcoding preset; and the
 * plan they make for a stream's codecs (pure).
 */
import { AUDIO_COPY, EXTENSIONS, planRecording, WEBM_VIDEO, type AudioAction, type Container, type RecordFormats, type RecordPlan } from './formats.js';
import { PRESET_CONTAINERS, PRESET_VIDEO_CODEC, type Preset } from './presets.js';

export interface RecordOptions {
  /** Container; default: record_formats for the (output) video codec, MP4 without video. */
  readonly format?: Container;
  /** false: the audio track is left out. */
  readonly audio?: boolean;
  /** false: the video track is left out. */
  readonly video?: boolean;
  /** Longest recorded length, ms: the recording stops there (overrides record_max_length). */
  readonly maxLengthMs?: number;
  /** Transcoding preset; without one nothing is transcoded. */
  readonly preset?: Preset;
}

export class RecordOptionsError extends Error {}

/** Video codecs each container holds (registry names); Matroska holds any. */
const VIDEO_IN: Record<Exclude<Container, 'mkv'>, ReadonlySet<string>> = {
  mp4: new Set(['H264', 'H265', 'VP9', 'AV1']),
  ts: new Set(['H264', 'H265']),
  webm: WEBM_VIDEO,
};

function holdsVideo(container: Container, codec: string): boolean {
  return container === 'mkv' || VIDEO_IN[container].has(codec);
}

function holders(codec: string): Container[] {
  return (['mp4', 'mkv', 'webm', 'ts'] as const).filter((c) => holdsVideo(c, codec));
}

/** Whether the options change anything of the server's plan (format, tracks or preset). */
export function changesPlan(options: RecordOptions): boolean {
  return options.format !== undefined || options.audio === false || options.video === false || options.preset !== undefined;
}

/**
 * Checks the options that need no codecs: both tracks left out, or a preset
 * with video left out, or a preset whose codec the format cannot hold.
 */
export function checkOptions(options: RecordOptions): void {
  if (options.audio === false && options.video === false) throw new RecordOptionsError('audio and video are both false: nothing would be recorded');
  const preset = options.preset;
  if (!preset) return;
  if (options.video === false) throw new RecordOptionsError(`preset ${preset.name} encodes video, but video is false`);
  if (options.format !== undefined && !PRESET_CONTAINERS[preset.codec].includes(options.format)) {
    throw new RecordOptionsError(
      `format ${options.format} cannot hold ${preset.codec.toUpperCase()} video (preset ${preset.name}); choose ${PRESET_CONTAINERS[preset.codec].join(', ')}`,
    );
  }
}

/**
 * The plan of a recording with options, for a stream's codecs ('' = the
 * stream has no such track). Without options that change the plan it is
 * the server's (planRecording). Throws RecordOptionsError when the stream's
 * codecs do not fit: the container cannot hold the video (H.264 into WebM
 * without a VP9/AV1 preset), a preset on a stream without video, or nothing
 * left to record.
 */
export function planWithOptions(videoCodec: string, audioCodec: string, formats: RecordFormats, options: RecordOptions): RecordPlan {
  checkOptions(options);
  if (!changesPlan(options)) return planRecording(videoCodec, audioCodec, formats);
  const preset = options.preset;
  if (preset && videoCodec === '') throw new RecordOptionsError(`preset ${preset.name} encodes video, but the stream has no video`);
  const keepVideo = options.video !== false && videoCodec !== '';
  const keepAudio = options.audio !== false && audioCodec !== '';
  if (!keepVideo && !keepAudio) {
    throw new RecordOptionsError(
      options.video === false ? 'video is false and the stream has no audio: nothing would be recorded' : 'audio is false and the stream has no video: nothing would be recorded',
    );
  }
  const outVideo = preset ? PRESET_VIDEO_CODEC[preset.codec] : keepVideo ? videoCodec : '';
  let container: Container;
  if (options.format !== undefined) container = options.format;
  else if (outVideo === '') container = 'mp4';
  else container = planRecording(outVideo, '', formats).container;
  if (outVideo !== '' && !holdsVideo(container, outVideo)) {
    const fits = holders(outVideo);
    throw new RecordOptionsError(
      `format ${container} cannot hold the stream's ${outVideo} video; choose ${fits.join(', ')}` +
        (container === 'webm' ? ', or a preset that encodes to VP9 or AV1 (such as vp9-720p, av1-720p)' : ''),
    );
  }
  let audio: AudioAction;
  if (!keepAudio) audio = 'none';
  else if (AUDIO_COPY[container].has(audioCodec)) audio = 'copy';
  else if (container === 'webm' || (container === 'mkv' && WEBM_VIDEO.has(outVideo))) audio = 'opus';
  else audio = 'aac';
  const video: RecordPlan['video'] = preset ? 'encode' : keepVideo ? 'copy' : 'none';
  return { container, extension: EXTENSIONS[container], video, audio, ...(preset ? { preset } : {}) };
}
