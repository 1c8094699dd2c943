import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium, whipPublishFromPage, type Browser } from '../helpers/chromium.js';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { ffprobe, firstVideoFrameIsKey } from '../helpers/media.js';
import { postJson, type RecordJson } from '../helpers/rest.js';
import { MEDIASOUP_WORKER } from '../helpers/engines.js';

/**
 * The mediasoup engine end to end. mediasoup's worker binary is downloaded
 * or compiled when the package installs, which needs internet: where it is
 * missing this test is skipped and says why (its pure parts and its calls
 * into mediasoup are unit-tested in test/unit/mediasoup-engine.test.ts).
 */
const worker = MEDIASOUP_WORKER;
const reason = worker.path ? '' : ` (skipped: ${worker.why})`;

let daemon: DaemonHandle | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
});

describe('mediasoup engine', () => {
  it.skipIf(worker.path === null)(`Chromium publishes VP8 + Opus through mediasoup; the record is WebM${reason}`, async () => {
    const base = 31001 + (process.pid % 40) * 20 + 400;
    daemon = await startDaemon({ webrtc_engine: 'mediasoup', media_port_from: base, media_port_to: base + 19 });
    expect(daemon.output).toMatch(/WebRTC engine: mediasoup/);
    browser = await launchChromium();
    const page = await browser.context.newPage();
    await page.goto(daemon.url('/client/examples/stream_recording/'));
    const pub = await whipPublishFromPage(page, daemon.url('/whip/ms'), 'VP8');
    expect(pub.status, pub.error).toBe(201);
    await new Promise((r) => setTimeout(r, 5000));
    expect((await fetch(daemon.url(pub.location!), { method: 'DELETE' })).status).toBe(200);
    let records: RecordJson[] = [];
    await waitFor(
      async () => {
        const res = await postJson<RecordJson[]>(daemon!, '/rest-api/recorder/find_records', { mediaSessionId: pub.mediaSessionId });
        records = res.status === 200 ? res.body : [];
        return records.length > 0;
      },
      20_000,
      'the record',
    );
    const file = path.join(daemon.recordDir, records[0]!.fileName);
    expect(ffprobe(file).streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(firstVideoFrameIsKey(file)).toBe(true);
  });
});
