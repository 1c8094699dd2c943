import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkReader } from '../../src/ingest/rtmp/chunk-reader.js';
import { chunkMessage } from '../../src/ingest/rtmp/chunk-writer.js';
import { RtmpRefusal } from '../../src/ingest/rtmp/rtmp-refusal.js';

interface Got {
  type: number;
  streamId: number;
  ts: number;
  csid: number;
  body: string;
}

function basic(fmt: number, csid: number): Buffer {
  if (csid >= 320) return Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
  if (csid >= 64) return Buffer.from([fmt << 6, csid - 64]);
  return Buffer.from([(fmt << 6) | csid]);
}

const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** The chunks of one message: the first with a header of type `fmt`, then type-3 chunks (with the extended timestamp when there is one). */
function chunks(csid: number, fmt: 0 | 1 | 2 | 3, h: { ts?: number; type?: number; streamId?: number }, payload: Buffer, chunkSize: number, length = payload.length): Buffer[] {
  const ts = h.ts ?? 0;
  const ext = fmt < 3 ? ts >= 0xffffff : ts > 0;
  const field = u24(ext ? 0xffffff : ts);
  const parts: Buffer[] = [basic(fmt, csid)];
  if (fmt <= 2) parts.push(field);
  if (fmt <= 1) parts.push(u24(length), Buffer.from([h.type ?? 0]));
  if (fmt === 0) {
    const sid = Buffer.alloc(4);
    sid.writeUInt32LE(h.streamId ?? 0);
    parts.push(sid);
  }
  if (ext) parts.push(u32(ts));
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length || off === 0; off += chunkSize) {
    if (off > 0) {
      parts.push(basic(3, csid));
      if (ext) parts.push(u32(ts));
    }
    parts.push(payload.subarray(off, off + chunkSize));
    out.push(Buffer.concat(parts.splice(0)));
    if (payload.length === 0) break;
  }
  return out;
}

const rnd = (n: number): Buffer => crypto.randomBytes(n);

function reader(maxMessageSize = 1 << 22): { r: ChunkReader; got: Got[] } {
  const got: Got[] = [];
  const r: ChunkReader = new ChunkReader(
    {
      allocate: (_type, length) => Buffer.alloc(length, 0xee),
      message: (type, streamId, ts, body, csid) => {
        got.push({ type, streamId, ts, csid, body: body.toString('hex') });
        // the session applies these two; the reader only reads them
        if (type === 1) r.setChunkSize(body.readUInt32BE(0));
        if (type === 2) r.abort(body.readUInt32BE(0));
      },
    },
    maxMessageSize,
  );
  return { r, got };
}

/** A stream with every header form, extended timestamps on type-0 and type-3 chunks, a chunk-size change and interleaved chunk streams. */
function scenario(): { bytes: Buffer; expected: Got[] } {
  const cmd = rnd(200);
  const audio1 = rnd(5000);
  const audio2 = rnd(5000);
  const v1 = rnd(10);
  const v2 = rnd(10);
  const v3 = rnd(3);
  const v4 = rnd(3);
  const meta = rnd(20);
  const c = cmd.length;
  const cmdChunks = chunks(3, 0, { ts: 0, type: 20 }, cmd, 128);
  const setSize = chunks(2, 0, { type: 1 }, u32(4096), 128);
  const a1 = chunks(4, 0, { ts: 0x1000000, type: 8, streamId: 1 }, audio1, 4096);
  const a2 = chunks(4, 3, { ts: 0x1000000 }, audio2, 4096);
  const parts = [
    ...cmdChunks,
    ...setSize,
    a1[0]!,
    ...chunks(6, 0, { ts: 40, type: 9, streamId: 1 }, v1, 4096),
    a1[1]!,
    ...a2,
    ...chunks(6, 2, { ts: 33 }, v2, 4096),
    ...chunks(6, 1, { ts: 40, type: 9 }, v3, 4096),
    ...chunks(6, 3, {}, v4, 4096),
    ...chunks(320, 0, { ts: 5, type: 18, streamId: 1 }, meta, 4096),
    ...chunks(70, 0, { ts: 7, type: 18, streamId: 1 }, Buffer.alloc(0), 4096),
  ];
  expect(cmdChunks.length).toBe(Math.ceil(c / 128));
  expect(a1.length).toBe(2);
  const hex = (b: Buffer): string => b.toString('hex');
  const expected: Got[] = [
    { type: 20, streamId: 0, ts: 0, csid: 3, body: hex(cmd) },
    { type: 1, streamId: 0, ts: 0, csid: 2, body: hex(u32(4096)) },
    { type: 9, streamId: 1, ts: 40, csid: 6, body: hex(v1) },
    { type: 8, streamId: 1, ts: 0x1000000, csid: 4, body: hex(audio1) },
    // a type-3 chunk starting a message adds the last delta again (after a type 0: its timestamp)
    { type: 8, streamId: 1, ts: 0x2000000, csid: 4, body: hex(audio2) },
    { type: 9, streamId: 1, ts: 73, csid: 6, body: hex(v2) },
    { type: 9, streamId: 1, ts: 113, csid: 6, body: hex(v3) },
    { type: 9, streamId: 1, ts: 153, csid: 6, body: hex(v4) },
    { type: 18, streamId: 1, ts: 5, csid: 320, body: hex(meta) },
    { type: 18, streamId: 1, ts: 7, csid: 70, body: '' },
  ];
  return { bytes: Buffer.concat(parts), expected };
}

describe('RTMP chunk reader', () => {
  it('reads every header form, extended timestamps, a chunk-size change and interleaved chunk streams, split at every byte', () => {
    const { bytes, expected } = scenario();
    for (let split = 0; split <= bytes.length; split++) {
      const { r, got } = reader();
      r.push(bytes.subarray(0, split));
      r.push(bytes.subarray(split));
      expect(got, `split at ${split}`).toEqual(expected);
    }
    // and a byte at a time, and all at once from an offset
    const one = reader();
    for (let i = 0; i < bytes.length; i++) one.r.push(bytes.subarray(i, i + 1));
    expect(one.got).toEqual(expected);
    const whole = reader();
    whole.r.push(Buffer.concat([Buffer.from([1, 2, 3]), bytes]), 3);
    expect(whole.got).toEqual(expected);
  });

  it('reads what the chunk writer writes (extended timestamps on every chunk, 2- and 3-byte basic headers)', () => {
    const body = rnd(200_000);
    for (const [csid, ts] of [[4, 0], [5, 0xffffff], [100, 0x12345678], [1000, 0xfffffffe]] as const) {
      const { r, got } = reader();
      r.push(chunkMessage(2, 1, 0, 0, u32(60_000)));
      const bytes = chunkMessage(csid, 9, 1, ts, body, 60_000);
      for (let i = 0; i < bytes.length; i += 7001) r.push(bytes.subarray(i, i + 7001));
      expect(got.length).toBe(2);
      expect(got[1]).toEqual({ type: 9, streamId: 1, ts, csid, body: body.toString('hex') });
    }
  });

  it('an abort message drops the message being read on that chunk stream; the next one starts fresh', () => {
    const { r, got } = reader();
    const partial = chunks(4, 0, { ts: 10, type: 8, streamId: 1 }, rnd(300), 128);
    const next = rnd(50);
    r.push(Buffer.concat([partial[0]!, ...chunks(2, 0, { type: 2 }, u32(4), 128), ...chunks(4, 0, { ts: 20, type: 8, streamId: 1 }, next, 128)]));
    expect(got.map((g) => g.type)).toEqual([2, 8]);
    expect(got[1]).toMatchObject({ ts: 20, body: next.toString('hex') });
  });

  it('refuses more than 64 chunk streams, oversized messages, too many bytes in flight and a length change mid-message', () => {
    const refusal = (bytes: Buffer, max = 1 << 22): string => {
      const { r } = reader(max);
      try {
        r.push(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(RtmpRefusal);
        return (err as Error).message;
      }
      return 'accepted';
    };
    const many = Buffer.concat(Array.from({ length: 65 }, (_, i) => chunks(3 + i, 0, { type: 8 }, rnd(1), 128)[0]!));
    expect(refusal(many)).toBe('more than 64 chunk streams');
    expect(refusal(chunks(4, 0, { type: 9 }, rnd(16), 128, 0x100000)[0]!, 65536)).toMatch(/larger than rtmp_max_message_size \(65536\)/);
    expect(refusal(chunks(3, 0, { type: 20 }, rnd(16), 128, 70_000)[0]!)).toMatch(/command message of 70000 bytes/);
    // three messages of 60000 bytes begun at once with a 65536-byte limit: 180000 > 131072
    const inFlight = Buffer.concat([4, 5, 6].map((csid) => chunks(csid, 0, { type: 9 }, rnd(128), 128, 60_000)[0]!));
    expect(refusal(inFlight, 65536)).toMatch(/message buffers would hold 180000 bytes; at most 131072/);
    const changed = Buffer.concat([chunks(4, 0, { type: 9 }, rnd(128), 128, 1000)[0]!, chunks(4, 1, { type: 9 }, rnd(10), 128, 2000)[0]!]);
    expect(refusal(changed)).toBe('message length changed to 2000 in the middle of a message');
  });
});
