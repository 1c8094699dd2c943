import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, whipPublishFromPage, type Browser } from '../helpers/chromium.js';
import { startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { MEDIASOUP_WORKER } from '../helpers/engines.js';
import { decodeErrors, ffprobe, firstVideoFrameIsKey, packetCount } from '../helpers/media.js';
import { recordsOfSession } from '../helpers/rest.js';

/**
 * What only the mediasoup engine has: webrtc_engine=auto choosing it when
 * its worker runs, the worker binary named in the log, and a worker killed
 * mid-publish (its publish ends with its record finished, a new worker
 * takes the next publish). The publishing tests themselves run on both
 * engines (webrtc-chromium, webrtc-whip). Skipped, saying why, only when no
 * worker could be built on this machine (tools/build-mediasoup-worker.sh).
 */
/** A minimal VP8 + Opus offer (never connected). */
const OFFER =
  [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    'a=rtpmap:96 VP8/90000',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    'a=rtpmap:111 opus/48000/2',
  ].join('\r\n') + '\r\n';

const reason = MEDIASOUP_WORKER.path ? '' : ` (skipped: ${MEDIASOUP_WORKER.why})`;
const noWorker = MEDIASOUP_WORKER.path === null;

let daemon: DaemonHandle | undefined;
let browser: Browser | undefined;
const base = 31001 + (process.pid % 40) * 20 + 800;

beforeAll(async () => {
  if (noWorker) return;
  daemon = await startDaemon({ webrtc_engine: 'auto', webrtc_workers: 1, media_port_from: base, media_port_to: base + 19 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
});

/** PIDs of the daemon's mediasoup workers. */
function workerPids(d: DaemonHandle): number[] {
  return d.children().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('mediasoup-work');
    } catch {
      return false;
    }
  });
}

describe('mediasoup engine', () => {
  it.skipIf(noWorker)(`webrtc_engine=auto runs mediasoup when its worker runs, and says which binary it uses${reason}`, () => {
    const d = daemon!;
    expect(d.output).toMatch(/WebRTC engine: mediasoup \(webrtc_engine=auto and mediasoup's worker was found/);
    expect(d.output).toMatch(/worker binary from (cache|prebuilt|MEDIASOUP_WORKER_BIN)/);
    expect(d.output).toContain(JSON.stringify(MEDIASOUP_WORKER.path));
    expect(d.output).toMatch(/WebRTC engine: mediasoup worker started/);
    expect(workerPids(d)).toHaveLength(1);
  });

  it.skipIf(noWorker)(`a worker killed (-9) mid-publish: the publish ends, its record plays, a new worker takes the next publish${reason}`, async () => {
    const d = daemon!;
    const page = await browser!.context.newPage();
    try {
      await page.goto(d.url('/client/examples/stream_recording/'));
      const pub = await whipPublishFromPage(page, d.url('/whip/killed'), 'VP8');
      expect(pub.status, pub.error).toBe(201);
      await d.waitForOutput(/Recording started/, 15_000);
      await new Promise((r) => setTimeout(r, 4000));
      const [pid] = workerPids(d);
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      const record = (await recordsOfSession(d, pub.mediaSessionId!, 30_000))[0]!;
      expect(d.output).toMatch(/mediasoup worker died: its publishes end and a new worker starts/);
      expect(d.output).toMatch(/"reason":"mediasoup worker died".*"msg":"WebRTC stream ending"/);
      const file = path.join(d.recordDir, record.fileName);
      expect(ffprobe(file).streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
      expect(firstVideoFrameIsKey(file)).toBe(true);
      expect(decodeErrors(file)).toBe('');
      // about 4 s of a publisher that sends 30 fps when the machine is not busy
      expect(packetCount(file, 'v')).toBeGreaterThan(30);
      await d.waitForOutput(/mediasoup worker replaced/, 15_000);
      const replaced = workerPids(d);
      expect(replaced).toHaveLength(1);
      expect(replaced[0]).not.toBe(pid);
    } finally {
      await page.close();
    }
    // the next publish goes through the new worker and is recorded
    const next = await browser!.context.newPage();
    try {
      await next.goto(d.url('/client/examples/stream_recording/'));
      const pub = await whipPublishFromPage(next, d.url('/whip/after'), 'VP8');
      expect(pub.status, pub.error).toBe(201);
      await new Promise((r) => setTimeout(r, 4000));
      expect((await fetch(d.url(pub.location!), { method: 'DELETE' })).status).toBe(200);
      const file = path.join(d.recordDir, (await recordsOfSession(d, pub.mediaSessionId!, 30_000))[0]!.fileName);
      expect(ffprobe(file).streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
      expect(firstVideoFrameIsKey(file)).toBe(true);
      expect(packetCount(file, 'v')).toBeGreaterThan(30);
    } finally {
      await next.close();
    }
  });

  it.skipIf(noWorker)(`with ip_local 0.0.0.0 (the default) a browser on this host publishes: DTLS answers leave from the address ICE chose${reason}`, async () => {
    // the other tests bind 127.0.0.1; bound to 0.0.0.0 the worker answered from the host's LAN address and the browser dropped the DTLS handshake
    const d = await startDaemon({ webrtc_engine: 'mediasoup', webrtc_workers: 1, ip_local: '0.0.0.0', media_port_from: base + 40, media_port_to: base + 59 });
    const page = await browser!.context.newPage();
    try {
      await page.goto(d.url('/client/examples/stream_recording/'));
      const pub = await whipPublishFromPage(page, d.url('/whip/any_address'), 'VP8');
      expect(pub.status, pub.error).toBe(201);
      await d.waitForOutput(/"state":"connected","msg":"WebRTC DTLS state"/, 15_000);
      await new Promise((r) => setTimeout(r, 4000));
      expect((await fetch(d.url(pub.location!), { method: 'DELETE' })).status).toBe(200);
      const file = path.join(d.recordDir, (await recordsOfSession(d, pub.mediaSessionId!, 30_000))[0]!.fileName);
      expect(ffprobe(file).streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
      expect(packetCount(file, 'v')).toBeGreaterThan(30);
    } finally {
      await page.close();
      expect((await d.stop()).code).toBe(0);
    }
  });

  it.skipIf(noWorker)(`webrtc_engine=auto with a worker binary that cannot run falls back to werift${reason}`, async () => {
    const bad = path.join(daemon!.home, 'not-a-worker');
    fs.writeFileSync(bad, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    // MEDIASOUP_WORKER_BIN names a binary that exits at once (as a worker missing a library would)
    const prev = process.env.MEDIASOUP_WORKER_BIN;
    process.env.MEDIASOUP_WORKER_BIN = bad;
    try {
      const broken = await startDaemon({ webrtc_engine: 'auto', media_port_from: base + 20, media_port_to: base + 39 });
      try {
        await broken.waitForOutput(/mediasoup did not start; using werift/, 20_000);
        // an offer answered by werift (one that never connects: a page would leave the still-running
        // browser's keep-alive connections to this daemon, which hold its HTTP close on SIGTERM)
        const res = await fetch(broken.url('/whip/fallback'), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: OFFER });
        expect(res.status, await res.clone().text()).toBe(201);
        expect(broken.output).toMatch(/"engine":"werift".*"msg":"WebRTC stream published"/);
        expect((await fetch(broken.url(res.headers.get('location')!), { method: 'DELETE' })).status).toBe(200);
      } finally {
        expect((await broken.stop()).code).toBe(0);
      }
    } finally {
      if (prev === undefined) delete process.env.MEDIASOUP_WORKER_BIN;
      else process.env.MEDIASOUP_WORKER_BIN = prev;
    }
  });
});
