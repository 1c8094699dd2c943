import { readElementHeader } from '../ingest/webm/webm-chunker.js';
import type { FeedFormat, MediaChunk } from '../streams/media-tap.js';

/**
 * Shifts a feed chunk's timestamps back by `offsetMs` (pure; the chunk's
 * bytes are copied, never changed in place: a source shares them between
 * its consumers). FLV: the tag's timestamp (the composition offset inside
 * the body is relative and stays). WebM: the Cluster's Timecode (its
 * blocks are relative to it). Timestamps never go below 0.
 */
export function retimeChunk(chunk: MediaChunk, feed: FeedFormat, offsetMs: number): MediaChunk {
  if (offsetMs === 0 || chunk.kind === 'header') return chunk;
  const data = feed === 'flv' ? retimeFlvTag(chunk.data, offsetMs) : chunk.kind === 'media' ? retimeCluster(chunk.data, offsetMs) : chunk.data;
  if (chunk.kind !== 'media') return { ...chunk, data };
  return {
    ...chunk,
    data,
    timestampMs: Math.max(0, chunk.timestampMs - offsetMs),
    endTimestampMs: Math.max(0, chunk.endTimestampMs - offsetMs),
  };
}

/** The timestamp of one whole FLV tag (11-byte header first), ms. */
export function flvTagTimestamp(tag: Buffer): number {
  return ((tag[7]! << 24) | tag.readUIntBE(4, 3)) >>> 0;
}

/**
 * The composition time offset of an FLV video tag (H.264/H.265 NAL units:
 * how long after it is decoded a frame is shown; > 0 with B-frames), ms;
 * 0 for anything else.
 */
export function flvCompositionOffsetMs(tag: Buffer): number {
  if (tag.length < 16 || (tag[0]! & 0x1f) !== 9) return 0;
  const codec = tag[11]! & 0x0f;
  if ((codec !== 7 && codec !== 12) || tag[12] !== 1) return 0;
  return tag.readIntBE(13, 3);
}

/** A copy of an FLV tag with its timestamp moved back by `offsetMs`. */
export function retimeFlvTag(tag: Buffer, offsetMs: number): Buffer {
  if (tag.length < 11) return tag;
  const ts = Math.max(0, flvTagTimestamp(tag) - offsetMs) >>> 0;
  const copy = Buffer.from(tag);
  copy.writeUIntBE(ts & 0xffffff, 4, 3);
  copy[7] = (ts >>> 24) & 0xff;
  return copy;
}

const ID_TIMECODE = 0xe7;

/** Big-endian bytes of an unsigned integer, shortest form (at least one byte). */
function unsignedBytes(n: number): Buffer {
  const bytes: number[] = [];
  let v = Math.max(0, Math.floor(n));
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Buffer.from(bytes);
}

/** An EBML size field of 8 bytes (valid for any size). */
function size8(n: number): Buffer {
  const size = Buffer.alloc(8);
  size[0] = 0x01;
  size.writeUIntBE(Math.floor(n / 2 ** 32), 1, 3);
  size.writeUInt32BE(n % 2 ** 32, 4);
  return size;
}

/** The Timecode of a WebM Cluster element (header included), or null when it has none. */
export function clusterTimecode(cluster: Buffer): number | null {
  const h = readElementHeader(cluster, 0);
  if (!h || h.size === null) return null;
  let offset = h.headerLength;
  const end = Math.min(cluster.length, h.headerLength + h.size);
  while (offset < end) {
    const c = readElementHeader(cluster, offset);
    if (!c || c.size === null) return null;
    const start = offset + c.headerLength;
    if (c.id === ID_TIMECODE) {
      let v = 0;
      for (const b of cluster.subarray(start, start + c.size)) v = v * 256 + b;
      return v;
    }
    offset = start + c.size;
  }
  return null;
}

/**
 * A WebM Cluster (header included) with its Timecode moved back by
 * `offsetMs` (the segment's TimecodeScale is 1 ms in the live feeds); the
 * other children are copied as they are. A cluster it cannot read is
 * returned unchanged.
 */
export function retimeCluster(cluster: Buffer, offsetMs: number): Buffer {
  const h = readElementHeader(cluster, 0);
  if (!h || h.size === null || h.headerLength + h.size > cluster.length) return cluster;
  const idLength = idLengthOf(cluster[0]!);
  const parts: Buffer[] = [];
  let offset = h.headerLength;
  const end = h.headerLength + h.size;
  let found = false;
  while (offset < end) {
    const c = readElementHeader(cluster, offset);
    if (!c || c.size === null || offset + c.headerLength + c.size > end) return cluster;
    const start = offset + c.headerLength;
    if (c.id === ID_TIMECODE && !found) {
      found = true;
      let v = 0;
      for (const b of cluster.subarray(start, start + c.size)) v = v * 256 + b;
      const body = unsignedBytes(Math.max(0, v - offsetMs));
      parts.push(Buffer.from([ID_TIMECODE, 0x80 | body.length]), body);
    } else {
      parts.push(cluster.subarray(offset, start + c.size));
    }
    offset = start + c.size;
  }
  if (!found) return cluster;
  const body = Buffer.concat(parts);
  return Buffer.concat([cluster.subarray(0, idLength), size8(body.length), body]);
}

function idLengthOf(first: number): number {
  let n = 1;
  while (n <= 4 && (first & (0x80 >> (n - 1))) === 0) n++;
  return n;
}
