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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-recorder-pause-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A WebRTC-like source without media that counts keyframe requests. */
class KeyframeSource implements StreamSource {
  readonly feedFormat = 'webm' as const;
  keyframeRequests = 0;
  openTap(_consumer: TapConsumer): MediaTap {
    return { close: () => undefined };
  }
  disconnect(): void {}
  requestKeyframe(): void {
    this.keyframeRequests++;
  }
}

const settings = recorderSettings(dir);

describe('Recorder pause/resume state (find_all state)', () => {
  it('RECORDING, PAUSED, RECORDING again once resumed (waiting for the keyframe), FINISHING; a keyframe is asked for at resume; no pause while finishing', async () => {
    const source = new KeyframeSource();
    const stream = new Stream({ name: 's', app: 'live', mediaProvider: 'WebRTC', login: '', recordRequested: null, source });
    const recorder = new Recorder(stream, settings, new WorkPool(1), pino({ level: 'silent' }), 1);
    await recorder.start();
    const atStart = source.keyframeRequests;
    expect(recorder.apiState).toBe('RECORDING');
    expect(recorder.recordedMs).toBe(0);
    expect(recorder.pause()).toBe('paused');
    expect(recorder.apiState).toBe('PAUSED');
    expect(recorder.pause()).toBe('already');
    expect(recorder.pauses).toHaveLength(1);
    expect(recorder.pauses[0]!.resumedAt).toBeNull();
    expect(recorder.resume()).toBe(true);
    expect(source.keyframeRequests).toBe(atStart + 1);
    // resumed, no keyframe yet (nothing written until it comes): RECORDING, as a recording waiting for its first keyframe
    expect(recorder.apiState).toBe('RECORDING');
    expect(recorder.resume()).toBe(false);
    expect(recorder.pauses[0]!.resumedAt).not.toBeNull();
    // a pause now takes the resume back
    expect(recorder.pause()).toBe('paused');
    expect(recorder.apiState).toBe('PAUSED');
    expect(recorder.pauses).toHaveLength(1);
    expect(recorder.resume()).toBe(true);
    expect(source.keyframeRequests).toBe(atStart + 2);
    const finishing = recorder.finish('test over');
    expect(recorder.apiState).toBe('FINISHING');
    expect(recorder.pause()).toBe('already');
    expect(recorder.resume()).toBe(false);
    expect(await finishing).toEqual([]);
  });

  it('the idle timeout does not run while paused, and starts again at resume', async () => {
    const source = new KeyframeSource();
    const stream = new Stream({ name: 'idle', app: 'live', mediaProvider: 'WebRTC', login: '', recordRequested: null, source });
    const idle = { ...settings, limits: { ...settings.limits, idleTimeoutMs: 200 } };
    const recorder = new Recorder(stream, idle, new WorkPool(1), pino({ level: 'silent' }), 2);
    await recorder.start();
    expect(recorder.pause()).toBe('paused');
    // no media for several idle timeouts: a paused recording stays
    await new Promise((r) => setTimeout(r, 1000));
    expect(recorder.apiState).toBe('PAUSED');
    expect(recorder.state).not.toBe('finishing');
    const finished = new Promise((resolve) => recorder.once('finished', resolve));
    expect(recorder.resume()).toBe(true);
    // resumed and still no media: the idle timeout ends it
    await finished;
    expect(recorder.state).toBe('done');
  });
});
