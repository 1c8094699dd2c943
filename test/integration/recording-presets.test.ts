/**
 * Issue 18 item 9: transcoding presets. Each built-in preset's output is
 * probed for codec, picture size and frame rate (3-4 s of 640x360 input);
 * record_transcode_max_concurrent refuses a third transcoding recording
 * with 503; a bad conf/recording_presets.json leaves the built-ins, a good
 * one adds presets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, makeClip, publish, type Publisher } from '../helpers/media.js';
import { hookLines, postJson, recordOf, streamNamed, type ErrorJson } from '../helpers/rest.js';

interface Probe {
  format: { format_name: string; duration: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string }[];
}

function probe(file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as Probe;
}

interface PresetJson {
  name: string;
  codec: string;
  width: number;
  height: number;
  frameRate: number;
  source: string;
}

const EXPECTED: Record<string, { codec: string; width: number; height: number; ext: string; audio: string }> = {
  'h264-1080p': { codec: 'h264', width: 1920, height: 1080, ext: 'mp4', audio: 'aac' },
  'h264-720p': { codec: 'h264', width: 1280, height: 720, ext: 'mp4', audio: 'aac' },
  'h264-480p': { codec: 'h264', width: 854, height: 480, ext: 'mp4', audio: 'aac' },
  'vp9-720p': { codec: 'vp9', width: 1280, height: 720, ext: 'webm', audio: 'opus' },
  'av1-720p': { codec: 'av1', width: 1280, height: 720, ext: 'webm', audio: 'opus' },
};

describe('transcoding presets (record_transcode_max_concurrent=2)', () => {
  let daemon: DaemonHandle;
  const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });

  beforeAll(async () => {
    daemon = await startDaemon({ record_streams: false, stream_record_policy_template: '{streamName}', record_transcode_max_concurrent: 2 });
  });

  afterAll(async () => {
    expect((await daemon.stop()).code).toBe(0);
  });

  async function start(stream: string, config: Record<string, unknown>): Promise<{ publisher: Publisher; status: number; message: string }> {
    const publisher = publish(clip, daemon.rtmpUrl(stream));
    const s = await streamNamed(daemon, stream, 20_000);
    const res = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId, config });
    return { publisher, status: res.status, message: res.body?.message ?? '' };
  }

  async function checkPreset(name: string): Promise<void> {
    const stream = `p_${name.replace(/-/g, '_')}`;
    const file = await recordOf(daemon, stream, [], 120_000);
    const want = EXPECTED[name]!;
    expect(path.extname(file)).toBe(`.${want.ext}`);
    const p = probe(file);
    const video = p.streams.find((s) => s.codec_type === 'video')!;
    expect(video.codec_name).toBe(want.codec);
    expect([video.width, video.height]).toEqual([want.width, want.height]);
    expect(video.avg_frame_rate === '30/1' || video.r_frame_rate === '30/1', `${video.avg_frame_rate} ${video.r_frame_rate}`).toBe(true);
    expect(p.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe(want.audio);
    // the whole input is in the file (the encoder may trail the feed: the finish waits for it)
    expect(Number(p.format.duration)).toBeGreaterThan(3);
    expect(decodeErrors(file)).toBe('');
    console.log(`[figures] preset ${name}: ${p.format.format_name} ${video.codec_name} ${video.width}x${video.height} ${video.avg_frame_rate} duration=${p.format.duration}`);
  }

  it('two at once transcode; a third is refused with 503 naming the limit; each output has the preset codec, size and frame rate', async () => {
    const a = await start('p_h264_1080p', { preset: 'h264-1080p' });
    const b = await start('p_h264_720p', { preset: 'h264-720p' });
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await start('p_extra', { preset: 'h264-480p' });
    expect(c.status).toBe(503);
    expect(c.message).toMatch(/2 recordings are already transcoding \(record_transcode_max_concurrent=2\)/);
    for (const p of [a, b, c]) expect(await p.publisher.exited).toBe(0);
    await checkPreset('h264-1080p');
    await checkPreset('h264-720p');
    expect(hookLines(daemon).some((l) => l.startsWith('p_extra:'))).toBe(false);
  });

  it.each([[['h264-480p', 'vp9-720p']], [['av1-720p']]])('%j', async (names: string[]) => {
    const started = await Promise.all(names.map((name) => start(`p_${name.replace(/-/g, '_')}`, { preset: name })));
    for (const s of started) expect(s.status, s.message).toBe(200);
    for (const s of started) expect(await s.publisher.exited).toBe(0);
    for (const name of names) await checkPreset(name);
    // SVT-AV1's info banner is kept out of the log (SVT_LOG=2): no muxer message lines from it
    expect(daemon.output).not.toMatch(/Svt\[info\]/);
  });
});

describe('conf/recording_presets.json', () => {
  it('adds and changes presets; a bad file is logged and leaves the built-ins', async () => {
    const home = makeHome();
    fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
    fs.writeFileSync(
      path.join(home, 'conf', 'recording_presets.json'),
      JSON.stringify({
        'h264-480p': { frameRate: 25 },
        'h264-240p': { codec: 'h264', width: 426, height: 240, frameRate: 15, videoBitrateKbps: 300, keyframeIntervalSeconds: 2, audioBitrateKbps: 64 },
      }),
    );
    const good = await startDaemon({ record_streams: false, stream_record_policy_template: '{streamName}' }, home);
    try {
      const list = (await (await fetch(good.url('/rest-api/recorder/presets'))).json()) as PresetJson[];
      expect(list.find((p) => p.name === 'h264-480p')).toMatchObject({ frameRate: 25, width: 854, source: 'file' });
      expect(list.find((p) => p.name === 'h264-240p')).toMatchObject({ width: 426, height: 240, frameRate: 15, source: 'file' });
      // the added preset records
      const clip = makeClip({ video: true, audio: true, seconds: 3, gop: 1 });
      const publisher = publish(clip, good.rtmpUrl('small'));
      const s = await streamNamed(good, 'small', 20_000);
      const res = await postJson<ErrorJson>(good, '/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId, config: { preset: 'h264-240p', format: 'mkv' } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await publisher.exited).toBe(0);
      const file = await recordOf(good, 'small', [], 120_000);
      const video = probe(file).streams.find((x) => x.codec_type === 'video')!;
      expect([video.codec_name, video.width, video.height, video.avg_frame_rate]).toEqual(['h264', 426, 240, '15/1']);
      expect(path.extname(file)).toBe('.mkv');
    } finally {
      expect((await good.stop()).code).toBe(0);
    }

    const badHome = makeHome();
    fs.mkdirSync(path.join(badHome, 'conf'), { recursive: true });
    fs.writeFileSync(path.join(badHome, 'conf', 'recording_presets.json'), '{"h264-720p": {"width": 1281}}');
    const bad = await startDaemon({}, badHome);
    try {
      const list = (await (await fetch(bad.url('/rest-api/recorder/presets'))).json()) as PresetJson[];
      expect(list.map((p) => p.name)).toEqual(Object.keys(EXPECTED));
      expect(list.every((p) => p.source === 'built-in')).toBe(true);
      expect(bad.output).toMatch(/Recording presets file is not valid; using the built-in presets only/);
      expect(bad.output).toMatch(/width must be an integer \(even\)/);
    } finally {
      expect((await bad.stop()).code).toBe(0);
    }
  });
});
