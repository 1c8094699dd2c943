import { describe, expect, it } from 'vitest';
import { parseCluster, parseTracks, readElementHeader, WebmChunker } from '../../src/ingest/webm/webm-chunker.js';

/** EBML element: id bytes + 8-byte size + body. */
function el(id: number[], body: Buffer | number[]): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(b.length));
  size[0]! |= 0x01; // 8-byte length marker
  return Buffer.concat([Buffer.from(id), size, b]);
}
const uint = (n: number): number[] => [n];
const simpleBlock = (track: number, rel: number, key: boolean): Buffer =>
  el([0xa3], Buffer.from([0x80 | track, (rel >> 8) & 0xff, rel & 0xff, key ? 0x80 : 0x00, 1, 2, 3]));

const tracks = el([0x16, 0x54, 0xae, 0x6b], Buffer.concat([
  el([0xae], Buffer.concat([el([0xd7], uint(1)), el([0x83], uint(1)), el([0x86], Buffer.from('V_VP8'))])),
  el([0xae], Buffer.concat([el([0xd7], uint(2)), el([0x83], uint(2)), el([0x86], Buffer.from('A_OPUS'))])),
]));
const ebml = el([0x1a, 0x45, 0xdf, 0xa3], [0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d]);
const segmentUnknown = Buffer.from([0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const cluster = (ts: number, blocks: Buffer[]): Buffer => el([0x1f, 0x43, 0xb6, 0x75], Buffer.concat([el([0xe7], [(ts >> 8) & 0xff, ts & 0xff]), ...blocks]));

describe('readElementHeader', () => {
  it.each([
    ['1-byte id, 1-byte size', [0xa3, 0x85], 0xa3, 5, 2],
    ['4-byte id, 8-byte size', [0x1a, 0x45, 0xdf, 0xa3, 0x01, 0, 0, 0, 0, 0, 0, 0x10], 0x1a45dfa3, 16, 12],
    ['unknown size (all ones)', [0x18, 0x53, 0x80, 0x67, 0xff], 0x18538067, null, 5],
  ] as const)('%s', (_l, bytes, id, size, headerLength) => {
    expect(readElementHeader(Buffer.from(bytes), 0)).toEqual({ id, size, headerLength });
  });
  it('needs more bytes -> null', () => {
    expect(readElementHeader(Buffer.from([0x1a, 0x45]), 0)).toBeNull();
    expect(readElementHeader(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x01, 0]), 0)).toBeNull();
  });
  it('an invalid id byte throws', () => {
    expect(() => readElementHeader(Buffer.from([0x00, 0x81]), 0)).toThrow();
  });
});

describe('parseTracks / parseCluster', () => {
  it('reads track numbers, kinds and codecs', () => {
    expect(parseTracks(tracks.subarray(12))).toEqual([
      { number: 1, kind: 'video', codecId: 'V_VP8', codec: 'VP8' },
      { number: 2, kind: 'audio', codecId: 'A_OPUS', codec: 'OPUS' },
    ]);
  });
  it('timestamps and the first block of each track', () => {
    const c = cluster(1000, [simpleBlock(2, 0, true), simpleBlock(1, 5, true), simpleBlock(1, 38, false), simpleBlock(2, 60, true)]);
    const info = parseCluster(c.subarray(12));
    expect(info.timestampMs).toBe(1000);
    expect(info.endTimestampMs).toBe(1060);
    expect(info.firstBlockKey.get(1)).toBe(true);
    expect(info.firstBlockKey.get(2)).toBe(true);
    // each track's last block: the video of this cluster ends at 1038, its audio (written ahead) at 1060
    expect([...info.trackEndMs]).toEqual([
      [2, 1060],
      [1, 1038],
    ]);
  });

  it("a chunk carries its last video frame's time (what a WebRTC session is placed by)", () => {
    const chunker = new WebmChunker();
    const out = chunker.push(Buffer.concat([ebml, segmentUnknown, tracks, cluster(1000, [simpleBlock(1, 0, true), simpleBlock(1, 33, false), simpleBlock(2, 90, true)]), cluster(2000, [])]));
    const media = out.filter((c) => c.kind === 'media');
    expect(media[0]).toMatchObject({ timestampMs: 1000, endTimestampMs: 1090, videoEndTimestampMs: 1033 });
  });
});

describe('WebmChunker', () => {
  const stream = Buffer.concat([
    ebml, segmentUnknown, tracks,
    cluster(0, [simpleBlock(2, 0, true), simpleBlock(1, 1, true), simpleBlock(1, 34, false)]),
    cluster(1000, [simpleBlock(1, 0, false), simpleBlock(2, 3, true)]),
    cluster(2000, [simpleBlock(2, 0, true), simpleBlock(1, 2, true)]),
  ]);

  it.each([1, 7, 64, stream.length])('cuts header and clusters the same whatever the read size (%d bytes)', (step) => {
    const chunker = new WebmChunker();
    const out = [];
    for (let i = 0; i < stream.length; i += step) out.push(...chunker.push(stream.subarray(i, i + step)));
    expect(out.map((c) => [c.kind, c.keyframe, c.timestampMs, c.endTimestampMs])).toEqual([
      ['header', false, 0, 0],
      ['media', true, 0, 34],
      ['media', false, 1000, 1003],
      ['media', true, 2000, 2002],
    ]);
    expect(Buffer.concat(out.map((c) => c.data)).equals(stream)).toBe(true);
    expect(chunker.tracks.map((t) => t.codec)).toEqual(['VP8', 'OPUS']);
  });
});
