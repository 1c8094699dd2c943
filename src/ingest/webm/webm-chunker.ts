import type { MediaChunk } from '../../streams/media-tap.js';
import { splitClusterAtKeyframes } from './cluster-split.js';

/**
 * Cuts a live WebM/Matroska byte stream (as ffmpeg writes it with
 * `-f webm -live 1 -dash 1`: clusters of known size, each starting at a video
 * keyframe) into media chunks: one 'header' chunk (EBML header, Segment
 * start, Info, Tracks, ...) and one 'media' chunk per Cluster, with its
 * timestamps and whether a part may start there. Also reports the tracks'
 * codecs. Streaming and pure: bytes in, chunks out.
 */

const ID_EBML = 0x1a45dfa3;
const ID_SEGMENT = 0x18538067;
const ID_CLUSTER = 0x1f43b675;
const ID_TRACKS = 0x1654ae6b;
const ID_TRACK_ENTRY = 0xae;
const ID_TRACK_NUMBER = 0xd7;
const ID_TRACK_TYPE = 0x83;
const ID_CODEC_ID = 0x86;
const ID_VIDEO = 0xe0;
const ID_PIXEL_WIDTH = 0xb0;
const ID_PIXEL_HEIGHT = 0xba;
const ID_TIMECODE = 0xe7;
const ID_SIMPLE_BLOCK = 0xa3;
const ID_BLOCK_GROUP = 0xa0;
const ID_BLOCK = 0xa1;

export interface WebmTrack {
  readonly number: number;
  readonly kind: 'video' | 'audio' | 'other';
  readonly codecId: string;
  /** Registry name: VP8, VP9, AV1, H264, H265, OPUS, VORBIS, AAC, ... */
  readonly codec: string;
  /** Video: PixelWidth / PixelHeight (0 when absent). */
  readonly width?: number;
  readonly height?: number;
}

const CODEC_NAMES: Record<string, string> = {
  V_VP8: 'VP8',
  V_VP9: 'VP9',
  V_AV1: 'AV1',
  'V_MPEG4/ISO/AVC': 'H264',
  V_MPEGH_ISO_HEVC: 'H265',
  A_OPUS: 'OPUS',
  A_VORBIS: 'VORBIS',
  A_AAC: 'AAC',
  A_MPEG_L3: 'MP3',
  A_PCM_INT_LIT: 'PCM',
};

interface ElementHeader {
  readonly id: number;
  /** null = unknown size */
  readonly size: number | null;
  readonly headerLength: number;
}

/** Reads an EBML element header at `offset`, or null when more bytes are needed. */
export function readElementHeader(buf: Buffer, offset: number): ElementHeader | null {
  const first = buf[offset];
  if (first === undefined) return null;
  let idLength = 1;
  while (idLength <= 4 && (first & (0x80 >> (idLength - 1))) === 0) idLength++;
  if (idLength > 4) throw new Error(`invalid EBML id at ${offset}`);
  if (offset + idLength >= buf.length) return null;
  let id = 0;
  for (let i = 0; i < idLength; i++) id = id * 256 + buf[offset + i]!;
  const sizeStart = offset + idLength;
  const s0 = buf[sizeStart]!;
  let sizeLength = 1;
  while (sizeLength <= 8 && (s0 & (0x80 >> (sizeLength - 1))) === 0) sizeLength++;
  if (sizeLength > 8) throw new Error(`invalid EBML size at ${sizeStart}`);
  if (sizeStart + sizeLength > buf.length) return null;
  let size = s0 & (0xff >> sizeLength);
  let allOnes = size === 0xff >> sizeLength;
  for (let i = 1; i < sizeLength; i++) {
    const b = buf[sizeStart + i]!;
    if (b !== 0xff) allOnes = false;
    size = size * 256 + b;
  }
  return { id, size: allOnes ? null : size, headerLength: idLength + sizeLength };
}

function readUnsigned(buf: Buffer): number {
  let n = 0;
  for (const b of buf) n = n * 256 + b;
  return n;
}

/** Children of a master element's body, as [id, body] pairs (known sizes only). */
function children(body: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let offset = 0;
  while (offset < body.length) {
    const h = readElementHeader(body, offset);
    if (!h || h.size === null) break;
    const start = offset + h.headerLength;
    out.push([h.id, body.subarray(start, start + h.size)]);
    offset = start + h.size;
  }
  return out;
}

export function parseTracks(body: Buffer): WebmTrack[] {
  const tracks: WebmTrack[] = [];
  for (const [id, entry] of children(body)) {
    if (id !== ID_TRACK_ENTRY) continue;
    let number = 0;
    let type = 0;
    let codecId = '';
    let width = 0;
    let height = 0;
    for (const [cid, value] of children(entry)) {
      if (cid === ID_TRACK_NUMBER) number = readUnsigned(value);
      else if (cid === ID_TRACK_TYPE) type = readUnsigned(value);
      else if (cid === ID_CODEC_ID) codecId = value.toString('latin1').replace(/\0+$/, '');
      else if (cid === ID_VIDEO) {
        for (const [vid, v] of children(value)) {
          if (vid === ID_PIXEL_WIDTH) width = readUnsigned(v);
          else if (vid === ID_PIXEL_HEIGHT) height = readUnsigned(v);
        }
      }
    }
    const kind = type === 1 ? 'video' : type === 2 ? 'audio' : 'other';
    tracks.push({ number, kind, codecId, codec: CODEC_NAMES[codecId] ?? codecId, ...(kind === 'video' && width > 0 ? { width, height } : {}) });
  }
  return tracks;
}

interface ClusterInfo {
  readonly timestampMs: number;
  readonly endTimestampMs: number;
  /** Per track number: the timestamp (ms) of that track's last block in the cluster. */
  readonly trackEndMs: ReadonlyMap<number, number>;
  /** Per track number: whether that track's first block in the cluster is a keyframe. */
  readonly firstBlockKey: ReadonlyMap<number, boolean>;
}

function blockHead(block: Buffer): { track: number; relative: number; flags: number } | null {
  // a block starts with the track number as an EBML variable-size integer
  const b0 = block[0];
  if (b0 === undefined) return null;
  let len = 1;
  while (len <= 8 && (b0 & (0x80 >> (len - 1))) === 0) len++;
  if (block.length < len + 3) return null;
  let track = b0 & (0xff >> len);
  for (let i = 1; i < len; i++) track = track * 256 + block[i]!;
  return { track, relative: block.readInt16BE(len), flags: block[len + 2]! };
}

export function parseCluster(body: Buffer): ClusterInfo {
  let timestamp = 0;
  let maxRelative = 0;
  const firstBlockKey = new Map<number, boolean>();
  const trackMaxRelative = new Map<number, number>();
  const note = (block: Buffer, key: (flags: number) => boolean): void => {
    const head = blockHead(block);
    if (!head) return;
    maxRelative = Math.max(maxRelative, head.relative);
    trackMaxRelative.set(head.track, Math.max(trackMaxRelative.get(head.track) ?? -Infinity, head.relative));
    if (!firstBlockKey.has(head.track)) firstBlockKey.set(head.track, key(head.flags));
  };
  for (const [id, value] of children(body)) {
    if (id === ID_TIMECODE) timestamp = readUnsigned(value);
    else if (id === ID_SIMPLE_BLOCK) note(value, (flags) => (flags & 0x80) !== 0);
    else if (id === ID_BLOCK_GROUP) {
      const parts = children(value);
      const block = parts.find(([cid]) => cid === ID_BLOCK)?.[1];
      // a Block has no keyframe flag: a BlockGroup without ReferenceBlock (0xFB) is a keyframe
      const isKey = !parts.some(([cid]) => cid === 0xfb);
      if (block) note(block, () => isKey);
    }
  }
  const trackEndMs = new Map<number, number>();
  for (const [track, relative] of trackMaxRelative) trackEndMs.set(track, timestamp + relative);
  return { timestampMs: timestamp, endTimestampMs: timestamp + maxRelative, trackEndMs, firstBlockKey };
}

export interface WebmChunkerOptions {
  /** Cut clusters before video keyframes inside them, so each keyframe starts a chunk (WebRTC feeds). */
  readonly splitAtKeyframes?: boolean;
}

export class WebmChunker {
  constructor(private readonly options: WebmChunkerOptions = {}) {}

  #buffer: Buffer = Buffer.alloc(0);
  #header: Buffer[] = [];
  #headerDone = false;
  #insideSegment = false;
  #tracks: WebmTrack[] = [];

  get tracks(): readonly WebmTrack[] {
    return this.#tracks;
  }

  /** Feeds bytes; returns the chunks completed by them. */
  push(data: Buffer): MediaChunk[] {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    const out: MediaChunk[] = [];
    let offset = 0;
    for (;;) {
      const h = readElementHeader(this.#buffer, offset);
      if (!h) break;
      if (h.id === ID_SEGMENT) {
        // descend: the Segment's children are read one by one (its size is often unknown)
        this.#header.push(this.#buffer.subarray(offset, offset + h.headerLength));
        this.#insideSegment = true;
        offset += h.headerLength;
        continue;
      }
      if (h.size === null) throw new Error(`unknown-size element 0x${h.id.toString(16)} is not supported in a live feed`);
      const end = offset + h.headerLength + h.size;
      if (end > this.#buffer.length) break;
      const whole = this.#buffer.subarray(offset, end);
      const body = whole.subarray(h.headerLength);
      if (h.id === ID_CLUSTER) {
        if (!this.#headerDone) {
          this.#headerDone = true;
          out.push({ kind: 'header', data: Buffer.concat(this.#header), track: 'none', keyframe: false, timestampMs: 0, endTimestampMs: 0 });
          this.#header = [];
        }
        const video = this.options.splitAtKeyframes ? this.#tracks.find((t) => t.kind === 'video') : undefined;
        if (video) {
          for (const piece of splitClusterAtKeyframes(Buffer.from(whole), video.number)) {
            const ph = readElementHeader(piece, 0)!;
            out.push(this.#clusterChunk(piece, piece.subarray(ph.headerLength)));
          }
        } else {
          out.push(this.#clusterChunk(Buffer.from(whole), body));
        }
      } else if (!this.#headerDone && (h.id === ID_EBML || this.#insideSegment)) {
        if (h.id === ID_TRACKS) this.#tracks = parseTracks(body);
        this.#header.push(Buffer.from(whole));
      }
      offset = end;
    }
    this.#buffer = offset === 0 ? this.#buffer : Buffer.from(this.#buffer.subarray(offset));
    return out;
  }

  #clusterChunk(data: Buffer, body: Buffer): MediaChunk {
    const info = parseCluster(body);
    const video = this.#tracks.find((t) => t.kind === 'video');
    // a part may start at a cluster whose first video block is a keyframe (audio-only: any cluster)
    const keyframe = video ? info.firstBlockKey.get(video.number) === true : info.firstBlockKey.size > 0;
    const kinds = new Set(this.#tracks.map((t) => t.kind));
    const track = kinds.has('video') && kinds.has('audio') ? 'av' : kinds.has('video') ? 'video' : 'audio';
    const videoEnd = video ? info.trackEndMs.get(video.number) : undefined;
    return {
      kind: 'media',
      data,
      track,
      keyframe,
      timestampMs: info.timestampMs,
      endTimestampMs: info.endTimestampMs,
      ...(videoEnd !== undefined ? { videoEndTimestampMs: videoEnd } : {}),
    };
  }
}
