/**
 * The RTMP chunk stream, read (RTMP specification, section 5.3; issue 20).
 *
 * Bytes in, whole messages out: basic headers of 1 to 3 bytes, message
 * headers of type 0 to 3, extended timestamps (also on type-3 chunks, as
 * the specification and ffmpeg have them), one state per chunk stream,
 * inbound chunk-size changes and abort messages (applied by the caller,
 * which reads those messages: setChunkSize(), abort()).
 *
 * Each message body is read straight into a buffer the sink hands out for
 * it (allocate(): a tag-slab region for audio and video, a small buffer of
 * its own for the rest), so a byte is copied once, socket to message.
 * Bounds a client cannot exceed: chunk streams (MAX_CHUNK_STREAMS), message
 * sizes by type (checkMessageHeader), and the bytes of all messages being
 * read at once (twice rtmp_max_message_size). A refusal throws RtmpRefusal.
 * Pure: no sockets, no timers.
 */
import { checkMessageHeader, MAX_CHUNK_STREAMS } from './rtmp-checks.js';
import { RtmpRefusal } from './rtmp-refusal.js';

export const DEFAULT_CHUNK_SIZE = 128;

/** Bytes of a message header by chunk type (fmt). */
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
/** The 24-bit timestamp field value that says an extended timestamp follows. */
const EXTENDED = 0xffffff;

export interface ChunkReaderSink {
  /** The buffer a message of `length` (> 0) bytes of `type` is read into; exactly `length` bytes long. */
  allocate(type: number, length: number): Buffer;
  /** A message is complete: `body` is the buffer allocate() gave for it (empty for a zero-length message). */
  message(type: number, streamId: number, timestamp: number, body: Buffer, csid: number): void;
}

/** What one chunk stream remembers between chunks. */
class ChunkStream {
  constructor(readonly csid: number) {}
  /** Absolute timestamp of the current (or last) message. */
  clock = 0;
  /** Timestamp delta a type-3 chunk starting a new message adds (the last type 0/1/2 value). */
  delta = 0;
  length = 0;
  type = 0;
  streamId = 0;
  /** The last type 0/1/2 header said an extended timestamp follows (type-3 chunks then carry one too). */
  extended = false;
  /** The message being read, and how many of its bytes are in. */
  body: Buffer | null = null;
  bytes = 0;
}

const EMPTY = Buffer.alloc(0);

const enum Phase {
  /** The first byte of a basic header. */
  First,
  /** The rest of the basic header and the message header. */
  Header,
  /** The 4-byte extended timestamp. */
  Extended,
  /** Message bytes of the current chunk. */
  Payload,
}

export class ChunkReader {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  readonly #streams = new Map<number, ChunkStream>();
  readonly #header = Buffer.alloc(3 + 11 + 4);
  #have = 0;
  #need = 1;
  #phase = Phase.First;
  #fmt = 0;
  #basicSize = 1;
  #stream: ChunkStream | null = null;
  /** Timestamp field of the chunk header being read (fmt 0-2). */
  #field = 0;
  /** Bytes of the messages being read, on all chunk streams. */
  #held = 0;
  readonly #budget: number;

  constructor(
    private readonly sink: ChunkReaderSink,
    private readonly maxMessageSize: number,
  ) {
    this.#budget = 2 * maxMessageSize;
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** A Set Chunk Size message from the client (its value checked by the caller). */
  setChunkSize(size: number): void {
    this.#chunkSize = size;
  }

  /** An Abort message: the partly read message of chunk stream `csid` is dropped. */
  abort(csid: number): void {
    const s = this.#streams.get(csid);
    if (s === undefined || s.body === null) return;
    this.#held -= s.length;
    s.body = null;
    s.bytes = 0;
    if (this.#stream === s && this.#phase === Phase.Payload) this.#phase = Phase.First;
  }

  /** Reads `data` from `start` to `end`; calls the sink for every message completed on the way. Throws RtmpRefusal. */
  push(data: Buffer, start = 0, end = data.length): void {
    let off = start;
    const header = this.#header;
    while (off < end) {
      if (this.#phase === Phase.Payload) {
        off = this.#payload(data, off, end);
        continue;
      }
      while (this.#have < this.#need && off < end) header[this.#have++] = data[off++]!;
      if (this.#have < this.#need) return;
      switch (this.#phase) {
        case Phase.First: {
          const b = header[0]!;
          this.#fmt = b >> 6;
          const low = b & 0x3f;
          this.#basicSize = low === 0 ? 2 : low === 1 ? 3 : 1;
          this.#need = this.#basicSize + MESSAGE_HEADER_SIZE[this.#fmt as 0 | 1 | 2 | 3];
          this.#phase = Phase.Header;
          if (this.#need > 1) continue;
          this.#onHeader();
          break;
        }
        case Phase.Header:
          this.#onHeader();
          break;
        case Phase.Extended:
          this.#onTimestamp(header.readUInt32BE(this.#need - 4));
          break;
      }
    }
  }

  /** Basic and message header read: the chunk stream, its length and type, and whether 4 more bytes follow. */
  #onHeader(): void {
    const h = this.#header;
    const fmt = this.#fmt;
    const csid = this.#basicSize === 1 ? h[0]! & 0x3f : this.#basicSize === 2 ? 64 + h[1]! : 64 + h[1]! + (h[2]! << 8);
    let s = this.#streams.get(csid);
    if (s === undefined) {
      if (this.#streams.size >= MAX_CHUNK_STREAMS) throw new RtmpRefusal(`more than ${MAX_CHUNK_STREAMS} chunk streams`);
      s = new ChunkStream(csid);
      this.#streams.set(csid, s);
    }
    this.#stream = s;
    let at = this.#basicSize;
    if (fmt <= 2) {
      this.#field = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
      s.extended = this.#field === EXTENDED;
      at += 3;
    }
    if (fmt <= 1) {
      const length = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
      const type = h[at + 3]!;
      const reason = checkMessageHeader(type, length, this.maxMessageSize);
      if (reason !== null) throw new RtmpRefusal(reason);
      if (s.body !== null && length !== s.length) throw new RtmpRefusal(`message length changed to ${length} in the middle of a message`);
      if (s.body !== null && type !== s.type) throw new RtmpRefusal(`message type changed to ${type} in the middle of a message`);
      s.length = length;
      s.type = type;
      if (fmt === 0) s.streamId = h.readUInt32LE(at + 4);
    }
    if (s.extended) {
      this.#need += 4;
      this.#phase = Phase.Extended;
      return;
    }
    this.#onTimestamp(fmt <= 2 ? this.#field : s.delta);
  }

  /** The chunk's timestamp (field or extended) is known: a new message starts, or the current one goes on. */
  #onTimestamp(value: number): void {
    const s = this.#stream!;
    this.#have = 0;
    this.#need = 1;
    if (s.body === null) {
      // a new message: type 0 carries the timestamp, types 1 to 3 a delta (type 3 the last one again)
      if (this.#fmt === 0) s.clock = value;
      else s.clock += value;
      if (this.#fmt <= 2 || s.extended) s.delta = value;
      if (s.length === 0) {
        this.#phase = Phase.First;
        this.#complete(s, EMPTY);
        return;
      }
      if (this.#held + s.length > this.#budget) {
        throw new RtmpRefusal(`message buffers would hold ${this.#held + s.length} bytes; at most ${this.#budget} (2 x rtmp_max_message_size)`);
      }
      s.body = this.sink.allocate(s.type, s.length);
      s.bytes = 0;
      this.#held += s.length;
    }
    this.#phase = Phase.Payload;
  }

  /** Copies the bytes of the current chunk; returns the offset after them. */
  #payload(data: Buffer, off: number, end: number): number {
    const s = this.#stream!;
    const body = s.body!;
    const inChunk = this.#chunkSize - (s.bytes % this.#chunkSize);
    const n = Math.min(inChunk, s.length - s.bytes, end - off);
    data.copy(body, s.bytes, off, off + n);
    s.bytes += n;
    if (s.bytes === s.length) {
      this.#phase = Phase.First;
      s.body = null;
      s.bytes = 0;
      this.#held -= s.length;
      this.#complete(s, body);
    } else if (n === inChunk) {
      this.#phase = Phase.First;
    }
    return off + n;
  }

  #complete(s: ChunkStream, body: Buffer): void {
    // a message whose clock has run past 32 bits (only deltas can take it there) is dropped, as node-media-server did
    if (s.clock > 0xffffffff) return;
    this.sink.message(s.type, s.streamId, s.clock, body, s.csid);
  }
}
