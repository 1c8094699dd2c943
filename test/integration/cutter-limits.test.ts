import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CutFailedError, CutNoSpaceError, CutterBusyError, Mp4Cutter, type Mp4CutterOptions } from '../../src/http/mp4-cutter.js';
import { MediaProbe } from '../../src/records/media-probe.js';
import { makeClip } from '../helpers/media.js';

const log = pino({ level: 'silent' });

describe('Mp4Cutter limits (the class, real ffmpeg, no daemon)', () => {
  let dir: string;
  let probe: MediaProbe;
  const cutters: Mp4Cutter[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-cutter-limits-'));
    fs.copyFileSync(makeClip({ video: true, audio: true, seconds: 60, gop: 2, bitrate: '2M' }), path.join(dir, 'long.mp4'));
    probe = new MediaProbe('ffprobe', log);
  });

  afterAll(async () => {
    await Promise.all(cutters.map((c) => c.close()));
    probe.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function cutter(over: Partial<Mp4CutterOptions> = {}): Mp4Cutter {
    const c = new Mp4Cutter(
      {
        ffmpeg: 'ffmpeg',
        recordDir: dir,
        cutterDir: path.join(dir, 'cuts'),
        timeoutMs: 60_000,
        maxConcurrent: 2,
        maxQueued: 8,
        cacheMaxBytes: 1024 ** 3,
        minFreeBytes: 0,
        freeSpace: async () => 1e12,
        ...over,
      },
      probe,
      log,
    );
    cutters.push(c);
    return c;
  }

  it('refuses (507) a cut that would leave less than file_recorder_min_space free, and writes nothing', async () => {
    const c = cutter({ minFreeBytes: 1024 ** 3, freeSpace: async () => 1024 ** 3 + 3 * 1024 * 1024 });
    await c.start();
    await expect(c.cut('long.mp4', { startMs: 10_000, endMs: 30_000 })).rejects.toThrow(CutNoSpaceError);
    await expect(c.cut('long.mp4', { startMs: 10_000, endMs: 30_000 })).rejects.toThrow(/file_recorder_min_space/);
    expect(fs.readdirSync(path.join(dir, 'cuts'))).toEqual([]);
    // a short part fits in what is left above the floor
    const small = await c.cut('long.mp4', { startMs: 10_000, endMs: 11_000 });
    expect(small.fileName).toBe('long-s10-e11.mp4');
  });

  it('with no room to wait, a cut beyond mp4_cutter_max_concurrent is refused at once (503) and never more ffmpegs run', async () => {
    const c = cutter({ cutterDir: path.join(dir, 'busy'), maxConcurrent: 1, maxQueued: 0 });
    await c.start();
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, c.running)), 1);
    const results = await Promise.allSettled([1, 2, 3, 4].map((s) => c.cut('long.mp4', { startMs: s * 1000, endMs: s * 1000 + 5000 })));
    clearInterval(timer);
    expect(most).toBe(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r.reason).toBeInstanceOf(CutterBusyError);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
  });

  it('keeps the stored parts under mp4_cutter_cache_max_size, least recently used removed first; parts of an earlier run count too', async () => {
    const cuts = path.join(dir, 'lru');
    const limit = 10 * 1024 * 1024;
    const first = cutter({ cutterDir: cuts, cacheMaxBytes: limit });
    await first.start();
    for (const s of [0, 10, 20]) await first.cut('long.mp4', { startMs: s * 1000 + 1, endMs: s * 1000 + 10_000 });
    // the oldest one is used again: it is now the most recent
    await first.cut('long.mp4', { startMs: 1, endMs: 10_000 });
    await first.cut('long.mp4', { startMs: 30_001, endMs: 40_000 });
    const size = () => fs.readdirSync(cuts).reduce((sum, f) => sum + fs.statSync(path.join(cuts, f)).size, 0);
    expect(size()).toBeLessThanOrEqual(limit);
    const left = fs.readdirSync(cuts).sort();
    expect(left).toContain('long-s0.001-e10.mp4');
    expect(left).toContain('long-s30.001-e40.mp4');
    expect(left).not.toContain('long-s10.001-e20.mp4');
    // a new cutter on the same folder (a restart) counts what is there before it cuts
    await first.close();
    const second = cutter({ cutterDir: cuts, cacheMaxBytes: 6 * 1024 * 1024 });
    await second.start();
    await second.cut('long.mp4', { startMs: 40_001, endMs: 45_000 });
    expect(size()).toBeLessThanOrEqual(6 * 1024 * 1024);
    expect(fs.readdirSync(cuts)).toContain('long-s40.001-e45.mp4');
  });

  it('shares mp4_cutter_cache_max_size with the playback answers: what they hold leaves less room for parts', async () => {
    const cuts = path.join(dir, 'shared');
    const limit = 20 * 1024 * 1024;
    let playbackBytes = 0;
    const c = cutter({ cutterDir: cuts, cacheMaxBytes: limit, otherCacheBytes: () => playbackBytes });
    await c.start();
    for (const s of [0, 10]) await c.cut('long.mp4', { startMs: s * 1000 + 1, endMs: s * 1000 + 10_000 });
    const size = () => fs.readdirSync(cuts).reduce((sum, f) => sum + fs.statSync(path.join(cuts, f)).size, 0);
    const alone = size();
    expect(c.cachedBytes).toBe(alone);
    // playback answers now take all but the room of the two parts: a third one pushes the oldest out
    playbackBytes = limit - alone;
    await c.cut('long.mp4', { startMs: 20_001, endMs: 30_000 });
    expect(size() + playbackBytes).toBeLessThanOrEqual(limit);
    expect(fs.readdirSync(cuts)).not.toContain('long-s0.001-e10.mp4');
    expect(fs.readdirSync(cuts)).toContain('long-s20.001-e30.mp4');
    // without the playback answers' share the same three parts fit
    expect(3 * alone).toBeLessThan(limit);
  });

  /** A refusal of this server (503 with Retry-After at the route): nothing stored, no temp file left. */
  async function expectFailedNow(c: Mp4Cutter, cuts: string, why: RegExp): Promise<void> {
    const err = await c.cut('long.mp4', { startMs: 2000, endMs: 4000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CutFailedError);
    expect((err as CutFailedError).retryAfterSeconds).toBeGreaterThan(0);
    expect((err as Error).message).toMatch(/^Record 'long.mp4' cannot be cut now: /);
    expect((err as Error).message).toMatch(why);
    // never the record's path nor the parts' folder (the binary's own path may be said: it is what is missing)
    expect((err as Error).message).not.toContain(path.join(dir, 'long.mp4'));
    expect((err as Error).message).not.toContain(cuts);
    expect(fs.readdirSync(cuts)).toEqual([]);
  }

  it('ffmpeg missing: CutFailedError (503 with Retry-After), saying so', async () => {
    const cuts = path.join(dir, 'no-ffmpeg');
    const c = cutter({ cutterDir: cuts, ffmpeg: path.join(dir, 'no-such-ffmpeg') });
    await c.start();
    await expectFailedNow(c, cuts, /ffmpeg could not be started \(spawn .* ENOENT\)/);
  });

  it('ffprobe missing: CutFailedError (503), never taken for a damaged record', async () => {
    const cuts = path.join(dir, 'no-ffprobe');
    const noProbe = new MediaProbe(path.join(dir, 'no-such-ffprobe'), log);
    const c = new Mp4Cutter(
      { ffmpeg: 'ffmpeg', recordDir: dir, cutterDir: cuts, timeoutMs: 60_000, maxConcurrent: 1, maxQueued: 1, cacheMaxBytes: 1024 ** 3, minFreeBytes: 0, freeSpace: async () => 1e12 },
      noProbe,
      log,
    );
    cutters.push(c);
    await c.start();
    await expectFailedNow(c, cuts, /ENOENT/);
    noProbe.close();
  });

  it('a cut over its time limit is stopped and refused (CutFailedError, 503), never kept as a part', async () => {
    const cuts = path.join(dir, 'slow');
    // a limit no cut can meet: the meaning is tested, not this machine's speed
    const c = cutter({ cutterDir: cuts, timeoutMs: 1 });
    await c.start();
    await expectFailedNow(c, cuts, /cutting 'long.mp4' took longer than 0 s/);
    expect(c.running).toBe(0);
  });
});
