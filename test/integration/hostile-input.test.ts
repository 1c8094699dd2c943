import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeHome, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, firstVideoFrameIsKey, makeClip, publish, type Publisher } from '../helpers/media.js';
import { hookLines, streamNamed } from '../helpers/rest.js';

/**
 * Issue 14: hostile names and offers are refused with 4xx naming the field,
 * never 500, never a crash, never a forged log line, never an ffmpeg for an
 * offer that does not connect; a healthy RTMP publish recorded beside them
 * comes out whole.
 */

let daemon: DaemonHandle;
let healthy: Publisher;
let clip: string;
const portBase = 37001 + (process.pid % 10) * 100;

/** A minimal VP8 + Opus offer (never connected); `drop` removes lines matching it. */
function offer(drop?: RegExp): string {
  const fp = 'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF';
  const lines = [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass', fp, 'a=rtpmap:96 VP8/90000',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass', fp, 'a=rtpmap:111 opus/48000/2',
  ];
  return lines.filter((l) => !drop || !drop.test(l)).join('\r\n') + '\r\n';
}

async function whip(rawPath: string, body: string): Promise<{ status: number; text: string; location: string | null }> {
  const res = await fetch(daemon.url(rawPath), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body });
  return { status: res.status, text: await res.text(), location: res.headers.get('location') };
}

async function postRaw(p: string, body: unknown): Promise<{ status: number; json: { error?: number; message?: string } }> {
  const res = await fetch(daemon.url(p), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as { error?: number; message?: string }) : {} };
}

/** The daemon's feed ffmpegs (RTP in from an SDP on stdin). */
function feedChildren(): number[] {
  return daemon.children().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes('-f sdp');
    } catch {
      return false;
    }
  });
}

beforeAll(async () => {
  daemon = await startDaemon({ webrtc_publisher_idle_timeout: 3, media_port_from: portBase, media_port_to: portBase + 39 });
  clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
  // a healthy publish recorded while everything below is thrown at the daemon
  healthy = publish(clip, daemon.rtmpUrl('healthy'));
  await streamNamed(daemon, 'healthy');
});

afterAll(async () => {
  healthy?.proc.kill('SIGKILL');
  const children = daemon?.children() ?? [];
  const exit = await daemon?.stop('SIGTERM');
  expect(exit?.code).toBe(0);
  for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
});

describe('hostile input (issue 14)', () => {
  it('WHIP /whip/nul%00byte: 400 naming the stream name and the NUL (was 201, then a hook crash killed the daemon)', async () => {
    const r = await whip('/whip/nul%00byte', offer());
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toEqual({ error: 400, message: 'Invalid stream name (/whip/<name>): stream name holds a control character (U+0000) at position 3' });
  });

  it('WHIP stream names with %0A, %0D, C1, U+2028 and too many bytes: 400; ?login= with a control character: 400', async () => {
    for (const name of ['a%0Aforged%3Aline', 'cr%0Dlf', 'c1%C2%85', 'sep%E2%80%A8', 'x'.repeat(201)]) {
      const r = await whip(`/whip/${name}`, offer());
      expect(r.status, name).toBe(400);
      expect(JSON.parse(r.text).message, name).toMatch(/^Invalid stream name \(\/whip\/<name>\): stream name (holds a control character|is 201 bytes long)/);
    }
    const login = await whip('/whip/ok-name?login=bob%0Aadmin', offer());
    expect(login.status).toBe(400);
    expect(JSON.parse(login.text).message).toBe('Invalid login (?login=): login holds a control character (U+000A) at position 3');
  });

  it('WHIP offers the engine cannot use answer 422 (no payload types, no ICE credentials, no fingerprint, too many m-lines) or 400 (NUL), never 500', async () => {
    const noPayloadTypes = offer().replace('m=video 9 UDP/TLS/RTP/SAVPF 96', 'm=video 9 UDP/TLS/RTP/SAVPF');
    const cases: [string, string, number, RegExp][] = [
      ['no payload types', noPayloadTypes, 422, /no payload types/],
      ['no ICE credentials', offer(/^a=ice-(ufrag|pwd):/), 422, /no ICE credentials/],
      ['no ice-pwd', offer(/^a=ice-pwd:/), 422, /no ICE credentials/],
      ['no fingerprint', offer(/^a=fingerprint:/), 422, /no DTLS fingerprint/],
      ['bad fingerprint', offer().replace(/a=fingerprint:sha-256 [0-9A-F:]+/g, 'a=fingerprint:sha-256 ZZ'), 422, /fingerprint/],
      ['bad setup', offer().replace(/a=setup:actpass/g, 'a=setup:holdconn'), 422, /a=setup/],
      ['duplicate mid', offer().replace('a=mid:1', 'a=mid:0'), 422, /used twice/],
      ['payload type 999', offer().replace('SAVPF 96', 'SAVPF 999'), 422, /payload type/],
      ['too many m-lines', offer() + Array.from({ length: 20 }, (_, i) => `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x${i}\r\n`).join(''), 422, /media sections/],
      ['a NUL in the body', offer().replace('s=-', 's=\u0000'), 400, /control character U\+0000/],
      ['no codec we record', offer().replace('VP8/90000', 'VP9/90000').replace('opus/48000/2', 'PCMU/8000'), 422, /no codec that can be recorded/],
    ];
    for (const [what, body, status, message] of cases) {
      const r = await whip(`/whip/offer-${what.replace(/\W+/g, '-')}`, body);
      expect(r.status, `${what}: ${r.text}`).toBe(status);
      expect(JSON.parse(r.text).message, what).toMatch(message);
    }
    const huge = await whip('/whip/huge', offer() + `a=x-junk:${'A'.repeat(70 * 1024)}\r\n`);
    expect(huge.status).toBe(413);
  });

  it('an offer that never connects costs no ffmpeg (the feed starts once ICE connects); DELETE ends it', async () => {
    const before = feedChildren().length;
    const sessions: string[] = [];
    // the third without BUNDLE: werift then has one ICE transport per section, each reporting
    // 'completed' as soon as it gathered (no proof of a connection)
    for (let i = 0; i < 3; i++) {
      const r = await whip(`/whip/unconnected-${i}`, i === 2 ? offer(/^a=group:BUNDLE/) : offer());
      expect(r.status, r.text).toBe(201);
      sessions.push(r.location!);
    }
    // what today's main did: three feed ffmpegs waiting for RTP that never comes
    for (let i = 0; i < 10; i++) {
      expect(feedChildren().length).toBe(before);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const location of sessions) expect((await fetch(daemon.url(location), { method: 'DELETE' })).status).toBe(200);
    expect(daemon.output).not.toMatch(/unconnected-\d[^\n]*"msg":"WebRTC ICE connected; feed started"/);
  });

  it('a valid ?login= is the stream\'s login (WCS {login})', async () => {
    const r = await whip('/whip/with-login?login=alice', offer());
    expect(r.status, r.text).toBe(201);
    const found = await postRaw('/rest-api/stream/find', { name: 'with-login' });
    expect(found.status).toBe(200);
    expect((found.json as unknown as { login: string }[])[0]!.login).toBe('alice');
    expect((await fetch(daemon.url(r.location!), { method: 'DELETE' })).status).toBe(200);
  });

  it('multipleRecorder/startup of a 238-character URI: 200 (work folder cut to 255 bytes with a hash), find_all and terminate work', async () => {
    const uri = `multi-recorder://${'r'.repeat(221)}`;
    expect(uri.length).toBe(238);
    const started = await postRaw('/rest-api/multipleRecorder/startup', { uri });
    expect(started.status, JSON.stringify(started.json)).toBe(200);
    const all = await postRaw('/rest-api/multipleRecorder/find_all', {});
    expect(all.status).toBe(200);
    expect(JSON.stringify(all.json)).toContain(uri);
    expect((await postRaw('/rest-api/multipleRecorder/terminate', { uri })).status).toBe(200);
    const nul = await postRaw('/rest-api/multipleRecorder/startup', { uri: 'multi-recorder://a\u0000b' });
    expect(nul).toEqual({ status: 400, json: { error: 400, message: 'Invalid uri: uri holds a control character (U+0000) at position 18' } });
    const lf = await postRaw('/rest-api/multipleRecorder/add', { uri: 'multi-recorder://a\nb', mediaSessionId: 'x' });
    expect(lf.status).toBe(400);
  });

  it('REST names and templates with control characters: 400 naming the field', async () => {
    const s = await streamNamed(daemon, 'healthy');
    const cases: [string, unknown, RegExp][] = [
      ['/rest-api/stream/find', { name: 'a\nb' }, /^Invalid name: stream name holds a control character \(U\+000A\)/],
      ['/rest-api/stream/terminate', { name: 'nul\u0000' }, /^Invalid name: .*U\+0000/],
      ['/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId, config: { fileTemplate: '{streamName}\u0085x' } }, /^Invalid config\.fileTemplate: .*U\+0085/],
      ['/rest-api/stream/startRecording', { mediaSessionId: s.mediaSessionId, config: { fileTemplate: '{streamName}\u2028' } }, /^Invalid config\.fileTemplate: .*U\+2028/],
      ['/rest-api/recorder/find_records', { streamName: 'x\u001b[2J' }, /^Invalid streamName: .*U\+001B/],
      ['/rest-api/rtsp/startup', { uri: 'rtsp://127.0.0.1:1/cam', toStream: 'cam\u0000' }, /^Invalid toStream: .*U\+0000/],
      ['/rest-api/rtsp/startup', { uri: 'rtsp://127.0.0.1:1/cam\n' }, /^Invalid uri: .*U\+000A/],
    ];
    for (const [url, body, message] of cases) {
      const r = await postRaw(url, body);
      expect(r.status, `${url} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`).toBe(400);
      expect(r.json.error).toBe(400);
      expect(r.json.message).toMatch(message);
    }
    // the recording of the healthy stream was not touched by the refused startups
    const recording = await postRaw('/rest-api/recorder/find_all', {});
    expect(recording.status).toBe(200);
  });

  it('names that look like paths are names, not paths: a session or a refusal, never a 5xx', async () => {
    for (const raw of ['/whip/..%2F..%2Fescape', '/whip/%2Fetc%2Fpasswd', '/whip/%5C..%5Cwin']) {
      const r = await whip(raw, offer());
      expect(r.status, `${raw}: ${r.text}`).toBe(201);
      expect((await fetch(daemon.url(r.location!), { method: 'DELETE' })).status).toBe(200);
    }
  });

  it('the daemon stayed up; the healthy RTMP publish beside all this is recorded whole, its hook wrote one line', async () => {
    expect(await healthy.exited).toBe(0);
    await waitFor(() => hookLines(daemon).some((l) => l.startsWith('healthy:')), 20_000, 'the hook of the healthy record');
    const lines = hookLines(daemon);
    expect(lines.filter((l) => !l.startsWith('healthy:'))).toEqual([]);
    const file = lines.find((l) => l.startsWith('healthy:'))!.slice('healthy:'.length);
    expect(path.dirname(file)).toBe(daemon.recordDir);
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.3);
    expect(firstVideoFrameIsKey(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    expect(daemon.proc.exitCode).toBeNull();
    const stats = await postRaw('/rest-api/server/stats', {});
    expect((stats.json as unknown as { failedHooks: number }).failedHooks).toBe(0);
    // every file the daemon wrote is inside record_dir (no name escaped it)
    for (const f of fs.readdirSync(daemon.recordDir)) expect(f.includes('/')).toBe(false);
  });
});

describe('a record hook that cannot run (issue 14)', () => {
  it('is logged with the stream and mediaSessionId, counted in failedHooks, and the daemon and the record are fine', async () => {
    const home = makeHome('wcs-home-badhook-');
    const notExecutable = path.join(home, 'bin', 'not-executable.sh');
    fs.writeFileSync(notExecutable, '#!/bin/sh\nexit 0\n');
    fs.chmodSync(notExecutable, 0o644);
    const own = await startDaemon({ on_record_hook_script: 'bin/not-executable.sh' }, home);
    try {
      const short = makeClip({ video: true, audio: true, seconds: 3, gop: 1 });
      const p = publish(short, own.rtmpUrl('badhook'));
      const stream = await streamNamed(own, 'badhook');
      expect(await p.exited).toBe(0);
      await own.waitForOutput(/Record hook script is missing or not executable/, 20_000);
      const line = own.output.split('\n').find((l) => l.includes('Record hook script is missing or not executable'))!;
      expect(JSON.parse(line)).toMatchObject({ stream: 'badhook', mediaSessionId: stream.mediaSessionId });
      const stats = await fetch(own.url('/rest-api/server/stats'), { method: 'POST' }).then((r) => r.json() as Promise<{ failedHooks: number }>);
      expect(stats.failedHooks).toBe(1);
      const records = fs.readdirSync(own.recordDir).filter((f) => f.endsWith('.mp4'));
      expect(records).toHaveLength(1);
      expect(decodeErrors(path.join(own.recordDir, records[0]!))).toBe('');
      expect(own.proc.exitCode).toBeNull();
    } finally {
      expect((await own.stop('SIGTERM')).code).toBe(0);
    }
  });
});
