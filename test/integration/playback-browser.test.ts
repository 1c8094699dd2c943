import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { makeHome, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip } from '../helpers/media.js';

/**
 * A browser's <video> plays a composed answer and seeks in it (byte ranges
 * into the middle of the media of another part), as a player of recorded
 * video would. The parts are cut from one clip and given wall-clock times
 * through the record journal.
 */
const T = Date.now() - 3_600_000;

describe('time-range playback in a browser', () => {
  let daemon: DaemonHandle;
  let browser: Browser;
  const ranges: string[] = [];

  beforeAll(async () => {
    const home = makeHome();
    const records = path.join(home, 'records');
    fs.mkdirSync(records, { recursive: true });
    const clip = makeClip({ video: true, audio: true, seconds: 30, gop: 2 });
    const journal: string[] = [];
    for (let i = 0; i < 3; i++) {
      const fileName = `web_${i + 1}.mp4`;
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', String(i * 10), '-i', clip, '-t', '10', '-c', 'copy', path.join(records, fileName)]);
      journal.push(
        JSON.stringify({ fileName, mediaSessionId: 'm', streamName: 'web', startTimeMillis: T + i * 10_000, endTimeMillis: T + (i + 1) * 10_000, durationMs: 10_000 }),
      );
    }
    fs.writeFileSync(path.join(records, '.wcs-records.jsonl'), journal.join('\n') + '\n');
    daemon = await startDaemon({}, home);
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    browser.page.on('request', (req) => {
      const range = req.headers()['range'];
      if (req.url().includes('/client/streams/') && range) ranges.push(range);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  it('loads the answer, knows its duration, seeks into the third part and plays on', async () => {
    const { page } = browser;
    const canPlay = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.64001e, mp4a.40.2"'));
    if (canPlay === '') {
      console.log('[skipped] this Chromium plays no H.264');
      return;
    }
    const src = daemon.url(`/client/streams/web.mp4?from=${T + 3000}&to=${T + 28_000}`);
    await page.goto(daemon.url('/rest-api/does-not-exist'));
    const result = await page.evaluate(async (url) => {
      const video = document.createElement('video');
      video.muted = true;
      video.preload = 'auto';
      document.body.appendChild(video);
      const once = (name: string) =>
        new Promise<void>((resolve, reject) => {
          video.addEventListener(name, () => resolve(), { once: true });
          video.addEventListener('error', () => reject(new Error(`media error ${video.error?.code}: ${video.error?.message}`)), { once: true });
        });
      video.src = url;
      await once('loadedmetadata');
      const duration = video.duration;
      video.currentTime = 21;
      await once('seeked');
      const afterSeek = video.currentTime;
      await video.play();
      await new Promise((r) => setTimeout(r, 1500));
      return { duration, afterSeek, playedTo: video.currentTime, error: video.error?.code ?? null, readyState: video.readyState };
    }, src);
    console.log(`[figures] browser: duration ${result.duration.toFixed(3)} s, seeked to ${result.afterSeek.toFixed(3)} s, played to ${result.playedTo.toFixed(3)} s, ranges ${ranges.join(' ')}`);
    expect(result.error).toBeNull();
    expect(Math.abs(result.duration - 25)).toBeLessThanOrEqual(2);
    expect(Math.abs(result.afterSeek - 21)).toBeLessThan(0.5);
    expect(result.playedTo).toBeGreaterThan(result.afterSeek + 0.3);
    expect(ranges.length).toBeGreaterThan(0);
  }, 60_000);
});
