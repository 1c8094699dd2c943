import { describe, expect, it } from 'vitest';
import { splitClusterAtKeyframes } from '../../src/ingest/webm/cluster-split.js';
import { parseCluster, readElementHeader } from '../../src/ingest/webm/webm-chunker.js';

function el(id: number[], body: Buffer): Buffer {
  // 1-byte size when it fits, as ffmpeg writes small elements
  const size = body.length < 127 ? Buffer.from([0x80 | body.length]) : Buffer.from([0x40 | (body.length >> 8), body.length & 0xff]);
  return Buffer.concat([Buffer.from(id), size, body]);
}

function simpleBlock(track: number, relative: number, key: boolean, payload = 'xx'): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x80 | track;
  head.writeInt16BE(relative, 1);
  head[3] = key ? 0x80 : 0;
  return el([0xa3], Buffer.concat([head, Buffer.from(payload)]));
}

function cluster(time: number, blocks: Buffer[]): Buffer {
  return el([0x1f, 0x43, 0xb6, 0x75], Buffer.concat([el([0xe7], Buffer.from([time >> 8, time & 0xff])), ...blocks]));
}

function info(whole: Buffer) {
  const h = readElementHeader(whole, 0)!;
  return parseCluster(whole.subarray(h.headerLength, h.headerLength + h.size!));
}

describe('splitClusterAtKeyframes', () => {
  it('cuts before a video keyframe that is not the first video block; later blocks become relative to the new cluster', () => {
    const whole = cluster(1000, [simpleBlock(1, 0, false), simpleBlock(2, 10, true), simpleBlock(1, 33, true, 'KEY'), simpleBlock(2, 30, true), simpleBlock(1, 66, false)]);
    const pieces = splitClusterAtKeyframes(whole, 1);
    expect(pieces).toHaveLength(2);
    const [a, b] = pieces.map(info);
    expect(a!.timestampMs).toBe(1000);
    expect(a!.firstBlockKey.get(1)).toBe(false);
    expect(b!.timestampMs).toBe(1033);
    expect(b!.firstBlockKey.get(1)).toBe(true);
    // the audio block stamped 1030 keeps its time (-3 relative to the new cluster), the last video 1066
    expect(b!.endTimestampMs).toBe(1066);
    expect(pieces[1]!.includes(Buffer.from('KEY'))).toBe(true);
  });

  it('leaves a cluster alone when its first video block is the keyframe or it has none', () => {
    const keyFirst = cluster(0, [simpleBlock(2, 0, true), simpleBlock(1, 5, true), simpleBlock(1, 38, false)]);
    expect(splitClusterAtKeyframes(keyFirst, 1)).toEqual([keyFirst]);
    const audioOnly = cluster(0, [simpleBlock(2, 0, true), simpleBlock(2, 20, true)]);
    expect(splitClusterAtKeyframes(audioOnly, 1)).toEqual([audioOnly]);
  });

  it('two keyframes in one cluster: three pieces', () => {
    const whole = cluster(0, [simpleBlock(1, 0, false), simpleBlock(1, 33, true), simpleBlock(1, 66, false), simpleBlock(1, 100, true)]);
    expect(splitClusterAtKeyframes(whole, 1).map((p) => info(p).timestampMs)).toEqual([0, 33, 100]);
  });
});
