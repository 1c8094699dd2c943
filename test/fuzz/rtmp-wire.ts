/**
 * RTMP as bytes, written by hand so that tests and the fuzzer can send what
 * no well-behaved client would: AMF0 values, messages, chunks, handshake.
 * Nothing here validates; it writes what it is told.
 */

/** An AMF0 value as the tests write it. `undefined` is AMF undefined (0x06). */
export type AmfValue = number | string | boolean | null | undefined | AmfObject | AmfValue[] | AmfRaw;
export interface AmfObject {
  readonly [key: string]: AmfValue;
}
/** Bytes written as they are (a hand-made or broken AMF value). */
export class AmfRaw {
  constructor(readonly bytes: Buffer) {}
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function amfKey(key: string): Buffer {
  const k = Buffer.from(key, 'utf8');
  return Buffer.concat([u16(k.length), k]);
}

export function amf0(value: AmfValue): Buffer {
  if (value instanceof AmfRaw) return value.bytes;
  if (value === null) return Buffer.from([0x05]);
  if (value === undefined) return Buffer.from([0x06]);
  if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(value, 1);
    return b;
  }
  if (typeof value === 'boolean') return Buffer.from([0x01, value ? 1 : 0]);
  if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8');
    if (s.length > 0xffff) return Buffer.concat([Buffer.from([0x0c]), u32(s.length), s]);
    return Buffer.concat([Buffer.from([0x02]), u16(s.length), s]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from([0x0a]), u32(value.length), ...value.map(amf0)]);
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [k, v] of Object.entries(value)) parts.push(amfKey(k), amf0(v));
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

export function amf0All(values: readonly AmfValue[]): Buffer {
  return Buffer.concat(values.map(amf0));
}

/** One RTMP message before chunking. */
export interface RtmpMessage {
  /** Chunk stream id (2 control, 3 commands, 4 audio, 5 video, 6 data, as ffmpeg). */
  csid: number;
  type: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
  /** Length written in the header; the payload's own length when absent. */
  declaredLength?: number;
}

export const TYPE = {
  setChunkSize: 1,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  data: 18,
  command: 20,
} as const;

export function command(name: string, transId: number, ...args: AmfValue[]): RtmpMessage {
  return { csid: 3, type: TYPE.command, streamId: 0, timestamp: 0, payload: amf0All([name, transId, ...args]) };
}

export function connectCommand(app: AmfValue, tcUrl: AmfValue | typeof OMIT, extra: Record<string, AmfValue> = {}): RtmpMessage {
  const obj: Record<string, AmfValue> = { app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; wcs-test)' };
  if (tcUrl !== OMIT) obj['tcUrl'] = tcUrl;
  return command('connect', 1, { ...obj, ...extra });
}

/** Marks a field left out of a command object. */
export const OMIT: unique symbol = Symbol('omit');

export function publishCommand(name: AmfValue, streamId = 1): RtmpMessage {
  return { ...command('publish', 5, null, name, 'live'), streamId, csid: 4 };
}

export function playCommand(name: AmfValue, streamId = 1): RtmpMessage {
  return { ...command('play', 4, null, name, -2000), streamId, csid: 4 };
}

export function setChunkSize(size: number): RtmpMessage {
  return { csid: 2, type: TYPE.setChunkSize, streamId: 0, timestamp: 0, payload: u32(size) };
}

export function mediaMessage(type: 8 | 9, timestamp: number, payload: Buffer, streamId = 1): RtmpMessage {
  return { csid: type === 8 ? 4 : 6, type, streamId, timestamp, payload };
}

/** The basic header of a chunk: 1, 2 or 3 bytes by csid. */
export function basicHeader(fmt: number, csid: number): Buffer {
  if (csid >= 64 + 256) {
    const id = csid - 64;
    return Buffer.from([(fmt << 6) | 1, id & 0xff, (id >> 8) & 0xff]);
  }
  if (csid >= 64) return Buffer.from([(fmt << 6) | 0, (csid - 64) & 0xff]);
  return Buffer.from([(fmt << 6) | (csid & 0x3f)]);
}

/** A message as chunks of `chunkSize` bytes: one type 0 chunk, then type 3 chunks. */
export function chunk(message: RtmpMessage, chunkSize: number): Buffer {
  const length = message.declaredLength ?? message.payload.length;
  const extended = message.timestamp >= 0xffffff;
  const head = Buffer.alloc(11);
  head.writeUIntBE(extended ? 0xffffff : message.timestamp, 0, 3);
  head.writeUIntBE(length & 0xffffff, 3, 3);
  head[6] = message.type & 0xff;
  head.writeUInt32LE(message.streamId >>> 0, 7);
  const ext = extended ? u32(message.timestamp) : Buffer.alloc(0);
  const parts: Buffer[] = [basicHeader(0, message.csid), head, ext];
  const size = Math.max(1, chunkSize);
  for (let off = 0; off < message.payload.length; off += size) {
    if (off > 0) parts.push(basicHeader(3, message.csid), ext);
    parts.push(message.payload.subarray(off, off + size));
  }
  return Buffer.concat(parts);
}

export const HANDSHAKE_SIZE = 1536;

/** C0 + C1 of the simple handshake. */
export function handshakeC0C1(random: Buffer = Buffer.alloc(HANDSHAKE_SIZE - 8, 7)): Buffer {
  return Buffer.concat([Buffer.from([3]), Buffer.alloc(8), random.subarray(0, HANDSHAKE_SIZE - 8)]);
}

/** An FLV tag of a file: what a publisher sends as one audio, video or data message. */
export interface FlvTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

/** Reads the tags of an FLV file (no checks: test input made by ffmpeg). */
export function readFlvFile(bytes: Buffer): FlvTag[] {
  const tags: FlvTag[] = [];
  let off = bytes.readUInt32BE(5) + 4;
  while (off + 11 <= bytes.length) {
    const type = bytes[off]! & 0x1f;
    const size = bytes.readUIntBE(off + 1, 3);
    const timestamp = bytes.readUIntBE(off + 4, 3) | (bytes[off + 7]! << 24);
    if (off + 11 + size > bytes.length) break;
    tags.push({ type, timestamp, data: bytes.subarray(off + 11, off + 11 + size) });
    off += 11 + size + 4;
  }
  return tags;
}
