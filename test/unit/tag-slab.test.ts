import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { bodyOf, finishFlvTag, FLV_PREVIOUS_TAG_SIZE, FLV_TAG_HEADER_SIZE, TagSlab } from '../../src/ingest/rtmp/tag-slab.js';

const require = createRequire(import.meta.url);
/** node-media-server's own FLV tag builder: what the taps got before the slab. */
const Flv = require('node-media-server/src/protocol/flv.js') as {
  createMessage(p: { codec_type: number; size: number; dts: number; data: Buffer }): Buffer;
};

describe('FLV tags read in place from slabs', () => {
  it('regions never overlap, hold header + body + trailer, and large messages get a buffer of their own', () => {
    const slab = new TagSlab(4096, 1024);
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
    const slab = new TagSlab();
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

});
