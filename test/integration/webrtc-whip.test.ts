import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPid, framesSent, launchChromium, whipPublishFromPage, type Browser } from '../helpers/chromium.js';
import { REPO, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, ffprobe, firstVideoFrameIsKey, packetCount } from '../helpers/media.js';
import { postJson, recordsOfSession, type RecordJson, type StreamJson } from '../helpers/rest.js';
import { ENGINES, skipNote } from '../helpers/engines.js';

/**
 * WHIP from other origins (CORS), record=false with a REST start, a
 * publisher that vanishes without a DELETE, and the error answers; each
 * against both engines (werift, mediasoup), one after the other.
 */

let daemon: DaemonHandle;
let browser: Browser;

// a media port range of its own (80 ports: five publishers at once need ten RTP/RTCP pairs)
const portBase = 34001 + (process.pid % 10) * 100;


/** A minimal, valid VP8 + Opus offer (never connected). */
function offer(video = 'VP8'): string {
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    `a=rtpmap:96 ${video}/90000`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    'a=rtpmap:111 opus/48000/2',
  ].join('\r\n') + '\r\n';
}

async function whipPost(d: DaemonHandle, stream: string, body: string, headers: Record<string, string> = { 'content-type': 'application/sdp' }) {
  const res = await fetch(d.url(`/whip/${stream}`), { method: 'POST', headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function recordPath(r: RecordJson): string {
  return path.join(daemon.recordDir, r.fileName);
}

describe.each(ENGINES)('WebRTC over WHIP ($engine)', (leg) => {
  /** A test of this leg: skipped, saying why, when the engine cannot run here. */
  const test = (title: string, fn: () => Promise<void>) => it.skipIf(leg.skip !== '')(title + skipNote(leg), fn);

  beforeAll(async () => {
    if (leg.skip) return;
    daemon = await startDaemon({
      ...leg.props,
      webrtc_publisher_idle_timeout: 3,
      media_port_from: portBase,
      media_port_to: portBase + 79,
    });
    expect(daemon.output).toMatch(new RegExp(`WebRTC engine: ${leg.engine}`));
    // a browser per leg, closed before its daemon stops (its keep-alive connections would hold the HTTP close)
    browser = await launchChromium();
  });

  afterAll(async () => {
    if (leg.skip) return;
    await browser?.close();
    await daemon?.stop();
    if (process.env.WEBRTC_TEST_LOG) fs.writeFileSync(`${process.env.WEBRTC_TEST_LOG}.${leg.engine}`, daemon?.output ?? '');
  });

  describe('WHIP', () => {
    test(`record=false from another origin (CORS): not recorded until /recorder/startup; 409 for the same name; DELETE ends it`, async () => {
      const page = await browser.context.newPage();
      try {
        // the page is on http://localhost:PORT, the WHIP endpoint on http://127.0.0.1:PORT: a cross-origin POST with preflight
        await page.goto(daemon.url('/client/examples/stream_recording/').replace('127.0.0.1', 'localhost'));
        const pub = await whipPublishFromPage(page, daemon.url('/whip/nofile?record=false'), 'VP8');
        expect(pub.status, pub.error).toBe(201);
        expect(pub.location).toMatch(/^\/whip\/nofile\/[0-9a-f-]{36}$/);
        const stream = (await postJson<StreamJson[]>(daemon, '/rest-api/stream/find_all')).body.find((s) => s.name === 'nofile')!;
        expect(stream.mediaProvider).toBe('WebRTC');
        expect(stream.mediaSessionId).toBe(pub.mediaSessionId);
        expect(stream.record).toBe(false);
        expect((await postJson(daemon, '/rest-api/recorder/find_all')).status).toBe(404);
        // the name is taken while it publishes
        expect((await whipPost(daemon, 'nofile', offer())).status).toBe(409);
        await new Promise((r) => setTimeout(r, 1500));
        const sentBeforeStartup = await framesSent(page);
        const startup = await postJson(daemon, '/rest-api/recorder/startup', { mediaSessionId: stream.mediaSessionId });
        const sentAtStartup = await framesSent(page);
        expect(startup.status).toBe(200);
        await new Promise((r) => setTimeout(r, 4000));
        const del = await fetch(daemon.url(pub.location!), { method: 'DELETE' });
        const sentAtDelete = await framesSent(page);
        expect(del.status).toBe(200);
        expect((await fetch(daemon.url(pub.location!), { method: 'DELETE' })).status).toBe(404);
        const [record] = await recordsOfSession(daemon, stream.mediaSessionId, 20_000);
        const file = recordPath(record!);
        const probe = ffprobe(file);
        expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
        // recorded from the REST start (on a keyframe asked for then), not from the publish: the frames the page
        // sent between the startup and the DELETE (its own count: on a busy machine 4 s of wall clock carry fewer),
        // less at most half a second's worth while the keyframe asked for comes
        const recorded = packetCount(file, 'v');
        expect(sentAtDelete - sentAtStartup).toBeGreaterThan(30);
        expect(recorded, `${recorded} frames recorded, ${sentBeforeStartup}/${sentAtStartup}/${sentAtDelete} sent`).toBeGreaterThanOrEqual(sentAtDelete - sentAtStartup - 15);
        expect(recorded, `${recorded} frames recorded, ${sentBeforeStartup}/${sentAtStartup}/${sentAtDelete} sent`).toBeLessThanOrEqual(sentAtDelete - sentBeforeStartup + 2);
        expect(firstVideoFrameIsKey(file)).toBe(true);
      } finally {
        await page.close();
      }
    });

    test(`a publisher that vanishes (browser killed, no DELETE) is ended by webrtc_publisher_idle_timeout; the record plays`, async () => {
      const doomed = await launchChromium();
      const page = await doomed.context.newPage();
      await page.goto(daemon.url('/client/examples/stream_recording/'));
      const pub = await whipPublishFromPage(page, daemon.url('/whip/vanish'), 'VP8');
      expect(pub.status, pub.error).toBe(201);
      await new Promise((r) => setTimeout(r, 4000));
      const sent = await framesSent(page);
      const pid = chromiumPid(path.basename(doomed.userDataDir));
      expect(pid).not.toBeNull();
      process.kill(pid!, 'SIGKILL');
      const killedAt = Date.now();
      const [record] = await recordsOfSession(daemon, pub.mediaSessionId!, 15_000);
      const endedAfter = Date.now() - killedAt;
      // 3 s idle timeout, checked each second, then the file is finished
      expect(endedAfter).toBeGreaterThan(2500);
      expect(endedAfter).toBeLessThan(9000);
      expect(daemon.output).toMatch(/No RTP from the WebRTC publisher for 3 s/);
      const file = recordPath(record!);
      // the frames the browser had sent before it was killed (its own count, not the 4 s of wall clock), within 12
      expect(sent).toBeGreaterThan(30);
      expect(Math.abs(packetCount(file, 'v') - sent), `${packetCount(file, 'v')} frames recorded, ${sent} sent`).toBeLessThanOrEqual(12);
      expect(decodeErrors(file)).toBe('');
      await doomed.close();
      expect((await postJson<StreamJson[]>(daemon, '/rest-api/stream/find_all')).body.find((s) => s.name === 'vanish')).toBeUndefined();
    });

    test(`a publisher that closes its peer connection without DELETE: ended by the idle timeout, the record keeps its last second`, async () => {
      // Chromium's pc.close() sends no RTCP BYE (clients that do are ended at once), and its DTLS
      // close is not seen by werift: webrtc_publisher_idle_timeout (3 s here) ends the publish
      const page = await browser.context.newPage();
      try {
        await page.goto(daemon.url('/client/examples/stream_recording/'));
        const pub = await whipPublishFromPage(page, daemon.url('/whip/byebye'), 'VP8');
        expect(pub.status, pub.error).toBe(201);
        await new Promise((r) => setTimeout(r, 4000));
        const sent = await framesSent(page);
        const closedAt = Date.now();
        await page.evaluate(() => (window as unknown as { __pc: RTCPeerConnection }).__pc.close());
        const [record] = await recordsOfSession(daemon, pub.mediaSessionId!, 15_000);
        expect(Date.now() - closedAt).toBeLessThan(6000);
        const file = recordPath(record!);
        // the feed ffmpeg, nudged after its SIGINT, writes its last cluster: nothing of the publish is lost
        // the frames sent before the close (its own count, not the 4 s of wall clock), within 12
        expect(sent).toBeGreaterThan(30);
        expect(Math.abs(packetCount(file, 'v') - sent), `${packetCount(file, 'v')} frames recorded, ${sent} sent`).toBeLessThanOrEqual(12);
        expect(decodeErrors(file)).toBe('');
      } finally {
        await page.close();
      }
    });

    test(`answers 415, 400, 422 and 404 for what it cannot take`, async () => {
      expect((await whipPost(daemon, 'bad', offer(), { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await whipPost(daemon, 'bad', offer(), { 'content-type': 'application/json' })).status).toBe(415);
      const garbage = await whipPost(daemon, 'bad', 'hello');
      expect(garbage.status).toBe(400);
      expect(garbage.text).toMatch(/SDP/);
      expect((await whipPost(daemon, 'bad', '')).status).toBe(400);
      const pcmu = await whipPost(daemon, 'bad', offer('H265').replace('opus/48000/2', 'PCMU/8000'));
      expect(pcmu.status).toBe(422);
      expect(pcmu.text).toMatch(/no codec that can be recorded/);
      expect((await fetch(daemon.url('/whip/bad/00000000-0000-0000-0000-000000000000'), { method: 'DELETE' })).status).toBe(404);
      expect((await fetch(daemon.url('/whip/bad'), { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=x' })).status).toBe(405);
    });

    test(`CORS preflight names the methods and headers and exposes Location`, async () => {
      const res = await fetch(daemon.url('/whip/any'), {
        method: 'OPTIONS',
        headers: { Origin: 'https://example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(res.headers.get('access-control-expose-headers')).toContain('Location');
      expect(res.headers.get('accept-post')).toBe('application/sdp');
    });

    test(`whip_token: POST and DELETE need the bearer token (401), preflight does not`, async () => {
      const secured = await startDaemon({ ...leg.props, whip_token: 's3cret', media_port_from: portBase + 80, media_port_to: portBase + 99 });
      try {
        const none = await whipPost(secured, 'tok', offer());
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect((await whipPost(secured, 'tok', offer(), { 'content-type': 'application/sdp', authorization: 'Bearer wrong' })).status).toBe(401);
        expect((await fetch(secured.url('/whip/tok/x'), { method: 'DELETE' })).status).toBe(401);
        expect((await fetch(secured.url('/whip/tok'), { method: 'OPTIONS' })).status).toBe(204);
        // with the token the request gets as far as the (unconnectable) offer: an answer
        const ok = await whipPost(secured, 'tok', offer(), { 'content-type': 'application/sdp', authorization: 'Bearer s3cret' });
        expect(ok.status).toBe(201);
        expect(ok.headers.get('content-type')).toContain('application/sdp');
        expect(ok.text).toMatch(/^v=0/);
        expect(ok.text).not.toMatch(/a=ssrc/);
        const del = await fetch(secured.url(ok.headers.get('location')!), { method: 'DELETE', headers: { authorization: 'Bearer s3cret' } });
        expect(del.status).toBe(200);
      } finally {
        await secured.stop();
      }
    });
  });

  describe('Node-side WHIP publishers (@roamhq/wrtc)', () => {
    test(`five publishers at once, each recorded to its own WebM`, async () => {
      const proc = spawn(process.execPath, [path.join(REPO, 'test', 'helpers', 'wrtc-publishers.mjs'), daemon.url(''), 'five', '5', '6'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((resolve) => proc.once('exit', resolve));
      const pubs = JSON.parse(out.trim().split('\n').pop()!) as { name: string; status: number; mediaSessionId: string; framesSent: number }[];
      expect(pubs.map((p) => p.status)).toEqual([201, 201, 201, 201, 201]);
      for (const p of pubs) {
        const [record] = await recordsOfSession(daemon, p.mediaSessionId, 20_000);
        const file = recordPath(record!);
        const probe = ffprobe(file);
        expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
        // the frames the publisher sent (its own getStats at DELETE), not the 6 s of wall clock: its frames come
        // from timers that fire late on a busy machine; within 1 s at 30 fps
        expect(p.framesSent).toBeGreaterThan(30);
        expect(Math.abs(packetCount(file, 'v') - p.framesSent), `${packetCount(file, 'v')} frames recorded, ${p.framesSent} sent`).toBeLessThanOrEqual(30);
        expect(firstVideoFrameIsKey(file)).toBe(true);
      }
    });
  });

  describe('shutdown with WebRTC publishers', () => {
    test(`SIGTERM while a WHIP publisher streams: the publish ends first and its record is finished and plays`, async () => {
      const own = await startDaemon({ ...leg.props, media_port_from: portBase + 80, media_port_to: portBase + 99 });
      const proc = spawn(process.execPath, [path.join(REPO, 'test', 'helpers', 'wrtc-publishers.mjs'), own.url(''), 'down', '1', '8'], {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      try {
        await own.waitForOutput(/Recording started/, 15_000);
        await new Promise((r) => setTimeout(r, 3000));
        const exit = await own.stop('SIGTERM');
        expect(exit.code).toBe(0);
        const files = fs.readdirSync(own.recordDir).filter((f) => f.endsWith('.webm'));
        expect(files).toHaveLength(1);
        const probe = ffprobe(path.join(own.recordDir, files[0]!));
        expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
        expect(Number(probe.format.duration)).toBeGreaterThan(2.5);
        expect(own.output).toMatch(/"reason":"server shutdown".*"msg":"WebRTC stream ending"/);
      } finally {
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
    });
  });
});
