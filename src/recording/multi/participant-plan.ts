/**
 * What happens to a participant's media in a multiple recording, and the
 * arguments of its live muxer (pure). A multiple recording is one MP4 of
 * H.264 + AAC tracks: H.264 is copied; VP8 (and VP9/AV1, what WebRTC
 * publishers send) is encoded to H.264; any audio but AAC (Opus from
 * browsers, MP3, G.711...) is encoded to AAC.
 */
import type { FeedFormat } from '../../streams/media-tap.js';
import { audioEncodeArgs, type AudioEncoding } from '../formats.js';

export interface ParticipantPlan {
  /** `h264`: the video is encoded to H.264 (costs CPU: bounded per node). */
  readonly video: 'copy' | 'h264' | 'none';
  readonly audio: 'copy' | 'aac' | 'none';
}

/** Video codecs encoded to H.264 for a multiple recording. */
export const TRANSCODED_VIDEO: ReadonlySet<string> = new Set(['VP8', 'VP9', 'AV1']);

/**
 * The plan of a participant's file (pure): H.264 copied, VP8/VP9/AV1
 * encoded to H.264, AAC copied, any other audio encoded to AAC. Null when
 * the video can go neither way (H.265, unknown codecs).
 */
export function participantPlan(videoCodec: string, audioCodec: string): ParticipantPlan | null {
  let video: ParticipantPlan['video'];
  if (videoCodec === '') video = 'none';
  else if (videoCodec === 'H264') video = 'copy';
  else if (TRANSCODED_VIDEO.has(videoCodec)) video = 'h264';
  else return null;
  const audio = audioCodec === '' ? 'none' : audioCodec === 'AAC' ? 'copy' : 'aac';
  return { video, audio };
}

/** How a participant's VP8 is encoded to H.264 (libx264). */
export interface VideoEncoding {
  /** x264 preset: ultrafast ... veryslow; faster costs less CPU and more bytes. */
  readonly preset: string;
  /** x264 constant rate factor (0-51; 23 is x264's default). */
  readonly crf: number;
  /** A keyframe at least every this many seconds (the mixer and seeking need them). */
  readonly keyframeIntervalSeconds: number;
}

/** The x264 presets multi_recorder_transcode_preset allows (the slower ones cost several times the CPU for a live encode). */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const;

export const DEFAULT_VIDEO_ENCODING: VideoEncoding = { preset: 'veryfast', crf: 23, keyframeIntervalSeconds: 2 };

const FEED_DEMUXER: Record<FeedFormat, string> = { flv: 'flv', webm: 'matroska' };

/** The libx264 arguments of a transcoded participant (pure). */
export function h264EncodeArgs(enc: VideoEncoding): string[] {
  return [
    '-c:v', 'libx264',
    '-preset', enc.preset,
    // no B-frames, no lookahead: a frame leaves the encoder as soon as it is in, so a participant
    // that leaves (or a server that dies) loses nothing queued in the encoder
    '-tune', 'zerolatency',
    '-crf', String(enc.crf),
    '-pix_fmt', 'yuv420p',
    '-force_key_frames', `expr:gte(t,n_forced*${enc.keyframeIntervalSeconds})`,
    // WebRTC frame rates vary: keep each frame's own time, no duplicated or dropped frames
    '-fps_mode', 'vfr',
  ];
}

/**
 * Arguments of a participant's live muxer: the stream's feed on stdin ->
 * a crash-safe fragmented MP4 (flushed per packet; a killed muxer leaves a
 * readable file), H.264 + AAC.
 */
export function participantMuxerArgs(plan: ParticipantPlan, feed: FeedFormat, audio: AudioEncoding, video: VideoEncoding, output: string): string[] {
  // level+ prefixes each line with its level
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'level+warning', '-f', FEED_DEMUXER[feed], '-i', 'pipe:0'];
  args.push('-map', '0:v?', '-map', '0:a?');
  if (plan.video === 'none') args.push('-vn');
  else if (plan.video === 'copy') args.push('-c:v', 'copy');
  else args.push(...h264EncodeArgs(video));
  args.push(...audioEncodeArgs(plan.audio, audio));
  // delay_moov writes the moov at the first fragment, with the edit list that keeps B-frame delay out of the start time
  args.push('-movflags', '+frag_keyframe+delay_moov+default_base_moof', '-frag_duration', '500000', '-f', 'mp4');
  args.push('-flush_packets', '1', '-y', output);
  return args;
}
