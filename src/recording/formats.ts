/**
 * Which container a stream is recorded into, what happens to its audio, and
 * the ffmpeg arguments of the two steps of a recording (pure):
 *
 *  1. the live muxer reads the tap's feed on stdin and writes a crash-safe
 *     temp file (fragmented MP4 flushed per packet, Matroska/WebM, MPEG-TS:
 *     all stay readable if the process is killed);
 *  2. on finish, an MP4 is rewritten as a regular MP4 with moov first
 *     (faststart, or written once into reserved space); the other
 *     containers are final as they are.
 */
import type { FeedFormat } from '../streams/media-tap.js';
import { presetVideoArgs, type Preset } from './presets.js';

export type Container = 'mp4' | 'mkv' | 'webm' | 'ts';
export type AudioAction = 'none' | 'copy' | 'aac' | 'opus';

export interface RecordFormats {
  /** Container of H.264 (and H.265) streams. */
  readonly h264: 'mp4' | 'mkv' | 'ts';
  /** Container of VP8 (and VP9/AV1) streams. */
  readonly vp8: 'webm' | 'mkv';
}

export const EXTENSIONS: Record<Container, string> = { mp4: 'mp4', mkv: 'mkv', webm: 'webm', ts: 'ts' };

const H264_CONTAINERS = ['mp4', 'mkv', 'ts'] as const;
const VP8_CONTAINERS = ['webm', 'mkv'] as const;

export class RecordFormatsError extends Error {}

/**
 * Parses record_formats (`h264-mp4, vp8-webm`; also h264-mkv, h264-ts,
 * vp8-mkv) and applies record_h264_to_ts, which wins for H.264.
 */
export function parseRecordFormats(raw: string, h264ToTs: boolean): RecordFormats {
  let h264: RecordFormats['h264'] = 'mp4';
  let vp8: RecordFormats['vp8'] = 'webm';
  for (const item of raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const [codec, container, extra] = item.split('-');
    if (extra === undefined && codec === 'h264' && H264_CONTAINERS.some((c) => c === container)) {
      h264 = container as RecordFormats['h264'];
    } else if (extra === undefined && codec === 'vp8' && VP8_CONTAINERS.some((c) => c === container)) {
      vp8 = container as RecordFormats['vp8'];
    } else {
      throw new RecordFormatsError(`'${item}' is not one of h264-mp4, h264-mkv, h264-ts, vp8-webm, vp8-mkv`);
    }
  }
  return { h264: h264ToTs ? 'ts' : h264, vp8 };
}

export interface RecordPlan {
  readonly container: Container;
  readonly extension: string;
  /** 'encode': transcoded with `preset` (only ever asked for by a recording's options). */
  readonly video: 'copy' | 'none' | 'encode';
  readonly audio: AudioAction;
  /** The transcoding preset of video 'encode' (its audio bitrate applies to encoded audio). */
  readonly preset?: Preset;
}

/** Audio codecs each container takes by copy (registry names). */
export const AUDIO_COPY: Record<Container, ReadonlySet<string>> = {
  mp4: new Set(['AAC', 'MP3']),
  ts: new Set(['AAC', 'MP3']),
  mkv: new Set(['AAC', 'MP3', 'OPUS', 'VORBIS']),
  webm: new Set(['OPUS', 'VORBIS']),
};

export const WEBM_VIDEO: ReadonlySet<string> = new Set(['VP8', 'VP9', 'AV1']);

/**
 * Chooses the container and the audio action for a stream's codecs.
 * Audio-only streams always go to MP4 with AAC, as in WCS. Video is never
 * transcoded; audio the container cannot hold is encoded (AAC, or Opus in
 * WebM and in MKV next to VP8).
 */
export function planRecording(videoCodec: string, audioCodec: string, formats: RecordFormats): RecordPlan {
  let container: Container;
  if (videoCodec === '') container = 'mp4';
  else if (WEBM_VIDEO.has(videoCodec)) container = formats.vp8;
  else if (videoCodec === 'H264' || videoCodec === 'H265') container = formats.h264;
  else container = 'mkv';
  let audio: AudioAction;
  if (audioCodec === '') audio = 'none';
  else if (videoCodec === '') audio = audioCodec === 'AAC' ? 'copy' : 'aac';
  else if (AUDIO_COPY[container].has(audioCodec)) audio = 'copy';
  else if (container === 'webm' || (container === 'mkv' && WEBM_VIDEO.has(videoCodec))) audio = 'opus';
  else audio = 'aac';
  return { container, extension: EXTENSIONS[container], video: videoCodec === '' ? 'none' : 'copy', audio };
}

export interface AudioEncoding {
  /** record_audio_codec_sample_rate */
  readonly sampleRate: number;
  /** record_audio_codec_channels */
  readonly channels: number;
  /** record_fdk_aac_bitrate_mode: 0 = CBR, 1-5 = VBR */
  readonly fdkAacBitrateMode: number;
}

/**
 * record_fdk_aac_bitrate_mode mapped onto ffmpeg's native AAC encoder (Debian's
 * ffmpeg has no libfdk_aac). Mode 0 (CBR) is 128 kbit/s stereo; VBR modes 1-5
 * become the average bitrate FDK's VBR modes aim at for stereo (mode 5 =
 * 112 kbit/s, the document's default). Mono gets about 60 % of that.
 */
export const FDK_MODE_STEREO_KBPS: readonly number[] = [128, 48, 64, 80, 96, 112];

export function aacBitrateKbps(mode: number, channels: number): number {
  const stereo = FDK_MODE_STEREO_KBPS[mode] ?? 112;
  return channels >= 2 ? stereo : Math.max(32, Math.round((stereo * 0.6) / 8) * 8);
}

const OPUS_RATES = [48000, 24000, 16000, 12000, 8000];

export function audioEncodeArgs(action: AudioAction, enc: AudioEncoding, bitrateKbps?: number): string[] {
  switch (action) {
    case 'none':
      return ['-an'];
    case 'copy':
      return ['-c:a', 'copy'];
    case 'aac':
      return ['-c:a', 'aac', '-ar', String(enc.sampleRate), '-ac', String(enc.channels), '-b:a', `${bitrateKbps ?? aacBitrateKbps(enc.fdkAacBitrateMode, enc.channels)}k`];
    case 'opus': {
      // Opus has fixed rates; record_audio_codec_sample_rate applies when it is one of them
      const rate = OPUS_RATES.includes(enc.sampleRate) ? enc.sampleRate : 48000;
      return ['-c:a', 'libopus', '-ar', String(rate), '-ac', String(enc.channels), '-b:a', bitrateKbps !== undefined ? `${bitrateKbps}k` : enc.channels >= 2 ? '96k' : '64k'];
    }
  }
}

export interface MatroskaSettings {
  /** webm_cluster_duration_limit, ms */
  readonly clusterDurationLimitMs: number;
  /** webm_cluster_size_limit, bytes */
  readonly clusterSizeLimit: number;
}

const FEED_DEMUXER: Record<FeedFormat, string> = { flv: 'flv', webm: 'matroska' };

/**
 * The in-process fragmented MP4 writer takes over from ffmpeg when there is
 * nothing to transcode: an FLV feed, H.264 video (or none) and AAC audio
 * (or none), both copied into MP4.
 */
export function inProcessMp4Fits(plan: RecordPlan, feed: FeedFormat, videoCodec: string, audioCodec: string): boolean {
  if (plan.container !== 'mp4' || feed !== 'flv') return false;
  // the in-process writer only copies: a preset always goes through ffmpeg
  if (plan.video === 'encode') return false;
  // a track the stream has but the recording leaves out (options audio/video false): ffmpeg drops it
  if ((plan.video === 'none' && videoCodec !== '') || (plan.audio === 'none' && audioCodec !== '')) return false;
  if (plan.video === 'copy' && videoCodec !== 'H264') return false;
  if (plan.audio === 'copy' && audioCodec !== 'AAC') return false;
  if (plan.audio !== 'copy' && plan.audio !== 'none') return false;
  return plan.video === 'copy' || plan.audio === 'copy';
}

/** Arguments of the live muxer: feed on stdin -> crash-safe temp file. */
export function liveMuxerArgs(
  plan: RecordPlan,
  feed: FeedFormat,
  audio: AudioEncoding,
  matroska: MatroskaSettings,
  output: string,
  /** Wall-clock start of the record: the file's creation_time (mvhd/tkhd/mdhd in MP4, DateUTC in Matroska). */
  creationTime?: Date,
): string[] {
  // level+ prefixes each line with its level, so errors can be counted (file_recorder_max_errors_per_interval)
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'level+warning', '-f', FEED_DEMUXER[feed], '-i', 'pipe:0'];
  args.push('-map', '0:v?', '-map', '0:a?');
  if (plan.video === 'encode' && plan.preset) args.push(...presetVideoArgs(plan.preset));
  else args.push(...(plan.video === 'copy' ? ['-c:v', 'copy'] : ['-vn']));
  args.push(...audioEncodeArgs(plan.audio, audio, plan.video === 'encode' ? plan.preset?.audioBitrateKbps : undefined));
  switch (plan.container) {
    case 'mp4':
      // fragmented, flushed per packet: a killed muxer leaves a readable file;
      // delay_moov writes the moov at the first fragment, with the edit list
      // that keeps B-frame delay out of the start time (empty_moov cannot)
      args.push('-movflags', '+frag_keyframe+delay_moov+default_base_moof', '-frag_duration', '500000', '-f', 'mp4');
      break;
    case 'mkv':
    case 'webm':
      args.push(
        '-cluster_time_limit', String(matroska.clusterDurationLimitMs),
        '-cluster_size_limit', String(matroska.clusterSizeLimit),
        '-f', plan.container === 'mkv' ? 'matroska' : 'webm',
      );
      break;
    case 'ts':
      args.push('-f', 'mpegts');
      break;
  }
  if (creationTime !== undefined) args.push('-metadata', `creation_time=${creationTime.toISOString()}`);
  args.push('-flush_packets', '1', '-y', output);
  return args;
}

export interface Mp4Layout {
  /** mp4_container_moov_first */
  readonly moovFirst: boolean;
  /** mp4_container_moov_first_reserve_space */
  readonly reserveSpace: boolean;
  /** mp4_container_moov_reserved_space_size, in bytes */
  readonly reservedBytes: number;
  /** mp4_finish_insert_range (default true): room for the moov inserted in front of the media by the file system instead of a copy */
  readonly insertRange?: boolean;
}

/**
 * Arguments that turn a finished fragmented MP4 into the final MP4, or
 * null when the temp file is final as it is. With reserved space the moov
 * is written once into the space kept for it at the start (no second pass
 * over the file); `reserve: false` gives the faststart fallback used when
 * the moov does not fit.
 */
export function finalizeArgs(
  plan: RecordPlan,
  layout: Mp4Layout,
  input: string,
  output: string,
  reserve = layout.reserveSpace,
  repair = false,
  /** The record's wall-clock start, written as creation_time (a remux of a crashed file may not carry it over). */
  creationTime?: Date,
): string[] | null {
  const created = creationTime === undefined ? [] : ['-metadata', `creation_time=${creationTime.toISOString()}`];
  if (plan.container !== 'mp4') {
    // a Matroska file cut short by a crash lacks its duration and cues: rewrite it (recovery only)
    if (!repair || plan.container === 'ts') return null;
    return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', input, '-map', '0', '-c', 'copy', ...created, '-f', plan.container === 'mkv' ? 'matroska' : 'webm', '-y', output];
  }
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', input, '-map', '0', '-c', 'copy', ...created];
  if (layout.moovFirst && reserve) args.push('-moov_size', String(layout.reservedBytes));
  else if (layout.moovFirst) args.push('-movflags', '+faststart');
  args.push('-f', 'mp4', '-y', output);
  return args;
}
