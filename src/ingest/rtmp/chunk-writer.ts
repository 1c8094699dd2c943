/**
 * RTMP messages written as chunks (RTMP specification, section 5.3): one
 * type-0 chunk, then type-3 chunks, with the extended timestamp repeated on
 * each when the timestamp does not fit 24 bits. One buffer per message.
 */

/** The chunk size we announce to every client on connect (as node-media-server 4.4.3 does). */
export const OUT_CHUNK_SIZE = 0xffff;

/** Chunk streams of what we send (node-media-server's channels). */
export const OUT_CSID = { protocol: 2, invoke: 3, audio: 4, video: 5, data: 6 } as const;

function basicHeaderSize(csid: number): number {
  return csid >= 64 + 256 ? 3 : csid >= 64 ? 2 : 1;
}

function writeBasicHeader(out: Buffer, at: number, fmt: number, csid: number): number {
  if (csid >= 64 + 256) {
    out[at] = (fmt << 6) | 1;
    out[at + 1] = (csid - 64) & 0xff;
    out[at + 2] = ((csid - 64) >> 8) & 0xff;
    return at + 3;
  }
  if (csid >= 64) {
    out[at] = fmt << 6;
    out[at + 1] = csid - 64;
    return at + 2;
  }
  out[at] = (fmt << 6) | csid;
  return at + 1;
}

/** The chunks of one message. `timestamp` is taken modulo 2^32. */
export function chunkMessage(csid: number, type: number, streamId: number, timestamp: number, body: Buffer, chunkSize = OUT_CHUNK_SIZE): Buffer {
  const ts = timestamp >>> 0;
  const extended = ts >= 0xffffff;
  const basic = basicHeaderSize(csid);
  const ext = extended ? 4 : 0;
  const chunks = Math.max(1, Math.ceil(body.length / chunkSize));
  const out = Buffer.allocUnsafe(basic + 11 + ext + body.length + (chunks - 1) * (basic + ext));
  let at = writeBasicHeader(out, 0, 0, csid);
  out.writeUIntBE(extended ? 0xffffff : ts, at, 3);
  out.writeUIntBE(body.length, at + 3, 3);
  out[at + 6] = type;
  out.writeUInt32LE(streamId >>> 0, at + 7);
  at += 11;
  if (extended) at = out.writeUInt32BE(ts, at);
  for (let off = 0; off < body.length; off += chunkSize) {
    if (off > 0) {
      at = writeBasicHeader(out, at, 3, csid);
      if (extended) at = out.writeUInt32BE(ts, at);
    }
    const n = Math.min(chunkSize, body.length - off);
    body.copy(out, at, off, off + n);
    at += n;
  }
  return out;
}

/** A protocol control message with a 4-byte value (Set Chunk Size 1, Acknowledgement 3, Window Acknowledgement Size 5). */
export function controlMessage(type: 1 | 3 | 5, value: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32BE(value >>> 0, 0);
  return chunkMessage(OUT_CSID.protocol, type, 0, 0, body);
}

/** Set Peer Bandwidth (6): window size and limit type. */
export function peerBandwidthMessage(size: number, limitType: number): Buffer {
  const body = Buffer.allocUnsafe(5);
  body.writeUInt32BE(size >>> 0, 0);
  body[4] = limitType;
  return chunkMessage(OUT_CSID.protocol, 6, 0, 0, body);
}

/** A User Control message (4) with a stream id (Stream Begin 0, Stream EOF 1, ...). */
export function userControlMessage(event: number, streamId: number): Buffer {
  const body = Buffer.allocUnsafe(6);
  body.writeUInt16BE(event, 0);
  body.writeUInt32BE(streamId >>> 0, 2);
  return chunkMessage(OUT_CSID.protocol, 4, 0, 0, body);
}
