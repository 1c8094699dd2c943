import { describe, expect, it } from 'vitest';
import { BUILT_IN_PRESETS } from '../../src/recording/presets.js';
import { planRecording, inProcessMp4Fits, type RecordFormats } from '../../src/recording/formats.js';
import { planWithOptions, RecordOptionsError, type RecordOptions } from '../../src/recording/record-options.js';

const formats: RecordFormats = { h264: 'mp4', vp8: 'webm' };
const preset = (name: string) => BUILT_IN_PRESETS.find((p) => p.name === name)!;

describe('planWithOptions', () => {
  it('without options that change the plan: the server plan (record_formats)', () => {
    expect(planWithOptions('H264', 'AAC', formats, {})).toEqual(planRecording('H264', 'AAC', formats));
    expect(planWithOptions('VP8', 'OPUS', formats, { maxLengthMs: 5000 })).toEqual(planRecording('VP8', 'OPUS', formats));
  });

  it.each<[string, string, string, RecordOptions, { container: string; video: string; audio: string }]>([
    ['H.264+AAC to mkv', 'H264', 'AAC', { format: 'mkv' }, { container: 'mkv', video: 'copy', audio: 'copy' }],
    ['H.264+AAC to ts', 'H264', 'AAC', { format: 'ts' }, { container: 'ts', video: 'copy', audio: 'copy' }],
    ['VP8+Opus to mkv', 'VP8', 'OPUS', { format: 'mkv' }, { container: 'mkv', video: 'copy', audio: 'copy' }],
    ['H.264+Opus to mp4: AAC', 'H264', 'OPUS', { format: 'mp4' }, { container: 'mp4', video: 'copy', audio: 'aac' }],
    ['audio=false', 'H264', 'AAC', { audio: false }, { container: 'mp4', video: 'copy', audio: 'none' }],
    ['video=false: audio only, MP4', 'H264', 'AAC', { video: false }, { container: 'mp4', video: 'none', audio: 'copy' }],
    ['video=false into webm: Opus', 'H264', 'AAC', { video: false, format: 'webm' }, { container: 'webm', video: 'none', audio: 'opus' }],
    ['H.264 with vp9 preset: webm (record_formats vp8-webm), Opus', 'H264', 'AAC', { preset: preset('vp9-720p') }, { container: 'webm', video: 'encode', audio: 'opus' }],
    ['H.264 with av1 preset into mkv: AAC copied (Matroska holds it)', 'H264', 'AAC', { preset: preset('av1-720p'), format: 'mkv' }, { container: 'mkv', video: 'encode', audio: 'copy' }],
    ['VP8 with h264 preset: mp4 and AAC', 'VP8', 'OPUS', { preset: preset('h264-720p') }, { container: 'mp4', video: 'encode', audio: 'aac' }],
    ['h264 preset without audio', 'H264', 'AAC', { preset: preset('h264-480p'), audio: false }, { container: 'mp4', video: 'encode', audio: 'none' }],
  ])('%s', (_what, v, a, options, expected) => {
    expect(planWithOptions(v, a, formats, options)).toMatchObject(expected);
  });

  it.each<[string, string, string, RecordOptions, RegExp]>([
    ['H.264 into webm without a preset', 'H264', 'AAC', { format: 'webm' }, /webm cannot hold the stream's H264 video; choose mp4, mkv, ts, or a preset that encodes to VP9 or AV1/],
    ['VP8 into mp4', 'VP8', 'OPUS', { format: 'mp4' }, /mp4 cannot hold the stream's VP8 video; choose mkv, webm/],
    ['VP8 into ts', 'VP8', 'OPUS', { format: 'ts' }, /ts cannot hold/],
    ['both tracks off', 'H264', 'AAC', { audio: false, video: false }, /both false/],
    ['video off on a stream without audio', 'H264', '', { video: false }, /nothing would be recorded/],
    ['audio off on an audio-only stream', '', 'AAC', { audio: false }, /nothing would be recorded/],
    ['a preset on an audio-only stream', '', 'AAC', { preset: preset('h264-720p') }, /has no video/],
    ['a preset with video off', 'H264', 'AAC', { preset: preset('h264-720p'), video: false }, /video is false/],
    ['a vp9 preset into ts', 'H264', 'AAC', { preset: preset('vp9-720p'), format: 'ts' }, /format ts cannot hold VP9 video/],
  ])('%s: RecordOptionsError', (_what, v, a, options, message) => {
    expect(() => planWithOptions(v, a, formats, options)).toThrow(RecordOptionsError);
    expect(() => planWithOptions(v, a, formats, options)).toThrow(message);
  });

  it('a track left out forces the ffmpeg muxer (the in-process writer would take every track of the feed)', () => {
    expect(inProcessMp4Fits(planWithOptions('H264', 'AAC', formats, { audio: false }), 'flv', 'H264', 'AAC')).toBe(false);
    expect(inProcessMp4Fits(planWithOptions('H264', 'AAC', formats, { video: false }), 'flv', 'H264', 'AAC')).toBe(false);
    expect(inProcessMp4Fits(planWithOptions('H264', 'AAC', formats, { format: 'mp4' }), 'flv', 'H264', 'AAC')).toBe(true);
  });
});
