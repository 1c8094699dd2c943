import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, firstVideoFrameIsKey, makeClip, mp4TopLevelBoxes, publish } from '../helpers/media.js';

function hookFiles(daemon: DaemonHandle): string[] {
  const log = path.join(daemon.home, 'logs', 'record.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

async function recordOnce(
  props: Record<string, string | number | boolean>,
  stream: string,
  clip: string,
  codecArgs?: string[],
  expectedHooks = 1,
): Promise<{ daemon: DaemonHandle; files: string[] }> {
  const daemon = await startDaemon(props);
  try {
    const publisher = publish(clip, daemon.rtmpUrl(stream), [], codecArgs);
    expect(await publisher.exited, publisher.stderr()).toBe(0);
    await waitFor(() => hookFiles(daemon).length >= expectedHooks, 20_000, `${expectedHooks} hook call(s)`);
    await new Promise((r) => setTimeout(r, 300));
    const files = hookFiles(daemon).map((l) => l.slice(l.indexOf(':') + 1));
    return { daemon, files };
  } finally {
    expect((await daemon.stop()).code).toBe(0);
  }
}

/** Measured figures for the issue note: container, start offset of video, duration error. */
function report(label: string, file: string, clip: string): void {
  const probe = ffprobe(file);
  const video = probe.streams.find((s) => s.codec_type === 'video');
  const err = Number(probe.format.duration) - durationOf(clip);
  console.log(`[figures] ${label}: format=${probe.format.format_name} videoStart=${video?.start_time ?? '-'} s durationError=${err.toFixed(3)} s`);
}

describe('containers for H.264', () => {
  const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 2 });

  it.each([
    ['h264-mp4 (default)', {}, 'mp4', 'mov,mp4'],
    ['h264-mkv', { record_formats: 'h264-mkv, vp8-webm' }, 'mkv', 'matroska'],
    ['h264-ts', { record_formats: 'h264-ts, vp8-webm' }, 'ts', 'mpegts'],
    ['record_h264_to_ts wins over h264-mkv', { record_formats: 'h264-mkv, vp8-mkv', record_h264_to_ts: true }, 'ts', 'mpegts'],
  ] as const)('%s', async (label, props, ext, format) => {
    const { files } = await recordOnce({ ...props, stream_record_policy_template: '{streamName}' }, `c_${ext}`, clip);
    expect(files).toHaveLength(1);
    const file = files[0]!;
    expect(path.basename(file)).toBe(`c_${ext}.${ext}`);
    const probe = ffprobe(file);
    expect(probe.format.format_name).toContain(format);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.3);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    report(label, file, clip);
  });
});

describe('audio the container cannot hold is encoded, video never', () => {
  it('G.711 A-law next to H.264 becomes AAC at record_audio_codec_sample_rate/channels in MP4 and TS', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 5, gop: 2 });
    const alaw = ['-c:v', 'copy', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1'];
    const [mp4, ts] = await Promise.all([
      recordOnce({ stream_record_policy_template: '{streamName}', record_audio_codec_sample_rate: 48000, record_audio_codec_channels: 1 }, 'g711', clip, alaw),
      recordOnce({ stream_record_policy_template: '{streamName}', record_formats: 'h264-ts' }, 'g711ts', clip, alaw),
    ]);
    const a = ffprobe(mp4.files[0]!);
    expect(a.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const aac = a.streams.find((s) => s.codec_type === 'audio')!;
    expect(aac.sample_rate).toBe('48000');
    expect(aac.channels).toBe(1);
    const b = ffprobe(ts.files[0]!);
    expect(b.format.format_name).toBe('mpegts');
    const aac2 = b.streams.find((s) => s.codec_type === 'audio')!;
    expect(aac2.codec_name).toBe('aac');
    expect(aac2.sample_rate).toBe('44100');
    expect(aac2.channels).toBe(2);
    expect(decodeErrors(mp4.files[0]!)).toBe('');
    expect(Math.abs(durationOf(mp4.files[0]!) - durationOf(clip))).toBeLessThanOrEqual(0.3);
  });

  it('audio-only streams always go to MP4 with AAC (MP3 is encoded), even when H.264 goes to TS', async () => {
    const clip = makeClip({ video: false, audio: true, seconds: 4 });
    const { files } = await recordOnce({ stream_record_policy_template: '{streamName}', record_h264_to_ts: true }, 'mp3only', clip, [
      '-c:a', 'libmp3lame', '-ar', '44100', '-b:a', '128k',
    ]);
    expect(path.extname(files[0]!)).toBe('.mp4');
    const probe = ffprobe(files[0]!);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['aac']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.3);
  });
});

describe('rotation', () => {
  it('record_rotation=2: parts on keyframes, numbered, named with their own times, hooks in order, nothing lost', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const { files } = await recordOnce(
      { record_rotation: 2, stream_record_policy_template: '{streamName}-{startTime}-{endTime}' },
      'rot',
      clip,
      undefined,
      4,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const parts = files.map((f) => {
      const m = /^rot-(\d+)-(\d+)_(\d+)\.mp4$/.exec(path.basename(f));
      expect(m, path.basename(f)).not.toBeNull();
      return { file: f, start: Number(m![1]), end: Number(m![2]), index: Number(m![3]) };
    });
    expect(parts.map((p) => p.index)).toEqual(parts.map((_, i) => i + 1));
    let total = 0;
    for (const [i, p] of parts.entries()) {
      expect(firstVideoFrameIsKey(p.file), p.file).toBe(true);
      expect(decodeErrors(p.file)).toBe('');
      const probe = ffprobe(p.file);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
      total += Number(probe.streams.find((s) => s.codec_type === 'video')!.duration);
      if (i > 0) {
        // continuous: the next part starts one frame after the previous part's last frame
        const gap = p.start - parts[i - 1]!.end;
        expect(gap).toBeGreaterThanOrEqual(0);
        expect(gap).toBeLessThanOrEqual(40);
      }
      if (i < parts.length - 1) expect(p.end - p.start).toBeGreaterThanOrEqual(1900);
    }
    const published = Number(ffprobe(clip).streams.find((s) => s.codec_type === 'video')!.duration);
    console.log(`[figures] rotation 2 s: ${parts.length} parts, video total ${total.toFixed(3)} s vs published ${published.toFixed(3)} s`);
    expect(Math.abs(total - published)).toBeLessThanOrEqual((1 / 30) * parts.length + 0.001);
  });

  it('record_rotation=1M: parts of at most 1 MiB; record_rotation_index_enabled=false drops the numbers', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 1, bitrate: '2M' });
    const { files } = await recordOnce(
      { record_rotation: '1M', record_rotation_index_enabled: false, stream_record_policy_template: '{streamName}-{startTimeMillis}-{startTime}' },
      'size',
      clip,
      undefined,
      2,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      expect(path.basename(f)).toMatch(/^size-\d+-\d+\.mp4$/);
      expect(fs.statSync(f).size).toBeLessThanOrEqual(1024 * 1024 * 1.05);
      expect(firstVideoFrameIsKey(f)).toBe(true);
    }
  });
});

describe('MP4 layout and names', () => {
  const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 2 });

  it('mp4_container_moov_first_reserve_space writes the moov into reserved space; too small falls back to room inserted in front (or faststart); moov_first=false puts it last', async () => {
    const [reserved, tooSmall, last] = await Promise.all([
      recordOnce({ stream_record_policy_template: '{streamName}', mp4_container_moov_first_reserve_space: true, mp4_container_moov_reserved_space_size: 512 }, 'res', clip),
      recordOnce({ stream_record_policy_template: '{streamName}', mp4_container_moov_first_reserve_space: true, mp4_container_moov_reserved_space_size: 1 }, 'small', clip),
      recordOnce({ stream_record_policy_template: '{streamName}', mp4_container_moov_first: false }, 'last', clip),
    ]);
    // offset of the first box of each type (the inserted layout keeps one mdat per fragment)
    const boxes = (f: string): Record<string, number> => Object.fromEntries(mp4TopLevelBoxes(f).reverse().map((b) => [b.type, b.offset]));
    const r = boxes(reserved.files[0]!);
    expect(r.moov).toBeLessThan(r.mdat!);
    expect(r.mdat).toBeGreaterThanOrEqual(512 * 1024);
    expect(fs.statSync(reserved.files[0]!).size).toBeGreaterThanOrEqual(512 * 1024);
    const s = boxes(tooSmall.files[0]!);
    expect(s.moov).toBeLessThan(s.mdat!);
    expect(s.mdat).toBeLessThan(64 * 1024);
    const l = boxes(last.files[0]!);
    expect(l.moov).toBeGreaterThan(l.mdat!);
    for (const f of [reserved.files[0]!, tooSmall.files[0]!, last.files[0]!]) {
      expect(decodeErrors(f)).toBe('');
      expect(Math.abs(durationOf(f) - durationOf(clip))).toBeLessThanOrEqual(0.3);
    }
  });

  it('encode_record_name and exclude_record_name_characters', async () => {
    const [hex, b64, excl] = await Promise.all([
      recordOnce({ stream_record_policy_template: '{streamName}', encode_record_name: 'true,HEX' }, 'hex_name', clip),
      recordOnce({ stream_record_policy_template: '{streamName}', encode_record_name: 'true,BASE64' }, 'b64_name', clip),
      recordOnce({ stream_record_policy_template: '{streamName}-{login}', exclude_record_name_characters: '_-' }, 'ex_cl', clip),
    ]);
    expect(path.basename(hex.files[0]!)).toBe(`${Buffer.from('hex_name').toString('hex')}.mp4`);
    expect(path.basename(b64.files[0]!)).toBe(`${Buffer.from('b64_name').toString('base64url')}.mp4`);
    expect(path.basename(excl.files[0]!)).toBe('excl.mp4');
  });
});
