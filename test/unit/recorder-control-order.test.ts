import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskGuard } from '../../src/recording/disk-guard.js';
import { HookRunner } from '../../src/recording/hook-runner.js';
import { RecorderManager } from '../../src/recording/recorder-manager.js';
import { WorkPool } from '../../src/recording/work-pool.js';
import type { MediaTap, StreamSource, TapConsumer } from '../../src/streams/media-tap.js';
import { Stream } from '../../src/streams/stream.js';
import { recorderSettings } from '../helpers/recorder-settings.js';
import { StreamRegistry } from '../../src/streams/stream-registry.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-control-order-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Counts taps opened and closed: one open tap = one recorder running. */
class CountingSource implements StreamSource {
  readonly feedFormat = 'flv' as const;
  opened = 0;
  closed = 0;
  openTap(_consumer: TapConsumer): MediaTap {
    this.opened++;
    return { close: () => void this.closed++ };
  }
  disconnect(): void {}
  get open(): number {
    return this.opened - this.closed;
  }
}

const settings = recorderSettings(dir);

function setUp(recordStreams: boolean) {
  const log = pino({ level: 'silent' });
  const registry = new StreamRegistry();
  // parallel calls pass the free-space check together, then each used to find the same (or no) current recorder
  const disk = new DiskGuard([dir], 1, async () => 1e12);
  const manager = new RecorderManager(
    registry,
    settings,
    { recordStreams, recordFlashPublishedStreams: true, recordRtspStreams: true },
    new HookRunner(null, dir, log),
    new WorkPool(1),
    disk,
    log,
  );
  manager.start();
  const source = new CountingSource();
  const stream = new Stream({ name: `s${Math.random()}`, app: 'live', mediaProvider: 'Flash', login: '', recordRequested: null, source });
  return { registry, manager, source, stream };
}

describe('RecorderManager: control of one stream runs in order', () => {
  it('20 parallel startups leave exactly one recorder, listed, and terminate ends it', async () => {
    const { registry, manager, source, stream } = setUp(false);
    registry.publish(stream);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => manager.startRecording(stream.mediaSessionId)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(source.open).toBe(1);
    expect(manager.inProgress()).toHaveLength(1);
    await manager.stopRecording(stream.mediaSessionId);
    expect(source.open).toBe(0);
    expect(manager.inProgress()).toHaveLength(0);
    await manager.close();
  });

  it('startups interleaved with terminates: never more than one recorder, every running one listed', async () => {
    const { registry, manager, source, stream } = setUp(false);
    registry.publish(stream);
    let most = 0;
    let unlisted = 0;
    const watch = setInterval(() => {
      most = Math.max(most, source.open);
      if (source.open > manager.inProgress().length) unlisted++;
    }, 0);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 15; i++) {
      calls.push(manager.startRecording(stream.mediaSessionId));
      if (i % 3 === 1) calls.push(manager.stopRecording(stream.mediaSessionId));
    }
    await Promise.allSettled(calls);
    clearInterval(watch);
    expect(most).toBeLessThanOrEqual(1);
    expect(unlisted).toBe(0);
    expect(source.open).toBe(manager.inProgress().length);
    await manager.stopRecording(stream.mediaSessionId);
    expect(source.open).toBe(0);
    await manager.close();
  });

  it('REST startups racing the start on publish: one recorder', async () => {
    const { registry, manager, source, stream } = setUp(true);
    registry.publish(stream);
    await Promise.allSettled(Array.from({ length: 5 }, () => manager.startRecording(stream.mediaSessionId)));
    expect(source.open).toBe(1);
    expect(manager.inProgress()).toHaveLength(1);
    await manager.close();
    expect(source.open).toBe(0);
  });

  it('a startup with the same settings keeps the running recording; other settings restart it', async () => {
    const { registry, manager, source, stream } = setUp(false);
    registry.publish(stream);
    const first = await manager.startRecording(stream.mediaSessionId);
    expect(await manager.startRecording(stream.mediaSessionId)).toBe(first);
    expect(source.opened).toBe(1);
    const other = await manager.startRecording(stream.mediaSessionId, { fileTemplate: '{streamName}-other' });
    expect(other).not.toBe(first);
    expect([source.opened, source.open]).toEqual([2, 1]);
    expect(manager.inProgress()).toHaveLength(1);
    await manager.close();
  });

  it('close() finishes a recorder whose startup was still queued', async () => {
    const { registry, manager, source, stream } = setUp(false);
    registry.publish(stream);
    const started = Array.from({ length: 5 }, () => manager.startRecording(stream.mediaSessionId));
    await manager.close();
    await Promise.allSettled(started);
    expect(source.open).toBe(0);
    expect(manager.inProgress()).toHaveLength(0);
  });
});

describe('RecorderManager: record_transcode_max_concurrent', () => {
  it('parallel startups with a preset on different streams: exactly the limit start, the others get TranscodeLimitError', async () => {
    const { BUILT_IN_PRESETS } = await import('../../src/recording/presets.js');
    const { TranscodeLimitError } = await import('../../src/recording/recorder-manager.js');
    const log = pino({ level: 'silent' });
    const registry = new StreamRegistry();
    // the free-space check takes a while: every startup is past the limit check before any recorder exists
    const disk = new DiskGuard([dir], 1, () => new Promise((r) => setTimeout(() => r(1e12), 20)));
    const manager = new RecorderManager(
      registry,
      settings,
      { recordStreams: false, recordFlashPublishedStreams: true, recordRtspStreams: true },
      new HookRunner(null, dir, log),
      new WorkPool(1),
      disk,
      log,
      { transcodeMaxConcurrent: 2 },
    );
    manager.start();
    const streams = Array.from({ length: 6 }, (_, i) => {
      const stream = new Stream({ name: `t${i}`, app: 'live', mediaProvider: 'Flash', login: '', recordRequested: null, source: new CountingSource() });
      registry.publish(stream);
      return stream;
    });
    const preset = BUILT_IN_PRESETS[2]!;
    const results = await Promise.allSettled(streams.map((s) => manager.startRecording(s.mediaSessionId, { options: { preset } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(4);
    for (const r of refused) expect(r.reason).toBeInstanceOf(TranscodeLimitError);
    expect(manager.transcoding).toBe(2);
    // without a preset nothing is limited
    const plain = await Promise.allSettled(streams.slice(2).map((s) => manager.startRecording(s.mediaSessionId)));
    expect(plain.every((r) => r.status === 'fulfilled')).toBe(true);
    // one transcoding recording ends: a slot is free again
    await manager.stopRecording(streams[0]!.mediaSessionId);
    await expect(manager.startRecording(streams[5]!.mediaSessionId, { options: { preset } })).resolves.toBeDefined();
    await manager.close();
  });
});
