import { readElementHeader } from './webm-chunker.js';

/**
 * Splits a WebM/Matroska Cluster at the video keyframes inside it (pure),
 * so that every keyframe starts a cluster of its own: ffmpeg's Matroska
 * muxer starts a new cluster at a video keyframe only when the current one
 * holds more than 4 KiB, and a WebRTC publisher's requested keyframe often
 * lands just after a cluster began. Blocks keep their order; the timestamps
 * of the blocks moved into a new cluster are made relative to its own
 * Timecode. Clusters with Position/PrevSize or other children than
 * Timecode, SimpleBlock and BlockGroup are returned as they are.
 */

const ID_CLUSTER = 0x1f43b675;
const ID_TIMECODE = 0xe7;
const ID_SIMPLE_BLOCK = 0xa3;
const ID_BLOCK_GROUP = 0xa0;
const ID_BLOCK = 0xa1;
const ID_REFERENCE_BLOCK = 0xfb;

interface Child {
  readonly id: number;
  /** The whole element, header included. */
  readonly whole: Buffer;
  readonly body: Buffer;
}

function childrenOf(body: Buffer): Child[] | null {
  const out: Child[] = [];
  let offset = 0;
  while (offset < body.length) {
    const h = readElementHeader(body, offset);
    if (!h || h.size === null) return null;
    const start = offset + h.headerLength;
    const end = start + h.size;
    if (end > body.length) return null;
    out.push({ id: h.id, whole: body.subarray(offset, end), body: body.subarray(start, end) });
    offset = end;
  }
  return out;
}

/** Offset of the int16 relative timestamp inside a (Simple)Block body. */
function timestampOffset(block: Buffer): number | null {
  const b0 = block[0];
  if (b0 === undefined) return null;
  let len = 1;
  while (len <= 8 && (b0 & (0x80 >> (len - 1))) === 0) len++;
  return block.length >= len + 3 ? len : null;
}

function trackOf(block: Buffer): number {
  const b0 = block[0]!;
  let len = 1;
  while (len <= 8 && (b0 & (0x80 >> (len - 1))) === 0) len++;
  let track = b0 & (0xff >> len);
  for (let i = 1; i < len; i++) track = track * 256 + block[i]!;
  return track;
}

/** An element with an 8-byte size field (simple, always valid). */
function element(idBytes: Buffer, body: Buffer): Buffer {
  const size = Buffer.alloc(8);
  size[0] = 0x01;
  size.writeUIntBE(Math.floor(body.length / 2 ** 32), 1, 3);
  size.writeUInt32BE(body.length % 2 ** 32, 4);
  return Buffer.concat([idBytes, size, body]);
}

function unsignedBytes(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Buffer.from(bytes);
}

interface BlockRef {
  readonly child: Child;
  /** The (Simple)Block body carrying track, timestamp and flags. */
  readonly block: Buffer;
  readonly relative: number;
  readonly track: number;
  readonly key: boolean;
}

/**
 * The clusters a Cluster element (`whole`, header included) becomes when it
 * is cut before every video keyframe that is not its first video block.
 */
export function splitClusterAtKeyframes(whole: Buffer, videoTrack: number): Buffer[] {
  const h = readElementHeader(whole, 0);
  if (!h || h.id !== ID_CLUSTER || h.size === null) return [whole];
  const children = childrenOf(whole.subarray(h.headerLength, h.headerLength + h.size));
  if (!children || children[0]?.id !== ID_TIMECODE) return [whole];
  let clusterTime = 0;
  for (const b of children[0].body) clusterTime = clusterTime * 256 + b;
  const blocks: BlockRef[] = [];
  for (const child of children.slice(1)) {
    let block: Buffer | undefined;
    let key: boolean;
    if (child.id === ID_SIMPLE_BLOCK) {
      block = child.body;
      const off = timestampOffset(block);
      key = off !== null && (block[off + 2]! & 0x80) !== 0;
    } else if (child.id === ID_BLOCK_GROUP) {
      const parts = childrenOf(child.body);
      if (!parts) return [whole];
      block = parts.find((p) => p.id === ID_BLOCK)?.body;
      key = !parts.some((p) => p.id === ID_REFERENCE_BLOCK);
    } else {
      return [whole];
    }
    const off = block ? timestampOffset(block) : null;
    if (!block || off === null) return [whole];
    blocks.push({ child, block, relative: block.readInt16BE(off), track: trackOf(block), key });
  }
  // cut before each video keyframe that follows another video block of this cluster
  const cuts: number[] = [];
  let seenVideo = false;
  blocks.forEach((b, i) => {
    if (b.track !== videoTrack) return;
    if (b.key && seenVideo) cuts.push(i);
    seenVideo = true;
  });
  if (cuts.length === 0) return [whole];
  const idBytes = whole.subarray(0, idLength(whole));
  const out: Buffer[] = [];
  const bounds = [0, ...cuts, blocks.length];
  for (let p = 0; p + 1 < bounds.length; p++) {
    const group = blocks.slice(bounds[p], bounds[p + 1]);
    const base = p === 0 ? 0 : group[0]!.relative;
    const parts: Buffer[] = [element(Buffer.from([ID_TIMECODE]), unsignedBytes(clusterTime + base))];
    for (const b of group) {
      if (base === 0) {
        parts.push(b.child.whole);
        continue;
      }
      const copy = Buffer.from(b.child.whole);
      // the block sits at the same place inside the copy: shift its relative timestamp
      const blockStart = b.block.byteOffset - b.child.whole.byteOffset;
      const off = blockStart + timestampOffset(b.block)!;
      const shifted = b.relative - base;
      if (shifted < -32768 || shifted > 32767) return [whole];
      copy.writeInt16BE(shifted, off);
      parts.push(copy);
    }
    out.push(element(Buffer.from(idBytes), Buffer.concat(parts)));
  }
  return out;
}

function idLength(buf: Buffer): number {
  const first = buf[0]!;
  let len = 1;
  while (len <= 4 && (first & (0x80 >> (len - 1))) === 0) len++;
  return len;
}
