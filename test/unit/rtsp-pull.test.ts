import { describe, expect, it } from 'vitest';
import { createFlvFileHeader, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from '../../src/ingest/rtmp/flv-tags.js';
import { FlvByteSplitter, FlvStreamError } from '../../src/ingest/rtsp/flv-byte-splitter.js';
import { FlvPipeSource } from '../../src/ingest/rtsp/flv-pipe-source.js';
import {
  audioFitsFlv,
  judgeExit,
  parseInputAudio,
  parseLogLine,
  pullArgs,
  pullScript,
  reconnectDelay,
  type ExitFacts,
} from '../../src/ingest/rtsp/rtsp-pull-rules.js';
import type { MediaChunk } from '../../src/streams/media-tap.js';

function tag(type: number, ts: number, body: Buffer): Buffer {
  const t = Buffer.alloc(11 + body.length + 4);
  t[0] = type;
  t.writeUIntBE(body.length, 1, 3);
  t.writeUIntBE(ts & 0xffffff, 4, 3);
  t[7] = (ts >>> 24) & 0xff;
  body.copy(t, 11);
  t.writeUInt32BE(11 + body.length, 11 + body.length);
  return t;
}
const avcHeader = (ts = 0) => tag(FLV_TAG_VIDEO, ts, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff, 0xe0]));
const key = (ts: number) => tag(FLV_TAG_VIDEO, ts, Buffer.from([0x17, 1, 0, 0, 0, 9, 9, 9]));
const inter = (ts: number) => tag(FLV_TAG_VIDEO, ts, Buffer.from([0x27, 1, 0, 0, 0, 8, 8]));
const aacHeader = () => tag(FLV_TAG_AUDIO, 0, Buffer.from([0xaf, 0, 0x12, 0x10]));
const aac = (ts: number) => tag(FLV_TAG_AUDIO, ts, Buffer.from([0xaf, 1, 5, 5]));
const alaw = (ts: number) => tag(FLV_TAG_AUDIO, ts, Buffer.from([0x72, 1, 2, 3]));
const script = () => tag(FLV_TAG_SCRIPT, 0, Buffer.from([2, 0, 10]));

describe('pullArgs and pullScript', () => {
  it('ffmpeg reads the camera from an ffconcat script on fd 3 (no URI in argv) and writes FLV to stdout', () => {
    const args = pullArgs({ audio: 'copy' });
    expect(args.join(' ')).toBe(
      '-hide_banner -nostdin -nostats -loglevel level+info -f concat -safe 0 -protocol_whitelist pipe,rtsp,rtp,srtp,tcp,udp,tls -i pipe:3 ' +
        '-map 0:v:0? -map 0:a:0? -c:v copy -c:a copy -flvflags no_duration_filesize -f flv pipe:1',
    );
    expect(pullArgs({ audio: 'aac' }).join(' ')).toContain('-c:a aac -b:a 96k');
  });

  it('the script holds the URI, the transport and the socket timeout in µs', () => {
    expect(pullScript({ uri: 'rtsp://u:p%40ss@cam/s', transport: 'tcp', timeoutSeconds: 10 })).toBe(
      "ffconcat version 1.0\nfile 'rtsp://u:p%40ss@cam/s'\noption rtsp_transport tcp\noption timeout 10000000\n",
    );
    expect(pullScript({ uri: 'rtsp://cam/s', transport: 'udp', timeoutSeconds: 2 })).toContain('option rtsp_transport udp\noption timeout 2000000');
  });

  it("a quote in the URI is escaped the ffconcat way", () => {
    expect(pullScript({ uri: "rtsp://u:it's@cam/s", transport: 'tcp', timeoutSeconds: 1 })).toContain("file 'rtsp://u:it'\\''s@cam/s'");
  });
});

describe("the camera's audio from ffmpeg's input dump", () => {
  it.each([
    ['  Stream #0:1: Audio: pcm_alaw, 8000 Hz, mono, s16, 64 kb/s', 'pcm_alaw', 8000, true],
    ['  Stream #0:1: Audio: pcm_alaw, 16000 Hz, mono, s16, 128 kb/s', 'pcm_alaw', 16000, false],
    ['  Stream #0:1: Audio: pcm_mulaw, 8000 Hz, mono, s16, 64 kb/s', 'pcm_mulaw', 8000, true],
    ['  Stream #0:1: Audio: aac (LC), 44100 Hz, stereo, fltp', 'aac', 44100, true],
    ['  Stream #0:2: Audio: aac (LC), 8000 Hz, mono, fltp', 'aac', 8000, true],
    ['  Stream #0:1: Audio: opus, 48000 Hz, stereo, fltp', 'opus', 48000, false],
    ['  Stream #0:1: Audio: adpcm_g726le, 8000 Hz, mono, s16, 32 kb/s', 'adpcm_g726le', 8000, false],
    ['  Stream #0:1: Audio: mp3, 44100 Hz, stereo, fltp, 128 kb/s', 'mp3', 44100, true],
    ['  Stream #0:1: Audio: mp3, 48000 Hz, stereo, fltp, 128 kb/s', 'mp3', 48000, false],
  ])('%s', (line, codec, rate, fits) => {
    const audio = parseInputAudio(line);
    expect(audio).toEqual({ codec, sampleRate: rate });
    expect(audioFitsFlv(audio!)).toBe(fits);
  });

  it('video lines are not audio', () => {
    expect(parseInputAudio('  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p, 320x240, 25 fps')).toBeNull();
  });

  it.each([
    ['[info]   Stream #0:1: Audio: pcm_alaw, 8000 Hz', 'info', '  Stream #0:1: Audio: pcm_alaw, 8000 Hz'],
    ['[rtsp @ 0x55881c3eea40] [error] method DESCRIBE failed: 404 Not Found', 'error', '[rtsp] method DESCRIBE failed: 404 Not Found'],
    ['[error] rtsp://u:p@h/nope: Server returned 404 Not Found', 'error', 'rtsp://u:p@h/nope: Server returned 404 Not Found'],
    ['[flv @ 0x5587] [warning] Timestamps are unset', 'warning', '[flv] Timestamps are unset'],
    ['no tag at all', 'info', 'no tag at all'],
  ])('log line %j', (line, level, text) => {
    expect(parseLogLine(line)).toEqual({ level, text });
  });
});

describe('reconnectDelay', () => {
  it.each([
    [1, 1000, 30000, 1000],
    [2, 1000, 30000, 2000],
    [3, 1000, 30000, 4000],
    [5, 1000, 30000, 16000],
    [6, 1000, 30000, 30000],
    [1000, 1000, 30000, 30000],
    [0, 500, 4000, 500],
    [3, 500, 500, 500],
  ])('attempt %i, min %i, max %i -> %i ms', (attempt, min, max, expected) => {
    expect(reconnectDelay(attempt, min, max)).toBe(expected);
  });
});

describe('judgeExit', () => {
  const base: ExitFacts = { code: 1, signal: null, stderr: [], hadMedia: false, audio: 'copy', secrets: [], killedBecause: null, elapsedMs: 100, timeoutMs: 10_000 };

  it('wrong password: retried, the message masked', () => {
    const v = judgeExit({
      ...base,
      stderr: ['[rtsp @ 0x55bb6fc32a40] method DESCRIBE failed: 401 Unauthorized', 'rtsp://admin:wrong@127.0.0.1:40277/cam: Server returned 401 Unauthorized (authorization failed)'],
      secrets: ['wrong'],
    });
    expect(v).toEqual({ kind: 'retry', error: 'rtsp://***:***@127.0.0.1:40277/cam: Server returned 401 Unauthorized (authorization failed)' });
  });

  it('connection refused: retried', () => {
    const v = judgeExit({ ...base, stderr: ['[tcp @ 0x56119427e900] Connection to tcp://127.0.0.1:1?timeout=3000000 failed: Connection refused', 'rtsp://127.0.0.1:1/cam: Connection refused'] });
    expect(v).toEqual({ kind: 'retry', error: 'rtsp://127.0.0.1:1/cam: Connection refused' });
  });

  it('a camera that dropped (ffmpeg exits 0): retried', () => {
    const v = judgeExit({ ...base, code: 0, hadMedia: true, stderr: ['[NULL @ 0x559d90cde7c0] missing picture in access unit with size 6'] });
    expect(v).toEqual({ kind: 'retry', error: 'the camera closed the stream' });
    expect(judgeExit({ ...base, code: 0 }).error).toBe('ffmpeg exited with code 0 before any media');
  });

  it('H.265: fatal with a clear message', () => {
    const v = judgeExit({ ...base, stderr: ['[flv @ 0x5587708a7140] Video codec hevc not compatible with flv', 'Could not write header for output file #0 (incorrect codec parameters ?): Function not implemented'] });
    expect(v.kind).toBe('fatal');
    expect(v.error).toMatch(/H\.265.*only H\.264/);
  });

  it('audio the FLV cannot carry: pull again with AAC, once', () => {
    const stderr = ['[flv @ 0x55] FLV does not support sample rate 16000, choose from (44100, 22050, 11025)', 'Could not write header for output file #0'];
    expect(judgeExit({ ...base, stderr }).kind).toBe('transcode-audio');
    expect(judgeExit({ ...base, stderr, audio: 'aac' }).kind).toBe('retry');
  });

  it('a camera that accepts and never answers: says so', () => {
    const v = judgeExit({ ...base, elapsedMs: 10_050, stderr: ['rtsp://127.0.0.1:47123/cam: Invalid data found when processing input'] });
    expect(v).toEqual({ kind: 'retry', error: 'no answer from the camera within rtsp_timeout (10 s): rtsp://127.0.0.1:47123/cam: Invalid data found when processing input' });
  });

  it('stopped by the watchdog: that reason', () => {
    expect(judgeExit({ ...base, signal: 'SIGKILL', code: null, killedBecause: 'no media from the camera for 15 s' })).toEqual({
      kind: 'retry',
      error: 'no media from the camera for 15 s',
    });
    expect(judgeExit({ ...base, signal: 'SIGKILL', code: null }).error).toBe('ffmpeg exited with signal SIGKILL before any media');
  });
});

describe('FlvByteSplitter', () => {
  it('cuts a byte stream into the file header and whole tags, whatever the chunking', () => {
    const tags = [script(), avcHeader(), aacHeader(), key(0), aac(10), inter(40)];
    const stream = Buffer.concat([createFlvFileHeader(true, true), ...tags]);
    for (const size of [1, 7, 13, 64, stream.length]) {
      const splitter = new FlvByteSplitter();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...splitter.push(stream.subarray(i, i + size)));
      expect(out.length).toBe(1 + tags.length);
      expect(out[0]!.length).toBe(13);
      for (let i = 0; i < tags.length; i++) expect(out[i + 1]!.equals(tags[i]!)).toBe(true);
    }
  });

  it('refuses what is not FLV', () => {
    expect(() => new FlvByteSplitter().push(Buffer.from('RTSP/1.0 200 OK\r\n\r\n'))).toThrow(FlvStreamError);
  });
});

describe('FlvPipeSource', () => {
  function collect(source: FlvPipeSource): { chunks: MediaChunk[]; ended: () => boolean } {
    const chunks: MediaChunk[] = [];
    let ended = false;
    source.openTap({ data: (c) => chunks.push(c), end: () => (ended = true) });
    return { chunks, ended: () => ended };
  }

  it('a tap opened mid-stream starts with header, codec configuration and the GOP from the last keyframe', () => {
    const source = new FlvPipeSource(100, () => undefined);
    for (const b of [createFlvFileHeader(true, true), script(), avcHeader(), aacHeader(), key(0), aac(10), inter(40), key(1000), aac(1010), inter(1040)]) source.push(b);
    const tap = collect(source);
    expect(tap.chunks.map((c) => c.kind)).toEqual(['header', 'config', 'config', 'media', 'media', 'media']);
    expect(tap.chunks[3]).toMatchObject({ track: 'video', keyframe: true, timestampMs: 1000 });
    expect(tap.chunks[0]!.data[4]).toBe(0x05);
    source.push(inter(1080));
    expect(tap.chunks.at(-1)).toMatchObject({ track: 'video', keyframe: false, timestampMs: 1080 });
    source.end();
    expect(tap.ended()).toBe(true);
  });

  it('tells codecs before any tap sees the tag, and waits for announced G.711 audio', () => {
    const source = new FlvPipeSource(100, () => undefined);
    const seen: string[] = [];
    const tap = collect(source);
    const push = (b: Buffer) => source.push(b, (_t, m) => seen.push(`${m.kind}:${m.codec}`));
    push(createFlvFileHeader(true, true));
    push(avcHeader());
    push(key(0));
    expect(tap.chunks).toEqual([]);
    push(alaw(20));
    expect(seen).toEqual(['video:H264', 'video:H264', 'audio:PCMA']);
    expect(tap.chunks.map((c) => `${c.kind}:${c.track}`)).toEqual(['header:none', 'config:video', 'media:video', 'media:audio']);
  });

  it('a tap opened after the end ends at once; disconnect goes to the pull', async () => {
    let reason = '';
    const source = new FlvPipeSource(100, (r) => (reason = r));
    source.disconnect('terminated by REST');
    expect(reason).toBe('terminated by REST');
    source.end();
    const tap = collect(source);
    await Promise.resolve();
    expect(tap.ended()).toBe(true);
  });
});
