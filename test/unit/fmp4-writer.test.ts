import { describe, expect, it } from 'vitest';
import { parseBoxes, serializeBox } from '../../src/recording/mp4/box-tree.js';
import { buildMoov } from '../../src/recording/mp4/moov-builder.js';
import { addFragment, fragmentedTracks, TrackSamples } from '../../src/recording/mp4/fragment-index.js';
import { Fmp4InputError, Fmp4Writer, headerTimes, MP4_EPOCH_OFFSET_S, parseAudioSpecificConfig } from '../../src/recording/mp4/fmp4-writer.js';

function tag(type: 8 | 9, timestamp: number, body: Buffer): Buffer {
  const t = Buffer.alloc(11 + body.length + 4);
  t[0] = type;
  t.writeUIntBE(body.length, 1, 3);
  t.writeUIntBE(timestamp & 0xffffff, 4, 3);
  t[7] = (timestamp >>> 24) & 0xff;
  body.copy(t, 11);
  t.writeUInt32BE(11 + body.length, 11 + body.length);
  return t;
}
const avcConfig = (): Buffer => tag(9, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80]));
const video = (ms: number, key: boolean, cto = 0): Buffer => {
  const b = Buffer.alloc(5 + 8);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  b.writeIntBE(cto, 2, 3);
  b.writeUInt32BE(4, 5);
  b.writeUInt32BE(ms, 9);
  return tag(9, ms, b);
};
const aacConfig = (): Buffer => tag(8, 0, Buffer.from([0xaf, 0, 0x12, 0x10]));
const audio = (ms: number): Buffer => tag(8, ms, Buffer.from([0xaf, 1, 1, 2, 3]));

/** Parses what the writer produced the way the finisher does. */
function read(bytes: Buffer): { tables: Map<number, TrackSamples>; fragments: number; moov: ReturnType<typeof parseBoxes>[number] } {
  const boxes = parseBoxes(bytes);
  const moov = boxes.find((b) => b.type === 'moov')!;
  const tables = new Map([...fragmentedTracks(moov)].map(([id, t]) => [id, new TrackSamples(t)]));
  let offset = 0;
  let fragments = 0;
  for (const b of boxes) {
    if (b.type === 'moof') {
      addFragment(b, offset, tables);
      fragments++;
    }
    offset += bytes.readUInt32BE(offset);
  }
  return { tables, fragments, moov };
}

describe('AAC AudioSpecificConfig', () => {
  it('reads sample rate and channels, explicit frequencies too', () => {
    expect(parseAudioSpecificConfig(Buffer.from([0x12, 0x10]))).toEqual({ sampleRate: 44100, channels: 2 });
    expect(parseAudioSpecificConfig(Buffer.from([0x11, 0x88]))).toEqual({ sampleRate: 48000, channels: 1 });
    // index 15: object type 2, 24-bit frequency 22000, channel configuration 2 (37 bits, left-aligned in 5 bytes)
    const bits = ((2n << 32n) | (15n << 28n) | (22000n << 4n) | 2n) << 3n;
    const explicit = Buffer.alloc(5);
    for (let i = 0; i < 5; i++) explicit[i] = Number((bits >> BigInt(8 * (4 - i))) & 0xffn);
    expect(parseAudioSpecificConfig(explicit)).toEqual({ sampleRate: 22000, channels: 2 });
    expect(() => parseAudioSpecificConfig(Buffer.from([0x17, 0x90]))).toThrow(Fmp4InputError);
  });
});

describe('FLV tags to fragmented MP4', () => {
  it('writes ftyp+moov with the first fragment, cuts fragments at keyframes and at 500 ms, and keeps every sample', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: true, width: 640, height: 360 });
    const out: Buffer[] = [];
    out.push(...w.push(avcConfig()), ...w.push(aacConfig()));
    expect(out).toEqual([]);
    let videoCount = 0;
    let audioCount = 0;
    for (let ms = 0; ms < 3000; ms++) {
      if (ms % 40 === 0) {
        out.push(...w.push(video(ms, ms % 1000 === 0)));
        videoCount++;
      }
      if (ms % 23 === 5) {
        out.push(...w.push(audio(ms)));
        audioCount++;
      }
    }
    out.push(...w.end());
    const bytes = Buffer.concat(out);
    expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
    const { tables, fragments } = read(bytes);
    expect(tables.get(1)!.count).toBe(videoCount);
    expect(tables.get(2)!.count).toBe(audioCount);
    // 3 s with keyframes each second: at least 2 fragments per second (500 ms)
    expect(fragments).toBeGreaterThanOrEqual(6);
    // sync samples: the keyframes at 0, 1000, 2000 ms
    expect(tables.get(1)!.syncNumbers).toEqual([1, 26, 51]);
    // 90 kHz video: 40 ms per frame
    expect(new Set(tables.get(1)!.durations.slice(0, -1))).toEqual(new Set([3600]));
    expect(tables.get(1)!.mediaDuration).toBe(videoCount * 3600);
  });

  it('every fragment with video starts at a keyframe (frag_keyframe): the frame before a keyframe ends the fragment before it', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: true, width: 640, height: 360 });
    const out: Buffer[] = [...w.push(avcConfig()), ...w.push(aacConfig())];
    // a keyframe every 400 ms: shorter than the 500 ms fragment, so every cut is a keyframe's
    for (let ms = 0; ms < 4000; ms++) {
      if (ms % 40 === 0) out.push(...w.push(video(ms, ms % 400 === 0)));
      if (ms % 23 === 5) out.push(...w.push(audio(ms)));
    }
    out.push(...w.end());
    const bytes = Buffer.concat(out);
    const boxes = parseBoxes(bytes);
    const moov = boxes.find((b) => b.type === 'moov')!;
    const tables = new Map([...fragmentedTracks(moov)].map(([id, t]) => [id, new TrackSamples(t)]));
    const firsts: number[] = [];
    let offset = 0;
    for (const b of boxes) {
      if (b.type === 'moof') {
        const before = tables.get(1)!.count;
        addFragment(b, offset, tables);
        if (tables.get(1)!.count > before) firsts.push(before + 1);
      }
      offset += bytes.readUInt32BE(offset);
    }
    expect(firsts.length).toBe(10);
    const sync = tables.get(1)!.syncNumbers;
    expect(sync).toEqual([1, 11, 21, 31, 41, 51, 61, 71, 81, 91]);
    expect(firsts).toEqual(sync);
  });

  it('a fragment of hundreds of samples (its columns grow) carries every sample, each sample\'s bytes from its own tag', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: false, width: 640, height: 360, fragmentMs: 60_000 });
    const out: Buffer[] = [...w.push(avcConfig())];
    for (let i = 0; i < 500; i++) out.push(...w.push(video(i * 40, i === 0)));
    out.push(...w.end());
    const bytes = Buffer.concat(out);
    const { tables, fragments } = read(bytes);
    expect(fragments).toBe(1);
    const t = tables.get(1)!;
    expect(t.count).toBe(500);
    expect(t.syncNumbers).toEqual([1]);
    // each sample is the tag's body after its 5-byte AVC header: a length-prefixed NAL holding the frame's own time
    let at = t.chunks[0]![0];
    for (let i = 0; i < 500; i++) {
      expect(t.sizes[i]).toBe(8);
      expect(bytes.readUInt32BE(at + 4)).toBe(i * 40);
      at += 8;
    }
  });

  it('a timestamp jumping past what a 32-bit sample duration holds is shortened, not thrown on', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: false, width: 640, height: 360 });
    const out: Buffer[] = [...w.push(avcConfig())];
    out.push(...w.push(video(0, true)), ...w.push(video(40, false)));
    // FLV's extended timestamp allows 0xffffffff ms: at 90 kHz far beyond 32 bits
    expect(() => out.push(...w.push(video(0xffffff00, true)), ...w.push(video(0xffffff00 + 40, false)), ...w.end())).not.toThrow();
    const { tables } = read(Buffer.concat(out));
    expect(tables.get(1)!.count).toBe(4);
    expect(Math.max(...tables.get(1)!.durations)).toBe(0xffffffff);
  });

  it('AAC frames on whole-millisecond FLV timestamps follow each other sample-exactly; a real gap is kept', () => {
    const w = new Fmp4Writer({ hasVideo: false, hasAudio: true, width: 0, height: 0 });
    w.push(aacConfig());
    const out: Buffer[] = [];
    // 44.1 kHz: a frame is 23.22 ms, FLV says 0, 23, 46, 70, 93, ...
    for (let i = 0; i < 200; i++) out.push(...w.push(audio(Math.round((i * 1024 * 1000) / 44100))));
    // then a 500 ms hole in the stream
    for (let i = 0; i < 50; i++) out.push(...w.push(audio(Math.round(((200 + i) * 1024 * 1000) / 44100) + 500)));
    out.push(...w.end());
    const t = read(Buffer.concat(out)).tables.get(1)!;
    expect(t.count).toBe(250);
    const durations = t.durations;
    expect(durations.slice(0, 199).every((d) => d === 1024)).toBe(true);
    // the hole: about 500 ms more than one frame, at 44.1 kHz
    expect(Math.abs(durations[199]! - (1024 + 22050))).toBeLessThanOrEqual(45);
    expect(durations.slice(200, 249).every((d) => d === 1024)).toBe(true);
  });

  it('drops samples whose timestamps do not move forward, and refuses frames before their configuration', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: false, width: 0, height: 0 });
    expect(() => w.push(video(0, true))).toThrow(/before its sequence header/);
    w.push(avcConfig());
    const out = [...w.push(video(0, true)), ...w.push(video(40, false)), ...w.push(video(40, false)), ...w.push(video(20, false)), ...w.push(video(80, false)), ...w.end()];
    expect(w.droppedSamples).toBe(2);
    expect(read(Buffer.concat(out)).tables.get(1)!.count).toBe(3);
  });

  it('places a track that starts later with an empty edit, and cuts the first B-frame delay like delay_moov', () => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: true, width: 0, height: 0 });
    w.push(avcConfig());
    w.push(aacConfig());
    const out = [...w.push(audio(100)), ...w.push(video(100, true, 66)), ...w.push(audio(123)), ...w.push(video(140, false, 66)), ...w.end()];
    const { moov } = read(Buffer.concat(out));
    const elst = (i: number): Buffer => moov.children!.filter((c) => c.type === 'trak')[i]!.children!.find((c) => c.type === 'edts')!.children![0]!.payload!;
    // video: presented at 100 + 66 ms, 66 ms after the audio: an empty edit of 66 ms, then media from its first composition time
    const v = elst(0);
    expect(v.readUInt32BE(4)).toBe(2);
    expect([v.readUInt32BE(8), v.readInt32BE(12)]).toEqual([66, -1]);
    expect([v.readUInt32BE(20), v.readInt32BE(24)]).toEqual([0, 66 * 90]);
    const a = elst(1);
    expect(a.readUInt32BE(4)).toBe(1);
    expect([a.readUInt32BE(8), a.readInt32BE(12)]).toEqual([0, 0]);
  });
});

describe('creation and modification time (issue 18: single-stream MP4 said 0)', () => {
  type Node = ReturnType<typeof parseBoxes>[number];
  const child = (node: Node, ...types: string[]): Buffer => {
    let at = node;
    for (const type of types) at = at.children!.find((c) => c.type === type)!;
    return at.payload as Buffer;
  };
  /** version, creation, modification and (for mvhd/mdhd) timescale of a header box. */
  const times = (p: Buffer, withTrackId: boolean): { version: number; creation: number; modification: number; timescale?: number } => {
    if (p[0] === 1) {
      return { version: 1, creation: Number(p.readBigUInt64BE(4)), modification: Number(p.readBigUInt64BE(12)), ...(withTrackId ? {} : { timescale: p.readUInt32BE(20) }) };
    }
    return { version: 0, creation: p.readUInt32BE(4), modification: p.readUInt32BE(8), ...(withTrackId ? {} : { timescale: p.readUInt32BE(12) }) };
  };
  const recordAll = (creationTime: Date | undefined): ReturnType<typeof read> => {
    const w = new Fmp4Writer({ hasVideo: true, hasAudio: true, width: 640, height: 360, ...(creationTime ? { creationTime } : {}) });
    const out: Buffer[] = [...w.push(avcConfig()), ...w.push(aacConfig())];
    for (let ms = 0; ms < 1200; ms += 40) out.push(...w.push(video(ms, ms % 1000 === 0)), ...w.push(audio(ms + 5)));
    out.push(...w.end());
    return read(Buffer.concat(out));
  };
  const record = (creationTime: Date | undefined): Node => recordAll(creationTime).moov;

  it('mvhd, every tkhd and mdhd carry the wall-clock start in seconds since 1904, in the live moov and the finished one', () => {
    const start = new Date('2026-12-06T22:10:05.700Z');
    const expected = Math.floor(start.getTime() / 1000) + 2082844800;
    expect(MP4_EPOCH_OFFSET_S).toBe(Date.UTC(1970, 0, 1) / 1000 - Date.UTC(1904, 0, 1) / 1000);
    const { moov: live, tables } = recordAll(start);
    const check = (moov: Node): void => {
      expect(times(child(moov, 'mvhd'), false)).toEqual({ version: 0, creation: expected, modification: expected, timescale: 1000 });
      const traks = moov.children!.filter((c) => c.type === 'trak');
      expect(traks).toHaveLength(2);
      for (const trak of traks) {
        expect(times(child(trak, 'tkhd'), true)).toMatchObject({ version: 0, creation: expected, modification: expected });
        expect(times(child(trak, 'mdia', 'mdhd'), false)).toMatchObject({ version: 0, creation: expected, modification: expected });
      }
    };
    check(live);
    // the finisher (and recovery, which finishes the temp file) keeps the live moov's headers
    const finished = buildMoov(live, tables, { mapOffset: (o) => o, co64: false });
    check(parseBoxes(serializeBox(finished))[0]!);
  });

  it('switches to version 1 (64-bit) boxes once the time no longer fits 32 bits (2040-02-06)', () => {
    expect(headerTimes(new Date('2040-02-06T06:28:15Z')).version).toBe(0);
    const late = new Date('2040-02-06T06:28:16Z');
    expect(headerTimes(late).version).toBe(1);
    const moov = record(late);
    const seconds = Math.floor(late.getTime() / 1000) + MP4_EPOCH_OFFSET_S;
    expect(seconds).toBe(2 ** 32);
    expect(times(child(moov, 'mvhd'), false)).toEqual({ version: 1, creation: seconds, modification: seconds, timescale: 1000 });
    const trak = moov.children!.find((c) => c.type === 'trak')!;
    expect(child(trak, 'tkhd').readUInt32BE(20)).toBe(1); // track_ID after the two 64-bit times
    expect(times(child(trak, 'mdia', 'mdhd'), false)).toEqual({ version: 1, creation: seconds, modification: seconds, timescale: 90000 });
  });

  it('without a start time the fields stay 0 (unknown), as before', () => {
    expect(times(child(record(undefined), 'mvhd'), false)).toMatchObject({ version: 0, creation: 0, modification: 0 });
  });
});
