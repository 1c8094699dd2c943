import { FLV_FILE_HEADER_SIZE } from '../rtmp/flv-tags.js';

export class FlvStreamError extends Error {}

/** Largest tag body accepted (a 4K keyframe is a few MB; FLV's own limit is 16 MiB). */
const MAX_TAG_BODY = 16 * 1024 * 1024;

/**
 * Cuts an FLV byte stream (ffmpeg `-f flv pipe:1`) into the buffers
 * node-media-server hands a subscriber: first the 13-byte file header
 * (with PreviousTagSize0), then each tag with its trailing
 * PreviousTagSize, so the RTMP FLV helpers read them unchanged. Pure.
 */
export class FlvByteSplitter {
  #pending: Buffer = Buffer.alloc(0);
  #headerDone = false;

  push(data: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    const out: Buffer[] = [];
    let offset = 0;
    const buf = this.#pending;
    if (!this.#headerDone) {
      if (buf.length < FLV_FILE_HEADER_SIZE) return out;
      if (buf[0] !== 0x46 || buf[1] !== 0x4c || buf[2] !== 0x56) throw new FlvStreamError('not an FLV stream');
      const headerSize = buf.readUInt32BE(5);
      if (headerSize !== 9) throw new FlvStreamError(`unexpected FLV header size ${headerSize}`);
      out.push(Buffer.from(buf.subarray(0, FLV_FILE_HEADER_SIZE)));
      offset = FLV_FILE_HEADER_SIZE;
      this.#headerDone = true;
    }
    while (buf.length - offset >= 11) {
      const bodySize = buf.readUIntBE(offset + 1, 3);
      if (bodySize > MAX_TAG_BODY) throw new FlvStreamError(`FLV tag of ${bodySize} bytes`);
      const total = 11 + bodySize + 4;
      if (buf.length - offset < total) break;
      out.push(Buffer.from(buf.subarray(offset, offset + total)));
      offset += total;
    }
    this.#pending = offset === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset));
    return out;
  }
}
