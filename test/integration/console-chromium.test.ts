import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { REPO, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { ffprobe, makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson } from '../helpers/rest.js';

/**
 * The operator's console (/, src/web/console) driven in headless Chromium:
 * an ffmpeg RTMP publisher appears in Live, Start/Stop recording from the
 * page makes a record, the record plays in the page's <video>, a time range
 * picked on the timeline downloads and probes right; with tokens set nothing
 * works without the token and no media URL carries it. Screenshots of each
 * view at desktop and phone width go to docs/images/ (docs/console.md).
 */

const IMAGES = path.join(REPO, 'docs', 'images');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-console-'));

let browser: Browser;

interface FoundRecord {
  fileName: string;
  state: string;
  duration: number | null;
  downloadUrl: string | null;
  startTimeMillis: number;
  endTimeMillis: number | null;
}

async function shoot(page: Page, name: string, scrollTo?: string): Promise<void> {
  fs.mkdirSync(IMAGES, { recursive: true });
  for (const [size, vp] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(300);
    if (scrollTo) await page.locator(scrollTo).evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(IMAGES, `console-${name}-${size}.png`) });
  }
  await page.setViewportSize(DESKTOP);
}

async function videoPasses(page: Page, seconds: number): Promise<void> {
  await page.waitForFunction((s) => (document.getElementById('player') as HTMLVideoElement).currentTime > s, seconds, { timeout: 40_000 });
}

beforeAll(async () => {
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('console, open server', () => {
  let daemon: DaemonHandle;
  let publisher: Publisher;
  let page: Page;

  beforeAll(async () => {
    daemon = await startDaemon({ record_streams: false, stream_record_policy_template: '{streamName}-{startTimeMillis}' });
    publisher = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), daemon.rtmpUrl('lobby'), ['-stream_loop', '-1']);
    page = await browser.context.newPage();
    await page.setViewportSize(DESKTOP);
    page.on('dialog', (d) => void d.accept());
  });

  afterAll(async () => {
    publisher?.proc.kill('SIGKILL');
    await page?.close();
    await daemon?.stop();
  });

  it('the live stream appears; Start then Stop recording from the page make a record that probes', async () => {
    await page.goto(daemon.url('/'));
    const card = page.locator('.card.stream[data-stream="lobby"]');
    await card.waitFor({ timeout: 30_000 });
    expect(await card.textContent()).toContain('RTMP');
    await card.locator('button[data-action="start"]').click();
    await page.locator('.card.stream[data-stream="lobby"][data-recording="yes"]').waitFor({ timeout: 20_000 });
    const sentAtStart = publisher.sentSeconds();
    await waitFor(() => publisher.sentSeconds() > sentAtStart + 5, 40_000, '5 s of media recorded');
    // the file being written, its size and the bitrate going into it (recorder/find_all size between polls)
    await page.locator('.card.stream[data-stream="lobby"] .rec-file', { hasText: /\d (KB|MB)/ }).waitFor();
    await page.locator('.card.stream[data-stream="lobby"] .meta', { hasText: /\d+ kbit\/s/ }).waitFor({ timeout: 10_000 });
    await shoot(page, 'live');
    await page.locator('.card.stream[data-stream="lobby"] button[data-action="stop"]').click();
    await page.locator('.card.stream[data-stream="lobby"][data-recording="no"]').waitFor({ timeout: 30_000 });

    let rec: FoundRecord | undefined;
    await waitFor(
      async () => {
        const res = await postJson<{ records: FoundRecord[] }>(daemon, '/rest-api/records/find', { streamName: 'lobby' });
        rec = res.body.records.find((r) => r.state === 'finished' && r.downloadUrl !== null);
        return rec !== undefined;
      },
      20_000,
      'the record in the catalog',
    );
    const res = await fetch(rec!.downloadUrl!);
    expect(res.status).toBe(200);
    const file = path.join(tmp, 'lobby.mp4');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(Number(probe.format.duration)).toBeGreaterThan(3);
  });

  it('Records: the record is listed, plays in the page (currentTime passes 2 s), is pinned and unpinned', async () => {
    await page.click('#tabs button[data-view="records"]');
    await page.fill('#rf-stream', 'lobby');
    await page.click('#records-form button[type="submit"]');
    const card = page.locator('.card.record').first();
    await card.waitFor({ timeout: 10_000 });
    await card.locator('button[data-action="play"]').click();
    await videoPasses(page, 2);
    expect(await page.$eval('#player', (v) => (v as HTMLVideoElement).src)).toMatch(/\/client\/records\/lobby-\d+\.mp4$/);
    await card.locator('button[data-action="pin"]').click();
    await page.locator('.card.record button[data-action="pin"]', { hasText: 'Unpin' }).waitFor();
    expect(await page.locator('.card.record').first().locator('button[data-action="delete"]').isDisabled()).toBe(true);
    await page.locator('.card.record').first().locator('button[data-action="pin"]').click();
    await page.locator('.card.record button[data-action="pin"]', { hasText: /^Pin$/ }).waitFor();
  });

  it('Timeline: a range picked on the day downloads and probes right; it plays too', async () => {
    await page.fill('#tl-stream', 'lobby');
    await page.click('#timeline-form button[type="submit"]');
    const span = page.locator('.tl-span').first();
    await span.waitFor({ timeout: 10_000 });
    // the bar zooms to what was recorded: a few seconds are not a hairline on a 24-h bar
    expect((await span.boundingBox())!.width).toBeGreaterThan(100);
    // pick 3 s inside the recorded span through the From/To fields
    const picked = await page.evaluate(() => {
      const s = document.querySelector('.tl-span') as HTMLElement;
      const from = Math.ceil(Number(s.dataset.start) / 1000) * 1000 + 1000;
      const to = from + 3000;
      const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);
      for (const [id, ms] of [['tl-from', from], ['tl-to', to]] as const) {
        const input = document.getElementById(id) as HTMLInputElement;
        input.value = clock(ms);
        input.dispatchEvent(new Event('change'));
      }
      return { from, to };
    });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#tl-download')]);
    expect(download.url()).toContain(`/client/streams/lobby.mp4?from=${picked.from}&to=${picked.to}`);
    const file = path.join(tmp, 'range.mp4');
    await download.saveAs(file);
    const probe = ffprobe(file);
    expect(probe.streams.some((s) => s.codec_type === 'video')).toBe(true);
    const duration = Number(probe.format.duration);
    // 3 s asked for; keyframes every second may widen it
    expect(duration).toBeGreaterThan(2);
    expect(duration).toBeLessThan(5.5);
    await page.click('#tl-play');
    await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).src.includes('/client/streams/lobby.mp4'));
    await videoPasses(page, 1);
    await page.evaluate(() => (document.getElementById('player') as HTMLVideoElement).pause());
    await page.evaluate(() => window.scrollTo(0, 0));
    await shoot(page, 'records');
    await page.click('#records-form button[type="submit"]');
    await page.locator('.card.record').first().waitFor();
    await shoot(page, 'records-list', '#records-form');
  });

  it('Server: version, uptime, event-loop delay, disks, retention, engines', async () => {
    await page.click('#tabs button[data-view="server"]');
    await page.locator('#server-stats dt', { hasText: 'Event-loop delay' }).waitFor({ timeout: 10_000 });
    const text = (await page.textContent('#view-server')) ?? '';
    expect(text).toContain('Uptime');
    expect(text).toContain('record_dir');
    expect(text).toContain('Engine: webrtc');
    expect(text).toContain('Checked every');
    await shoot(page, 'server');
  });

  it('an RTSP camera added from the form is listed with its state and lastError, and removed', async () => {
    await page.click('#tabs button[data-view="live"]');
    await page.fill('#rtsp-uri', 'rtsp://user:pw@127.0.0.1:9/nowhere');
    await page.fill('#rtsp-stream', 'doorcam');
    await page.click('#rtsp-form button[type="submit"]');
    const cam = page.locator('.card.camera', { hasText: 'doorcam' });
    await cam.waitFor({ timeout: 10_000 });
    expect(await cam.textContent()).not.toContain('pw@');
    await cam.locator('.error', { hasText: 'last error' }).waitFor({ timeout: 30_000 });
    await cam.locator('button', { hasText: 'Remove' }).click();
    await cam.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('a record deleted from the page is gone from disk and listed as deleted', async () => {
    await page.click('#tabs button[data-view="records"]');
    await page.fill('#rf-stream', 'lobby');
    await page.click('#records-form button[type="submit"]');
    const card = page.locator('.card.record').first();
    await card.waitFor();
    const fileName = await card.getAttribute('data-file');
    await card.locator('button[data-action="delete"]').click();
    await page.locator(`.card.record[data-file="${fileName}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(fs.existsSync(path.join(daemon.recordDir, fileName!))).toBe(false);
  });
});

describe('console with rest_api_token and records_access_token', () => {
  const REST = 'rest-secret-7f3a';
  const RECORDS = 'records-secret-91bc';
  let daemon: DaemonHandle;
  let page: Page;
  const urls: string[] = [];

  beforeAll(async () => {
    daemon = await startDaemon({ rest_api_token: REST, records_access_token: RECORDS, stream_record_policy_template: '{streamName}-{startTimeMillis}' });
    const pub = publish(makeClip({ video: true, audio: true, seconds: 5, gop: 1 }), daemon.rtmpUrl('vault'));
    await pub.exited;
    await waitFor(
      async () => {
        const res = await postJson<{ records: FoundRecord[] }>(daemon, '/rest-api/records/find', { streamName: 'vault' }, { authorization: `Bearer ${REST}` });
        return res.status === 200 && res.body.records.some((r) => r.state === 'finished');
      },
      30_000,
      'the record of vault',
    );
    page = await browser.context.newPage();
    await page.setViewportSize(DESKTOP);
    page.on('request', (r) => urls.push(r.url()));
  });

  afterAll(async () => {
    await page?.close();
    await daemon?.stop();
  });

  it('without the token nothing works: the page asks for it, REST, records and signing answer 401', async () => {
    await page.goto(daemon.url('/'));
    await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('main').isHidden()).toBe(true);
    await page.screenshot({ path: path.join(IMAGES, 'console-token-desktop.png') });
    expect((await postJson(daemon, '/rest-api/stream/find_all')).status).toBe(401);
    expect((await postJson(daemon, '/rest-api/records/sign', { path: '/client/records/x.mp4' })).status).toBe(401);
    const found = await postJson<{ records: FoundRecord[] }>(daemon, '/rest-api/records/find', { streamName: 'vault' }, { authorization: `Bearer ${REST}` });
    const url = found.body.records[0]!.downloadUrl!;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}?exp=${Math.floor(Date.now() / 1000) + 60}&sig=${'0'.repeat(64)}`)).status).toBe(401);
  });

  it('with the token the record plays through a signed URL; no URL the page uses carries a token', async () => {
    await page.fill('#token-input', REST);
    await page.click('#token-form button[type="submit"]');
    await page.locator('main').waitFor({ state: 'visible' });
    expect(await page.evaluate(() => sessionStorage.getItem('wcs-console-token'))).toBe(REST);
    await page.click('#tabs button[data-view="records"]');
    const card = page.locator('.card.record').first();
    await card.waitFor({ timeout: 10_000 });
    await card.locator('button[data-action="play"]').click();
    await videoPasses(page, 1);
    const src = await page.$eval('#player', (v) => (v as HTMLVideoElement).src);
    expect(src).toMatch(/\/client\/records\/vault-\d+\.mp4\?exp=\d+&sig=[0-9a-f]{64}$/);
    const [download] = await Promise.all([page.waitForEvent('download'), card.locator('button[data-action="download"]').click()]);
    expect(download.url()).toMatch(/[?&]sig=[0-9a-f]{64}/);
    const file = path.join(tmp, 'vault.mp4');
    await download.saveAs(file);
    expect(Number(ffprobe(file).format.duration)).toBeGreaterThan(2);
    // the signed URL works alone, and only for what it names
    expect((await fetch(daemon.url(new URL(src).pathname + new URL(src).search), { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(daemon.url(new URL(src).pathname.replace('vault-', 'vaulx-') + new URL(src).search), { method: 'HEAD' })).status).toBe(401);
    const hrefs = await page.$$eval('a[href], video[src]', (els) => els.map((e) => (e as HTMLAnchorElement).href || (e as HTMLVideoElement).src));
    for (const u of [...urls, ...hrefs]) {
      expect(u).not.toContain(REST);
      expect(u).not.toContain(RECORDS);
      expect(u).not.toMatch(/[?&]token=/);
    }
    expect(urls.some((u) => u.includes('sig='))).toBe(true);
  });
});
