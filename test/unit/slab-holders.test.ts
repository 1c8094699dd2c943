/**
 * The holders of RTMP tags beyond the call that gave them (the GOP cache,
 * the in-process MP4 muxer, an ffmpeg process's stdin) keep their slabs out
 * of the pool exactly as long as they need them (util/slab-pool.ts). The
 * pools here poison every slab that goes back, so a holder that let go too
 * early would show as wrong bytes; and one that never lets go would leave
 * `free` at 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveBroadcast } from '../../src/ingest/rtmp/live-broadcast.js';
import { bodyOf, TagSlab } from '../../src/ingest/rtmp/tag-slab.js';
import { FfmpegProcess } from '../../src/recording/ffmpeg/ffmpeg-process.js';
import { InProcessMp4Muxer } from '../../src/recording/mp4/in-process-mp4-muxer.js';
import { releaseView, SizeClassPools, SlabPool } from '../../src/util/slab-pool.js';

const avcHeader = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80]);
const aacHeader = Buffer.from([0xaf, 0, 0x12, 0x10]);
/** A video frame body whose payload says which frame it is (AVCC: one 4-byte NAL). */
function videoBody(n: number, key: boolean): Buffer {
  // keyframes above the tag slabs' 512-byte limit here: they take regions of their own from the size classes
  const nal = key ? 700 : 40;
  const b = Buffer.alloc(5 + 4 + nal, n & 0xff);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  b.writeIntBE(0, 2, 3);
  b.writeUInt32BE(nal, 5);
  return b;
}
function audioBody(n: number): Buffer {
  const b = Buffer.alloc(2 + 20, (n * 7) & 0xff);
  b[0] = 0xaf;
  b[1] = 1;
  return b;
}

/** A publisher's messages as the session hands them on: read into a region, handed to the broadcast, the message's reference let go. */
function publisher(pool: SlabPool, broadcast: LiveBroadcast, large: SizeClassPools) {
  const slab = new TagSlab(pool, large, 512);
  broadcast.publish({ address: '127.0.0.1' });
  return (type: 8 | 9, clock: number, body: Buffer): void => {
    const region = slab.take(body.length);
    body.copy(bodyOf(region));
    broadcast.media(type, clock, region);
    releaseView(region);
  };
}

/** The stream: headers, then GOPs of `perGop` frames (audio between), frame n at 40n ms. */
function* stream(gops: number, perGop: number): Generator<[8 | 9, number, Buffer]> {
  yield [9, 0, avcHeader];
  yield [8, 0, aacHeader];
  for (let n = 0; n < gops * perGop; n++) {
    yield [9, 40 * n, videoBody(n, n % perGop === 0)];
    yield [8, 40 * n + 20, audioBody(n)];
  }
}

const copies = (tags: Buffer[]): Buffer[] => tags.map((t) => Buffer.from(t));

describe('holders of RTMP tags and the slab pool', () => {
  it('the GOP cache holds its GOP until the next keyframe, and a late subscriber gets its bytes intact', () => {
    const pool = new SlabPool(2048, 64, true);
    const large = new SizeClassPools(1024, 4096, 8, true);
    const b = new LiveBroadcast('/live/x', 60_000, { finished: () => undefined, empty: () => undefined });
    const send = publisher(pool, b, large);
    const sent: Buffer[] = [];
    b.addFlv((tag) => sent.push(Buffer.from(tag)));
    let gopStartedAt = 0;
    for (const [type, clock, body] of stream(4, 30)) {
      if (type === 9 && body[0] === 0x17 && body[1] === 1) gopStartedAt = sent.length;
      send(type, clock, body);
    }
    // slabs of the first three GOPs went back (some reused); the last GOP's are held
    expect(pool.stats.reused + pool.stats.free).toBeGreaterThan(0);
    expect(pool.stats.overReleased).toBe(0);
    const late: Buffer[] = [];
    b.addFlv((tag) => late.push(Buffer.from(tag)));
    // file header, metadata (none), the two sequence headers, then the cached GOP, byte for byte
    const gop = late.slice(3);
    expect(gop.length).toBe(sent.length - gopStartedAt);
    expect(gop).toEqual(sent.slice(gopStartedAt));
    // the publish ends: the GOP is let go; only the slab being cut stays out of the pool
    b.finish();
    expect(pool.stats.free).toBe(pool.stats.allocated - 1);
    // the keyframes' own regions: reused from the second GOP on, all back now
    expect(large.stats.reused).toBeGreaterThan(0);
    expect(large.stats.free).toBe(large.stats.allocated);
  });

  it('the in-process MP4 muxer holds each sample until it is on the file: same file as from plain buffers, every slab back after', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-slab-holders-'));
    try {
      const tags: Buffer[] = [];
      const collect = new LiveBroadcast('/live/y', 60_000, { finished: () => undefined, empty: () => undefined });
      const pool = new SlabPool(2048, 256, true);
      const large = new SizeClassPools(1024, 4096, 8, true);
      const send = publisher(pool, collect, large);
      const options = { hasVideo: true, hasAudio: true, width: 64, height: 48, creationTime: new Date(0) };
      const pooled = new InProcessMp4Muxer(path.join(dir, 'pooled.mp4'), options, () => undefined, 0, 0);
      collect.addFlv((tag) => {
        tags.push(Buffer.from(tag));
        pooled.write(tag);
      });
      for (const [type, clock, body] of stream(6, 25)) send(type, clock, body);
      collect.finish();
      expect((await pooled.finish(10_000)).code).toBe(0);
      const plain = new InProcessMp4Muxer(path.join(dir, 'plain.mp4'), options, () => undefined, 0, 0);
      for (const tag of copies(tags)) plain.write(tag);
      expect((await plain.finish(10_000)).code).toBe(0);
      const a = fs.readFileSync(path.join(dir, 'pooled.mp4'));
      const b = fs.readFileSync(path.join(dir, 'plain.mp4'));
      expect(a.length).toBeGreaterThan(6 * 25 * 40);
      expect(a.equals(b)).toBe(true);
      expect(pool.stats.overReleased).toBe(0);
      expect(pool.stats.free).toBe(pool.stats.allocated - 1);
      expect(large.stats.allocated).toBeGreaterThan(0);
      expect(large.stats.free).toBe(large.stats.allocated);
      expect(large.stats.overReleased).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an ffmpeg process's stdin holds each tag until the pipe took it", async () => {
    const pool = new SlabPool(1024, 256, true);
    const slab = new TagSlab(pool, null, 256);
    // cat stands in for ffmpeg: what it reads is what it writes
    const proc = new FfmpegProcess('cat', [], undefined, { stdout: true });
    const out: Buffer[] = [];
    proc.stdout!.on('data', (d: Buffer) => out.push(d));
    const expected: Buffer[] = [];
    for (let n = 0; n < 400; n++) {
      const region = slab.take(100);
      region.fill(n & 0xff);
      expected.push(Buffer.from(region));
      proc.write(region);
      releaseView(region); // the message's reference: the pipe holds its own
    }
    slab.close();
    proc.endInput();
    expect((await proc.exited).code).toBe(0);
    expect(Buffer.concat(out).equals(Buffer.concat(expected))).toBe(true);
    expect(pool.stats.overReleased).toBe(0);
    expect(pool.stats.free).toBe(pool.stats.allocated);
  });
});
