import { describe, expect, it } from 'vitest';
import {
  createFlvFileHeader,
  describeMediaTag,
  firstSpsOfAvcSequenceHeader,
  FLV_FILE_HEADER_SIZE,
  FLV_TAG_AUDIO,
  FLV_TAG_SCRIPT,
  FLV_TAG_VIDEO,
  isFlvFileHeader,
  readFlvTag,
} from '../../src/ingest/rtmp/flv-tags.js';
import { FlvStartGate, type GateHints } from '../../src/ingest/rtmp/flv-start-gate.js';
import { LiveBroadcast } from '../../src/ingest/rtmp/live-broadcast.js';
import type { MediaChunk } from '../../src/streams/media-tap.js';

// ---------------------------------------------------------------------------
// hand-built FLV
// ---------------------------------------------------------------------------

/** One whole FLV tag: 11-byte header, body, 4-byte previous tag size (11 + body size). */
function flvTag(type: number, timestamp: number, body: Buffer | number[]): Buffer {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const header = Buffer.alloc(11);
  header[0] = type;
  header.writeUIntBE(data.length, 1, 3);
  header.writeUIntBE(timestamp & 0xffffff, 4, 3);
  header[7] = (timestamp >>> 24) & 0xff;
  header.writeUIntBE(0, 8, 3); // stream id
  const prev = Buffer.alloc(4);
  prev.writeUInt32BE(11 + data.length);
  return Buffer.concat([header, data, prev]);
}

/** The 13-byte FLV file header as node-media-server sends it first. */
function flvFileHeader(flags = 0x05): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 0x01, flags, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
}

const SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10]);
const SPS2 = Buffer.from([0x67, 0x42, 0xc0, 0x1e]);
const PPS = Buffer.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]);

/** AVCDecoderConfigurationRecord with the given SPS and PPS lists. */
function avcDecoderConfigurationRecord(spsList: Buffer[], ppsList: Buffer[], numSpsOverride?: number): Buffer {
  const parts: Buffer[] = [
    Buffer.from([0x01, 0x64, 0x00, 0x1f, 0xff, 0xe0 | (numSpsOverride ?? spsList.length)]),
  ];
  for (const sps of spsList) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(sps.length);
    parts.push(len, sps);
  }
  parts.push(Buffer.from([ppsList.length]));
  for (const pps of ppsList) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(pps.length);
    parts.push(len, pps);
  }
  return Buffer.concat(parts);
}

/** Video tag body of an AVC sequence header: 0x17, packet type 0, CTS 0, record. */
function avcSequenceHeaderBody(record = avcDecoderConfigurationRecord([SPS], [PPS])): Buffer {
  return Buffer.concat([Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00]), record]);
}

const avcSeqHeader = (ts = 0) => flvTag(FLV_TAG_VIDEO, ts, avcSequenceHeaderBody());
const avcKeyframe = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0x17, 0x01, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88]);
const avcInterFrame = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0x27, 0x01, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9a]);
const aacSeqHeader = (ts = 0, config: number[] = [0x12, 0x10]) => flvTag(FLV_TAG_AUDIO, ts, [0xaf, 0x00, ...config]);
const aacFrame = (ts: number) => flvTag(FLV_TAG_AUDIO, ts, [0xaf, 0x01, 0x21, 0x10, 0x04, ts & 0xff]);
const scriptTag = (ts = 0) =>
  flvTag(FLV_TAG_SCRIPT, ts, Buffer.concat([Buffer.from([0x02, 0x00, 0x0a]), Buffer.from('onMetaData'), Buffer.from([0x08, 0, 0, 0, 0, 0, 0, 9])]));

function hints(video: boolean, audio: boolean): GateHints {
  return { videoExpected: () => video, audioExpected: () => audio };
}

// ---------------------------------------------------------------------------
// flv-tags.ts
// ---------------------------------------------------------------------------

describe('readFlvTag', () => {
  it.each([
    [0, [0, 0, 0, 0]],
    [1000, [0x00, 0x03, 0xe8, 0x00]],
    [0xffffff, [0xff, 0xff, 0xff, 0x00]],
    [0x1000000, [0x00, 0x00, 0x00, 0x01]],
    [0x1000001, [0x00, 0x00, 0x01, 0x01]],
    [0x12345678, [0x34, 0x56, 0x78, 0x12]],
    [0x7fffffff, [0xff, 0xff, 0xff, 0x7f]],
    [0x80000000, [0x00, 0x00, 0x00, 0x80]],
    [0xffffffff, [0xff, 0xff, 0xff, 0xff]],
  ])('timestamp %d (bytes 4-7 = %j) uses the extended byte', (timestamp, tsBytes) => {
    const buf = flvTag(FLV_TAG_AUDIO, timestamp, [0xaf, 0x01, 0x00]);
    expect([...buf.subarray(4, 8)]).toEqual(tsBytes);
    const tag = readFlvTag(buf);
    expect(tag).not.toBeNull();
    expect(tag!.timestamp).toBe(timestamp);
  });

  it.each([
    [FLV_TAG_AUDIO, [0xaf, 0x01, 0x01, 0x02]],
    [FLV_TAG_VIDEO, [0x17, 0x01, 0, 0, 0]],
    [FLV_TAG_SCRIPT, [0x02, 0x00, 0x00]],
    [FLV_TAG_VIDEO, []],
  ])('type %d, body %j', (type, body) => {
    const buf = flvTag(type, 42, body);
    const tag = readFlvTag(buf)!;
    expect(tag.type).toBe(type);
    expect(tag.bodySize).toBe(body.length);
    expect([...tag.body]).toEqual(body);
    expect(tag.timestamp).toBe(42);
  });

  it('body size above 64 KiB (3-byte size)', () => {
    const body = Buffer.alloc(0x12345, 7);
    body[0] = 0x27;
    const tag = readFlvTag(flvTag(FLV_TAG_VIDEO, 0, body))!;
    expect(tag.bodySize).toBe(0x12345);
    expect(tag.body.equals(body)).toBe(true);
  });

  it('the filter/reserved bits of the type byte are masked off', () => {
    const buf = flvTag(FLV_TAG_VIDEO, 0, [0x17, 0x01]);
    buf[0] = 0x20 | FLV_TAG_VIDEO;
    expect(readFlvTag(buf)!.type).toBe(FLV_TAG_VIDEO);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['shorter than header + previous tag size', Buffer.alloc(14)],
    ['the FLV file header', flvFileHeader()],
    ['body size larger than the buffer', flvTag(FLV_TAG_AUDIO, 0, [0xaf, 1, 2, 3]).subarray(0, 13)],
  ])('%s -> null', (_label, buf) => {
    expect(readFlvTag(buf)).toBeNull();
  });

  it('body size larger than the buffer (header claims more) -> null', () => {
    const buf = flvTag(FLV_TAG_AUDIO, 0, [0xaf, 1, 2, 3]);
    buf.writeUIntBE(100, 1, 3);
    expect(readFlvTag(buf)).toBeNull();
  });
});

describe('describeMediaTag', () => {
  it.each([
    ['AVC sequence header', FLV_TAG_VIDEO, [0x17, 0x00, 0, 0, 0, 1], { kind: 'video', codec: 'H264', isSequenceHeader: true, isKeyframe: true }],
    ['AVC keyframe NALU', FLV_TAG_VIDEO, [0x17, 0x01, 0, 0, 0], { kind: 'video', codec: 'H264', isSequenceHeader: false, isKeyframe: true }],
    ['AVC inter frame NALU', FLV_TAG_VIDEO, [0x27, 0x01, 0, 0, 0], { kind: 'video', codec: 'H264', isSequenceHeader: false, isKeyframe: false }],
    ['AVC inter frame, packet type 0', FLV_TAG_VIDEO, [0x27, 0x00, 0, 0, 0], { kind: 'video', codec: 'H264', isSequenceHeader: true, isKeyframe: false }],
    ['AVC end of sequence', FLV_TAG_VIDEO, [0x17, 0x02, 0, 0, 0], { kind: 'video', codec: 'H264', isSequenceHeader: false, isKeyframe: true }],
    ['HEVC (codec id 12) sequence header', FLV_TAG_VIDEO, [0x1c, 0x00, 0, 0, 0], { kind: 'video', codec: 'H265', isSequenceHeader: true, isKeyframe: true }],
    ['H263 inter frame', FLV_TAG_VIDEO, [0x22, 0x00], { kind: 'video', codec: 'H263', isSequenceHeader: false, isKeyframe: false }],
    ['unknown video codec 5', FLV_TAG_VIDEO, [0x15, 0x00], { kind: 'video', codec: 'flv-video-5', isSequenceHeader: false, isKeyframe: true }],
    ['enhanced RTMP hvc1 sequence start', FLV_TAG_VIDEO, [0x90, ...Buffer.from('hvc1'), 1], { kind: 'video', codec: 'H265', isSequenceHeader: true, isKeyframe: true }],
    ['enhanced RTMP av01 inter coded frame', FLV_TAG_VIDEO, [0xa1, ...Buffer.from('av01')], { kind: 'video', codec: 'AV1', isSequenceHeader: false, isKeyframe: false }],
    ['AAC sequence header', FLV_TAG_AUDIO, [0xaf, 0x00, 0x12, 0x10], { kind: 'audio', codec: 'AAC', isSequenceHeader: true, isKeyframe: false }],
    ['AAC raw', FLV_TAG_AUDIO, [0xaf, 0x01, 0x21], { kind: 'audio', codec: 'AAC', isSequenceHeader: false, isKeyframe: false }],
    ['AAC mono 44.1 kHz (0xAE) header', FLV_TAG_AUDIO, [0xae, 0x00, 0x12, 0x08], { kind: 'audio', codec: 'AAC', isSequenceHeader: true, isKeyframe: false }],
    ['PCMA (7<<4)', FLV_TAG_AUDIO, [7 << 4, 0x00, 0xd5], { kind: 'audio', codec: 'PCMA', isSequenceHeader: false, isKeyframe: false }],
    ['PCMA 8 kHz mono 16-bit (0x72)', FLV_TAG_AUDIO, [0x72, 0xd5, 0xd5], { kind: 'audio', codec: 'PCMA', isSequenceHeader: false, isKeyframe: false }],
    ['PCMU (8<<4)', FLV_TAG_AUDIO, [8 << 4, 0x00, 0xff], { kind: 'audio', codec: 'PCMU', isSequenceHeader: false, isKeyframe: false }],
    ['MP3', FLV_TAG_AUDIO, [0x2f, 0xff, 0xfb], { kind: 'audio', codec: 'MP3', isSequenceHeader: false, isKeyframe: false }],
    ['Speex', FLV_TAG_AUDIO, [0xb2, 0x00], { kind: 'audio', codec: 'SPEEX', isSequenceHeader: false, isKeyframe: false }],
    ['unknown audio format 15', FLV_TAG_AUDIO, [0xf0, 0x00], { kind: 'audio', codec: 'flv-audio-15', isSequenceHeader: false, isKeyframe: false }],
    ['enhanced RTMP Opus sequence start', FLV_TAG_AUDIO, [0x90, ...Buffer.from('Opus'), 1], { kind: 'audio', codec: 'OPUS', isSequenceHeader: true, isKeyframe: false }],
    ['enhanced RTMP Opus coded frame', FLV_TAG_AUDIO, [0x91, ...Buffer.from('Opus'), 1], { kind: 'audio', codec: 'OPUS', isSequenceHeader: false, isKeyframe: false }],
  ])('%s', (_label, type, body, expected) => {
    const tag = readFlvTag(flvTag(type, 0, body))!;
    expect(describeMediaTag(tag)).toEqual(expected);
  });

  it.each([
    ['script tag', flvTag(FLV_TAG_SCRIPT, 0, [0x02, 0x00, 0x00])],
    ['empty video body', flvTag(FLV_TAG_VIDEO, 0, [])],
    ['empty audio body', flvTag(FLV_TAG_AUDIO, 0, [])],
    ['other tag type', flvTag(15, 0, [0x17, 0x01])],
  ])('%s -> null', (_label, buf) => {
    expect(describeMediaTag(readFlvTag(buf)!)).toBeNull();
  });

  it('the helpers of this file describe as intended', () => {
    const d = (b: Buffer) => describeMediaTag(readFlvTag(b)!)!;
    expect(d(avcSeqHeader())).toMatchObject({ kind: 'video', isSequenceHeader: true, isKeyframe: true });
    expect(d(avcKeyframe(0))).toMatchObject({ kind: 'video', isSequenceHeader: false, isKeyframe: true });
    expect(d(avcInterFrame(0))).toMatchObject({ kind: 'video', isSequenceHeader: false, isKeyframe: false });
    expect(d(aacSeqHeader())).toMatchObject({ kind: 'audio', isSequenceHeader: true });
    expect(d(aacFrame(0))).toMatchObject({ kind: 'audio', isSequenceHeader: false });
  });
});

describe('createFlvFileHeader / isFlvFileHeader', () => {
  it.each([
    [true, true, 5],
    [true, false, 4],
    [false, true, 1],
    [false, false, 0],
  ])('audio=%s video=%s -> flags byte %d', (audio, video, flags) => {
    const header = createFlvFileHeader(audio, video);
    expect(header.length).toBe(FLV_FILE_HEADER_SIZE);
    expect(header.subarray(0, 3).toString('latin1')).toBe('FLV');
    expect(header[3]).toBe(1);
    expect(header[4]).toBe(flags);
    expect(header.readUInt32BE(5)).toBe(9);
    expect(header.readUInt32BE(9)).toBe(0);
    expect(header.equals(flvFileHeader(flags))).toBe(true);
    expect(isFlvFileHeader(header)).toBe(true);
  });

  it('each call returns a fresh buffer', () => {
    const a = createFlvFileHeader(true, true);
    a[4] = 0;
    expect(createFlvFileHeader(true, true)[4]).toBe(5);
  });

  it.each([
    ['a tag', aacFrame(0)],
    ['14 bytes starting with FLV', Buffer.concat([flvFileHeader(), Buffer.from([0])])],
    ['12 bytes starting with FLV', flvFileHeader().subarray(0, 12)],
    ['13 bytes not FLV', Buffer.alloc(13)],
  ])('isFlvFileHeader(%s) = false', (_label, buf) => {
    expect(isFlvFileHeader(buf)).toBe(false);
  });
});

describe('firstSpsOfAvcSequenceHeader', () => {
  it('returns the SPS of a hand-built AVCDecoderConfigurationRecord', () => {
    const sps = firstSpsOfAvcSequenceHeader(avcSequenceHeaderBody());
    expect(sps).not.toBeNull();
    expect(sps!.equals(SPS)).toBe(true);
  });

  it('works on the body read from a whole tag', () => {
    const tag = readFlvTag(avcSeqHeader())!;
    expect(firstSpsOfAvcSequenceHeader(tag.body)!.equals(SPS)).toBe(true);
  });

  it('returns the first of two SPS', () => {
    const body = avcSequenceHeaderBody(avcDecoderConfigurationRecord([SPS2, SPS], [PPS]));
    expect(firstSpsOfAvcSequenceHeader(body)!.equals(SPS2)).toBe(true);
  });

  it('ignores the reserved bits of numOfSequenceParameterSets', () => {
    const body = avcSequenceHeaderBody();
    expect(body[10]).toBe(0xe1);
    expect(firstSpsOfAvcSequenceHeader(body)!.equals(SPS)).toBe(true);
  });

  it.each([
    ['no SPS', avcSequenceHeaderBody(avcDecoderConfigurationRecord([], [PPS]))],
    ['too short', Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x64])],
    ['empty', Buffer.alloc(0)],
    ['SPS length beyond the end', avcSequenceHeaderBody().subarray(0, 5 + 8 + SPS.length - 1)],
  ])('%s -> null', (_label, body) => {
    expect(firstSpsOfAvcSequenceHeader(body)).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// flv-start-gate.ts
// ---------------------------------------------------------------------------

/** The gate's output as plain buffers (chunk metadata is checked in its own tests below). */
class BufferGate {
  readonly #gate: FlvStartGate;
  constructor(h: GateHints, audioBufferMax?: number) {
    this.#gate = new FlvStartGate(h, audioBufferMax);
  }
  get started(): boolean {
    return this.#gate.started;
  }
  push(buf: Buffer): Buffer[] {
    return this.#gate.push(buf).map((c) => c.data);
  }
}

describe('FlvStartGate', () => {
  it('drops the 13-byte FLV file header', () => {
    const gate = new BufferGate(hints(true, true));
    expect(gate.push(flvFileHeader())).toEqual([]);
    expect(gate.started).toBe(false);
  });

  it('drops unreadable buffers', () => {
    const gate = new BufferGate(hints(false, true));
    expect(gate.push(Buffer.alloc(0))).toEqual([]);
    expect(gate.push(Buffer.from([1, 2, 3]))).toEqual([]);
    expect(gate.started).toBe(false);
  });

  it('A+V: holds everything until the first video keyframe, then header, audio header, video header, keyframe', () => {
    const gate = new BufferGate(hints(true, true));
    const aSeq = aacSeqHeader(0);
    const vSeq = avcSeqHeader(0);
    const before = [flvFileHeader(), scriptTag(0), aSeq, vSeq, aacFrame(0), avcInterFrame(0), aacFrame(23), avcInterFrame(33), scriptTag(40)];
    for (const buf of before) {
      expect(gate.push(buf)).toEqual([]);
      expect(gate.started).toBe(false);
    }
    const key = avcKeyframe(66);
    const out = gate.push(key);
    expect(gate.started).toBe(true);
    expect(out).toHaveLength(4);
    expect(out[0]!.equals(createFlvFileHeader(true, true))).toBe(true);
    expect(out[0]![4]).toBe(5);
    expect(out[1]).toEqual(aSeq);
    expect(out[2]).toEqual(vSeq);
    expect(out[3]).toBe(key);

    // from now on media passes through unchanged, scripts still dropped
    const after = [aacFrame(70), avcInterFrame(100), avcKeyframe(133), aacSeqHeader(140), avcSeqHeader(150), aacFrame(160)];
    for (const buf of after) {
      const passed = gate.push(buf);
      expect(passed).toHaveLength(1);
      expect(passed[0]).toEqual(buf);
    }
    expect(gate.push(scriptTag(200))).toEqual([]);
    expect(gate.push(flvFileHeader())).toEqual([]);
    expect(gate.started).toBe(true);
  });

  it('the output of a whole A+V feed is header + configs + media from the keyframe on', () => {
    const gate = new BufferGate(hints(true, true));
    const aSeq = aacSeqHeader();
    const vSeq = avcSeqHeader();
    const key = avcKeyframe(100);
    const a1 = aacFrame(110);
    const p1 = avcInterFrame(133);
    const feed = [flvFileHeader(), scriptTag(), vSeq, aSeq, avcInterFrame(33), aacFrame(40), key, a1, scriptTag(120), p1];
    const out = feed.flatMap((b) => gate.push(b));
    expect(out.map((b) => (isFlvFileHeader(b) ? 'H' : b))).toEqual(['H', aSeq, vSeq, key, a1, p1]);
  });

  it('the latest codec configuration before the start is sent', () => {
    const gate = new BufferGate(hints(true, true));
    const aSeq1 = aacSeqHeader(0, [0x12, 0x10]);
    const aSeq2 = aacSeqHeader(0, [0x11, 0x90]);
    const vSeq1 = avcSeqHeader(0);
    const vSeq2 = flvTag(FLV_TAG_VIDEO, 0, avcSequenceHeaderBody(avcDecoderConfigurationRecord([SPS2], [PPS])));
    for (const b of [aSeq1, vSeq1, aSeq2, vSeq2]) expect(gate.push(b)).toEqual([]);
    const key = avcKeyframe(10);
    const out = gate.push(key);
    expect(out.slice(1)).toEqual([aSeq2, vSeq2, key]);
    expect(out[1]).toEqual(aSeq2);
    expect(out[2]).toEqual(vSeq2);
  });

  it('video expected: audio frames before the keyframe are dropped, even before any video header', () => {
    const gate = new BufferGate(hints(true, true));
    const aSeq = aacSeqHeader();
    expect(gate.push(aSeq)).toEqual([]);
    for (let ts = 0; ts < 500; ts += 23) expect(gate.push(aacFrame(ts))).toEqual([]);
    expect(gate.started).toBe(false);
    const vSeq = avcSeqHeader(500);
    expect(gate.push(vSeq)).toEqual([]);
    const key = avcKeyframe(500);
    const out = gate.push(key);
    expect(out[0]![4]).toBe(5);
    expect(out.slice(1)).toEqual([aSeq, vSeq, key]);
  });

  it('video header seen but not announced: audio frames still wait for the keyframe', () => {
    const gate = new BufferGate(hints(false, true));
    const vSeq = avcSeqHeader();
    const aSeq = aacSeqHeader();
    expect(gate.push(vSeq)).toEqual([]);
    expect(gate.push(aSeq)).toEqual([]);
    expect(gate.push(aacFrame(0))).toEqual([]);
    expect(gate.started).toBe(false);
    const key = avcKeyframe(10);
    const out = gate.push(key);
    expect(out[0]![4]).toBe(5);
    expect(out.slice(1)).toEqual([aSeq, vSeq, key]);
  });

  it('audio-only: starts at the first audio frame, header flags audio only', () => {
    const gate = new BufferGate(hints(false, true));
    expect(gate.push(flvFileHeader(0x04))).toEqual([]);
    expect(gate.push(scriptTag())).toEqual([]);
    const aSeq = aacSeqHeader();
    expect(gate.push(aSeq)).toEqual([]);
    expect(gate.started).toBe(false);
    const first = aacFrame(0);
    const out = gate.push(first);
    expect(gate.started).toBe(true);
    expect(out).toHaveLength(3);
    expect(out[0]!.equals(createFlvFileHeader(true, false))).toBe(true);
    expect(out[0]![4]).toBe(4);
    expect(out[1]).toEqual(aSeq);
    expect(out[2]).toBe(first);
    const next = aacFrame(23);
    expect(gate.push(next)).toEqual([next]);
    expect(gate.push(scriptTag(30))).toEqual([]);
  });

  it('audio-only without an AAC sequence header (PCMA): starts at the first frame', () => {
    const gate = new BufferGate(hints(false, false));
    const first = flvTag(FLV_TAG_AUDIO, 0, [0x72, 0xd5, 0xd5, 0xd5]);
    const out = gate.push(first);
    expect(out).toHaveLength(2);
    expect(out[0]![4]).toBe(4); // audio seen, though not announced
    expect(out[1]).toBe(first);
  });

  it('video-only: header flags video only', () => {
    const gate = new BufferGate(hints(true, false));
    const vSeq = avcSeqHeader();
    expect(gate.push(vSeq)).toEqual([]);
    expect(gate.push(avcInterFrame(0))).toEqual([]);
    const key = avcKeyframe(33);
    const out = gate.push(key);
    expect(out).toHaveLength(3);
    expect(out[0]!.equals(createFlvFileHeader(false, true))).toBe(true);
    expect(out[0]![4]).toBe(1);
    expect(out[1]).toEqual(vSeq);
    expect(out[2]).toBe(key);
  });

  it('audio announced but not seen yet: the start waits for the first audio frame, which then follows the held video', () => {
    const gate = new BufferGate(hints(true, true));
    const vSeq = avcSeqHeader();
    const key = avcKeyframe(0);
    const p1 = avcInterFrame(33);
    const a1 = aacFrame(10);
    gate.push(vSeq);
    expect(gate.push(key)).toEqual([]);
    expect(gate.push(p1)).toEqual([]);
    const out = gate.push(a1);
    expect(out[0]![4]).toBe(5);
    expect(out.slice(1)).toEqual([vSeq, key, p1, a1]);
  });

  it('announced audio that never comes: the start waits at most 1 s of video, then goes on without it', () => {
    const gate = new BufferGate(hints(true, true));
    gate.push(avcSeqHeader());
    expect(gate.push(avcKeyframe(0))).toEqual([]);
    for (let ts = 33; ts < 1000; ts += 33) expect(gate.push(avcInterFrame(ts))).toEqual([]);
    const out = gate.push(avcInterFrame(1000));
    expect(out[0]![4]).toBe(5);
    expect(out).toHaveLength(2 + 1 + 31);
    expect(gate.started).toBe(true);
  });

  it('keyframe without a video sequence header: header says video, no configs', () => {
    const gate = new BufferGate(hints(true, false));
    const key = avcKeyframe(0);
    const out = gate.push(key);
    expect(out).toHaveLength(2);
    expect(out[0]![4]).toBe(1);
    expect(out[1]).toBe(key);
  });

  it('script tags are dropped before and after the start', () => {
    const gate = new BufferGate(hints(false, true));
    for (let i = 0; i < 3; i++) expect(gate.push(scriptTag(i))).toEqual([]);
    expect(gate.push(aacFrame(0))).toHaveLength(2);
    for (let i = 0; i < 3; i++) expect(gate.push(scriptTag(100 + i))).toEqual([]);
  });

  it('hints are asked at the time of each frame', () => {
    let video = true;
    const gate = new BufferGate({ videoExpected: () => video, audioExpected: () => true });
    expect(gate.push(aacFrame(0))).toEqual([]);
    video = false; // e.g. the metadata turned out to be audio-only
    const frame = aacFrame(23);
    const out = gate.push(frame);
    expect(out).toHaveLength(2);
    expect(out[0]![4]).toBe(4);
    expect(out[1]).toBe(frame);
  });
});

// ---------------------------------------------------------------------------
// flv-start-gate.ts: chunk metadata (kind, track, keyframe, timestamps)
// ---------------------------------------------------------------------------

describe('FlvStartGate: chunk metadata', () => {
  /** The fields a consumer of the gate uses, without the data. */
  const meta = (c: { kind: string; track: string; keyframe: boolean }) => ({ kind: c.kind, track: c.track, keyframe: c.keyframe });

  it('A+V start: header (track none), config audio, config video, then the keyframe as media', () => {
    const gate = new FlvStartGate(hints(true, true));
    const aSeq = aacSeqHeader(0);
    const vSeq = avcSeqHeader(0);
    for (const b of [flvFileHeader(), scriptTag(0), aSeq, vSeq, avcInterFrame(0)]) expect(gate.push(b)).toEqual([]);
    const key = avcKeyframe(66);
    const out = gate.push(key);
    expect(out.map(meta)).toEqual([
      { kind: 'header', track: 'none', keyframe: false },
      { kind: 'config', track: 'audio', keyframe: false },
      { kind: 'config', track: 'video', keyframe: false },
      { kind: 'media', track: 'video', keyframe: true },
    ]);
    expect(out[0]!.data.equals(createFlvFileHeader(true, true))).toBe(true);
    // sequence headers are kept for the whole stream: copies, not views that pin the publisher's slab
    const [aCopy, vCopy] = [Buffer.from(aSeq), Buffer.from(vSeq)];
    aSeq.fill(0);
    vSeq.fill(0);
    expect(out[1]!.data.equals(aCopy)).toBe(true);
    expect(out[2]!.data.equals(vCopy)).toBe(true);
    expect(out[3]!.data).toBe(key);
    expect(out[3]!.timestampMs).toBe(66);
    expect(out[3]!.endTimestampMs).toBe(66);
  });

  it.each([0, 66, 0xffffff, 0x1000000, 0x7fffffff])('the first media chunk carries the keyframe tag timestamp %d', (ts) => {
    const gate = new FlvStartGate(hints(true, false));
    gate.push(avcSeqHeader(ts));
    const out = gate.push(avcKeyframe(ts));
    const first = out.find((c) => c.kind === 'media')!;
    expect(first).toMatchObject({ track: 'video', keyframe: true, timestampMs: ts });
  });

  it('A+V after the start: inter frames false, keyframes true, audio false, late sequence headers are config', () => {
    const gate = new FlvStartGate(hints(true, true));
    gate.push(aacSeqHeader(0));
    gate.push(avcSeqHeader(0));
    gate.push(avcKeyframe(0));
    expect(gate.started).toBe(true);
    const feed: [Buffer, { kind: string; track: string; keyframe: boolean }, number | null][] = [
      [aacFrame(21), { kind: 'media', track: 'audio', keyframe: false }, 21],
      [avcInterFrame(33), { kind: 'media', track: 'video', keyframe: false }, 33],
      [aacFrame(43), { kind: 'media', track: 'audio', keyframe: false }, 43],
      [avcInterFrame(66), { kind: 'media', track: 'video', keyframe: false }, 66],
      [avcKeyframe(2000), { kind: 'media', track: 'video', keyframe: true }, 2000],
      [aacSeqHeader(2010, [0x11, 0x90]), { kind: 'config', track: 'audio', keyframe: false }, null],
      [avcSeqHeader(2020), { kind: 'config', track: 'video', keyframe: false }, null],
      [avcKeyframe(2020), { kind: 'media', track: 'video', keyframe: true }, 2020],
      [aacFrame(2030), { kind: 'media', track: 'audio', keyframe: false }, 2030],
      [avcInterFrame(2053), { kind: 'media', track: 'video', keyframe: false }, 2053],
    ];
    for (const [buf, expected, ts] of feed) {
      const out = gate.push(buf);
      expect(out).toHaveLength(1);
      expect(meta(out[0]!)).toEqual(expected);
      expect(out[0]!.data).toEqual(buf);
      if (ts !== null) {
        expect(out[0]!.timestampMs).toBe(ts);
        expect(out[0]!.endTimestampMs).toBe(ts);
      }
    }
  });

  it('video header seen but not announced: audio after the start is not a keyframe', () => {
    const gate = new FlvStartGate(hints(false, true));
    gate.push(avcSeqHeader(0));
    gate.push(avcKeyframe(0));
    // the announced audio released the held keyframe; the audio frame comes last
    expect(meta(gate.push(aacFrame(20)).at(-1)!)).toEqual({ kind: 'media', track: 'audio', keyframe: false });
    expect(meta(gate.push(aacFrame(43))[0]!)).toEqual({ kind: 'media', track: 'audio', keyframe: false });
  });

  it('audio-only: header, audio config, first frame (keyframe); every later audio frame is a keyframe', () => {
    const gate = new FlvStartGate(hints(false, true));
    const aSeq = aacSeqHeader(0);
    expect(gate.push(aSeq)).toEqual([]);
    const out = gate.push(aacFrame(5));
    expect(out.map(meta)).toEqual([
      { kind: 'header', track: 'none', keyframe: false },
      { kind: 'config', track: 'audio', keyframe: false },
      { kind: 'media', track: 'audio', keyframe: true },
    ]);
    expect(out[0]!.data.equals(createFlvFileHeader(true, false))).toBe(true);
    expect(out[2]!.timestampMs).toBe(5);
    for (const ts of [28, 51, 74, 97]) {
      const next = gate.push(aacFrame(ts));
      expect(next).toHaveLength(1);
      expect(next[0]).toMatchObject({ kind: 'media', track: 'audio', keyframe: true, timestampMs: ts, endTimestampMs: ts });
    }
    // a new AAC configuration mid-stream is passed on as config
    expect(gate.push(aacSeqHeader(100, [0x11, 0x90])).map(meta)).toEqual([{ kind: 'config', track: 'audio', keyframe: false }]);
  });

  it('audio-only without sequence header (PCMA): header then media keyframe', () => {
    const gate = new FlvStartGate(hints(false, false));
    const out = gate.push(flvTag(FLV_TAG_AUDIO, 40, [0x72, 0xd5, 0xd5]));
    expect(out.map(meta)).toEqual([
      { kind: 'header', track: 'none', keyframe: false },
      { kind: 'media', track: 'audio', keyframe: true },
    ]);
    expect(out[1]!.timestampMs).toBe(40);
  });
});

describe('FlvStartGate: record_audio_buffer_max_size (audio held before the first keyframe)', () => {
  /** Audio media chunks emitted right after the keyframe, as timestamps. */
  function afterKeyframe(out: ReturnType<FlvStartGate['push']>): number[] {
    const k = out.findIndex((c) => c.kind === 'media' && c.track === 'video');
    expect(k).toBeGreaterThanOrEqual(0);
    const rest = out.slice(k + 1);
    for (const c of rest) expect(c).toMatchObject({ kind: 'media', track: 'audio', keyframe: false });
    return rest.map((c) => c.timestampMs);
  }

  it('frames at or past the keyframe timestamp are emitted right after it in arrival order, earlier ones dropped', () => {
    const gate = new FlvStartGate(hints(true, true));
    gate.push(aacSeqHeader(0));
    gate.push(avcSeqHeader(0));
    const frames = [aacFrame(80), aacFrame(90), aacFrame(120), aacFrame(100), aacFrame(99), aacFrame(140)];
    for (const f of frames) expect(gate.push(f)).toEqual([]);
    const out = gate.push(avcKeyframe(100));
    expect(out.map((c) => c.kind)).toEqual(['header', 'config', 'config', 'media', 'media', 'media', 'media']);
    expect(out[3]).toMatchObject({ track: 'video', keyframe: true, timestampMs: 100 });
    expect(afterKeyframe(out)).toEqual([120, 100, 140]);
    expect(out[4]!.data).toEqual(frames[2]);
    expect(out[5]!.data).toEqual(frames[3]);
    expect(out[6]!.data).toEqual(frames[5]);
    expect(out[4]!.endTimestampMs).toBe(120);
  });

  it('the held frames are emitted once: the next frames pass through alone', () => {
    const gate = new FlvStartGate(hints(true, true));
    gate.push(aacFrame(110));
    expect(afterKeyframe(gate.push(avcKeyframe(100)))).toEqual([110]);
    const next = gate.push(aacFrame(130));
    expect(next).toHaveLength(1);
    expect(next[0]!.timestampMs).toBe(130);
    expect(gate.push(avcKeyframe(200))).toHaveLength(1);
  });

  it.each<[string, number | undefined, number[], number, number[]]>([
    // [label, audioBufferMax, arrival timestamps, keyframe ts, emitted]
    ['max 2 keeps the latest two', 2, [100, 110, 120, 130], 100, [120, 130]],
    ['max 2: of the latest two, one is before the keyframe', 2, [110, 120, 90], 100, [120]],
    ['max 2: fewer frames than the max', 2, [105], 100, [105]],
    ['max 2: the latest two are both before the keyframe', 2, [150, 160, 50, 60], 100, []],
    ['max 0 keeps nothing', 0, [100, 110, 120], 100, []],
    ['max 1', 1, [100, 110, 120], 100, [120]],
    ['default (100)', undefined, [100, 110, 120], 100, [100, 110, 120]],
  ])('%s', (_label, max, arrivals, keyTs, emitted) => {
    const gate = max === undefined ? new FlvStartGate(hints(true, true)) : new FlvStartGate(hints(true, true), max);
    gate.push(avcSeqHeader(0));
    for (const ts of arrivals) expect(gate.push(aacFrame(ts))).toEqual([]);
    expect(afterKeyframe(gate.push(avcKeyframe(keyTs)))).toEqual(emitted);
  });

  it('default max is 100 frames (the WCS default record_audio_buffer_max_size=100)', () => {
    const gate = new FlvStartGate(hints(true, true));
    const arrivals = Array.from({ length: 150 }, (_v, i) => 1000 + i);
    for (const ts of arrivals) gate.push(aacFrame(ts));
    expect(afterKeyframe(gate.push(avcKeyframe(1000)))).toEqual(arrivals.slice(50));
  });

  it('audio-only streams hold nothing: each frame goes out at once', () => {
    const gate = new FlvStartGate(hints(false, true), 2);
    expect(gate.push(aacFrame(0)).at(-1)).toMatchObject({ kind: 'media', track: 'audio', keyframe: true, timestampMs: 0 });
    expect(gate.push(aacFrame(23))).toHaveLength(1);
  });
});

describe('FlvStartGate.pushTag: what the live broadcast read of a tag, not parsed again', () => {
  /** Hands `tags` to a broadcast with two gates behind it: one parses each tag (push), one takes the broadcast's reading (pushTag). */
  function bothWays(tags: Buffer[], gateHints: GateHints): { parsed: MediaChunk[]; told: MediaChunk[] } {
    const b = new LiveBroadcast('/live/g', 60_000, { finished: () => undefined, empty: () => undefined });
    b.publish({ address: '127.0.0.1' });
    const parsing = new FlvStartGate(gateHints, 3);
    const told = new FlvStartGate(gateHints, 3);
    const out = { parsed: [] as MediaChunk[], told: [] as MediaChunk[] };
    b.addFlv((tag, kind, ts) => {
      out.parsed.push(...parsing.push(Buffer.from(tag)));
      out.told.push(...told.pushTag(Buffer.from(tag), kind, ts));
    });
    for (const t of tags) {
      const type = t[0]! & 0x1f;
      const ts = ((t[7]! << 24) | t.readUIntBE(4, 3)) >>> 0;
      const region = Buffer.from(t); // header room, body, trailer room: the tag itself
      if (type === FLV_TAG_SCRIPT) b.data(ts, region.subarray(11, region.length - 4));
      else b.media(type, ts, region);
    }
    return out;
  }

  it('gives the same chunks as push() for every kind of tag, enhanced RTMP and odd video messages included', () => {
    const hevcHeader = flvTag(FLV_TAG_VIDEO, 0, [0x90, ...Buffer.from('hvc1'), 1, 2, 3]);
    const hevcKey = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0x91, ...Buffer.from('hvc1'), 0, 0, 0, 9, 9]);
    const hevcInter = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0xa3, ...Buffer.from('hvc1'), 9, 9]);
    const hevcMeta = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0x94, ...Buffer.from('hvc1'), 1]);
    const avcEnd = (ts: number) => flvTag(FLV_TAG_VIDEO, ts, [0x17, 0x02, 0, 0, 0]);
    const streams: [string, Buffer[], GateHints][] = [
      ['H.264 + AAC, audio first', [scriptTag(), aacSeqHeader(), aacFrame(0), avcSeqHeader(), aacFrame(21), avcInterFrame(30), avcKeyframe(40), aacFrame(42), avcInterFrame(73), aacSeqHeader(80, [0x11, 0x90]), aacFrame(85), avcEnd(90), avcKeyframe(100)], hints(true, true)],
      ['H.265 over enhanced RTMP', [hevcHeader, hevcInter(0), hevcKey(33), hevcMeta(40), hevcInter(66), aacSeqHeader(), aacFrame(70)], hints(true, false)],
      ['audio only', [aacSeqHeader(), aacFrame(0), aacFrame(23), aacFrame(46)], hints(false, true)],
      ['announced audio that comes late', [avcSeqHeader(), avcKeyframe(0), avcInterFrame(33), flvTag(FLV_TAG_AUDIO, 50, [0x82, 1, 2, 3]), avcInterFrame(66)], hints(true, true)],
    ];
    for (const [what, tags, h] of streams) {
      const { parsed, told } = bothWays(tags, h);
      expect(parsed.length, what).toBeGreaterThan(0);
      expect(told, what).toEqual(parsed);
    }
  });
});
