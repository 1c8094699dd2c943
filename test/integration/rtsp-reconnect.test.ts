import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe } from '../helpers/media.js';
import { logLines, type StreamJson } from '../helpers/rest.js';
import { agentInStatus, FakeCamera, recordOf, requireGstRtspServer, silentServer, type AgentJson } from '../helpers/rtsp-camera.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RTSP cameras that drop, come back, or never answer', () => {
  let daemon: DaemonHandle;
  let cam: FakeCamera;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let closedPort: number;
  const cameras: FakeCamera[] = [];

  beforeAll(async () => {
    requireGstRtspServer();
    cam = await FakeCamera.start({ audio: 'aac', user: 'viewer', password: 'Start-Up-Pw1' });
    cameras.push(cam);
    silent = await silentServer();
    closedPort = await freePort();
    // pulled at start-up, with fast reconnects and a short silence limit
    daemon = await startDaemon({
      stream_record_policy_template: '{streamName}-{mediaSessionId}',
      rtsp_pull_streams: `lobby=${cam.url({ user: 'viewer', password: 'Start-Up-Pw1' })}, hung=rtsp://127.0.0.1:${silent.port}/cam`,
      rtsp_timeout: 1,
      rtsp_reconnect_min_delay: 300,
      rtsp_reconnect_max_delay: 1200,
    });
  });

  afterAll(async () => {
    const children = daemon.children();
    const exit = await daemon.stop('SIGTERM');
    await Promise.all(cameras.map((c) => c.kill()));
    await silent.close();
    expect(exit.code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('pulls rtsp_pull_streams at start-up; a camera killed mid-recording leaves a finished record, and its return begins a new media session and file', async () => {
    const first = await agentInStatus(daemon, 'lobby', 'PLAYING');
    expect(first.uri).toBe(`rtsp://***:***@127.0.0.1:${cam.port}/cam`);
    expect(first.sessions).toBe(1);
    await sleep(3000);
    await cam.kill();
    const file1 = await recordOf(daemon, 'lobby');
    expect(path.basename(file1)).toBe(`lobby-${first.mediaSessionId}.mp4`);
    expect(ffprobe(file1).streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(durationOf(file1)).toBeGreaterThan(2);
    expect(decodeErrors(file1)).toBe('');
    const lost = await agentInStatus(daemon, 'lobby', 'RETRYING');
    expect(lost.mediaSessionId).toBeNull();
    expect((await daemon.post('/rest-api/stream/find', { name: 'lobby' })).status).toBe(404);
    // retried with backoff while it is away, each attempt logged
    await waitFor(() => logLines(daemon, 'RTSP camera not playing; retrying', '"stream":"lobby"').length >= 2, 10_000, 'two logged retries');
    expect(logLines(daemon, 'RTSP camera lost; reconnecting', '"stream":"lobby"')).toHaveLength(1);

    cam = await FakeCamera.start({ port: cam.port, audio: 'aac', user: 'viewer', password: 'Start-Up-Pw1' });
    cameras.push(cam);
    const second = await agentInStatus(daemon, 'lobby', 'PLAYING', 10_000);
    expect(second.mediaSessionId).not.toBe(first.mediaSessionId);
    expect(second.sessions).toBe(2);
    expect(second.retries).toBe(0);
    const streams = await daemon.post<StreamJson[]>('/rest-api/stream/find', { name: 'lobby' });
    expect(streams.body[0]).toMatchObject({ mediaSessionId: second.mediaSessionId, mediaProvider: 'RTSP', record: true });
    await sleep(2500);
    expect((await daemon.post('/rest-api/rtsp/terminate', { uri: cam.url() })).status).toBe(200);
    const file2 = await recordOf(daemon, 'lobby', [file1]);
    expect(path.basename(file2)).toBe(`lobby-${second.mediaSessionId}.mp4`);
    expect(durationOf(file2)).toBeGreaterThan(1.5);
    expect(decodeErrors(file2)).toBe('');
    expect(fs.existsSync(file1)).toBe(true);
    expect(daemon.output).not.toContain('Start-Up-Pw1');
  });

  it('a camera that accepts and never answers, and a closed port: retried with backoff, the daemon unharmed', async () => {
    const hung = await agentInStatus(daemon, 'hung', 'RETRYING', 10_000);
    // REST clients cannot tell a silent port from a closed one; the log keeps the detail
    expect(hung.lastError).toMatch(/^camera unreachable/);
    await daemon.waitForOutput(/no answer from the camera within rtsp_timeout \(1 s\)/);
    const closed = await daemon.post<AgentJson>('/rest-api/rtsp/startup', { uri: `rtsp://127.0.0.1:${closedPort}/cam`, toStream: 'nobody' });
    expect(closed.status).toBe(200);
    const refused = await agentInStatus(daemon, 'nobody', 'RETRYING');
    expect(refused.lastError).toBe(hung.lastError);
    await daemon.waitForOutput(/Connection refused/);
    await waitFor(
      () => logLines(daemon, 'RTSP camera not playing; retrying', '"stream":"hung"').length >= 2 && logLines(daemon, 'RTSP camera not playing; retrying', '"stream":"nobody"').length >= 3,
      15_000,
      'several logged retries',
    );
    // delays grow and stay bounded by rtsp_reconnect_max_delay
    const delays = logLines(daemon, 'RTSP camera not playing; retrying', '"stream":"nobody"').map((l) => (JSON.parse(l) as { delayMs: number }).delayMs);
    expect(delays.slice(0, 3)).toEqual([300, 600, 1200]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1200);
    expect((await daemon.post('/rest-api/server/stats')).status).toBe(200);
    for (const uri of [`rtsp://127.0.0.1:${silent.port}/cam`, `rtsp://127.0.0.1:${closedPort}/cam`]) {
      expect((await daemon.post('/rest-api/rtsp/terminate', { uri })).status).toBe(200);
    }
    expect((await daemon.post('/rest-api/rtsp/find_all')).status).toBe(404);
    await sleep(300);
    expect(daemon.ffmpegChildren()).toEqual([]);
  });
});
