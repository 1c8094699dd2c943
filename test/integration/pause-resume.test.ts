import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium, whipPublishFromPage, type Browser } from '../helpers/chromium.js';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, ffprobe, firstVideoFrameIsKey, makeClip, publish } from '../helpers/media.js';
import { hookLines, logLines, postJson, streamNamed } from '../helpers/rest.js';
import { agentInStatus, FakeCamera, requireGstRtspServer } from '../helpers/rtsp-camera.js';

/**
 * Pause and resume of a recording (issue 18 items 7 and 10), with real
 * publishers: ffmpeg over RTMP into every container and both MP4 muxers,
 * Chromium over WHIP. The pause is held for 3 s of the stream's own media
 * time (not wall-clock time: the daemon reports the stream's timestamp), so
 * the checks hold however busy the machine is.
 */

interface PauseJson {
  pausedAt: number;
  resumedAt: number | null;
  positionMs: number;
  skippedMs: number;
}

interface InProgressJson {
  fileName: string;
  mediaSessionId: string;
  state: 'RECORDING' | 'PAUSED' | 'FINISHING';
  file: string | null;
  size: number | null;
  durationMs: number;
  streamTimestampMs: number;
  pauses: PauseJson[];
}

interface FinishedJson {
  fileName: string;
  duration: number | null;
  pauses?: PauseJson[];
}

/** Media time the pause is held for, ms of the stream's own clock. */
const PAUSE_MEDIA_MS = 3000;

async function recording(daemon: DaemonHandle, mediaSessionId: string): Promise<InProgressJson | undefined> {
  const res = await postJson<InProgressJson[]>(daemon, '/rest-api/recorder/find_all');
  return res.status === 200 ? res.body.find((r) => r.mediaSessionId === mediaSessionId) : undefined;
}

async function waitRecording(daemon: DaemonHandle, id: string, what: string, check: (r: InProgressJson) => boolean, timeoutMs = 30_000): Promise<InProgressJson> {
  let last: InProgressJson | undefined;
  await waitFor(
    async () => {
      last = await recording(daemon, id);
      return last !== undefined && check(last);
    },
    timeoutMs,
    what,
  );
  return last!;
}

/** Video or audio packet times (s) in presentation order. */
function packetTimes(file: string, stream: 'v' | 'a'): number[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', `${stream}:0`, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(l.split(',')[0]))
    .filter((n) => Number.isFinite(n))
    .sort((a, b) => a - b);
}

/** Largest step between consecutive packet times (and where), and the median step (the frame interval). */
function gaps(times: number[]): { max: number; at: number; median: number } {
  const steps = times.slice(1).map((t, i) => t - times[i]!);
  const sorted = [...steps].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] ?? 0;
  return { max, at: times[steps.indexOf(max)] ?? 0, median: sorted[Math.floor(sorted.length / 2)] ?? 0 };
}

/**
 * Pauses, holds the pause for PAUSE_MEDIA_MS of stream time, resumes, lets
 * the record go on, and stops it; checks the API on the way. Returns what the
 * daemon reported.
 */
async function pauseResumeStop(
  daemon: DaemonHandle,
  id: string,
  onResume: () => Promise<void> = async () => undefined,
): Promise<{ running: InProgressJson; pausedAt: InProgressJson; beforeStop: InProgressJson }> {
  const running = await waitRecording(daemon, id, 'two seconds recorded', (r) => r.state === 'RECORDING' && r.durationMs >= 2000);
  // item 10: the file being written, its bytes, the recorded duration
  expect(running.file).toMatch(/^\.rec-/);
  expect(running.size).toBeGreaterThan(0);
  expect(running.pauses).toEqual([]);

  expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId: id })).status).toBe(200);
  const pausedAt = (await recording(daemon, id))!;
  expect(pausedAt.state).toBe('PAUSED');
  expect(pausedAt.pauses).toHaveLength(1);
  expect(pausedAt.pauses[0]!.resumedAt).toBeNull();
  // pausing twice: 409
  const again = await postJson<{ message: string }>(daemon, '/rest-api/recorder/pause', { mediaSessionId: id });
  expect(again.status).toBe(409);
  expect(again.body.message).toContain('already paused');

  // with B-frames the cut comes at the next reference frame (a few frames on): after 500 ms of stream time it has come
  const settled = await waitRecording(daemon, id, '500 ms of stream time after the pause', (r) => r.streamTimestampMs >= pausedAt.streamTimestampMs + 500);
  expect(settled.durationMs - pausedAt.durationMs).toBeLessThanOrEqual(200);
  // where the pause is: at the end of what was recorded, from the record's first media (however late it started)
  expect(settled.pauses[0]!.positionMs).toBe(settled.durationMs);
  // the stream goes on (its timestamps advance), the record does not
  const held = await waitRecording(daemon, id, `${PAUSE_MEDIA_MS} ms of stream time while paused`, (r) => r.streamTimestampMs >= pausedAt.streamTimestampMs + PAUSE_MEDIA_MS);
  expect(held.state).toBe('PAUSED');
  expect(held.durationMs).toBe(settled.durationMs);
  const sizeWhilePaused = held.size;

  await onResume();
  expect((await postJson(daemon, '/rest-api/recorder/resume', { mediaSessionId: id })).status).toBe(200);
  const resumeAgain = await postJson<{ message: string }>(daemon, '/rest-api/recorder/resume', { mediaSessionId: id });
  expect(resumeAgain.status).toBe(409);
  expect(resumeAgain.body.message).toContain('not paused');

  const after = await waitRecording(daemon, id, 'two more seconds recorded after resume', (r) => r.state === 'RECORDING' && r.durationMs >= pausedAt.durationMs + 2000);
  expect(after.size).toBeGreaterThan(sizeWhilePaused ?? 0);
  expect(after.pauses).toHaveLength(1);
  const pause = after.pauses[0]!;
  expect(pause.positionMs).toBe(settled.durationMs);
  expect(pause.resumedAt).toBeGreaterThanOrEqual(pause.pausedAt);
  // what was left out is at least the stream time the pause was held for
  expect(pause.skippedMs).toBeGreaterThanOrEqual(PAUSE_MEDIA_MS);
  expect(pause.positionMs).toBeGreaterThanOrEqual(2000);
  const beforeStop = (await recording(daemon, id))!;
  expect((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status).toBe(200);
  return { running, pausedAt, beforeStop };
}

/** The record of a stream as /recorder/find_records lists it, once finished. */
async function finishedRecord(daemon: DaemonHandle, id: string): Promise<FinishedJson> {
  let found: FinishedJson | undefined;
  await waitFor(
    async () => {
      const res = await postJson<FinishedJson[]>(daemon, '/rest-api/recorder/find_records', { mediaSessionId: id });
      found = res.status === 200 ? res.body[0] : undefined;
      return found !== undefined;
    },
    20_000,
    `the record of ${id}`,
  );
  return found!;
}

/**
 * How much larger than the frame interval a step between two shown video
 * frames may be: where the pause was (a frame or so), and anywhere in the
 * file (a publisher with B-frames, as the x264 clip here, leaves the last one
 * or two B-frames of the record's end unwritten: they come after the frame
 * the stop came at; a browser's frame rate varies with the load).
 */
interface StepTolerance {
  readonly atPause: number;
  readonly anywhere: number;
}

/** The checks every paused-and-resumed record passes, whatever its container and ingest. */
function checkRecord(file: string, record: FinishedJson, beforeStop: InProgressJson, tolerance: StepTolerance): void {
  expect(decodeErrors(file)).toBe('');
  expect(firstVideoFrameIsKey(file)).toBe(true);
  // no timestamp jump where the pause was: no step much larger than a frame interval
  const times = packetTimes(file, 'v');
  const video = gaps(times);
  expect(video.median).toBeGreaterThan(0);
  expect(video.max, `largest video step ${video.max} s at ${video.at} s of ${file}, frame interval ${video.median} s`).toBeLessThanOrEqual(
    video.median * tolerance.anywhere + 0.005,
  );
  // around the pause (its position from the record's first frame), the frames follow one another
  const pauseAt = times[0]! + beforeStop.pauses[0]!.positionMs / 1000;
  const near = gaps(times.filter((t) => Math.abs(t - pauseAt) <= 0.5));
  expect(near.max, `largest video step near the pause (${pauseAt} s): ${near.max} s at ${near.at} s of ${file}`).toBeLessThanOrEqual(
    video.median * tolerance.atPause + 0.005,
  );
  const audio = packetTimes(file, 'a');
  if (audio.length > 0) {
    const a = gaps(audio);
    // audio that belonged before the keyframe the record continued at is left out: at most a frame or two of video
    expect(a.max, `largest audio step ${a.max} s at ${a.at} s`).toBeLessThanOrEqual(video.median * 3 + a.median);
  }
  // the record's duration is the sum of its recorded spans, as the daemon counted them
  const duration = Number(ffprobe(file).format.duration);
  expect(record.duration).not.toBeNull();
  expect(Math.abs(duration - record.duration! / 1000), `ffprobe ${duration} s, daemon ${record.duration} ms`).toBeLessThanOrEqual(0.25);
  expect(record.duration!).toBeGreaterThanOrEqual(beforeStop.durationMs);
  // the finished record lists its pause
  expect(record.pauses).toHaveLength(1);
  expect(record.pauses![0]!.skippedMs).toBe(beforeStop.pauses[0]!.skippedMs);
  expect(record.pauses![0]!.positionMs).toBeGreaterThan(0);
}

describe('pause and resume over RTMP', () => {
  // 30 fps, a keyframe every second: one GOP = 1 s
  const GOP_S = 1;
  const clip = makeClip({ video: true, audio: true, seconds: 30, gop: GOP_S });

  it.each([
    ['mp4, in-process muxer', { record_muxer: 'in-process' }, 'mp4'],
    ['mp4, ffmpeg muxer', { record_muxer: 'ffmpeg' }, 'mp4'],
    ['mkv, started by REST mid-stream', { record_formats: 'h264-mkv, vp8-webm', record_streams: false }, 'mkv'],
    ['ts', { record_formats: 'h264-ts, vp8-webm' }, 'ts'],
  ] as const)('%s: the record leaves the pause out, without a timestamp jump, and plays', async (label, props, ext) => {
    const daemon = await startDaemon({ ...props, stream_record_policy_template: '{streamName}' });
    const name = `pause_${ext}_${label.includes('ffmpeg') ? 'ff' : 'x'}`;
    const publisher = publish(clip, daemon.rtmpUrl(name));
    try {
      const stream = await streamNamed(daemon, name);
      const id = stream.mediaSessionId;
      if (label.includes('REST')) {
        await waitFor(() => publisher.sentSeconds() >= 3, 30_000, 'three seconds published');
        expect((await postJson(daemon, '/rest-api/recorder/startup', { mediaSessionId: id })).status).toBe(200);
      }
      const { running, beforeStop } = await pauseResumeStop(daemon, id);
      await waitFor(() => hookLines(daemon).length >= 1, 20_000, 'the hook of the record');
      const file = hookLines(daemon)[0]!.slice(hookLines(daemon)[0]!.indexOf(':') + 1);
      expect(path.extname(file)).toBe(`.${ext}`);
      const record = await finishedRecord(daemon, id);
      expect(record.fileName).toBe(path.basename(file));
      checkRecord(file, record, beforeStop, { atPause: 1.6, anywhere: 4.5 });
      // recorded time, from the stream's own clock: everything seen up to the stop, less what the pause left out;
      // the record began at the keyframe the recorder started on and continued at the first after resume: within a GOP
      const duration = Number(ffprobe(file).format.duration);
      // the stream time the recording spans: from its first frame (before the pause: last seen less recorded) to the stop
      const seenS = (beforeStop.streamTimestampMs - (running.streamTimestampMs - running.durationMs)) / 1000;
      const skippedS = beforeStop.pauses[0]!.skippedMs / 1000;
      expect(duration).toBeLessThanOrEqual(seenS - PAUSE_MEDIA_MS / 1000 + GOP_S);
      expect(Math.abs(duration - (seenS - skippedS)), `record ${duration} s, stream ${seenS} s less ${skippedS} s paused`).toBeLessThanOrEqual(GOP_S + 0.1);
      console.log(`[figures] pause ${label}: record ${duration.toFixed(3)} s, stream seen ${seenS.toFixed(3)} s, skipped ${skippedS.toFixed(3)} s`);
    } finally {
      publisher.proc.kill('SIGINT');
      await publisher.exited;
      expect((await daemon.stop()).code).toBe(0);
    }
  });

  it('a recording stopped while paused (ffmpeg muxer, MKV) ends at the pause and lists it, not resumed', async () => {
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}', record_formats: 'h264-mkv, vp8-webm' });
    const publisher = publish(clip, daemon.rtmpUrl('pause_stop'));
    try {
      const id = (await streamNamed(daemon, 'pause_stop')).mediaSessionId;
      await waitRecording(daemon, id, 'two seconds recorded', (r) => r.durationMs >= 2000);
      expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId: id })).status).toBe(200);
      const paused = (await recording(daemon, id))!;
      const settled = await waitRecording(daemon, id, '2 s of stream time while paused', (r) => r.streamTimestampMs >= paused.streamTimestampMs + 2000);
      expect((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status).toBe(200);
      const record = await finishedRecord(daemon, id);
      const file = path.join(daemon.recordDir, record.fileName);
      expect(decodeErrors(file)).toBe('');
      expect(record.duration).toBe(settled.durationMs);
      expect(Math.abs(Number(ffprobe(file).format.duration) - settled.durationMs / 1000)).toBeLessThanOrEqual(0.25);
      expect(record.pauses).toEqual([{ pausedAt: settled.pauses[0]!.pausedAt, resumedAt: null, positionMs: settled.durationMs, skippedMs: 0 }]);
      expect(logLines(daemon, 'Muxer did not end cleanly; finishing what it wrote')).toHaveLength(0);
    } finally {
      publisher.proc.kill('SIGINT');
      await publisher.exited;
      expect((await daemon.stop()).code).toBe(0);
    }
  });

  it('rotation and record_max_length count recorded time only; bad calls answer 400/404, never 500', async () => {
    // parts of 3 s of recorded time; the recording ends after 7 s recorded
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}', record_rotation: 3, record_max_length: 7 });
    const publisher = publish(clip, daemon.rtmpUrl('pause_rot'));
    try {
      expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId: 'no-such-id' })).status).toBe(404);
      expect((await postJson(daemon, '/rest-api/recorder/resume', { mediaSessionId: 'no-such-id' })).status).toBe(404);
      expect((await postJson(daemon, '/rest-api/recorder/pause', {})).status).toBe(400);
      expect((await postJson(daemon, '/rest-api/recorder/resume', { mediaSessionId: 'x', extra: 1 })).status).toBe(400);
      const id = (await streamNamed(daemon, 'pause_rot')).mediaSessionId;
      await waitRecording(daemon, id, 'one second recorded', (r) => r.durationMs >= 1000);
      expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId: id })).status).toBe(200);
      const paused = (await recording(daemon, id))!;
      // held for longer than a part and than the whole max length would allow, in stream time
      await waitRecording(daemon, id, '8 s of stream time while paused', (r) => r.streamTimestampMs >= paused.streamTimestampMs + 8000, 40_000);
      const held = (await recording(daemon, id))!;
      expect(held.state).toBe('PAUSED');
      expect(hookLines(daemon)).toHaveLength(0);
      expect((await postJson(daemon, '/rest-api/recorder/resume', { mediaSessionId: id })).status).toBe(200);
      // the max length ends the recording: 3 parts (3 + 3 + 1 s of recorded time)
      await waitFor(() => hookLines(daemon).length >= 3, 40_000, 'three parts');
      await waitFor(async () => (await recording(daemon, id)) === undefined, 20_000, 'the recording to end');
      expect(logLines(daemon, 'Recording finishing', 'record_max_length')).toHaveLength(1);
      const files = hookLines(daemon).map((l) => l.slice(l.indexOf(':') + 1));
      expect(files).toHaveLength(3);
      const durations = files.map((f) => Number(ffprobe(f).format.duration));
      // each part is 3 s of recorded time, at keyframes (GOP 1 s); none holds the pause
      expect(durations[0]).toBeGreaterThanOrEqual(2.9);
      expect(durations[0]).toBeLessThanOrEqual(3 + GOP_S + 0.1);
      expect(durations[1]).toBeLessThanOrEqual(3 + GOP_S + 0.1);
      const total = durations.reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThanOrEqual(7 - 0.1);
      expect(total).toBeLessThanOrEqual(7 + GOP_S + 0.2);
      for (const f of files) expect(decodeErrors(f)).toBe('');
    } finally {
      publisher.proc.kill('SIGINT');
      await publisher.exited;
      expect((await daemon.stop()).code).toBe(0);
    }
  });
});

describe('pause and resume across a crash', () => {
  it('a paused-and-resumed part left by a SIGKILLed daemon is recovered with its pause listed; it plays without a jump', async () => {
    const props = { stream_record_policy_template: '{streamName}' };
    const daemon = await startDaemon(props);
    const publisher = publish(makeClip({ video: true, audio: true, seconds: 30, gop: 1 }), daemon.rtmpUrl('pause_crash'));
    let again: DaemonHandle | undefined;
    try {
      const id = (await streamNamed(daemon, 'pause_crash')).mediaSessionId;
      await waitRecording(daemon, id, 'two seconds recorded', (r) => r.durationMs >= 2000);
      expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId: id })).status).toBe(200);
      const paused = (await recording(daemon, id))!;
      await waitRecording(daemon, id, '2 s of stream time while paused', (r) => r.streamTimestampMs >= paused.streamTimestampMs + 2000);
      expect((await postJson(daemon, '/rest-api/recorder/resume', { mediaSessionId: id })).status).toBe(200);
      const before = await waitRecording(daemon, id, 'recording again', (r) => r.state === 'RECORDING' && r.durationMs >= paused.durationMs + 1500);
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      publisher.proc.kill('SIGKILL');
      // the next start finishes the part left behind
      again = await startDaemon(props, daemon.home);
      const record = await finishedRecord(again, id);
      const file = path.join(again.recordDir, record.fileName);
      expect(record.pauses).toHaveLength(1);
      expect(record.pauses![0]!.skippedMs).toBe(before.pauses[0]!.skippedMs);
      expect(record.pauses![0]!.skippedMs).toBeGreaterThanOrEqual(2000);
      expect(decodeErrors(file)).toBe('');
      const times = packetTimes(file, 'v');
      const steps = gaps(times);
      expect(steps.max, `largest video step ${steps.max} s at ${steps.at} s`).toBeLessThanOrEqual(steps.median * 4.5 + 0.005);
    } finally {
      publisher.proc.kill('SIGKILL');
      await publisher.exited;
      if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) await daemon.stop();
      if (again) expect((await again.stop()).code).toBe(0);
    }
  });
});

describe('pause and resume over RTSP (GStreamer camera)', () => {
  it('a camera pull (H.264 + AAC, 25 fps, a keyframe a second) into MP4: the pause is left out, no timestamp jump, plays', async () => {
    requireGstRtspServer();
    const GOP_S = 1;
    const cam = await FakeCamera.start({ audio: 'aac' });
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}' });
    try {
      expect((await daemon.post('/rest-api/rtsp/startup', { uri: cam.url(), toStream: 'pause_cam' })).status).toBe(200);
      const id = (await agentInStatus(daemon, 'pause_cam', 'PLAYING')).mediaSessionId!;
      const { running, beforeStop } = await pauseResumeStop(daemon, id);
      const record = await finishedRecord(daemon, id);
      const file = path.join(daemon.recordDir, record.fileName);
      expect(path.extname(file)).toBe('.mp4');
      checkRecord(file, record, beforeStop, { atPause: 1.6, anywhere: 4.5 });
      const duration = Number(ffprobe(file).format.duration);
      // the camera's stream time the recording spanned (from its first frame to the stop), less what the pause left out
      const seenS = (beforeStop.streamTimestampMs - (running.streamTimestampMs - running.durationMs)) / 1000;
      const skippedS = beforeStop.pauses[0]!.skippedMs / 1000;
      expect(duration).toBeLessThanOrEqual(seenS - PAUSE_MEDIA_MS / 1000 + GOP_S);
      expect(Math.abs(duration - (seenS - skippedS)), `record ${duration} s, stream ${seenS} s less ${skippedS} s paused`).toBeLessThanOrEqual(GOP_S + 0.1);
      console.log(`[figures] pause rtsp: record ${duration.toFixed(3)} s, stream seen ${seenS.toFixed(3)} s, skipped ${(beforeStop.pauses[0]!.skippedMs / 1000).toFixed(3)} s`);
    } finally {
      expect((await daemon.stop()).code).toBe(0);
      await cam.kill();
    }
  });
});

describe('pause and resume in Chromium: the console, and WebRTC publishers over WHIP', () => {
  let browser: Browser | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-pause-'));
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the console: Pause and Resume buttons on a recorded stream, the badge follows the state', async () => {
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}' });
    const publisher = publish(makeClip({ video: true, audio: true, seconds: 30, gop: 1 }), daemon.rtmpUrl('pause_console'));
    try {
      const id = (await streamNamed(daemon, 'pause_console')).mediaSessionId;
      browser ??= await launchChromium();
      const page = await browser.context.newPage();
      await page.goto(daemon.url('/'));
      const card = '.card.stream[data-stream="pause_console"]';
      await page.locator(`${card} button[data-action="pause"]`).click({ timeout: 20_000 });
      await page.locator(`${card} .badge`, { hasText: 'PAUSED' }).waitFor({ timeout: 10_000 });
      expect((await recording(daemon, id))!.state).toBe('PAUSED');
      await page.locator(`${card} button[data-action="resume"]`).click({ timeout: 10_000 });
      await page.locator(`${card} button[data-action="pause"]`).waitFor({ timeout: 20_000 });
      expect((await recording(daemon, id))!.state).toBe('RECORDING');
      expect(await page.locator(`${card} .badge`, { hasText: 'PAUSED' }).count()).toBe(0);
      await page.close();
    } finally {
      publisher.proc.kill('SIGINT');
      await publisher.exited;
      expect((await daemon.stop()).code).toBe(0);
    }
  });

  it.each([
    ['VP8', '.webm'],
    ['H264', '.mp4'],
  ] as const)('%s (into %s): a keyframe is requested at resume (PLI counted by the browser), the record continues on it and plays', async (codec, ext) => {
    const daemon = await startDaemon({
      stream_record_policy_template: '{streamName}',
      media_port_from: 33001 + (process.pid % 40) * 20,
      media_port_to: 33001 + (process.pid % 40) * 20 + 19,
    });
    try {
      browser ??= await launchChromium();
      const page = await browser.context.newPage();
      await page.goto(daemon.url('/'));
      const published = await whipPublishFromPage(page, daemon.url(`/whip/pause_${codec.toLowerCase()}`), codec);
      expect(published.status, published.error).toBe(201);
      const id = published.mediaSessionId!;
      const keyRequests = async (): Promise<number> =>
        (await page.evaluate(`(async () => {
          let n = 0;
          (await window.__pc.getStats()).forEach((r) => {
            if (r.type === 'outbound-rtp' && r.kind === 'video') n += (r.pliCount ?? 0) + (r.firCount ?? 0);
          });
          return n;
        })()`)) as number;
      let before = 0;
      const { beforeStop } = await pauseResumeStop(daemon, id, async () => {
        before = await keyRequests();
      });
      // the resume asked the browser for a keyframe (its statistics count the PLI)
      expect(await keyRequests()).toBeGreaterThan(before);
      expect(logLines(daemon, 'Recording resuming at the next keyframe', '"keyframeRequested":true')).toHaveLength(1);
      const record = await finishedRecord(daemon, id);
      expect(path.extname(record.fileName)).toBe(ext);
      const file = path.join(daemon.home, 'records', record.fileName);
      expect(fs.existsSync(file)).toBe(true);
      // a browser's frame rate varies with the load: a step of up to 4 frame intervals is no jump (the pause was > 3 s)
      checkRecord(file, record, beforeStop, { atPause: 4, anywhere: 4 });
      const duration = Number(ffprobe(file).format.duration);
      expect(duration).toBeLessThanOrEqual(beforeStop.streamTimestampMs / 1000 - PAUSE_MEDIA_MS / 1000 + 0.5);
      await page.close();
      console.log(`[figures] pause webrtc ${codec}: record ${duration.toFixed(3)} s, skipped ${(beforeStop.pauses[0]!.skippedMs / 1000).toFixed(3)} s`);
    } finally {
      expect((await daemon.stop()).code).toBe(0);
    }
  });
});
