/**
 * A small MP4 box reader for multiple recordings (pure, except readMovie):
 * the movie header, and per track its id, type, codec, sizes, edit list and
 * the stream identity the multiple recorder wrote into its handler name.
 * It gives `offline_mixer_tool.sh --show-tracks-info` the WCS JSON and the
 * mixer each participant's timeline.
 */
import fs from 'node:fs';

export interface Box {
  readonly type: string;
  /** Offset of the payload (after the header). */
  readonly start: number;
  /** Offset just after the box. */
  readonly end: number;
}

export class Mp4FormatError extends Error {}

/** The boxes directly inside buf[start, end). */
export function readBoxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const boxes: Box[] = [];
  let offset = start;
  while (offset + 8 <= end) {
    let size = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > end) break;
      size = Number(buf.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = end - offset;
    }
    if (size < header || offset + size > end) throw new Mp4FormatError(`bad size of box '${type}' at ${offset}`);
    boxes.push({ type, start: offset + header, end: offset + size });
    offset += size;
  }
  return boxes;
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  return readBoxes(buf, parent.start, parent.end).find((b) => b.type === type);
}

function path(buf: Buffer, parent: Box, ...types: string[]): Box | undefined {
  let box: Box | undefined = parent;
  for (const t of types) {
    if (!box) return undefined;
    box = child(buf, box, t);
  }
  return box;
}

export type TrackType = 'VIDEO' | 'AUDIO' | 'OTHER';

export interface TrackEdit {
  readonly type: 'pause' | 'media';
  readonly startMs: number;
  readonly endMs: number;
}

/** What the multiple recorder stores about each track (in its handler name). */
export interface TrackIdentity {
  readonly streamName: string;
  readonly mediaSessionId: string;
  /** Participant session: one per add of a stream, in order (a re-added stream is a new one). */
  readonly participant: number;
}

export interface TrackInfo {
  /** Position of the trak in the moov (ffmpeg's stream index). */
  readonly index: number;
  /** tkhd track_ID (1-based). */
  readonly trackId: number;
  readonly type: TrackType;
  readonly handlerName: string;
  readonly timescale: number;
  readonly codec: string;
  readonly width?: number;
  readonly height?: number;
  readonly channels?: number;
  readonly sampleRate?: number;
  readonly edits: TrackEdit[];
  /** End of the track on the movie timeline, ms. */
  readonly durationMs: number;
  readonly identity: TrackIdentity | null;
}

export interface MovieInfo {
  readonly timescale: number;
  readonly durationMs: number;
  /** mvhd creation/modification times: seconds since 1904-01-01 (MP4's epoch). */
  readonly creationTime: number;
  readonly modificationTime: number;
  readonly tracks: TrackInfo[];
}

/** Seconds between the MP4 epoch (1904) and the Unix epoch (1970). */
export const MP4_EPOCH_OFFSET = 2082844800;

/** Fixed-size fields of a full box of version 0 (32-bit) or 1 (64-bit times). */
function timesOf(buf: Buffer, box: Box, withTrackId: boolean): { creation: number; modification: number; id: number; timescale: number; duration: number } {
  const v = buf.readUInt8(box.start);
  let o = box.start + 4;
  const read = (wide: boolean): number => {
    const n = wide ? Number(buf.readBigUInt64BE(o)) : buf.readUInt32BE(o);
    o += wide ? 8 : 4;
    return n;
  };
  const creation = read(v === 1);
  const modification = read(v === 1);
  let id = 0;
  let timescale = 0;
  if (withTrackId) {
    id = read(false);
    o += 4; // reserved
  } else {
    timescale = read(false);
  }
  const duration = read(v === 1);
  return { creation, modification, id, timescale, duration };
}

/** The handler name: a C string (MP4) or a Pascal string (QuickTime). */
function handlerName(buf: Buffer, hdlr: Box): string {
  let name = buf.subarray(hdlr.start + 24, hdlr.end);
  if (name.length > 0 && name[0] === name.length - 1) name = name.subarray(1);
  const nul = name.indexOf(0);
  return (nul >= 0 ? name.subarray(0, nul) : name).toString('utf8');
}

/** The identity the multiple recorder wrote into a handler name, or null for other tracks. */
export function decodeTrackIdentity(name: string): TrackIdentity | null {
  if (!name.startsWith('{')) return null;
  try {
    const v = JSON.parse(name) as Partial<TrackIdentity>;
    if (typeof v.streamName !== 'string' || typeof v.mediaSessionId !== 'string' || typeof v.participant !== 'number') return null;
    return { streamName: v.streamName, mediaSessionId: v.mediaSessionId, participant: v.participant };
  } catch {
    return null;
  }
}

/** The handler name the multiple recorder gives a track. */
export function encodeTrackIdentity(identity: TrackIdentity): string {
  return JSON.stringify({ streamName: identity.streamName, mediaSessionId: identity.mediaSessionId, participant: identity.participant });
}

/**
 * An edit list as a timeline: empty edits (media_time -1) are pauses, the
 * others media, laid end to end from 0 in the movie timescale.
 */
export function editsOf(entries: readonly { duration: number; mediaTime: number }[], movieTimescale: number): TrackEdit[] {
  const edits: TrackEdit[] = [];
  let cursor = 0;
  for (const e of entries) {
    const startMs = Math.round((cursor * 1000) / movieTimescale);
    cursor += e.duration;
    const endMs = Math.round((cursor * 1000) / movieTimescale);
    edits.push({ type: e.mediaTime === -1 ? 'pause' : 'media', startMs, endMs });
  }
  return edits;
}

function elstEntries(buf: Buffer, elst: Box): { duration: number; mediaTime: number }[] {
  const v = buf.readUInt8(elst.start);
  const count = buf.readUInt32BE(elst.start + 4);
  const entries: { duration: number; mediaTime: number }[] = [];
  let o = elst.start + 8;
  for (let i = 0; i < count && o < elst.end; i++) {
    if (v === 1) {
      entries.push({ duration: Number(buf.readBigUInt64BE(o)), mediaTime: Number(buf.readBigInt64BE(o + 8)) });
      o += 20;
    } else {
      entries.push({ duration: buf.readUInt32BE(o), mediaTime: buf.readInt32BE(o + 4) });
      o += 12;
    }
  }
  return entries;
}

function sampleEntry(buf: Buffer, stsd: Box): { codec: string; width?: number; height?: number; channels?: number; sampleRate?: number } {
  const entries = readBoxes(buf, stsd.start + 8, stsd.end);
  const e = entries[0];
  if (!e) return { codec: '' };
  const base = e.start; // after size + type
  if (e.end - base >= 28 && ['avc1', 'avc3', 'hvc1', 'hev1', 'vp08', 'vp09', 'av01', 'mp4v'].includes(e.type)) {
    return { codec: e.type, width: buf.readUInt16BE(base + 24), height: buf.readUInt16BE(base + 26) };
  }
  if (e.end - base >= 28 && ['mp4a', 'Opus', 'ac-3', '.mp3', 'alaw', 'ulaw'].includes(e.type)) {
    return { codec: e.type, channels: buf.readUInt16BE(base + 16), sampleRate: buf.readUInt32BE(base + 24) >>> 16 };
  }
  return { codec: e.type };
}

/** Reads a moov box's payload (buf[moov.start, moov.end)). */
export function parseMoov(buf: Buffer, moov: Box = { type: 'moov', start: 0, end: buf.length }): MovieInfo {
  const mvhd = child(buf, moov, 'mvhd');
  if (!mvhd) throw new Mp4FormatError('no mvhd box');
  const mv = timesOf(buf, mvhd, false);
  const movieTimescale = mv.timescale || 1000;
  const tracks: TrackInfo[] = [];
  readBoxes(buf, moov.start, moov.end)
    .filter((b) => b.type === 'trak')
    .forEach((trak, index) => {
      const tkhd = child(buf, trak, 'tkhd');
      const mdhd = path(buf, trak, 'mdia', 'mdhd');
      const hdlr = path(buf, trak, 'mdia', 'hdlr');
      const stsd = path(buf, trak, 'mdia', 'minf', 'stbl', 'stsd');
      const elst = path(buf, trak, 'edts', 'elst');
      if (!tkhd || !mdhd || !hdlr) throw new Mp4FormatError(`track ${index} lacks tkhd, mdhd or hdlr`);
      const th = timesOf(buf, tkhd, true);
      const md = timesOf(buf, mdhd, false);
      const handlerType = buf.toString('latin1', hdlr.start + 8, hdlr.start + 12);
      const name = handlerName(buf, hdlr);
      const entry = stsd ? sampleEntry(buf, stsd) : { codec: '' };
      const durationMs = Math.round((th.duration * 1000) / movieTimescale);
      let edits = elst ? editsOf(elstEntries(buf, elst), movieTimescale) : [];
      if (edits.length === 0) edits = [{ type: 'media', startMs: 0, endMs: md.timescale ? Math.round((md.duration * 1000) / md.timescale) : durationMs }];
      tracks.push({
        index,
        trackId: th.id,
        type: handlerType === 'vide' ? 'VIDEO' : handlerType === 'soun' ? 'AUDIO' : 'OTHER',
        handlerName: name,
        timescale: md.timescale,
        ...entry,
        edits,
        durationMs: edits[edits.length - 1]?.endMs ?? durationMs,
        identity: decodeTrackIdentity(name),
      });
    });
  return {
    timescale: movieTimescale,
    durationMs: Math.round((mv.duration * 1000) / movieTimescale),
    creationTime: mv.creation,
    modificationTime: mv.modification,
    tracks,
  };
}

/** Finds the moov of an MP4 file (at its start or its end) and reads it, without reading the media. */
export function readMovie(file: string): MovieInfo {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size) {
      const n = fs.readSync(fd, head, 0, 16, offset);
      if (n < 8) break;
      let boxSize = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (boxSize === 1 && n >= 16) {
        boxSize = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (boxSize === 0) {
        boxSize = size - offset;
      }
      if (boxSize < header) throw new Mp4FormatError(`bad size of box '${type}' at ${offset}`);
      if (type === 'moov') {
        const payload = Buffer.alloc(boxSize - header);
        fs.readSync(fd, payload, 0, payload.length, offset + header);
        return parseMoov(payload);
      }
      offset += boxSize;
    }
    throw new Mp4FormatError('no moov box: not a finished MP4 file');
  } finally {
    fs.closeSync(fd);
  }
}

/** One track as WCS prints it (every value a string, ids 0-based as in WCS). */
export type WcsTrackJson = Record<string, string | { startInMs: string; endInMs: string; type: string }[]>;

/** The JSON of `offline_mixer_tool.sh --show-tracks-info`, as the WCS document shows it. */
export function tracksInfoJson(movie: MovieInfo): WcsTrackJson[] {
  return movie.tracks
    .filter((t) => t.type !== 'OTHER')
    .map((t) => {
      const json: WcsTrackJson = {
        durationInMS: String(t.durationMs),
        trackEdits: t.edits.map((e) => ({ endInMs: String(e.endMs), type: e.type, startInMs: String(e.startMs) })),
        trackType: t.type,
        trackId: String(t.trackId - 1),
        timescale: String(t.timescale),
        streamName: t.identity?.streamName ?? '',
        trackCodec: t.codec,
        mediaSessionId: t.identity?.mediaSessionId ?? '',
      };
      if (t.type === 'VIDEO') {
        json.width = String(t.width ?? 0);
        json.height = String(t.height ?? 0);
      } else {
        json.channels = String(t.channels ?? 0);
        json.sampleRate = String(t.sampleRate ?? 0);
      }
      return json;
    });
}
