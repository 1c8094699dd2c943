import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientDigestOffset, clientScheme, digestAt, GENUINE_FP, HANDSHAKE_SIZE, HandshakeReader, answerC1, serverDigestOffset } from '../../src/ingest/rtmp/handshake.js';
import { GOP_CACHE_MAX_BYTES, LiveBroadcast, tagKind, TagKind, type BroadcastPublisher } from '../../src/ingest/rtmp/live-broadcast.js';
import { readFlvTag } from '../../src/ingest/rtmp/flv-tags.js';
import { ChunkReader } from '../../src/ingest/rtmp/chunk-reader.js';

/** A tag region (header room, body, trailer room) holding `body`. */
function region(body: Buffer): Buffer {
  const r = Buffer.alloc(11 + body.length + 4, 0xee);
  body.copy(r, 11);
  return r;
}

const avcKey = (n = 8): Buffer => Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(n)]);
const avcInter = (n = 8): Buffer => Buffer.concat([Buffer.from([0x27, 1, 0, 0, 0]), Buffer.alloc(n)]);
const avcHeader = (): Buffer => Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]);
const aacHeader = (): Buffer => Buffer.from([0xaf, 0, 0x12, 0x10]);
const aacFrame = (): Buffer => Buffer.from([0xaf, 1, 1, 2, 3]);

function broadcast(graceMs = 60_000): { b: LiveBroadcast; finished: BroadcastPublisher[]; empty: number[] } {
  const finished: BroadcastPublisher[] = [];
  const empty: number[] = [];
  const b = new LiveBroadcast('/live/x', graceMs, { finished: (_b, p) => finished.push(p), empty: () => empty.push(1) });
  return { b, finished, empty };
}

describe('live broadcast', () => {
  it('reads what a media message is, enhanced RTMP included', () => {
    expect(tagKind(8, aacHeader())).toBe(TagKind.AudioHeader);
    expect(tagKind(8, aacFrame())).toBe(TagKind.AudioFrame);
    expect(tagKind(8, Buffer.from([0x2f, 1]))).toBe(TagKind.AudioFrame); // MP3
    expect(tagKind(9, avcHeader())).toBe(TagKind.VideoHeader);
    expect(tagKind(9, avcKey())).toBe(TagKind.KeyFrame);
    expect(tagKind(9, avcInter())).toBe(TagKind.InterFrame);
    expect(tagKind(9, Buffer.from([0x90, ...Buffer.from('hvc1')]))).toBe(TagKind.VideoHeader);
    expect(tagKind(9, Buffer.from([0x91, ...Buffer.from('av01')]))).toBe(TagKind.KeyFrame);
    expect(tagKind(9, Buffer.from([0xa3, ...Buffer.from('hvc1')]))).toBe(TagKind.InterFrame);
    expect(tagKind(9, Buffer.from([0x94, ...Buffer.from('hvc1')]))).toBe(TagKind.Other);
  });

  it('a late subscriber gets the FLV header, the sequence headers and the GOP from its keyframe, then live tags', () => {
    const { b } = broadcast();
    expect(b.publish({ address: '1.2.3.4' })).toBe('new');
    b.media(9, 0, region(avcHeader()));
    b.media(8, 0, region(aacHeader()));
    b.media(9, 0, region(avcKey()));
    b.media(9, 40, region(avcInter()));
    b.media(9, 80, region(avcKey()));
    b.media(8, 90, region(aacFrame()));
    const seen: Buffer[] = [];
    b.addFlv((t) => seen.push(t));
    b.media(9, 120, region(avcInter()));
    expect(seen[0]!.subarray(0, 3).toString()).toBe('FLV');
    const tags = seen.slice(1).map((t) => readFlvTag(t)!);
    expect(tags.map((t) => [t.type, t.timestamp])).toEqual([[8, 0], [9, 0], [9, 80], [8, 90], [9, 120]]);
    // whole tags, as node-media-server built them: previous-tag-size at the end
    for (const t of seen.slice(1)) expect(t.readUInt32BE(t.length - 4)).toBe(t.length - 4);
  });

  it('stops caching a GOP past GOP_CACHE_MAX_BYTES until the next keyframe', () => {
    const { b } = broadcast();
    b.publish({ address: 'a' });
    const size = 12 * 1024 * 1024;
    const cached = (): number => {
      let n = 0;
      b.addFlv(() => n++);
      return n - 1; // the FLV header
    };
    b.media(9, 0, region(avcKey(size)));
    const frames = Math.floor(GOP_CACHE_MAX_BYTES / (size + 20));
    for (let i = 1; i < frames; i++) b.media(9, i * 40, region(avcInter(size)));
    expect(cached()).toBe(frames);
    b.media(9, frames * 40, region(avcInter(size)));
    b.media(9, (frames + 1) * 40, region(avcInter(size)));
    expect(cached()).toBe(0);
    b.media(9, (frames + 2) * 40, region(avcKey(size)));
    expect(cached()).toBe(1);
  });

  it('the same client address resumes within the grace window (timestamps go on); another client waits or takes over after it', async () => {
    const { b, finished, empty } = broadcast(50);
    const first = { address: '10.0.0.1' };
    b.publish(first);
    b.media(9, 1000, region(avcKey()));
    expect(b.publish({ address: '10.0.0.2' })).toBe('taken');
    b.unpublish(first);
    expect(b.status).toBe('reconnecting');
    const again = { address: '10.0.0.1' };
    expect(b.publish(again)).toBe('resumed');
    expect(b.status).toBe('publishing');
    const seen: number[] = [];
    b.addFlv((t) => seen.push(readFlvTag(t)?.timestamp ?? -1));
    b.media(9, 40, region(avcInter()));
    expect(seen.at(-1)).toBe(1040);
    b.unpublish(again);
    // somebody else within the window: the previous publish ends first
    expect(b.publish({ address: '10.0.0.3' })).toBe('new');
    expect(finished).toEqual([again]);
    const third = b.publisher!;
    b.unpublish(third);
    await new Promise((r) => setTimeout(r, 120));
    expect(finished).toEqual([again, third]);
    expect(b.status).toBe('idle');
    expect(empty).toEqual([]); // a subscriber is still there
  });

  it('reads codec ids from onMetaData and passes RTMP players the same messages as chunks', () => {
    const { b } = broadcast();
    b.publish({ address: 'a' });
    // @setDataFrame onMetaData { videocodecid: 7, audiocodecid: 10 }
    const str = (s: string): Buffer => Buffer.concat([Buffer.from([2, 0, s.length]), Buffer.from(s)]);
    const num = (k: string, v: number): Buffer => {
      const n = Buffer.alloc(9);
      n.writeDoubleBE(v, 1);
      return Buffer.concat([Buffer.from([0, k.length]), Buffer.from(k), n]);
    };
    const meta = Buffer.concat([str('@setDataFrame'), str('onMetaData'), Buffer.from([3]), num('videocodecid', 7), num('audiocodecid', 10), Buffer.from([0, 0, 9])]);
    b.data(0, meta);
    expect([b.videoCodecId, b.audioCodecId]).toEqual([7, 10]);
    b.media(9, 0, region(avcKey(100)));
    const out: Buffer[] = [];
    const got: { type: number; ts: number; streamId: number; body: Buffer }[] = [];
    const r = new ChunkReader({ allocate: (_t, n) => Buffer.alloc(n), message: (type, streamId, ts, body) => got.push({ type, ts, streamId, body }) }, 1 << 22);
    r.setChunkSize(0xffff);
    let unpublished = 0;
    b.addPlayer({ streamId: 1, send: (c) => out.push(c), unpublished: () => unpublished++ });
    b.media(9, 40, region(avcInter(70_000)));
    for (const c of out) r.push(c);
    expect(got.map((g) => [g.type, g.ts, g.streamId, g.body.length])).toEqual([[18, 0, 1, meta.length], [9, 0, 1, 105], [9, 40, 1, 70_005]]);
    // the publish ends: the player is told once, and stays for a new publish of the path
    expect(unpublished).toBe(0);
    b.finish();
    expect(unpublished).toBe(1);
    expect(b.publish({ address: '10.0.0.9' })).toBe('new');
  });
});

describe('RTMP handshake', () => {
  it('echoes C1 for the simple handshake and starts the chunk stream after C2', () => {
    const sent: Buffer[] = [];
    const h = new HandshakeReader((b) => sent.push(b));
    const c1 = crypto.randomBytes(HANDSHAKE_SIZE);
    c1.fill(0, 4, 8); // zeros where a digest client puts its version
    const c2 = Buffer.alloc(HANDSHAKE_SIZE, 1);
    const all = Buffer.concat([Buffer.from([3]), c1, c2, Buffer.from([0xab])]);
    expect(h.push(all.subarray(0, 1000))).toBe(1000);
    expect(sent).toEqual([]);
    expect(h.push(all.subarray(1000, 2000))).toBe(1000);
    expect(sent.length).toBe(1);
    expect(sent[0]!.length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(sent[0]!.subarray(1, 1 + HANDSHAKE_SIZE).equals(c1)).toBe(true);
    const rest = all.subarray(2000);
    const at = h.push(rest);
    expect(h.done).toBe(true);
    expect(rest[at]).toBe(0xab);
  });

  it('answers a Flash digest C1 (both schemes) with an S1 that carries the server digest', () => {
    for (const scheme of [1, 2] as const) {
      const c1 = crypto.randomBytes(HANDSHAKE_SIZE);
      const at = scheme === 1 ? clientDigestOffset(c1) : serverDigestOffset(c1);
      digestAt(c1, at, GENUINE_FP).copy(c1, at);
      expect(clientScheme(c1)).toBe(scheme);
      const answer = answerC1(c1);
      const s1 = answer.subarray(1, 1 + HANDSHAKE_SIZE);
      const s1At = scheme === 1 ? clientDigestOffset(s1) : serverDigestOffset(s1);
      expect(digestAt(s1, s1At, 'Genuine Adobe Flash Media Server 001').equals(s1.subarray(s1At, s1At + 32))).toBe(true);
      expect(answer.subarray(1, 1 + HANDSHAKE_SIZE).equals(c1)).toBe(false);
    }
  });
});
