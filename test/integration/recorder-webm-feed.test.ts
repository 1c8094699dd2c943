import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { WebmChunker } from '../../src/ingest/webm/webm-chunker.js';
import { WebmFeedSource } from '../../src/ingest/webm/webm-feed-source.js';
import { fallocateInsertRange } from '../../src/recording/mp4/insert-range.js';
import { Recorder, type RecorderSettings } from '../../src/recording/recorder.js';
import { parseRotation } from '../../src/recording/rotation.js';
import { WorkPool } from '../../src/recording/work-pool.js';
import { Stream } from '../../src/streams/stream.js';
import { decodeErrors, ffprobe, firstVideoFrameIsKey } from '../helpers/media.js';
import { recorderSettings } from '../helpers/recorder-settings.js';

/**
 * RTMP cannot carry VP8, so the VP8 rules are checked here as far as the
 * recorder goes: a real ffmpeg publishes VP8 (or H.264) + Opus as a live
 * WebM/Matroska feed in real time, the feed source cuts it into chunks, and
 * the real Recorder with its real ffmpeg muxers records it.
 */

const dirs: string[] = [];
// the recorders' insert-range helper, as the daemon owns it
const insertRange = fallocateInsertRange();
afterAll(async () => {
  await insertRange.close?.();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function liveFeed(video: 'vp8' | 'h264', seconds: number) {
  const codec =
    video === 'vp8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', '30', '-keyint_min', '30', '-f', 'webm']
      : ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-f', 'matroska'];
  const proc = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds),
      ...codec.slice(0, -2), '-c:a', 'libopus', '-b:a', '64k', ...codec.slice(-2),
      '-live', '1', '-cluster_size_limit', '50000000', '-cluster_time_limit', '60000', 'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return proc;
}

function settings(dir: string, overrides: Partial<RecorderSettings> = {}): RecorderSettings {
  return recorderSettings(dir, {
    naming: { template: '{streamName}-{audioCodec}-{videoCodec}', encoding: 'none', exclude: '/' },
    tmpDir: dir,
    stopTimeoutMs: 15_000,
    mp4: { moovFirst: true, reserveSpace: false, reservedBytes: 2048 * 1024, insertRange: true },
    insertRange,
    ...overrides,
  });
}

async function record(name: string, video: 'vp8' | 'h264', seconds: number, overrides: Partial<RecorderSettings> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-webm-'));
  dirs.push(dir);
  const feed = liveFeed(video, seconds);
  let stream!: Stream;
  const source = new WebmFeedSource(
    feed.stdout,
    (tracks) => {
      for (const t of tracks) {
        if (t.kind === 'video') stream.media.videoCodec = t.codec;
        if (t.kind === 'audio') stream.media.audioCodec = t.codec;
      }
    },
    () => feed.kill('SIGTERM'),
  );
  stream = new Stream({ name, app: 'test', mediaProvider: 'WebRTC', login: '', recordRequested: null, source });
  const recorder = new Recorder(stream, settings(dir, overrides), new WorkPool(2), pino({ level: 'silent' }), 1);
  await recorder.start();
  const finished = new Promise<Awaited<ReturnType<Recorder['finish']>>>((resolve) => recorder.once('finished', resolve));
  const records = await finished;
  return { dir, records, recorder };
}

describe('VP8 + Opus through the recorder', () => {
  it('vp8-webm: VP8 and Opus copied into WebM, clusters within webm_cluster_duration_limit', async () => {
    const { records } = await record('vp8', 'vp8', 5, { matroska: { clusterDurationLimitMs: 500, clusterSizeLimit: 131072 } });
    expect(records).toHaveLength(1);
    const file = records[0]!.path;
    expect(path.basename(file)).toBe('vp8-OPUS-VP8.webm');
    const probe = ffprobe(file);
    expect(probe.format.format_name).toContain('webm');
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(Math.abs(Number(probe.format.duration) - 5)).toBeLessThanOrEqual(0.3);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    // the finished file's clusters honour the configured duration limit
    const chunker = new WebmChunker();
    const clusters = chunker.push(fs.readFileSync(file)).filter((c) => c.kind === 'media');
    expect(clusters.length).toBeGreaterThan(8);
    for (const c of clusters) expect(c.endTimestampMs - c.timestampMs).toBeLessThanOrEqual(540);
  });

  it('vp8-mkv: VP8 and Opus copied into Matroska', async () => {
    const { records } = await record('vp8mkv', 'vp8', 4, { formats: { h264: 'mp4', vp8: 'mkv' } });
    const probe = ffprobe(records[0]!.path);
    expect(path.extname(records[0]!.path)).toBe('.mkv');
    expect(probe.format.format_name).toContain('matroska');
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
  });

  it('H.264 + Opus into MP4: Opus is encoded to AAC, the video is copied', async () => {
    const { records } = await record('h264opus', 'h264', 4, { audio: { sampleRate: 48000, channels: 1, fdkAacBitrateMode: 0 } });
    const file = records[0]!.path;
    // {audioCodec} names the published codec
    expect(path.basename(file)).toBe('h264opus-OPUS-H264.mp4');
    const probe = ffprobe(file);
    const audio = probe.streams.find((s) => s.codec_type === 'audio')!;
    expect(audio.codec_name).toBe('aac');
    expect(audio.sample_rate).toBe('48000');
    expect(audio.channels).toBe(1);
    expect(probe.streams.find((s) => s.codec_type === 'video')!.codec_name).toBe('h264');
    expect(Math.abs(Number(probe.format.duration) - 4)).toBeLessThanOrEqual(0.3);
    expect(decodeErrors(file)).toBe('');
  });

  it('VP8 rotation: WebM parts that each start on a keyframe', async () => {
    const { records } = await record('vp8rot', 'vp8', 6, { rotation: parseRotation('2') });
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(records.map((r) => path.basename(r.path))).toEqual(records.map((_, i) => `vp8rot-OPUS-VP8_${i + 1}.webm`));
    let total = 0;
    for (const r of records) {
      expect(firstVideoFrameIsKey(r.path)).toBe(true);
      total += Number(ffprobe(r.path).format.duration);
    }
    expect(Math.abs(total - 6)).toBeLessThanOrEqual(0.1 * records.length + 0.2);
  });
});
