import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (tools/setup.sh --test installs it); playwright's own browser download cannot work here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

export interface Browser {
  readonly userDataDir: string;
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fake camera and microphone and a fresh profile; fails clearly when it is missing. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: run tools/setup.sh --test (installs Debian's chromium) or set CHROMIUM_PATH`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    userDataDir,
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** PID of the Chromium main process using this profile (a child of this test process), for killing it without a goodbye. */
export function chromiumPid(userDataDirPart: string): number | null {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', userDataDirPart], { encoding: 'utf8' });
    const pid = Number(out.split('\n').find(Boolean));
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export interface WhipPublishResult {
  readonly status: number;
  readonly location: string | null;
  readonly mediaSessionId: string | null;
  readonly error: string;
}

/**
 * Publishes the fake camera from inside a page over WHIP to `whipUrl` (any
 * origin: the request is cross-origin when the page is elsewhere); the peer
 * connection stays on `window.__pc`.
 */
export async function whipPublishFromPage(page: Page, whipUrl: string, codec: 'VP8' | 'H264', token = ''): Promise<WhipPublishResult> {
  return page.evaluate(
    async ({ whipUrl, codec, token }) => {
      const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      const pc = new RTCPeerConnection();
      (window as unknown as { __pc: RTCPeerConnection }).__pc = pc;
      const video = pc.addTransceiver(media.getVideoTracks()[0]!, { direction: 'sendonly', streams: [media] });
      pc.addTransceiver(media.getAudioTracks()[0]!, { direction: 'sendonly', streams: [media] });
      const caps = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
      video.setCodecPreferences(caps.filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}` && (codec !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine ?? ''))));
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 2000);
      });
      const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
      if (token) headers.Authorization = `Bearer ${token}`;
      const res = await fetch(whipUrl, { method: 'POST', headers, body: pc.localDescription!.sdp });
      const text = await res.text();
      if (res.status !== 201) return { status: res.status, location: null, mediaSessionId: null, error: text };
      await pc.setRemoteDescription({ type: 'answer', sdp: text });
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pc.connectionState === 'connected') resolve();
          if (pc.connectionState === 'failed') reject(new Error('connection failed'));
        };
        pc.addEventListener('connectionstatechange', check);
        check();
      });
      return { status: res.status, location: res.headers.get('Location'), mediaSessionId: res.headers.get('X-Media-Session-Id'), error: '' };
    },
    { whipUrl, codec, token },
  );
}

/**
 * Video frames the page's peer connection (window.__pc, as
 * whipPublishFromPage leaves it) has sent so far, from its own statistics
 * (outbound-rtp framesSent). Video is copied into records, so a record's
 * video packets can be counted against this: a measure of what was lost
 * that does not depend on the machine's speed, unlike wall-clock sleeps
 * (a busy browser sends fewer frames in 4 s, and its media clock goes on
 * across the frames it skipped).
 */
export async function framesSent(page: Page, pc = 'window.__pc'): Promise<number> {
  return (await page.evaluate(`(async () => {
    let frames = 0;
    (await ${pc}.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') frames += r.framesSent;
    });
    return frames;
  })()`)) as number;
}
