import { describe, expect, it } from 'vitest';
import { BUILT_IN_PRESETS, parsePresetFile, PresetError, presetVideoArgs } from '../../src/recording/presets.js';
import { liveMuxerArgs, inProcessMp4Fits } from '../../src/recording/formats.js';
import { planWithOptions } from '../../src/recording/record-options.js';

const byName = (name: string) => BUILT_IN_PRESETS.find((p) => p.name === name)!;

describe('built-in presets', () => {
  it('has the five of issue 18 with their picture size', () => {
    expect(BUILT_IN_PRESETS.map((p) => [p.name, p.codec, p.width, p.height])).toEqual([
      ['h264-1080p', 'h264', 1920, 1080],
      ['h264-720p', 'h264', 1280, 720],
      ['h264-480p', 'h264', 854, 480],
      ['vp9-720p', 'vp9', 1280, 720],
      ['av1-720p', 'av1', 1280, 720],
    ]);
  });

  it.each([
    ['h264-720p', 'libx264', '60'],
    ['vp9-720p', 'libvpx-vp9', '60'],
    ['av1-720p', 'libsvtav1', '60'],
  ])('%s encodes with %s, keyframe every %s frames, scaled and padded to its size at its frame rate', (name, encoder, gop) => {
    const args = presetVideoArgs(byName(name));
    expect(args.slice(0, 2)).toEqual(['-c:v', encoder]);
    expect(args[args.indexOf('-g') + 1]).toBe(gop);
    expect(args[args.indexOf('-vf') + 1]).toContain('scale=1280:720');
    expect(args[args.indexOf('-vf') + 1]).toContain('fps=30');
  });
});

describe('conf/recording_presets.json', () => {
  it('overrides fields of a built-in and adds a complete new preset', () => {
    const presets = parsePresetFile(
      JSON.stringify({
        'h264-720p': { videoBitrateKbps: 1800 },
        'vp9-360p': { codec: 'vp9', width: 640, height: 360, frameRate: 25, videoBitrateKbps: 600, keyframeIntervalSeconds: 2, audioBitrateKbps: 64 },
      }),
    );
    const h = presets.find((p) => p.name === 'h264-720p')!;
    expect(h).toMatchObject({ videoBitrateKbps: 1800, width: 1280, codec: 'h264', source: 'file' });
    expect(presets.find((p) => p.name === 'vp9-360p')).toMatchObject({ codec: 'vp9', frameRate: 25, source: 'file' });
    expect(presets).toHaveLength(6);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /JSON object/],
    ['an unknown field', '{"h264-720p":{"crf":20}}', /unknown field 'crf'/],
    ['an odd width', '{"h264-720p":{"width":1281}}', /width must be an integer \(even\)/],
    ['an unknown codec', '{"x":{"codec":"hevc"}}', /codec must be one of h264, vp9, av1/],
    ['a new preset with fields missing', '{"x":{"codec":"h264","width":640}}', /new preset 'x' lacks height/],
    ['a bad name', '{"../x":{"videoBitrateKbps":100}}', /is not 1-64 letters/],
    ['a bitrate out of range', '{"h264-480p":{"videoBitrateKbps":5}}', /videoBitrateKbps must be an integer from 50/],
  ])('%s: PresetError naming the fault', (_what, text, message) => {
    expect(() => parsePresetFile(text)).toThrow(PresetError);
    expect(() => parsePresetFile(text)).toThrow(message);
  });
});

describe('a preset forces the ffmpeg muxer and transcodes', () => {
  const formats = { h264: 'mp4', vp8: 'webm' } as const;
  it('the in-process MP4 writer (copy only) never takes a preset', () => {
    const plan = planWithOptions('H264', 'AAC', formats, { preset: byName('h264-480p') });
    expect(plan).toMatchObject({ container: 'mp4', video: 'encode', audio: 'copy' });
    expect(inProcessMp4Fits(plan, 'flv', 'H264', 'AAC')).toBe(false);
    const args = liveMuxerArgs(plan, 'flv', { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 }, { clusterDurationLimitMs: 2000, clusterSizeLimit: 1 << 20 }, 'out.mp4');
    expect(args).toContain('libx264');
    expect(args).not.toContain('copy' + ':v');
    expect(args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 2)).toEqual(['-c:a', 'copy']);
  });

  it('vp9 preset into WebM: Opus audio at the preset bitrate', () => {
    const plan = planWithOptions('H264', 'AAC', formats, { preset: byName('vp9-720p'), format: 'webm' });
    const args = liveMuxerArgs(plan, 'flv', { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 }, { clusterDurationLimitMs: 2000, clusterSizeLimit: 1 << 20 }, 'out.webm');
    expect(args).toContain('libvpx-vp9');
    expect(args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 2)).toEqual(['-c:a', 'libopus']);
    expect(args[args.indexOf('-b:a') + 1]).toBe('128k');
  });
});
