import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, firstVideoFrameIsKey } from '../helpers/media.js';
import { logLines, type ErrorJson, type StreamJson } from '../helpers/rest.js';
import { agentInStatus, FakeCamera, recordOf, requireGstRtspServer, type AgentJson } from '../helpers/rtsp-camera.js';

function codecs(file: string): string[] {
  return ffprobe(file)
    .streams.map((s) => s.codec_name)
    .sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RTSP cameras recorded (real GStreamer RTSP server as the camera)', () => {
  let daemon: DaemonHandle;
  const cameras: FakeCamera[] = [];

  async function camera(options: Parameters<typeof FakeCamera.start>[0] = {}): Promise<FakeCamera> {
    const cam = await FakeCamera.start(options);
    cameras.push(cam);
    return cam;
  }

  beforeAll(async () => {
    requireGstRtspServer();
    daemon = await startDaemon({ stream_record_policy_template: '{streamName}-{mediaSessionId}', rtsp_reconnect_min_delay: 500, rtsp_reconnect_max_delay: 2000 });
  });

  afterAll(async () => {
    const children = daemon.children();
    const exit = await daemon.stop('SIGTERM');
    await Promise.all(cameras.map((c) => c.kill()));
    expect(exit.code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('a 10 s pull over TCP is recorded: H.264 + AAC, about 10 s, starts on a keyframe', async () => {
    const cam = await camera({ audio: 'aac' });
    const start = await daemon.post<AgentJson>('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'cam_tcp' });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ uri: cam.url(), toStream: 'cam_tcp', transport: 'tcp', record: null });
    expect(['CONNECTING', 'PLAYING']).toContain(start.body.status);
    const playing = await agentInStatus(daemon, 'cam_tcp', 'PLAYING');
    expect(playing.mediaSessionId).toMatch(/^[0-9a-f-]{36}$/);
    const streams = await daemon.post<StreamJson[]>('/rest-api/stream/find', { name: 'cam_tcp' });
    expect(streams.body[0]).toMatchObject({
      mediaSessionId: playing.mediaSessionId,
      mediaProvider: 'RTSP',
      status: 'PUBLISHING',
      record: true,
      videoCodec: 'H264',
      audioCodec: 'AAC',
      width: 320,
      height: 240,
    });
    const recording = await daemon.post<{ fileName: string; mediaSessionId: string }[]>('/rest-api/recorder/find_all');
    expect(recording.body).toContainEqual(expect.objectContaining({ fileName: `cam_tcp-${playing.mediaSessionId}.mp4`, mediaSessionId: playing.mediaSessionId, state: 'RECORDING' }));
    await sleep(10_000);
    const stop = await daemon.post('/rest-api/rtsp/terminate', { uri: cam.url() });
    expect(stop.status).toBe(200);
    // terminate answers once the record is finished
    const file = path.join(daemon.recordDir, `cam_tcp-${playing.mediaSessionId}.mp4`);
    expect(fs.existsSync(file)).toBe(true);
    expect(codecs(file)).toEqual(['aac', 'h264']);
    expect(durationOf(file)).toBeGreaterThan(9);
    expect(durationOf(file)).toBeLessThan(11.5);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    expect((await daemon.post('/rest-api/rtsp/find_all')).status).toBe(404);
    expect((await daemon.post('/rest-api/stream/find', { name: 'cam_tcp' })).status).toBe(404);
  });

  it('UDP transport (per request), and a camera without audio', async () => {
    const cam = await camera({ audio: 'none' });
    const start = await daemon.post<AgentJson>('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'cam_udp', transport: 'udp' });
    expect(start.status).toBe(200);
    expect(start.body.transport).toBe('udp');
    const playing = await agentInStatus(daemon, 'cam_udp', 'PLAYING');
    await sleep(4000);
    // /stream/terminate on a camera's stream stops its pull as well
    expect((await daemon.post('/rest-api/stream/terminate', { name: 'cam_udp' })).status).toBe(200);
    const file = await recordOf(daemon, 'cam_udp');
    expect((await daemon.post('/rest-api/rtsp/find', { uri: cam.url() })).status).toBe(404);
    expect(path.basename(file)).toBe(`cam_udp-${playing.mediaSessionId}.mp4`);
    expect(codecs(file)).toEqual(['h264']);
    expect(durationOf(file)).toBeGreaterThan(3);
    expect(decodeErrors(file)).toBe('');
  });

  it('G.711 A-law and µ-law cameras, and G.726 that FLV cannot carry: the records hold AAC in time', async () => {
    const cams = await Promise.all([camera({ audio: 'pcma' }), camera({ audio: 'pcmu' }), camera({ audio: 'g726' })]);
    const names = ['cam_pcma', 'cam_pcmu', 'cam_g726'];
    for (const [i, cam] of cams.entries()) {
      expect((await daemon.post('/rest-api/rtsp/startup', { uri: cam.url(), toStream: names[i] })).status).toBe(200);
    }
    const agents = await Promise.all(names.map((n) => agentInStatus(daemon, n, 'PLAYING')));
    const found = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
    const audioOf = (id: string | null) => found.body.find((s) => s.mediaSessionId === id)?.audioCodec;
    expect(agents.map((a) => audioOf(a.mediaSessionId))).toEqual(['PCMA', 'PCMU', 'AAC']);
    // the G.726 camera was pulled again with AAC before its stream was published: one session only
    expect(agents[2]!.sessions).toBe(1);
    expect(logLines(daemon, "RTSP camera's audio cannot go into the feed as it is; pulling again with AAC", '"stream":"cam_g726"')).toHaveLength(1);
    await sleep(5000);
    await Promise.all(cams.map((cam) => daemon.post('/rest-api/rtsp/terminate', { uri: cam.url() })));
    for (const name of names) {
      const file = await recordOf(daemon, name);
      const probe = ffprobe(file);
      expect(probe.streams.map((s) => s.codec_name).sort(), name).toEqual(['aac', 'h264']);
      expect(durationOf(file)).toBeGreaterThan(4);
      // audio neither stretched nor squeezed: its duration matches the video's
      const video = Number(probe.streams.find((s) => s.codec_type === 'video')!.duration);
      const audio = Number(probe.streams.find((s) => s.codec_type === 'audio')!.duration);
      expect(Math.abs(audio - video), `${name}: audio ${audio} s, video ${video} s`).toBeLessThan(0.5);
      expect(decodeErrors(file)).toBe('');
    }
  });

  it('a camera behind a password: right credentials record, wrong ones retry with the error, never showing the password', async () => {
    const password = 'pa:ss@word-Zq9';
    const cam = await camera({ user: 'admin', password });
    const good = cam.url({ user: 'admin', password });
    const res = await daemon.post<AgentJson>('/rest-api/rtsp/startup', { uri: good });
    expect(res.status).toBe(200);
    // no toStream: named by the URI without its credentials
    const name = `rtsp://127.0.0.1:${cam.port}/cam`;
    expect(res.body.toStream).toBe(name);
    expect(res.body.uri).toBe(`rtsp://***:***@127.0.0.1:${cam.port}/cam`);
    const playing = await agentInStatus(daemon, name, 'PLAYING');
    // the password reaches ffmpeg through a pipe: `ps` (its command line) never shows it
    const cmdlines = daemon.children().map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    expect(cmdlines.some((c) => c.includes('pipe:3'))).toBe(true);
    for (const c of cmdlines) expect(c).not.toContain(encodeURIComponent(password));
    await sleep(2000);

    // the same camera with a wrong password, under another name: 409 (same camera stream)
    const wrong = cam.url({ user: 'admin', password: 'Wrong-Pw-77' });
    const dup = await daemon.post<ErrorJson>('/rest-api/rtsp/startup', { uri: wrong, toStream: 'other' });
    expect(dup.status).toBe(409);
    expect(JSON.stringify(dup.body)).not.toContain('Wrong-Pw-77');
    // terminate with the masked URI that find_all shows
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: res.body.uri })).status).toBe(200);
    const file = await recordOf(daemon, name);
    // '/' never reaches a file name
    expect(path.basename(file)).toBe(`${name.replace(/\//g, '')}-${playing.mediaSessionId}.mp4`);
    expect(codecs(file)).toEqual(['aac', 'h264']);

    const bad = await daemon.post<AgentJson>('/rest-api/rtsp/startup', { uri: wrong, toStream: 'cam_wrong_pw' });
    expect(bad.status).toBe(200);
    const retrying = await agentInStatus(daemon, 'cam_wrong_pw', 'RETRYING');
    // REST clients get the coarse reason (no port scanning through lastError); the log keeps the detail
    expect(retrying.lastError).toMatch(/^camera unreachable/);
    await daemon.waitForOutput(/401 Unauthorized/);
    expect(retrying.mediaSessionId).toBeNull();
    const all = await daemon.post('/rest-api/rtsp/find_all');
    expect(JSON.stringify(all.body)).not.toContain('Wrong-Pw-77');
    await daemon.waitForOutput(/RTSP camera not playing; retrying/);
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: wrong })).status).toBe(200);
    for (const secret of [password, encodeURIComponent(password), 'Wrong-Pw-77']) {
      expect(daemon.output).not.toContain(secret);
      expect(fs.readFileSync(path.join(daemon.home, 'logs', 'server.log'), 'utf8')).not.toContain(secret);
      expect(fs.readdirSync(daemon.recordDir).join('\n')).not.toContain(secret);
    }
  });

  it('an H.265 camera fails with a clear error (the FLV feed carries H.264 only)', async () => {
    const cam = await camera({ video: 'h265', audio: 'none' });
    expect((await daemon.post('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'cam_h265' })).status).toBe(200);
    const failed = await agentInStatus(daemon, 'cam_h265', 'FAILED');
    expect(failed.lastError).toMatch(/H\.265.*only H\.264/);
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: cam.url() })).status).toBe(200);
  });

  it('bad requests: 400 for a bad URI or body, 409 for a duplicate, 404 for an unknown pull', async () => {
    for (const body of [
      { uri: 'http://127.0.0.1/cam' },
      { uri: 'rtmp://127.0.0.1/live/x' },
      { uri: 'not a uri' },
      { uri: '' },
      { uri: 'rtsp://127.0.0.1:70000/cam' },
      { uri: 'rtsps://127.0.0.1/cam', transport: 'udp' },
      { uri: 'rtsp://127.0.0.1/cam', transport: 'http' },
      { uri: 'rtsp://127.0.0.1/cam', record: 'yes' },
      { uri: 'rtsp://127.0.0.1/cam', extra: 1 },
      {},
    ]) {
      const res = await daemon.post<ErrorJson>('/rest-api/rtsp/startup', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe(400);
    }
    const cam = await camera({ audio: 'none' });
    expect((await daemon.post('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'cam_dup', record: false })).status).toBe(200);
    const sameUri = await daemon.post<ErrorJson>('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'cam_dup2' });
    expect(sameUri.status).toBe(409);
    const sameName = await daemon.post<ErrorJson>('/rest-api/rtsp/startup', { uri: `rtsp://127.0.0.1:${cam.port}/other`, toStream: 'cam_dup' });
    expect(sameName.status).toBe(409);
    expect(sameName.body.message).toMatch(/cam_dup/);
    expect((await daemon.post('/rest-api/rtsp/find', { uri: 'rtsp://127.0.0.1:1/none' })).status).toBe(404);
    expect((await daemon.post('/rest-api/rtsp/find', { status: 'BOGUS' })).status).toBe(400);
    expect((await daemon.post('/rest-api/rtsp/find', {})).status).toBe(400);
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: 'rtsp://127.0.0.1:1/none' })).status).toBe(404);
    expect((await daemon.post('/rest-api/rtsp/terminate', {})).status).toBe(400);
    const found = await daemon.post<AgentJson[]>('/rest-api/rtsp/find', { uri: cam.url() });
    expect(found.status).toBe(200);
    expect(found.body.map((a) => a.toStream)).toEqual(['cam_dup']);
    expect(found.body[0]!.record).toBe(false);
    // record: false is honoured, and /recorder/startup records it on demand
    const playing = await agentInStatus(daemon, 'cam_dup', 'PLAYING');
    expect((await daemon.post('/rest-api/recorder/find_all')).status).toBe(404);
    expect((await daemon.post('/rest-api/recorder/startup', { mediaSessionId: playing.mediaSessionId })).status).toBe(200);
    await sleep(2500);
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: cam.url() })).status).toBe(200);
    const file = await recordOf(daemon, 'cam_dup');
    expect(durationOf(file)).toBeGreaterThan(1);
    const docs = await fetch(daemon.url('/rest-api/docs'));
    const doc = (await docs.json()) as { paths: Record<string, unknown> };
    for (const p of ['startup', 'find_all', 'find', 'terminate']) expect(doc.paths[`/rest-api/rtsp/${p}`]).toBeDefined();
  });
});
