import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { bodyOf, finishFlvTag, FLV_PREVIOUS_TAG_SIZE, FLV_TAG_HEADER_SIZE, SLAB_SIZE, TagSlab } from '../../src/ingest/rtmp/tag-slab.js';
import { releaseView, SizeClassPools, SlabPool } from '../../src/util/slab-pool.js';

const require = createRequire(import.meta.url);
/** node-media-server's own FLV tag builder: what the taps got before the slab. */
const Flv = require('node-media-server/src/protocol/flv.js') as {
  createMessage(p: { codec_type: number; size: number; dts: number; data: Buffer }): Buffer;
};

describe('FLV tags read in place from slabs', () => {
  it('regions never overlap, hold header + body + trailer, and large messages get a buffer of their own', () => {
    const slab = new TagSlab(new SlabPool(4096, 4), null, 1024);
    const regions = [10, 500, 1, 900, 300, 1000, 3000, 7].map((n) => ({ n, r: slab.take(n) }));
    for (const { n, r } of regions) expect(r.length).toBe(FLV_TAG_HEADER_SIZE + n + FLV_PREVIOUS_TAG_SIZE);
    // fill each with its own byte, then check nobody overwrote anybody
    regions.forEach(({ r }, i) => r.fill(i + 1));
    regions.forEach(({ r }, i) => expect(r.every((b) => b === i + 1)).toBe(true));
    const big = regions.find((x) => x.n === 3000)!.r;
    expect(big.buffer.byteLength).toBe(big.length);
    expect(regions.find((x) => x.n === 10)!.r.buffer.byteLength).toBe(4096);
  });

  it('the tag finished in place has the same bytes node-media-server builds by copying', () => {
    const slab = new TagSlab(new SlabPool(SLAB_SIZE, 4));
    for (const [type, size, dts] of [
      [9, 4321, 0],
      [8, 7, 1000],
      [9, 70000, 0x00ffffff],
      [9, 12, 0x01020304], // the extended timestamp byte
      [8, 300, 0x7fffffff],
    ] as const) {
      const region = slab.take(size);
      const body = bodyOf(region);
      crypto.randomFillSync(body);
      region.fill(0xee, 0, FLV_TAG_HEADER_SIZE); // whatever the slab held before
      region.fill(0xee, region.length - FLV_PREVIOUS_TAG_SIZE);
      const expected = Flv.createMessage({ codec_type: type, size, dts, data: Buffer.from(body) });
      const tag = finishFlvTag(region, type, size, dts);
      expect(tag).toBe(region);
      expect(tag.equals(expected)).toBe(true);
    }
  });

  it('a full slab goes back to the pool once the carver moved on and every region was let go, and is cut again', () => {
    const pool = new SlabPool(4096, 4);
    const slab = new TagSlab(pool, null, 1024);
    // 4096 / (11 + 985 + 4 = 1000, aligned 1000) = four regions per slab
    const first = [slab.take(985), slab.take(985), slab.take(985), slab.take(985)];
    expect(new Set(first.map((r) => r.buffer)).size).toBe(1);
    const fifth = slab.take(985); // a second slab: the carver let go of the first
    expect(fifth.buffer).not.toBe(first[0]!.buffer);
    expect(pool.stats).toMatchObject({ allocated: 2, free: 0 });
    // three regions let go: the first slab is still held by the fourth
    for (const r of first.slice(0, 3)) releaseView(r);
    expect(pool.stats.free).toBe(0);
    releaseView(first[3]!);
    expect(pool.stats.free).toBe(1);
    // the second slab fills up; the third comes from the pool: the first one again
    for (let i = 0; i < 3; i++) releaseView(slab.take(985));
    const next = slab.take(985);
    expect(next.buffer).toBe(first[0]!.buffer);
    expect(pool.stats).toMatchObject({ allocated: 2, reused: 1 });
  });

  it('a connection that closes lets go of the slab it was cutting, once its regions are let go', () => {
    const pool = new SlabPool(4096, 4);
    const slab = new TagSlab(pool, null, 1024);
    const r = slab.take(100);
    slab.close();
    expect(pool.stats.free).toBe(0);
    releaseView(r);
    expect(pool.stats.free).toBe(1);
    slab.close(); // twice: nothing more to let go
    expect(pool.stats.overReleased).toBe(0);
  });
});

describe('large messages: regions of their own from size classes', () => {
  it('a message above a quarter slab gets the start of a slab of the smallest class that holds it, back in its pool once let go', () => {
    const pool = new SlabPool(4096, 4);
    const large = new SizeClassPools(2048, 8192, 2);
    const slab = new TagSlab(pool, large, 1024);
    const key = slab.take(1500); // 1515 bytes: the 2048 class
    expect(key.length).toBe(FLV_TAG_HEADER_SIZE + 1500 + FLV_PREVIOUS_TAG_SIZE);
    expect(key.buffer.byteLength).toBe(2048);
    expect(key.byteOffset).toBe(0);
    const bigger = slab.take(5000); // the 8192 class
    expect(bigger.buffer.byteLength).toBe(8192);
    expect(slab.take(9000).buffer.byteLength).toBe(9015); // beyond every class: a buffer of its own
    expect(large.stats).toMatchObject({ allocated: 2, free: 0 });
    releaseView(key);
    expect(large.stats.free).toBe(1);
    // the next keyframe of that size reuses it; the small pool was never touched
    expect(slab.take(1800).buffer).toBe(key.buffer);
    expect(pool.stats.allocated).toBe(0);
    releaseView(bigger);
    large.trim();
    large.trim(); // unused since the previous trim: let go
    expect(large.stats.free).toBe(0);
    expect(large.stats.overReleased).toBe(0);
  });
});
