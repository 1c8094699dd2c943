import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Recorder } from '../../src/recording/recorder.js';
import { WorkPool } from '../../src/recording/work-pool.js';
import type { MediaTap, StreamSource, TapConsumer } from '../../src/streams/media-tap.js';
import { Stream } from '../../src/streams/stream.js';
import { recorderSettings } from '../helpers/recorder-settings.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-recorder-start-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A source that only notes when a tap is opened and closed (no media: the ordering is what is tested). */
class NotingSource implements StreamSource {
  readonly feedFormat = 'flv' as const;
  readonly events: string[] = [];
  openTap(_consumer: TapConsumer): MediaTap {
    this.events.push('openTap');
    return { close: () => this.events.push('close') };
  }
  disconnect(): void {}
}

const settings = recorderSettings(dir);

describe('Recorder.start', () => {
  it('opens its tap before it yields to the event loop (a burst of queued media must not pass it by)', async () => {
    const source = new NotingSource();
    const stream = new Stream({ name: 's', app: 'live', mediaProvider: 'Flash', login: '', recordRequested: null, source });
    const recorder = new Recorder(stream, settings, new WorkPool(1), pino({ level: 'silent' }), 1);
    const started = recorder.start();
    // nothing awaited yet: the tap must already be open, and the temp folder made
    expect(source.events).toEqual(['openTap']);
    expect(fs.existsSync(settings.tmpDir)).toBe(true);
    await started;
    const records = await recorder.finish('test over');
    expect(records).toEqual([]);
    expect(source.events).toEqual(['openTap', 'close']);
  });
});
