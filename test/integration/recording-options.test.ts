/**
 * Issue 18 item 8: options per recording in the `config` of
 * /recorder/startup and /stream/startRecording (format, audio, video,
 * maxLength), published with real ffmpeg over RTMP, checked with ffprobe.
 */
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, firstVideoFrameIsKey, makeClip, publish, type Publisher } from '../helpers/media.js';
import { hookLines, postJson, recordOf, streamNamed, type ErrorJson } from '../helpers/rest.js';

interface Probe {
  format: { format_name: string; duration: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; avg_frame_rate?: string }[];
}

function probe(file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as Probe;
}

let daemon: DaemonHandle;

beforeAll(async () => {
  // nothing is recorded on publish: each recording is started by REST with its options
  daemon = await startDaemon({ record_streams: false, stream_record_policy_template: '{streamName}' });
});

afterAll(async () => {
  expect((await daemon.stop()).code).toBe(0);
});

/** Publishes `clip` as `stream` and starts its recording with `config`; resolves with the publisher. */
async function publishAndRecord(stream: string, clip: string, config: Record<string, unknown>, url = '/rest-api/recorder/startup'): Promise<Publisher> {
  const publisher = publish(clip, daemon.rtmpUrl(stream));
  const s = await streamNamed(daemon, stream, 20_000);
  const res = await postJson<ErrorJson>(daemon, url, { mediaSessionId: s.mediaSessionId, config });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return publisher;
}

describe('format, audio and video per recording', () => {
  const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });

  it.each([
    ['mp4', 'mov,mp4', ['aac', 'h264']],
    ['mkv', 'matroska', ['aac', 'h264']],
    ['ts', 'mpegts', ['aac', 'h264']],
  ] as const)('format %s: that container, both tracks copied', async (format, formatName, codecs) => {
    const stream = `fmt_${format}`;
    const publisher = await publishAndRecord(stream, clip, { format });
    expect(await publisher.exited).toBe(0);
    const file = await recordOf(daemon, stream, [], 60_000);
    expect(path.basename(file)).toBe(`${stream}.${format}`);
    const p = probe(file);
    expect(p.format.format_name).toContain(formatName);
    expect(p.streams.map((s) => s.codec_name).sort()).toEqual([...codecs]);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
  });

  it('format webm with H.264 and no preset: 400 naming what fits; nothing recorded', async () => {
    const publisher = publish(clip, daemon.rtmpUrl('fmt_webm'));
    const s = await streamNamed(daemon, 'fmt_webm', 20_000);
    const res = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId, config: { format: 'webm' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/webm cannot hold the stream's H264 video; choose mp4, mkv, ts, or a preset that encodes to VP9 or AV1/);
    expect(await publisher.exited).toBe(0);
    expect(hookLines(daemon).some((l) => l.startsWith('fmt_webm:'))).toBe(false);
  });

  it('audio=false (by /stream/startRecording): video only', async () => {
    const publisher = await publishAndRecord('no_audio', clip, { audio: false }, '/rest-api/stream/startRecording');
    expect(await publisher.exited).toBe(0);
    const file = await recordOf(daemon, 'no_audio', [], 60_000);
    expect(probe(file).streams.map((s) => s.codec_type)).toEqual(['video']);
    expect(decodeErrors(file)).toBe('');
  });

  it('video=false: audio only, in MP4', async () => {
    const publisher = await publishAndRecord('no_video', clip, { video: false });
    expect(await publisher.exited).toBe(0);
    const file = await recordOf(daemon, 'no_video', [], 60_000);
    expect(path.extname(file)).toBe('.mp4');
    const p = probe(file);
    expect(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['audio:aac']);
    expect(Number(p.format.duration)).toBeGreaterThan(1);
  });

  it('video=false with format webm: the AAC becomes Opus', async () => {
    const publisher = await publishAndRecord('no_video_webm', clip, { video: false, format: 'webm' });
    expect(await publisher.exited).toBe(0);
    const file = await recordOf(daemon, 'no_video_webm', [], 60_000);
    const p = probe(file);
    expect(p.format.format_name).toContain('webm');
    expect(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['audio:opus']);
  });
});

describe('maxLength', () => {
  it('stops the recording at that recorded length, leaving a playable file of about that length (within one GOP)', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const publisher = await publishAndRecord('maxlen', clip, { maxLength: 3 });
    // the record is finished while the publisher still sends (the stream is longer than maxLength)
    const file = await recordOf(daemon, 'maxlen', [], 60_000);
    const sentWhenDone = publisher.sentSeconds();
    expect(await publisher.exited).toBe(0);
    expect(sentWhenDone).toBeLessThan(8);
    const duration = Number(probe(file).format.duration);
    expect(duration).toBeGreaterThanOrEqual(3 - 0.1);
    expect(duration).toBeLessThanOrEqual(3 + 1 + 0.1);
    expect(decodeErrors(file)).toBe('');
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(daemon.output).toMatch(/"reason":"maxLength of 3 s reached"/);
  });
});

describe('options refused with a clear 400', () => {
  const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });
  let publisher: Publisher;
  let id = '';

  beforeAll(async () => {
    publisher = publish(clip, daemon.rtmpUrl('bad_opts'));
    id = (await streamNamed(daemon, 'bad_opts', 20_000)).mediaSessionId;
  });

  afterAll(async () => {
    await publisher.exited;
  });

  it.each([
    ['both tracks off', { audio: false, video: false }, /audio and video are both false/],
    ['an unknown format', { format: 'avi' }, /format/],
    ['an unknown preset', { preset: 'h265-4k' }, /preset 'h265-4k' is unknown; known: h264-1080p, h264-720p, h264-480p, vp9-720p, av1-720p/],
    ['maxLength 0', { maxLength: 0 }, /maxLength/],
    ['maxLength as text', { maxLength: 'long' }, /maxLength/],
    ['a preset with video off', { preset: 'h264-720p', video: false }, /preset h264-720p encodes video, but video is false/],
    ['a vp9 preset into ts', { preset: 'vp9-720p', format: 'ts' }, /format ts cannot hold VP9 video/],
  ])('%s', async (_what, config, message) => {
    const res = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: id, config });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });
});

describe('GET /rest-api/recorder/presets', () => {
  it('lists the built-in presets with their size, rate, bitrate, keyframe interval and containers', async () => {
    const res = await fetch(daemon.url('/rest-api/recorder/presets'));
    expect(res.status).toBe(200);
    const list = (await res.json()) as { name: string; codec: string; width: number; height: number; frameRate: number; containers: string[]; source: string }[];
    expect(list.map((p) => p.name)).toEqual(['h264-1080p', 'h264-720p', 'h264-480p', 'vp9-720p', 'av1-720p']);
    expect(list.find((p) => p.name === 'vp9-720p')).toMatchObject({ codec: 'vp9', width: 1280, height: 720, frameRate: 30, containers: ['webm', 'mkv', 'mp4'], source: 'built-in' });
  });
});
