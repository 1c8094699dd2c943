import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAME_INTERVAL_MS, PauseClock, type TimedChunk } from '../../src/recording/pause-clock.js';
import { clusterTimecode, flvTagTimestamp, retimeChunk, retimeCluster, retimeFlvTag } from '../../src/recording/retime-chunk.js';
import { parseCluster } from '../../src/ingest/webm/webm-chunker.js';
import type { MediaChunk } from '../../src/streams/media-tap.js';

function video(ts: number, keyframe = false): TimedChunk {
  return { track: 'video', keyframe, timestampMs: ts, endTimestampMs: ts };
}
function audio(ts: number): TimedChunk {
  return { track: 'audio', keyframe: false, timestampMs: ts, endTimestampMs: ts };
}

/** Feeds chunks; returns the record timestamps of those written (null = left out). */
function feed(clock: PauseClock, chunks: TimedChunk[]): (number | null)[] {
  return chunks.map((c) => {
    const a = clock.admit(c);
    if (a) clock.written(c.track, a.endTimestampMs);
    return a ? a.timestampMs : null;
  });
}

describe('PauseClock', () => {
  it('passes everything unshifted while never paused', () => {
    const clock = new PauseClock();
    expect(feed(clock, [video(0, true), audio(10), video(40), audio(33), video(80)])).toEqual([0, 10, 40, 33, 80]);
    expect(clock.offsetMs).toBe(0);
    expect(clock.pauses).toEqual([]);
  });

  it('leaves out everything while paused, continues at the next keyframe one frame interval after the last written frame', () => {
    const clock = new PauseClock();
    // 25 fps video, GOP of 1 s
    feed(clock, [0, 40, 80, 120].map((t, i) => video(t, i === 0)));
    expect(clock.pause(5000)).toBe(true);
    // the cut comes at the next video frame (no B-frames here: any next frame)
    expect(clock.mode).toBe('pausing');
    // paused: nothing passes, keyframes neither
    expect(feed(clock, [video(160), video(1000, true), video(1040)])).toEqual([null, null, null]);
    expect(clock.mode).toBe('paused');
    expect(clock.resume(8000)).toBe(true);
    expect(clock.mode).toBe('resuming');
    // resumed: waits for a keyframe
    expect(feed(clock, [video(3040), video(3080)])).toEqual([null, null]);
    expect(feed(clock, [video(4000, true), video(4040), video(4080)])).toEqual([160, 200, 240]);
    expect(clock.mode).toBe('recording');
    expect(clock.offsetMs).toBe(3840);
    expect(clock.pauses).toEqual([
      { pausedAt: 5000, resumedAt: 8000, atMs: 120, pausedAtStreamMs: 120, resumedAtStreamMs: 4000, skippedMs: 3840 },
    ]);
    expect(clock.lastStreamTimestampMs).toBe(4080);
  });

  it('keeps the timeline monotonic per track: late audio from before the resume keyframe is left out', () => {
    const clock = new PauseClock();
    feed(clock, [video(0, true), audio(10), video(40), audio(33), video(80), audio(56)]);
    clock.pause(0);
    expect(feed(clock, [video(120)])).toEqual([null]);
    clock.resume(0);
    // audio of 1990 arrives after the keyframe of 2000: left out; audio after it shifts with the video
    const out = feed(clock, [audio(1980), video(2000, true), audio(1990), audio(2013), video(2040)]);
    expect(out).toEqual([null, 120, null, 133, 160]);
  });

  it('never places the continuation before media of another track already written', () => {
    const clock = new PauseClock();
    // audio ran ahead of video before the pause
    feed(clock, [video(0, true), video(40), audio(300)]);
    clock.pause(0);
    feed(clock, [video(80)]);
    clock.resume(0);
    const [key] = feed(clock, [video(5000, true)]);
    expect(key).toBe(301);
  });

  it('adds the pauses up; the record timeline stays continuous across several', () => {
    const clock = new PauseClock();
    feed(clock, [video(0, true), video(40)]);
    clock.pause(1);
    feed(clock, [video(80)]);
    clock.resume(2);
    expect(feed(clock, [video(1000, true), video(1040)])).toEqual([80, 120]);
    clock.pause(3);
    feed(clock, [video(1080)]);
    clock.resume(4);
    expect(feed(clock, [video(3000, true), video(3040)])).toEqual([160, 200]);
    expect(clock.pauses.map((p) => p.skippedMs)).toEqual([920, 1920]);
    expect(clock.offsetMs).toBe(920 + 1920);
    expect(clock.pauses.map((p) => p.atMs)).toEqual([40, 120]);
  });

  it('refuses pause when paused and resume when not paused', () => {
    const clock = new PauseClock();
    expect(clock.resume(0)).toBe(false);
    expect(clock.pause(0)).toBe(true);
    expect(clock.pause(0)).toBe(false);
    expect(clock.resume(0)).toBe(true);
    // waiting for the keyframe: not resumable twice; a pause takes the resume back (the same pause goes on)
    expect(clock.resume(0)).toBe(false);
    expect(clock.pause(5)).toBe(true);
    expect(clock.mode).toBe('paused');
    expect(clock.pauses).toHaveLength(1);
    expect(clock.pauses[0]!.resumedAt).toBeNull();
  });

  it('a pause before anything was written shifts nothing', () => {
    const clock = new PauseClock();
    clock.pause(0);
    clock.resume(0);
    expect(feed(clock, [video(7000, true), video(7040)])).toEqual([7000, 7040]);
    expect(clock.pauses[0]!.skippedMs).toBe(0);
  });

  it('uses the default frame interval when a track had one frame only, and ignores holes as intervals', () => {
    const clock = new PauseClock();
    feed(clock, [video(0, true)]);
    clock.pause(0);
    feed(clock, [video(40)]);
    clock.resume(0);
    expect(feed(clock, [video(9000, true)])).toEqual([DEFAULT_FRAME_INTERVAL_MS]);
    const holes = new PauseClock();
    feed(holes, [video(0, true), video(40), video(5040)]);
    holes.pause(0);
    feed(holes, [video(5080)]);
    holes.resume(0);
    expect(feed(holes, [video(9000, true)])).toEqual([5080]);
  });

  it('audio-only feeds: any chunk is a keyframe; the continuation comes one audio frame later', () => {
    const clock = new PauseClock();
    const a = (ts: number): TimedChunk => ({ track: 'audio', keyframe: true, timestampMs: ts, endTimestampMs: ts });
    feed(clock, [a(0), a(23), a(46)]);
    clock.pause(0);
    clock.resume(0);
    expect(feed(clock, [a(2000), a(2023)])).toEqual([69, 92]);
  });

  it('WebM clusters: the continuation starts after the end of the last cluster written', () => {
    const clock = new PauseClock();
    const cluster = (ts: number, end: number, keyframe = true): TimedChunk => ({ track: 'av', keyframe, timestampMs: ts, endTimestampMs: end });
    expect(feed(clock, [cluster(0, 960), cluster(1000, 1960)])).toEqual([0, 1000]);
    clock.pause(0);
    clock.resume(0);
    const a = clock.admit(cluster(6000, 6960));
    // interval between clusters: 1000 - 960 = 40
    expect(a).toEqual({ offsetMs: 4000, timestampMs: 2000, endTimestampMs: 2960, ptsMs: 2960 });
  });

  it('B-frames: the pause cuts at the next reference frame (the B-frames of the group are written), the continuation is shown after every picture written', () => {
    const clock = new PauseClock();
    /** A video frame sent at dts, shown at pts (B-frames: shown before frames sent earlier). */
    const frame = (dts: number, pts: number, keyframe = false): TimedChunk => ({ track: 'video', keyframe, timestampMs: dts, endTimestampMs: dts, ptsMs: pts });
    const fed = (chunks: TimedChunk[]): (number | null)[] =>
      chunks.map((c) => {
        const a = clock.admit(c);
        if (a) clock.written(c.track, a.endTimestampMs, a.ptsMs);
        return a ? a.ptsMs : null;
      });
    // decode order I P B B P: shown 67 167 100 133 267
    expect(fed([frame(0, 67, true), frame(33, 167), frame(67, 100), frame(100, 133), frame(133, 267)])).toEqual([67, 167, 100, 133, 267]);
    clock.pause(0);
    // the B-frames shown before 267 still pass; the next P (shown at 367) is where the pause takes effect
    expect(fed([frame(167, 200), frame(200, 233), audio(210), frame(233, 367), frame(267, 300)])).toEqual([200, 233, 210, null, null]);
    expect(clock.mode).toBe('paused');
    expect(clock.pauses[0]!.atMs).toBe(210);
    clock.resume(0);
    // the keyframe sent at 3000 and shown at 3067 comes right after the last picture (267): shown at 300, sent at 233
    const key = clock.admit(frame(3000, 3067, true));
    expect(key).toEqual({ offsetMs: 2767, timestampMs: 233, endTimestampMs: 233, ptsMs: 300 });
  });

  it('keeps at most maxPauses pauses: the next pause is refused, the recording goes on', () => {
    const clock = new PauseClock(3);
    let t = 0;
    feed(clock, [video(t, true)]);
    for (let i = 0; i < 3; i++) {
      expect(clock.atPauseLimit).toBe(false);
      expect(clock.pause(i)).toBe(true);
      feed(clock, [video((t += 40))]);
      expect(clock.resume(i)).toBe(true);
      expect(feed(clock, [video((t += 1000), true)])[0]).not.toBeNull();
    }
    expect(clock.atPauseLimit).toBe(true);
    expect(clock.pause(9)).toBe(false);
    expect(clock.mode).toBe('recording');
    expect(feed(clock, [video((t += 40))])[0]).not.toBeNull();
    expect(clock.pauses).toHaveLength(3);
  });

  it('resume before the cut came: nothing is left out', () => {
    const clock = new PauseClock();
    feed(clock, [video(0, true), video(40)]);
    clock.pause(10);
    expect(clock.resume(20)).toBe(true);
    expect(clock.mode).toBe('recording');
    expect(feed(clock, [video(80), video(120)])).toEqual([80, 120]);
    expect(clock.pauses).toEqual([{ pausedAt: 10, resumedAt: 20, atMs: 40, pausedAtStreamMs: 40, resumedAtStreamMs: 40, skippedMs: 0 }]);
  });
});

describe('retimeFlvTag', () => {
  function tag(ts: number, body = Buffer.from([0x17, 0x01, 0, 0, 0, 0xaa])): Buffer {
    const t = Buffer.alloc(11 + body.length + 4);
    t[0] = 9;
    t.writeUIntBE(body.length, 1, 3);
    t.writeUIntBE(ts & 0xffffff, 4, 3);
    t[7] = (ts >>> 24) & 0xff;
    body.copy(t, 11);
    t.writeUInt32BE(11 + body.length, 11 + body.length);
    return t;
  }

  it.each([
    [5000, 3000, 2000],
    [0x01000010, 0x20, 0x00fffff0],
    [100, 500, 0],
  ])('tag at %i moved back by %i is at %i, the rest unchanged, the source untouched', (ts, offset, expected) => {
    const source = tag(ts);
    const before = Buffer.from(source);
    const out = retimeFlvTag(source, offset);
    expect(flvTagTimestamp(out)).toBe(expected);
    expect(source.equals(before)).toBe(true);
    expect(out.subarray(11).equals(source.subarray(11))).toBe(true);
    expect(out.subarray(0, 4).equals(source.subarray(0, 4))).toBe(true);
    expect(out.subarray(8, 11).equals(source.subarray(8, 11))).toBe(true);
  });

  it('retimeChunk shifts the chunk fields and the bytes of media and config, not the header; offset 0 is the same chunk', () => {
    const media: MediaChunk = { kind: 'media', data: tag(4000), track: 'video', keyframe: true, timestampMs: 4000, endTimestampMs: 4000 };
    const out = retimeChunk(media, 'flv', 1500);
    expect([out.timestampMs, out.endTimestampMs, flvTagTimestamp(out.data)]).toEqual([2500, 2500, 2500]);
    const config: MediaChunk = { kind: 'config', data: tag(4000), track: 'video', keyframe: false, timestampMs: 0, endTimestampMs: 0 };
    expect(flvTagTimestamp(retimeChunk(config, 'flv', 1500).data)).toBe(2500);
    const header: MediaChunk = { kind: 'header', data: Buffer.from('FLV\x01\x05\0\0\0\x09\0\0\0\0', 'latin1'), track: 'none', keyframe: false, timestampMs: 0, endTimestampMs: 0 };
    expect(retimeChunk(header, 'flv', 1500)).toBe(header);
    expect(retimeChunk(media, 'flv', 0)).toBe(media);
  });
});

describe('retimeCluster', () => {
  /** A cluster with a 1-byte-size Timecode and two SimpleBlocks (track 1 key at +0, track 2 at +20). */
  function cluster(timecode: number): Buffer {
    const tcBody: number[] = [];
    let v = timecode;
    do {
      tcBody.unshift(v % 256);
      v = Math.floor(v / 256);
    } while (v > 0);
    const tc = Buffer.from([0xe7, 0x80 | tcBody.length, ...tcBody]);
    const block1 = Buffer.from([0xa3, 0x88, 0x81, 0x00, 0x00, 0x80, 1, 2, 3, 4]);
    const block2 = Buffer.from([0xa3, 0x87, 0x82, 0x00, 0x14, 0x00, 9, 9, 9]);
    const body = Buffer.concat([tc, block1, block2]);
    return Buffer.concat([Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0x40 | (body.length >> 8), body.length & 0xff]), body]);
  }

  it.each([
    [70000, 65000, 5000],
    [300, 200, 100],
    [1000, 1000, 0],
    [16_777_300, 100, 16_777_200],
  ])('cluster at %i moved back by %i is at %i; blocks unchanged', (tc, offset, expected) => {
    const source = cluster(tc);
    const before = Buffer.from(source);
    const out = retimeCluster(source, offset);
    expect(clusterTimecode(out)).toBe(expected);
    expect(source.equals(before)).toBe(true);
    // the chunker reads it the same way: same relative block times, first block key
    const h = out.subarray(12); // 4-byte id + 8-byte size
    const info = parseCluster(h);
    expect(info.timestampMs).toBe(expected);
    expect(info.endTimestampMs).toBe(expected + 20);
    expect(info.firstBlockKey.get(1)).toBe(true);
    expect(out.subarray(out.length - 19).equals(source.subarray(source.length - 19))).toBe(true);
  });

  it('returns what it cannot read as it is', () => {
    const garbage = Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0x85, 0xe7, 0x81]);
    expect(retimeCluster(garbage, 10)).toBe(garbage);
  });
});
