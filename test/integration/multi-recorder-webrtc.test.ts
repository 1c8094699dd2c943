import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, whipPublishFromPage, type Browser } from '../helpers/chromium.js';
import { isAlive, makeHome, REPO, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, ffprobe, makeClip, publish, type Publisher } from '../helpers/media.js';
import { logLines, postJson, streamNamed, type ErrorJson } from '../helpers/rest.js';

/**
 * Issue 18 item 1: WebRTC (WHIP) publishers in a multiple recording, next to
 * an RTMP one. A Node VP8 + Opus publisher is encoded to H.264 + AAC, a
 * Chromium H.264 + Opus publisher has its video copied; the transcoding
 * places are bounded (multi_recorder_max_transcoded_participants=1 here);
 * a WebRTC publisher that vanishes mid-recording leaves a playable file.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const URI = 'multi-recorder://webrtc-room';
const MIXER = path.join(REPO, 'tools', 'offline_mixer_tool.sh');
// a media port range of its own (other WebRTC tests use 31001-31800, 34001-38000)
const portBase = 38001 + (process.pid % 10) * 100;

interface TrackJson {
  trackEdits: { startInMs: string; endInMs: string; type: string }[];
  trackType: string;
  streamName: string;
  mediaSessionId: string;
  trackCodec: string;
  width?: string;
  height?: string;
  channels?: string;
}

let daemon: DaemonHandle;
let browser: Browser;
let rtmp: Publisher | undefined;
let wrtc: ChildProcess | undefined;

beforeAll(async () => {
  const home = makeHome('wcs-multi-webrtc-');
  // the mixer is run by the test itself: a hook that does nothing
  fs.writeFileSync(path.join(home, 'bin', 'noop_hook.sh'), '#!/usr/bin/env bash\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(
    path.join(home, 'conf', 'offline_mixer.json'),
    JSON.stringify({ hasVideo: 'true', hasAudio: 'true', mixerDisplayStreamName: true, width: 640, height: 360, minAvailableSpace: '1M' }),
  );
  daemon = await startDaemon(
    {
      record_streams: false,
      stream_record_policy_template: '{streamName}-{startTimeMillis}',
      on_multiple_record_hook_script: 'bin/noop_hook.sh',
      webrtc_publisher_idle_timeout: 3,
      media_port_from: portBase,
      media_port_to: portBase + 39,
      multi_recorder_max_transcoded_participants: 1,
    },
    home,
  );
  browser = await launchChromium();
});

afterAll(async () => {
  rtmp?.proc.kill('SIGKILL');
  if (wrtc && wrtc.exitCode === null) wrtc.kill('SIGKILL');
  await browser?.close();
  await daemon?.stop();
});

/** Where each track's media starts and ends on the file's timeline (ms), from --show-tracks-info. */
function mediaSpan(t: TrackJson): [number, number] {
  const media = t.trackEdits.filter((e) => e.type === 'media');
  expect(media, `${t.streamName} ${t.trackType} media edits`).toHaveLength(1);
  return [Number(media[0]!.startInMs), Number(media[0]!.endInMs)];
}

describe('multipleRecorder with WebRTC participants', () => {
  it('RTMP + WHIP VP8 (encoded) + WHIP H.264 (copied) in one file on one timeline; a bounded transcoding place; a publisher vanishing; mixed', async () => {
    rtmp = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 0.5 }), daemon.rtmpUrl('alice'), ['-stream_loop', '-1']);
    // two VP8 + Opus publishers from Node (vp1, vp2), up long enough; killed below without a DELETE
    wrtc = spawn(process.execPath, [path.join(REPO, 'test', 'helpers', 'wrtc-publishers.mjs'), daemon.url(''), 'vp', '2', '300'], { stdio: 'ignore' });
    const page = browser.page;
    await page.goto(daemon.url('/client/examples/stream_recording/'));
    const chrPub = await whipPublishFromPage(page, daemon.url('/whip/chr?record=false'), 'H264');
    expect(chrPub.status, chrPub.error).toBe(201);
    const [alice, vp1, vp2, chr] = await Promise.all(['alice', 'vp1', 'vp2', 'chr'].map((n) => streamNamed(daemon, n, 30_000)));
    expect([vp1!.mediaProvider, vp1!.videoCodec, vp1!.audioCodec]).toEqual(['WebRTC', 'VP8', 'OPUS']);
    expect([chr!.mediaProvider, chr!.videoCodec]).toEqual(['WebRTC', 'H264']);
    await sleep(1000);

    const rest = (what: string, body: unknown) => postJson<ErrorJson>(daemon, `/rest-api/multipleRecorder/${what}`, body);
    expect((await rest('startup', { uri: URI })).status).toBe(200);
    const t0 = Date.now();
    const at = (s: number) => sleep(Math.max(0, t0 + s * 1000 - Date.now()));
    const add = async (id: string) => {
      const res = await rest('add', { uri: URI, mediaSessionId: id });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await add(alice!.mediaSessionId);
    await add(vp1!.mediaSessionId);
    // the one transcoding place is taken: a second VP8 participant waits (503 + Retry-After), an H.264 one does not
    const refused = await rest('add', { uri: URI, mediaSessionId: vp2!.mediaSessionId });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(refused.body.message).toContain('multi_recorder_max_transcoded_participants');
    expect(logLines(daemon, 'Stream refused by the multiple recorder: every transcoding place is taken (multi_recorder_max_transcoded_participants)', '"stream":"vp2"')).toHaveLength(1);
    await add(chr!.mediaSessionId);
    const joinedAt = { vp2: 0, vp2Gone: 0 };

    // vp1 leaves by REST: its encoder is gone when the answer comes, and the place is free again
    await at(6);
    expect((await rest('remove', { uri: URI, mediaSessionId: vp1!.mediaSessionId })).status).toBe(200);
    const vp1Encoder = Number(JSON.parse(logLines(daemon, 'Participant recording started', '"stream":"vp1"')[0]!).pid);
    expect(isAlive(vp1Encoder)).toBe(false);
    joinedAt.vp2 = Date.now() - t0;
    await add(vp2!.mediaSessionId);
    const all = await postJson<{ mediaSessionsId: string[] }[]>(daemon, '/rest-api/multipleRecorder/find_all');
    expect(all.body[0]!.mediaSessionsId).toEqual([alice!.mediaSessionId, chr!.mediaSessionId, vp2!.mediaSessionId]);

    // the Node publishers vanish (SIGKILL, no DELETE): webrtc_publisher_idle_timeout ends vp2, which leaves the recorder
    await at(11);
    wrtc.kill('SIGKILL');
    joinedAt.vp2Gone = Date.now() - t0;
    await waitFor(
      async () => {
        const found = await postJson<{ mediaSessionsId: string[] }[]>(daemon, '/rest-api/multipleRecorder/find_all');
        return !found.body[0]!.mediaSessionsId.includes(vp2!.mediaSessionId);
      },
      30_000,
      'vp2 leaving the recorder',
    );
    await sleep(Math.max(0, joinedAt.vp2Gone + 4000 - (Date.now() - t0)));
    const terminated = await rest('terminate', { uri: URI });
    expect(terminated.status).toBe(200);
    // every encoder and muxer of the recording has exited
    for (const line of logLines(daemon, 'Participant recording started')) expect(isAlive(Number(JSON.parse(line).pid)), line).toBe(false);
    const videoOf = Object.fromEntries(
      logLines(daemon, 'Participant recording started').map((l) => [(JSON.parse(l) as { stream: string }).stream, (JSON.parse(l) as { video: string }).video]),
    );
    expect(videoOf).toEqual({ alice: 'copy', vp1: 'h264', chr: 'copy', vp2: 'h264' });

    const files = fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('multi-recorder__webrtc-room'));
    expect(files).toHaveLength(1);
    const file = path.join(daemon.recordDir, files[0]!);

    // H.264 + AAC for every participant, WebRTC ones included; it decodes without an error
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac', 'h264', 'aac', 'h264', 'aac', 'h264', 'aac']);
    expect(decodeErrors(file)).toBe('');

    const info = JSON.parse(execFileSync(MIXER, ['--show-tracks-info', file], { encoding: 'utf8' })) as TrackJson[];
    expect(info.map((t) => t.streamName)).toEqual(['alice', 'alice', 'vp1', 'vp1', 'chr', 'chr', 'vp2', 'vp2']);
    expect(info.map((t) => t.mediaSessionId)).toEqual([alice, alice, vp1, vp1, chr, chr, vp2, vp2].map((s) => s!.mediaSessionId));
    expect(info.map((t) => t.trackType)).toEqual(['VIDEO', 'AUDIO', 'VIDEO', 'AUDIO', 'VIDEO', 'AUDIO', 'VIDEO', 'AUDIO']);
    expect(info.map((t) => t.trackCodec)).toEqual(['avc1', 'mp4a', 'avc1', 'mp4a', 'avc1', 'mp4a', 'avc1', 'mp4a']);
    // the Node publisher's 320x240 picture, encoded; Opus became stereo AAC (record_audio_codec_channels)
    expect(info[2]).toMatchObject({ width: '320', height: '240' });
    expect(info[3]).toMatchObject({ channels: '2' });
    expect(Number(info[4]!.width)).toBeGreaterThan(0);

    // one timeline: each session's media sits where it happened, relative to alice's first media (which may
    // come from the GOP of 0.5 s before her add). The WebRTC feed hands media on in clusters of up to 1 s, so
    // a WebRTC session may begin with the cluster under way at its add (up to about a second before it, more
    // when the machine is slow to deliver it) and lose the one under way at its remove; or begin later, on the
    // keyframe asked for at its add (up to a few seconds on a busy machine)
    const origin = mediaSpan(info[0]!)[0];
    console.log(
      'multi-recorder-webrtc spans (ms from alice):',
      JSON.stringify({ joinedAt, spans: info.map((t) => [t.streamName, t.trackType, ...mediaSpan(t).map((ms) => ms - origin)]) }),
    );
    const expected: Record<string, { join: number; leave: number | null; lateStart: number }> = {
      vp1: { join: 0, leave: 6000, lateStart: 4000 },
      chr: { join: 0, leave: null, lateStart: 4000 },
      vp2: { join: joinedAt.vp2, leave: joinedAt.vp2Gone, lateStart: 4000 },
    };
    for (const t of info.slice(2)) {
      const e = expected[t.streamName]!;
      const [start, end] = mediaSpan(t).map((ms) => ms - origin) as [number, number];
      expect(start, `${t.streamName} ${t.trackType} start`).toBeGreaterThan(e.join - 2000);
      expect(start, `${t.streamName} ${t.trackType} start`).toBeLessThan(e.join + e.lateStart);
      if (e.leave !== null) {
        expect(end, `${t.streamName} ${t.trackType} end`).toBeGreaterThan(e.leave - 2500);
        expect(end, `${t.streamName} ${t.trackType} end`).toBeLessThan(e.leave + 1500);
      }
      // a late track begins with a pause
      if (start > 100) expect(t.trackEdits[0]!.type).toBe('pause');
    }
    // a session's audio and video start together: the RTMP one within a frame or two; a WebRTC one within a second,
    // because its feed may write audio up to a few hundred ms ahead of the video of the same instant, and the session
    // takes the feed from the keyframe on (seen: audio starting 428 ms after video; each track keeps its own times)
    expect(Math.abs(mediaSpan(info[0]!)[0] - mediaSpan(info[1]!)[0])).toBeLessThan(150);
    for (let i = 2; i < 8; i += 2) expect(Math.abs(mediaSpan(info[i]!)[0] - mediaSpan(info[i + 1]!)[0]), info[i]!.streamName).toBeLessThan(1000);

    // the offline mixer makes one playable picture + sound of it, as long as the recording
    execFileSync(MIXER, [file], { env: { ...process.env, WCS_HOME: daemon.home }, stdio: 'ignore' });
    const mixed = file.replace(/\.mp4$/, '_mixed.mp4');
    const mixedProbe = ffprobe(mixed);
    expect(mixedProbe.streams.map((s) => s.codec_type)).toEqual(['video', 'audio']);
    expect(Math.abs(Number(mixedProbe.format.duration) - Number(probe.format.duration))).toBeLessThan(0.3);
    expect(decodeErrors(mixed)).toBe('');
  }, 180_000);
});

describe('shutdown with a transcoded WebRTC participant', () => {
  it('SIGTERM: the encoder finishes, the multiple recording is assembled (H.264 + AAC, decodes cleanly), no ffmpeg is left', async () => {
    const own = await startDaemon({
      record_streams: false,
      stream_record_policy_template: '{streamName}-{startTimeMillis}',
      on_multiple_record_hook_script: '',
      media_port_from: portBase + 40,
      media_port_to: portBase + 79,
    });
    const proc = spawn(process.execPath, [path.join(REPO, 'test', 'helpers', 'wrtc-publishers.mjs'), own.url(''), 'down', '1', '120'], { stdio: 'ignore' });
    try {
      const down = await streamNamed(own, 'down1', 30_000);
      const rest = (what: string, body: unknown) => postJson<ErrorJson>(own, `/rest-api/multipleRecorder/${what}`, body);
      expect((await rest('startup', { uri: 'multi-recorder://closing' })).status).toBe(200);
      expect((await rest('add', { uri: 'multi-recorder://closing', mediaSessionId: down.mediaSessionId })).status).toBe(200);
      await own.waitForOutput(/"video":"h264".*"msg":"Participant recording started"/, 30_000);
      const encoder = Number(JSON.parse(logLines(own, 'Participant recording started')[0]!).pid);
      await sleep(3000);
      const exit = await own.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(isAlive(encoder)).toBe(false);
      const files = fs.readdirSync(own.recordDir).filter((f) => f.startsWith('multi-recorder__closing'));
      expect(files).toHaveLength(1);
      const file = path.join(own.recordDir, files[0]!);
      const probe = ffprobe(file);
      expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
      expect(Number(probe.format.duration)).toBeGreaterThan(1.5);
      expect(decodeErrors(file)).toBe('');
      expect(fs.readdirSync(own.recordDir).filter((f) => f.startsWith('.multi-'))).toEqual([]);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await own.stop();
    }
  }, 120_000);
});
