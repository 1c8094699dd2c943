import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, firstVideoFrameIsKey, makeClip, publish } from '../helpers/media.js';
import { recordOf, streamNamed, type StreamJson } from '../helpers/rest.js';

/** A GET whose path is sent exactly as written (fetch would normalise "..") */
function rawGet(port: number, rawPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('RTMP publish recorded to MP4 (default config)', () => {
  let daemon: DaemonHandle;
  const childPids = new Set<number>();

  beforeAll(async () => {
    // RTMP play is off by default (issue 14); one test below plays while recording
    daemon = await startDaemon({ rtmp_play_enabled: true });
  });

  afterAll(async () => {
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
    for (const pid of [...childPids, ...daemon.children()]) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('records H.264+AAC under the template name, runs the hook, serves the file with ranges', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const publisher = publish(clip, `${daemon.rtmpUrl('stream_av')}?login=alice`);
    const stream = await streamNamed(daemon, 'stream_av');
    expect(stream).toMatchObject({
      status: 'PUBLISHING',
      published: true,
      mediaProvider: 'Flash',
      record: true,
      videoCodec: 'H264',
      audioCodec: 'AAC',
      width: 640,
      height: 360,
    });
    const recorders = await daemon.post<{ fileName: string; mediaSessionId: string }[]>('/rest-api/recorder/find_all');
    expect(recorders.status).toBe(200);
    expect(recorders.body).toContainEqual(expect.objectContaining({ fileName: `stream-${stream.mediaSessionId}-alice.mp4`, mediaSessionId: stream.mediaSessionId, state: 'RECORDING' }));
    for (const pid of daemon.children()) childPids.add(pid);
    // H.264 + AAC into MP4: written by the daemon itself, no ffmpeg for this recording
    expect(daemon.output).toMatch(/"muxer":"in-process"[^\n]*"Recording started"/);

    expect(await publisher.exited).toBe(0);
    const stoppedAt = Date.now();
    const hookFile = await recordOf(daemon, 'stream_av');
    const expected = path.join(daemon.recordDir, `stream-${stream.mediaSessionId}-alice.mp4`);
    expect(hookFile).toBe(expected);
    expect(fs.existsSync(expected)).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);

    const probe = ffprobe(expected);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.3);
    expect(firstVideoFrameIsKey(expected)).toBe(true);
    expect(decodeErrors(expected)).toBe('');
    // moov before mdat (+faststart): progressive playback while downloading
    const head = fs.readFileSync(expected).subarray(0, 64 * 1024);
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat'));

    const fileName = path.basename(expected);
    const whole = await fetch(daemon.url(`/client/records/${fileName}`));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-disposition')).toBe(`inline;filename="${fileName}"`);
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(bytes.equals(fs.readFileSync(expected))).toBe(true);

    const part = await fetch(daemon.url(`/client/records/${fileName}`), { headers: { Range: 'bytes=100-1123' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1123/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 1124))).toBe(true);

    const streams = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
    expect(streams.body.find((s) => s.name === 'stream_av')).toBeUndefined();
  });

  it('records video-only and audio-only publishes', async () => {
    const videoClip = makeClip({ video: true, audio: false, seconds: 6, gop: 2 });
    const audioClip = makeClip({ video: false, audio: true, seconds: 6 });
    const v = publish(videoClip, daemon.rtmpUrl('only_video'));
    const a = publish(audioClip, daemon.rtmpUrl('only_audio'));
    const [vs, as] = await Promise.all([streamNamed(daemon, 'only_video'), streamNamed(daemon, 'only_audio')]);
    expect(vs.videoCodec).toBe('H264');
    expect(vs.audioCodec).toBe('');
    expect(as.audioCodec).toBe('AAC');
    expect(as.videoCodec).toBe('');
    expect(await v.exited).toBe(0);
    expect(await a.exited).toBe(0);
    const [vFile, aFile] = await Promise.all([recordOf(daemon, 'only_video'), recordOf(daemon, 'only_audio')]);
    expect(path.basename(vFile)).toBe(`stream-${vs.mediaSessionId}-.mp4`);
    expect(ffprobe(vFile).streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(ffprobe(aFile).streams.map((s) => s.codec_name)).toEqual(['aac']);
    expect(Math.abs(durationOf(vFile) - durationOf(videoClip))).toBeLessThanOrEqual(0.3);
    expect(Math.abs(durationOf(aFile) - durationOf(audioClip))).toBeLessThanOrEqual(0.3);
  });

  it('refuses a second publish of a live stream name', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const first = publish(clip, daemon.rtmpUrl('taken'));
    const original = await streamNamed(daemon, 'taken');
    const second = publish(clip, daemon.rtmpUrl('taken'));
    const secondCode = await Promise.race([second.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 5000))]);
    second.proc.kill('SIGKILL');
    expect(secondCode).not.toBe('still running');
    expect(secondCode).not.toBe(0);
    const streams = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
    const named = streams.body.filter((s) => s.name === 'taken');
    expect(named).toHaveLength(1);
    expect(named[0]!.mediaSessionId).toBe(original.mediaSessionId);
    expect(await first.exited).toBe(0);
    const file = await recordOf(daemon, 'taken');
    expect(Math.abs(durationOf(file) - durationOf(clip))).toBeLessThanOrEqual(0.3);
  });

  it('an RTMP player gets the stream while it is recorded, and ends when the publish ends', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const publisher = publish(clip, daemon.rtmpUrl('played'));
    await streamNamed(daemon, 'played');
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-play-')), 'played.flv');
    // no -t: the player ends on its own when told the publish is over (StreamEOF + NetStream.Play.UnpublishNotify);
    // without that notice ffmpeg would wait for more media until the 60 s timeout kills it
    await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', daemon.rtmpUrl('played'), '-c', 'copy', '-y', out], { timeout: 60_000 });
    const probe = ffprobe(out);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(firstVideoFrameIsKey(out)).toBe(true);
    expect(durationOf(out)).toBeGreaterThan(2.5);
    expect(await publisher.exited).toBe(0);
    // the recording is whole: the player joining changed nothing for it
    const file = await recordOf(daemon, 'played');
    expect(decodeErrors(file)).toBe('');
    expect(Math.abs(durationOf(file) - durationOf(clip))).toBeLessThanOrEqual(0.3);
  });

  it('never serves a path outside record_dir', async () => {
    fs.symlinkSync(path.join(daemon.home, 'conf', 'server.properties'), path.join(daemon.recordDir, 'link.mp4'));
    fs.writeFileSync(path.join(daemon.recordDir, '.hidden.mp4'), 'secret');
    const attempts = [
      '/client/records/../conf/server.properties',
      '/client/records/..%2Fconf%2Fserver.properties',
      '/client/records/..%2fconf%2fserver.properties',
      '/client/records/%2e%2e%2fconf%2fserver.properties',
      '/client/records/%2e%2e/conf/server.properties',
      '/client/records/..%5Cconf%5Cserver.properties',
      '/client/records/%2Fetc%2Fpasswd',
      '/client/records/link.mp4',
      '/client/records/.hidden.mp4',
      '/client/records/..',
      '/client/records/.rec-x.mp4',
      '/client/records/missing.mp4',
    ];
    for (const p of attempts) {
      const res = await rawGet(daemon.httpPort, p);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('http.port');
      expect(res.body, p).not.toContain('root:');
      expect(res.body, p).not.toContain('secret');
    }
  });

  it('answers bad REST input with a 4xx and a message', async () => {
    const unknown = await daemon.post<{ message: string }>('/rest-api/recorder/startup', { mediaSessionId: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/nope/);
    const malformed = await daemon.post<{ message: string }>('/rest-api/recorder/startup', { wrong: 1 });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/mediaSessionId/);
    const res = await fetch(daemon.url('/rest-api/stream/find_all'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(res.status).toBe(400);
    const none = await daemon.post('/rest-api/recorder/terminate', { mediaSessionId: 'nope' });
    expect(none.status).toBe(404);
  });
});

describe('recording started while the stream is live', () => {
  let daemon: DaemonHandle;

  beforeAll(async () => {
    daemon = await startDaemon({ record_flash_published_streams: false });
  });

  afterAll(async () => {
    expect((await daemon.stop()).code).toBe(0);
  });

  it('starts on a keyframe with codec headers, by REST, with a per-recording template', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const publisher = publish(clip, daemon.rtmpUrl('late'));
    const stream = await streamNamed(daemon, 'late');
    expect(stream.record).toBe(false);
    expect((await daemon.post('/rest-api/recorder/find_all')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 3000));
    const sentBefore = publisher.sentSeconds();
    const started = await daemon.post('/rest-api/recorder/startup', {
      mediaSessionId: stream.mediaSessionId,
      config: { fileTemplate: '{streamName}-late-{login}' },
    });
    const sentAfter = publisher.sentSeconds();
    expect(started.status).toBe(200);
    const list = await daemon.post<{ fileName: string }[]>('/rest-api/recorder/find_all');
    expect(list.body).toMatchObject([{ fileName: 'late-late-.mp4', mediaSessionId: stream.mediaSessionId, state: 'RECORDING' }]);
    expect(await publisher.exited).toBe(0);
    const file = await recordOf(daemon, 'late');
    expect(path.basename(file)).toBe('late-late-.mp4');
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    const duration = Number(probe.format.duration);
    // started from the keyframe before the startup (GOP 2 s): the rest of the clip after what the publisher
    // had sent by then (its own count, not the 3 s of wall clock, which carry less media on a busy machine)
    const clipSeconds = durationOf(clip);
    expect(duration).toBeGreaterThan(clipSeconds - sentAfter - 0.3);
    expect(duration).toBeLessThan(clipSeconds - sentBefore + 2 + 0.3);
  });
});

describe('daemon shutdown', () => {
  for (const muxer of ['ffmpeg', 'in-process'] as const) {
    it(`finishes an open recording on SIGTERM and leaves no ffmpeg behind (record_muxer=${muxer})`, async () => {
      const daemon = await startDaemon({ record_muxer: muxer });
      const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
      const publisher = publish(clip, daemon.rtmpUrl('sigterm'), ['-stream_loop', '3']);
      try {
        const stream = await streamNamed(daemon, 'sigterm');
        await new Promise((r) => setTimeout(r, 4000));
        const sentAtStop = publisher.sentSeconds();
        const children = daemon.children();
        if (muxer === 'ffmpeg') expect(children.length).toBeGreaterThan(0);
        else expect(daemon.output).toMatch(/"muxer":"in-process"/);
        const exit = await daemon.stop('SIGTERM');
        expect(exit.code).toBe(0);
        for (const pid of children) expect(isAlive(pid), `ffmpeg ${pid} left behind`).toBe(false);
        const file = path.join(daemon.recordDir, `stream-${stream.mediaSessionId}-.mp4`);
        expect(fs.existsSync(file)).toBe(true);
        expect(decodeErrors(file)).toBe('');
        // everything the publisher had sent when SIGTERM came (its own count, not the 4 s of wall clock)
        expect(sentAtStop).toBeGreaterThan(1);
        expect(durationOf(file)).toBeGreaterThan(sentAtStop - 0.5);
        expect(fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('.rec-'))).toEqual([]);
      } finally {
        publisher.proc.kill('SIGKILL');
      }
    });
  }
});

