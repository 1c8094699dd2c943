import { describe, expect, it } from 'vitest';
import {
  aacBitrateKbps,
  audioEncodeArgs,
  finalizeArgs,
  liveMuxerArgs,
  parseRecordFormats,
  planRecording,
  RecordFormatsError,
  type AudioAction,
  type AudioEncoding,
  type Container,
  type MatroskaSettings,
  type Mp4Layout,
  type RecordFormats,
  type RecordPlan,
} from '../../src/recording/formats.js';

// ---------------------------------------------------------------------------
// parseRecordFormats (WCS "MP4, WebM, MKV containers support", "Recording to MPEG-TS container")
// ---------------------------------------------------------------------------

describe('parseRecordFormats: WCS document values', () => {
  it.each<[string, boolean, RecordFormats]>([
    // default
    ['h264-mp4, vp8-webm', false, { h264: 'mp4', vp8: 'webm' }],
    // MKV recording
    ['h264-mkv, vp8-mkv', false, { h264: 'mkv', vp8: 'mkv' }],
    // one of the codecs to MKV
    ['h264-mp4, vp8-mkv', false, { h264: 'mp4', vp8: 'mkv' }],
    // TS since 5.2.1190
    ['h264-ts, vp8-webm', false, { h264: 'ts', vp8: 'webm' }],
    // record_h264_to_ts has priority above record_formats
    ['h264-mp4, vp8-mkv', true, { h264: 'ts', vp8: 'mkv' }],
    ['h264-mp4, vp8-webm', true, { h264: 'ts', vp8: 'webm' }],
    ['h264-mkv, vp8-mkv', true, { h264: 'ts', vp8: 'mkv' }],
    ['h264-ts, vp8-webm', true, { h264: 'ts', vp8: 'webm' }],
  ])('record_formats=%s, record_h264_to_ts=%s -> %j', (raw, toTs, expected) => {
    expect(parseRecordFormats(raw, toTs)).toEqual(expected);
  });
});

describe('parseRecordFormats: spacing, case, single entries', () => {
  it.each<[string, boolean, RecordFormats]>([
    ['h264-mp4,vp8-webm', false, { h264: 'mp4', vp8: 'webm' }],
    ['  h264-mkv ,   vp8-mkv  ', false, { h264: 'mkv', vp8: 'mkv' }],
    ['H264-MKV, VP8-MKV', false, { h264: 'mkv', vp8: 'mkv' }],
    ['H264-Ts, Vp8-WebM', false, { h264: 'ts', vp8: 'webm' }],
    ['vp8-mkv, h264-ts', false, { h264: 'ts', vp8: 'mkv' }],
    // a codec that is not listed keeps its default
    ['h264-mkv', false, { h264: 'mkv', vp8: 'webm' }],
    ['h264-ts', false, { h264: 'ts', vp8: 'webm' }],
    ['vp8-mkv', false, { h264: 'mp4', vp8: 'mkv' }],
    ['vp8-webm', false, { h264: 'mp4', vp8: 'webm' }],
    ['vp8-mkv', true, { h264: 'ts', vp8: 'mkv' }],
    // nothing listed: both defaults
    ['', false, { h264: 'mp4', vp8: 'webm' }],
    ['', true, { h264: 'ts', vp8: 'webm' }],
    // empty items are ignored
    ['h264-mkv,, vp8-mkv,', false, { h264: 'mkv', vp8: 'mkv' }],
  ])('%j (to_ts=%s) -> %j', (raw, toTs, expected) => {
    expect(parseRecordFormats(raw, toTs)).toEqual(expected);
  });
});

describe('parseRecordFormats: errors', () => {
  it.each([
    'h264-webm',
    'vp8-mp4',
    'vp8-ts',
    'h265-mp4',
    'h264',
    'h264-mp4-x',
    'garbage',
    'h264-mp4, vp8-mp4',
    'h264-mp4; vp8-webm',
    '-mp4',
    'h264-',
  ])('%j throws RecordFormatsError', (raw) => {
    expect(() => parseRecordFormats(raw, false)).toThrow(RecordFormatsError);
    // record_h264_to_ts does not make a bad value acceptable
    expect(() => parseRecordFormats(raw, true)).toThrow(RecordFormatsError);
  });

  it('the error names the offending item', () => {
    expect(() => parseRecordFormats('h264-mp4, vp8-ts', false)).toThrow(/vp8-ts/);
  });
});

// ---------------------------------------------------------------------------
// planRecording
// ---------------------------------------------------------------------------

const F = (h264: RecordFormats['h264'], vp8: RecordFormats['vp8']): RecordFormats => ({ h264, vp8 });
const ALL_FORMATS: RecordFormats[] = [F('mp4', 'webm'), F('mkv', 'mkv'), F('mp4', 'mkv'), F('ts', 'webm'), F('ts', 'mkv'), F('mkv', 'webm')];
const EXT: Record<Container, string> = { mp4: 'mp4', mkv: 'mkv', webm: 'webm', ts: 'ts' };

describe('planRecording: audio-only streams always go to MP4 with AAC', () => {
  // "audio only streams are always recorded to MP4 container (using AAC codec)": only AAC is copied
  const rows: [string, AudioAction][] = [
    ['AAC', 'copy'],
    ['MP3', 'aac'],
    ['OPUS', 'aac'],
    ['VORBIS', 'aac'],
    ['PCMA', 'aac'],
    ['PCMU', 'aac'],
    ['SPEEX', 'aac'],
  ];
  for (const formats of ALL_FORMATS) {
    it.each(rows)(`formats ${formats.h264}/${formats.vp8}: audio %s -> %s`, (audio, action) => {
      expect(planRecording('', audio, formats)).toEqual<RecordPlan>({ container: 'mp4', extension: 'mp4', video: 'none', audio: action });
    });
  }
});

describe('planRecording: H.264 (and H.265) follow the h264 container', () => {
  // [h264 container, audio codec, audio action]
  const rows: [RecordFormats['h264'], string, AudioAction][] = [
    ['mp4', 'AAC', 'copy'],
    ['mp4', 'MP3', 'copy'],
    ['mp4', 'OPUS', 'aac'],
    ['mp4', 'VORBIS', 'aac'],
    ['mp4', 'PCMA', 'aac'],
    ['mp4', 'PCMU', 'aac'],
    ['mp4', 'SPEEX', 'aac'],
    ['mp4', '', 'none'],
    ['ts', 'AAC', 'copy'],
    ['ts', 'MP3', 'copy'],
    ['ts', 'OPUS', 'aac'],
    ['ts', 'VORBIS', 'aac'],
    ['ts', 'PCMA', 'aac'],
    ['ts', 'PCMU', 'aac'],
    ['ts', 'SPEEX', 'aac'],
    ['ts', '', 'none'],
    ['mkv', 'AAC', 'copy'],
    ['mkv', 'MP3', 'copy'],
    ['mkv', 'OPUS', 'copy'],
    ['mkv', 'VORBIS', 'copy'],
    // next to H.264, MKV gets AAC (not Opus) for what it cannot copy
    ['mkv', 'PCMA', 'aac'],
    ['mkv', 'PCMU', 'aac'],
    ['mkv', 'SPEEX', 'aac'],
    ['mkv', '', 'none'],
  ];
  for (const video of ['H264', 'H265']) {
    for (const vp8 of ['webm', 'mkv'] as const) {
      it.each(rows)(`${video}, h264-%s (vp8-${vp8}), audio %j -> %s`, (container, audio, action) => {
        expect(planRecording(video, audio, F(container, vp8))).toEqual<RecordPlan>({
          container,
          extension: EXT[container],
          video: 'copy',
          audio: action,
        });
      });
    }
  }
});

describe('planRecording: VP8 (and VP9, AV1) follow the vp8 container', () => {
  const rows: [RecordFormats['vp8'], string, AudioAction][] = [
    ['webm', 'OPUS', 'copy'],
    ['webm', 'VORBIS', 'copy'],
    ['webm', 'AAC', 'opus'],
    ['webm', 'MP3', 'opus'],
    ['webm', 'PCMA', 'opus'],
    ['webm', 'PCMU', 'opus'],
    ['webm', 'SPEEX', 'opus'],
    ['webm', '', 'none'],
    ['mkv', 'AAC', 'copy'],
    ['mkv', 'MP3', 'copy'],
    ['mkv', 'OPUS', 'copy'],
    ['mkv', 'VORBIS', 'copy'],
    // next to VP8, MKV gets Opus for what it cannot copy
    ['mkv', 'PCMA', 'opus'],
    ['mkv', 'PCMU', 'opus'],
    ['mkv', 'SPEEX', 'opus'],
    ['mkv', '', 'none'],
  ];
  for (const video of ['VP8', 'VP9', 'AV1']) {
    for (const h264 of ['mp4', 'mkv', 'ts'] as const) {
      it.each(rows)(`${video}, vp8-%s (h264-${h264}), audio %j -> %s`, (container, audio, action) => {
        expect(planRecording(video, audio, F(h264, container))).toEqual<RecordPlan>({
          container,
          extension: EXT[container],
          video: 'copy',
          audio: action,
        });
      });
    }
  }
});

describe('planRecording: other video codecs go to MKV', () => {
  const rows: [string, AudioAction][] = [
    ['AAC', 'copy'],
    ['MP3', 'copy'],
    ['OPUS', 'copy'],
    ['VORBIS', 'copy'],
    ['PCMA', 'aac'],
    ['SPEEX', 'aac'],
    ['', 'none'],
  ];
  for (const formats of ALL_FORMATS) {
    it.each(rows)(`H263 (formats ${formats.h264}/${formats.vp8}), audio %j -> %s`, (audio, action) => {
      expect(planRecording('H263', audio, formats)).toEqual<RecordPlan>({ container: 'mkv', extension: 'mkv', video: 'copy', audio: action });
    });
  }
});

describe('planRecording: WCS document examples', () => {
  it('H264+AAC with defaults -> .mp4, both copied ("mp4 for H264+AAC")', () => {
    expect(planRecording('H264', 'AAC', parseRecordFormats('h264-mp4, vp8-webm', false))).toEqual({
      container: 'mp4',
      extension: 'mp4',
      video: 'copy',
      audio: 'copy',
    });
  });

  it('VP8+Opus with defaults -> .webm, both copied ("webm for VP8+opus")', () => {
    expect(planRecording('VP8', 'OPUS', parseRecordFormats('h264-mp4, vp8-webm', false))).toEqual({
      container: 'webm',
      extension: 'webm',
      video: 'copy',
      audio: 'copy',
    });
  });

  it('record_h264_to_ts=true: H264 goes to .ts, VP8 still to its mkv', () => {
    const formats = parseRecordFormats('h264-mp4, vp8-mkv', true);
    expect(planRecording('H264', 'AAC', formats)).toMatchObject({ container: 'ts', extension: 'ts' });
    expect(planRecording('VP8', 'OPUS', formats)).toMatchObject({ container: 'mkv', extension: 'mkv' });
  });

  it('audio-only stays MP4 with AAC even with h264-ts / vp8-mkv', () => {
    const formats = parseRecordFormats('h264-ts, vp8-mkv', true);
    expect(planRecording('', 'OPUS', formats)).toEqual({ container: 'mp4', extension: 'mp4', video: 'none', audio: 'aac' });
  });

  it('video is "none" only for audio-only streams', () => {
    for (const video of ['H264', 'H265', 'VP8', 'VP9', 'AV1', 'H263']) {
      for (const audio of ['', 'AAC', 'OPUS']) {
        for (const formats of ALL_FORMATS) expect(planRecording(video, audio, formats).video).toBe('copy');
      }
    }
  });
});

// ---------------------------------------------------------------------------
// aacBitrateKbps (WCS "Audio track bitrate configuration for FDK AAC codec", "Audio channels configuration")
// ---------------------------------------------------------------------------

describe('aacBitrateKbps', () => {
  it.each([
    [0, 128],
    [1, 48],
    [2, 64],
    [3, 80],
    [4, 96],
    [5, 112], // the document's default: VBR 112 kbps
  ])('mode %d stereo -> %d kbit/s', (mode, kbps) => {
    expect(aacBitrateKbps(mode, 2)).toBe(kbps);
  });

  it.each([
    [0, 80],
    [1, 32],
    [2, 40],
    [3, 48],
    [4, 56],
    [5, 64],
  ])('mode %d mono -> %d kbit/s', (mode, kbps) => {
    expect(aacBitrateKbps(mode, 1)).toBe(kbps);
  });

  it.each([0, 1, 2, 3, 4, 5])('mode %d mono is about 60 %% of stereo, a multiple of 8, at least 32', (mode) => {
    const stereo = aacBitrateKbps(mode, 2);
    const mono = aacBitrateKbps(mode, 1);
    expect(mono % 8).toBe(0);
    expect(mono).toBeGreaterThanOrEqual(32);
    expect(mono).toBeLessThan(stereo);
    expect(Math.abs(mono - Math.max(32, stereo * 0.6))).toBeLessThanOrEqual(4);
  });

  it.each([6, 7, -1, 99, 2.5, Number.NaN])('unknown mode %d -> 112 stereo', (mode) => {
    expect(aacBitrateKbps(mode, 2)).toBe(112);
    expect(aacBitrateKbps(mode, 1)).toBe(aacBitrateKbps(5, 1));
  });

  it('more than two channels use the stereo value', () => {
    expect(aacBitrateKbps(5, 6)).toBe(112);
    expect(aacBitrateKbps(0, 3)).toBe(128);
  });
});

// ---------------------------------------------------------------------------
// audioEncodeArgs (WCS "Adjusting record audio sample rate", "Audio channels configuration")
// ---------------------------------------------------------------------------

const ENC_DEFAULT: AudioEncoding = { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 };

/** The value following `flag` in args, or undefined. */
function valueOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

describe('audioEncodeArgs', () => {
  it("'none' -> ['-an']", () => {
    expect(audioEncodeArgs('none', ENC_DEFAULT)).toEqual(['-an']);
  });

  it("'copy' -> ['-c:a', 'copy']", () => {
    expect(audioEncodeArgs('copy', ENC_DEFAULT)).toEqual(['-c:a', 'copy']);
    expect(audioEncodeArgs('copy', { sampleRate: 8000, channels: 1, fdkAacBitrateMode: 0 })).toEqual(['-c:a', 'copy']);
  });

  it.each<[AudioEncoding, string[]]>([
    // defaults: 44.1 kHz, stereo, mode 5 (VBR 112)
    [ENC_DEFAULT, ['-c:a', 'aac', '-ar', '44100', '-ac', '2', '-b:a', '112k']],
    // record_audio_codec_sample_rate=48000
    [{ sampleRate: 48000, channels: 2, fdkAacBitrateMode: 5 }, ['-c:a', 'aac', '-ar', '48000', '-ac', '2', '-b:a', '112k']],
    // record_audio_codec_channels=1
    [{ sampleRate: 44100, channels: 1, fdkAacBitrateMode: 5 }, ['-c:a', 'aac', '-ar', '44100', '-ac', '1', '-b:a', '64k']],
    // record_fdk_aac_bitrate_mode=0 (CBR)
    [{ sampleRate: 44100, channels: 2, fdkAacBitrateMode: 0 }, ['-c:a', 'aac', '-ar', '44100', '-ac', '2', '-b:a', '128k']],
    [{ sampleRate: 22050, channels: 1, fdkAacBitrateMode: 1 }, ['-c:a', 'aac', '-ar', '22050', '-ac', '1', '-b:a', '32k']],
  ])("'aac' with %j -> %j", (enc, expected) => {
    expect(audioEncodeArgs('aac', enc)).toEqual(expected);
  });

  it.each([
    [48000, 48000],
    [24000, 24000],
    [16000, 16000],
    [12000, 12000],
    [8000, 8000],
    [44100, 48000],
    [22050, 48000],
    [32000, 48000],
    [96000, 48000],
  ])("'opus' with sample rate %d -> libopus at %d", (rate, expectedRate) => {
    for (const channels of [1, 2]) {
      const args = audioEncodeArgs('opus', { sampleRate: rate, channels, fdkAacBitrateMode: 5 });
      expect(valueOf(args, '-c:a')).toBe('libopus');
      expect(valueOf(args, '-ar')).toBe(String(expectedRate));
      expect(valueOf(args, '-ac')).toBe(String(channels));
      expect(valueOf(args, '-b:a')).toMatch(/^\d+k$/);
    }
  });

  it('every argument is a separate string', () => {
    for (const action of ['none', 'copy', 'aac', 'opus'] as const) {
      for (const a of audioEncodeArgs(action, ENC_DEFAULT)) {
        expect(typeof a).toBe('string');
        expect(a).not.toMatch(/\s/);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// liveMuxerArgs (WCS "VP8 streams recording to webm container" for the cluster limits)
// ---------------------------------------------------------------------------

const MATROSKA: MatroskaSettings = { clusterDurationLimitMs: 100000, clusterSizeLimit: 131072 };
const plan = (container: Container, video: 'copy' | 'none' = 'copy', audio: AudioAction = 'copy'): RecordPlan => ({
  container,
  extension: EXT[container],
  video,
  audio,
});

/** True when `seq` occurs as consecutive elements of `args`. */
function hasSequence(args: readonly string[], seq: readonly string[]): boolean {
  for (let i = 0; i + seq.length <= args.length; i++) {
    if (seq.every((s, j) => args[i + j] === s)) return true;
  }
  return false;
}

/** The value of the last `-f` (the output format). */
function outputFormat(args: readonly string[]): string | undefined {
  const i = args.lastIndexOf('-f');
  return i < 0 ? undefined : args[i + 1];
}

describe('liveMuxerArgs', () => {
  it.each([
    ['flv', 'flv'],
    ['webm', 'matroska'],
  ] as const)('feed %s is read with the %s demuxer from pipe:0', (feed, demuxer) => {
    const args = liveMuxerArgs(plan('mp4'), feed, ENC_DEFAULT, MATROSKA, '/rec/out.mp4');
    expect(hasSequence(args, ['-f', demuxer, '-i', 'pipe:0'])).toBe(true);
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    // the input comes before the output options
    expect(args.indexOf('-i')).toBeLessThan(args.lastIndexOf('-f'));
  });

  it.each<[Container, string]>([
    ['mp4', 'mp4'],
    ['mkv', 'matroska'],
    ['webm', 'webm'],
    ['ts', 'mpegts'],
  ])('container %s -> -f %s, -flush_packets 1, output last', (container, format) => {
    for (const feed of ['flv', 'webm'] as const) {
      const out = `/records/tmp/stream.${container}`;
      const args = liveMuxerArgs(plan(container), feed, ENC_DEFAULT, MATROSKA, out);
      expect(outputFormat(args)).toBe(format);
      expect(hasSequence(args, ['-flush_packets', '1'])).toBe(true);
      expect(args.at(-1)).toBe(out);
      expect(args.filter((a) => a === out)).toHaveLength(1);
    }
  });

  it('mp4 is fragmented (crash-safe): +frag_keyframe+delay_moov+default_base_moof', () => {
    const args = liveMuxerArgs(plan('mp4'), 'flv', ENC_DEFAULT, MATROSKA, 'out.mp4');
    const movflags = valueOf(args, '-movflags');
    expect(movflags).toBeDefined();
    for (const flag of ['+frag_keyframe', '+delay_moov', '+default_base_moof']) expect(movflags).toContain(flag);
    expect(movflags).not.toContain('faststart');
    expect(args).not.toContain('-cluster_time_limit');
    expect(args).not.toContain('-cluster_size_limit');
  });

  it.each<[Container, MatroskaSettings]>([
    ['mkv', MATROSKA],
    ['webm', MATROSKA],
    ['mkv', { clusterDurationLimitMs: 2000, clusterSizeLimit: 65536 }],
    ['webm', { clusterDurationLimitMs: 500, clusterSizeLimit: 1048576 }],
  ])('%s passes webm_cluster_duration_limit / webm_cluster_size_limit %j', (container, m) => {
    const args = liveMuxerArgs(plan(container), 'flv', ENC_DEFAULT, m, `out.${container}`);
    expect(hasSequence(args, ['-cluster_time_limit', String(m.clusterDurationLimitMs)])).toBe(true);
    expect(hasSequence(args, ['-cluster_size_limit', String(m.clusterSizeLimit)])).toBe(true);
    expect(args).not.toContain('-movflags');
  });

  it('ts has no mp4 or matroska options', () => {
    const args = liveMuxerArgs(plan('ts'), 'flv', ENC_DEFAULT, MATROSKA, 'out.ts');
    expect(args).not.toContain('-movflags');
    expect(args).not.toContain('-cluster_time_limit');
    expect(args).not.toContain('-cluster_size_limit');
  });

  it('audio-only plan: -vn, no video copy', () => {
    const args = liveMuxerArgs(planRecording('', 'PCMA', F('mp4', 'webm')), 'flv', ENC_DEFAULT, MATROSKA, 'a.mp4');
    expect(args).toContain('-vn');
    expect(args).not.toContain('-c:v');
    expect(hasSequence(args, ['-c:a', 'aac'])).toBe(true);
  });

  it('video plan: -c:v copy, no -vn', () => {
    const args = liveMuxerArgs(plan('mp4'), 'flv', ENC_DEFAULT, MATROSKA, 'v.mp4');
    expect(hasSequence(args, ['-c:v', 'copy'])).toBe(true);
    expect(args).not.toContain('-vn');
  });

  it.each<[AudioAction, string[]]>([
    ['none', ['-an']],
    ['copy', ['-c:a', 'copy']],
    ['aac', ['-c:a', 'aac', '-ar', '48000', '-ac', '1', '-b:a', '64k']],
    ['opus', ['-c:a', 'libopus', '-ar', '48000', '-ac', '1']],
  ])('audio action %s is passed through audioEncodeArgs (%j)', (action, seq) => {
    const enc: AudioEncoding = { sampleRate: 48000, channels: 1, fdkAacBitrateMode: 5 };
    const args = liveMuxerArgs(plan('mkv', 'copy', action), 'flv', enc, MATROSKA, 'x.mkv');
    expect(hasSequence(args, seq)).toBe(true);
    expect(hasSequence(args, audioEncodeArgs(action, enc))).toBe(true);
  });

  it('never a shell string: an output path with spaces and shell characters stays one element', () => {
    const out = '/var/rec dir/my stream; rm -rf $HOME `x` "q".mp4';
    const args = liveMuxerArgs(plan('mp4'), 'flv', ENC_DEFAULT, MATROSKA, out);
    expect(Array.isArray(args)).toBe(true);
    expect(args.at(-1)).toBe(out);
    for (const a of args.slice(0, -1)) expect(a).not.toMatch(/\s/);
  });
});

// ---------------------------------------------------------------------------
// finalizeArgs (WCS "moov atom placement configuration in recording metadata")
// ---------------------------------------------------------------------------

const LAYOUT: Mp4Layout = { moovFirst: true, reserveSpace: true, reservedBytes: 2048 * 1024 };

describe('finalizeArgs', () => {
  it.each<Container>(['mkv', 'webm', 'ts'])('%s is final as it is -> null', (container) => {
    expect(finalizeArgs(plan(container), LAYOUT, 'in', 'out')).toBeNull();
    expect(finalizeArgs(plan(container), { moovFirst: false, reserveSpace: false, reservedBytes: 0 }, 'in', 'out')).toBeNull();
    expect(finalizeArgs(plan(container), LAYOUT, 'in', 'out', false)).toBeNull();
  });

  it.each<[string, Mp4Layout, boolean | undefined, 'reserve' | 'faststart' | 'neither']>([
    // mp4_container_moov_first=true, mp4_container_moov_first_reserve_space=true, 2048 KB
    ['moov first + reserve', LAYOUT, undefined, 'reserve'],
    ['moov first + reserve, 512 KB', { moovFirst: true, reserveSpace: true, reservedBytes: 512 * 1024 }, undefined, 'reserve'],
    ['moov first without reserve', { moovFirst: true, reserveSpace: false, reservedBytes: 2048 * 1024 }, undefined, 'faststart'],
    ['moov first + reserve, override reserve=false (moov does not fit)', LAYOUT, false, 'faststart'],
    ['moov first without reserve, override reserve=true', { moovFirst: true, reserveSpace: false, reservedBytes: 1024 }, true, 'reserve'],
    ['moov not first', { moovFirst: false, reserveSpace: false, reservedBytes: 2048 * 1024 }, undefined, 'neither'],
    ['moov not first, reserve on', { moovFirst: false, reserveSpace: true, reservedBytes: 2048 * 1024 }, undefined, 'neither'],
    ['moov not first, override reserve=true', { moovFirst: false, reserveSpace: false, reservedBytes: 2048 * 1024 }, true, 'neither'],
  ])('mp4, %s -> %s', (_label, layout, reserve, expected) => {
    const input = '/records/tmp/part 1.frag.mp4';
    const output = '/records/test-1553577643961-1553577663988_1.mp4';
    const args = finalizeArgs(plan('mp4'), layout, input, output, reserve);
    expect(args).not.toBeNull();
    const a = args!;
    expect(valueOf(a, '-i')).toBe(input);
    expect(hasSequence(a, ['-map', '0'])).toBe(true);
    expect(hasSequence(a, ['-c', 'copy'])).toBe(true);
    expect(outputFormat(a)).toBe('mp4');
    expect(a.at(-1)).toBe(output);
    const joined = a.join(' ');
    switch (expected) {
      case 'reserve':
        expect(hasSequence(a, ['-moov_size', String(layout.reservedBytes)])).toBe(true);
        expect(joined).not.toContain('+faststart');
        break;
      case 'faststart':
        expect(valueOf(a, '-movflags')).toContain('+faststart');
        expect(a).not.toContain('-moov_size');
        break;
      case 'neither':
        expect(a).not.toContain('-moov_size');
        expect(joined).not.toContain('faststart');
        break;
    }
  });

  it('audio-only mp4 plans are finalized too (stream copy, no re-encode)', () => {
    const args = finalizeArgs(planRecording('', 'PCMA', F('ts', 'mkv')), LAYOUT, 'in.mp4', 'out.mp4');
    expect(args).not.toBeNull();
    expect(hasSequence(args!, ['-c', 'copy'])).toBe(true);
    expect(args!.join(' ')).not.toMatch(/-c:a (aac|libopus)/);
  });
});

describe('creation_time (issue 18)', () => {
  const at = new Date('2026-12-06T22:10:05.700Z');
  it('the live muxer and a remux write the wall-clock start as creation_time, before the output', () => {
    const live = liveMuxerArgs(plan('mp4'), 'flv', ENC_DEFAULT, MATROSKA, '/rec/out.mp4', at);
    expect(hasSequence(live, ['-metadata', 'creation_time=2026-12-06T22:10:05.700Z'])).toBe(true);
    expect(live.indexOf('-metadata')).toBeGreaterThan(live.indexOf('-i'));
    expect(live.at(-1)).toBe('/rec/out.mp4');
    const remux = finalizeArgs(plan('mp4'), LAYOUT, 'in.mp4', 'out.mp4', true, true, at)!;
    expect(hasSequence(remux, ['-metadata', 'creation_time=2026-12-06T22:10:05.700Z'])).toBe(true);
    const mkv = finalizeArgs(plan('mkv'), LAYOUT, 'in.mkv', 'out.mkv', true, true, at)!;
    expect(hasSequence(mkv, ['-metadata', 'creation_time=2026-12-06T22:10:05.700Z'])).toBe(true);
  });
  it('without a time nothing is added', () => {
    expect(liveMuxerArgs(plan('mp4'), 'flv', ENC_DEFAULT, MATROSKA, '/rec/out.mp4')).not.toContain('-metadata');
    expect(finalizeArgs(plan('mp4'), LAYOUT, 'in.mp4', 'out.mp4')).not.toContain('-metadata');
  });
});
