import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planEviction } from '../../src/http/cut-cache.js';
import { describe, expect, it } from 'vitest';
import type { RecordedPart } from '../../src/catalog/part-source.js';
import { BoundedGate, GateFullError } from '../../src/util/bounded-gate.js';
import { signatureDifference, type TrackSignature } from '../../src/http/playback/part-codecs.js';
import pino from 'pino';
import { piecesFor, type ComposedAnswer } from '../../src/http/playback/compose-mp4.js';
import { parseByteRange } from '../../src/http/byte-range.js';
import { PlaybackDamagedError, PlaybackFailedError, PlaybackStitcher, PlaybackUnsupportedError, stitchFailure } from '../../src/http/playback/playback-stitcher.js';
import { mediaEnd } from '../../src/http/playback/mp4-sample-table.js';
import {
  concatList,
  concatQuote,
  formatGaps,
  MAX_PLAYBACK_RANGE_MS,
  parseInstant,
  parsePlaybackRange,
  planStitch,
  playbackCacheKey,
  PlaybackRangeError,
} from '../../src/http/playback/playback-plan.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PlaybackRangeError);
    return (err as Error).message;
  }
  throw new Error('expected a PlaybackRangeError');
}

const T = 1_700_000_000_000;

function part(name: string, startS: number, endS: number, container = 'mp4'): RecordedPart {
  return { path: `/r/${name}`, fileName: name, streamName: 's', startMs: T + startS * 1000, endMs: T + endS * 1000, container, nodeId: 'n1' };
}

describe('parseInstant', () => {
  it.each([
    ['1700000000000', 1_700_000_000_000],
    ['0', 0],
    [' 1700000000123 ', 1_700_000_000_123],
    ['2023-11-14T22:13:20Z', 1_700_000_000_000],
    ['2023-11-14T22:13:20.5Z', 1_700_000_000_500],
    ['2023-11-14T22:13:20.123456Z', 1_700_000_000_123],
    ['2023-11-14T23:13:20+01:00', 1_700_000_000_000],
    ['2023-11-14T23:13:20+0100', 1_700_000_000_000],
    ['2023-11-14T22:13Z', 1_699_999_980_000],
    ['2023-11-14t22:13:20z', 1_700_000_000_000],
  ])('%s -> %i', (raw, ms) => {
    expect(parseInstant('from', raw)).toBe(ms);
  });

  it.each([
    ['', /from is empty/],
    ['abc', /neither epoch milliseconds nor an ISO 8601/],
    ['-5', /neither/],
    ['1.5', /neither/],
    ['1e12', /neither/],
    ['2023-11-14', /neither/],
    ['2023-11-14T22:13:20', /neither/], // no zone: would depend on the server's
    ['2023-13-45T22:13:20Z', /not a valid date/],
    ['9999999999999999', /neither/],
    ['999999999999999', /out of range/],
  ])('%j is refused', (raw, message) => {
    expect(errorOf(() => parseInstant('from', raw))).toMatch(message);
  });
});

describe('parsePlaybackRange', () => {
  it('takes from and to', () => {
    expect(parsePlaybackRange({ from: String(T), to: String(T + 5000) })).toEqual({ fromMs: T, toMs: T + 5000, openEnded: false });
  });
  it('from alone reaches 24 h at most', () => {
    expect(parsePlaybackRange({ from: String(T) })).toEqual({ fromMs: T, toMs: T + MAX_PLAYBACK_RANGE_MS, openEnded: true });
  });
  it.each([
    [{}, /from is required/],
    [{ to: String(T) }, /from is required/],
    [{ from: String(T), to: String(T) }, /must be after from/],
    [{ from: String(T), to: String(T - 1) }, /must be after from/],
    [{ from: String(T), to: String(T + MAX_PLAYBACK_RANGE_MS + 1) }, /at most 86400000 ms \(24 h\)/],
    [{ from: 'yesterday' }, /from 'yesterday'/],
    [{ from: String(T), to: 'x' }, /to 'x'/],
  ])('%j is refused', (query, message) => {
    expect(errorOf(() => parsePlaybackRange(query))).toMatch(message);
  });
  it('accepts exactly 24 h', () => {
    expect(parsePlaybackRange({ from: String(T), to: String(T + MAX_PLAYBACK_RANGE_MS) }).toMs).toBe(T + MAX_PLAYBACK_RANGE_MS);
  });
});

describe('planStitch', () => {
  const three = [part('a.mp4', 0, 10), part('b.mp4', 10, 20), part('c.mp4', 20, 30)];

  it('nothing overlaps: null', () => {
    expect(planStitch(three, T + 30_000, T + 40_000)).toBeNull();
    expect(planStitch(three, T - 10_000, T)).toBeNull();
    expect(planStitch([], T, T + 1)).toBeNull();
  });

  it.each([
    // [name, from s, to s, expected segments [file, in ms, out ms|null], answered from s, to s]
    ['inside one part', 2, 5, [['a.mp4', 2000, 5000]], 2, 5],
    ['across three parts', 3.5, 25, [['a.mp4', 3500, null], ['b.mp4', 0, null], ['c.mp4', 0, 5000]], 3.5, 25],
    ['a whole part exactly', 10, 20, [['b.mp4', 0, null]], 10, 20],
    ['from before the first: clamped', -5, 12, [['a.mp4', 0, null], ['b.mp4', 0, 2000]], 0, 12],
    ['to beyond the last: clamped', 25, 100, [['c.mp4', 5000, null]], 25, 30],
  ] as const)('%s', (_name, fromS, toS, expected, answeredFrom, answeredTo) => {
    const plan = planStitch(three, T + fromS * 1000, T + toS * 1000)!;
    expect(plan.segments.map((s) => [s.part.fileName, s.inpointMs, s.outpointMs])).toEqual(expected);
    expect(plan.gaps).toEqual([]);
    expect(plan.fromMs).toBe(T + answeredFrom * 1000);
    expect(plan.toMs).toBe(T + answeredTo * 1000);
  });

  it('a pause between parts is a gap, left out', () => {
    const parts = [part('a.mp4', 0, 10), part('b.mp4', 15, 20), part('c.mp4', 20, 30), part('d.mp4', 40, 50)];
    const plan = planStitch(parts, T + 5000, T + 45_000)!;
    expect(plan.segments.map((s) => s.part.fileName)).toEqual(['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']);
    expect(plan.gaps).toEqual([
      [T + 10_000, T + 15_000],
      [T + 30_000, T + 40_000],
    ]);
    expect(formatGaps(plan.gaps)).toBe(`${T + 10_000}-${T + 15_000},${T + 30_000}-${T + 40_000}`);
  });

  it('parts meeting within the tolerance are continuous, either way', () => {
    const parts = [part('a.mp4', 0, 10.004), part('b.mp4', 10, 20), part('c.mp4', 20.6, 30)];
    const plan = planStitch(parts, T, T + 30_000)!;
    expect(plan.gaps).toEqual([]);
    expect(plan.segments.map((s) => [s.part.fileName, s.inpointMs, s.outpointMs])).toEqual([
      ['a.mp4', 0, null],
      ['b.mp4', 0, null],
      ['c.mp4', 0, null],
    ]);
  });

  it('an overlap beyond the tolerance enters the later part where the earlier ends; a covered part is skipped', () => {
    const parts = [part('a.mp4', 0, 10), part('b.mp4', 5, 20), part('inside.mp4', 12, 18)];
    const plan = planStitch(parts, T, T + 20_000)!;
    expect(plan.segments.map((s) => [s.part.fileName, s.inpointMs, s.outpointMs])).toEqual([
      ['a.mp4', 0, null],
      ['b.mp4', 5000, null],
    ]);
  });

  it('parts with no length are ignored; input order does not matter', () => {
    const parts = [part('c.mp4', 20, 30), part('empty.mp4', 5, 5), part('a.mp4', 0, 10), part('b.mp4', 10, 20)];
    expect(planStitch(parts, T, T + 30_000)!.segments.map((s) => s.part.fileName)).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
  });
});

describe('playbackCacheKey', () => {
  const parts = [part('a.mp4', 0, 10), part('b.mp4', 10, 20)];
  const files = [
    { fileName: 'a.mp4', size: 100, mtimeMs: 1 },
    { fileName: 'b.mp4', size: 200, mtimeMs: 2 },
  ];
  const plan = planStitch(parts, T + 1000, T + 15_000)!;
  const key = playbackCacheKey('s', plan, files);

  it('is 40 hex digits and stable', () => {
    expect(key).toMatch(/^[0-9a-f]{40}$/);
    expect(playbackCacheKey('s', planStitch(parts, T + 1000, T + 15_000)!, files)).toBe(key);
  });
  it('the same clamped range gives the same key', () => {
    // asking from before the first part answers the same as asking from its start
    const a = playbackCacheKey('s', planStitch(parts, T - 5000, T + 15_000)!, files);
    const b = playbackCacheKey('s', planStitch(parts, T, T + 15_000)!, files);
    expect(a).toBe(b);
  });
  it.each([
    ['another stream', () => playbackCacheKey('t', plan, files)],
    ['another range', () => playbackCacheKey('s', planStitch(parts, T + 2000, T + 15_000)!, files)],
    ['a part of another size', () => playbackCacheKey('s', plan, [files[0]!, { ...files[1]!, size: 201 }])],
    ['a part with another mtime', () => playbackCacheKey('s', plan, [{ ...files[0]!, mtimeMs: 9 }, files[1]!])],
    ['a part renamed', () => playbackCacheKey('s', plan, [files[0]!, { ...files[1]!, fileName: 'x.mp4' }])],
  ])('changes with %s', (_what, other) => {
    expect(other()).not.toBe(key);
  });
});

describe('concat list', () => {
  it.each([
    ['/r/a.mp4', "'/r/a.mp4'"],
    ["/r/it's.mp4", "'/r/it'\\''s.mp4'"],
    ['/r/a b\\c.mp4', "'/r/a b\\c.mp4'"],
  ])('quotes %j', (file, quoted) => {
    expect(concatQuote(file)).toBe(quoted);
  });
  it('refuses a line break', () => {
    expect(errorOf(() => concatQuote('/r/a\nfile /etc/passwd'))).toMatch(/line break/);
  });
  it('writes in and out points in seconds', () => {
    const plan = planStitch([part('a.mp4', 0, 10), part('b.mp4', 10, 20)], T + 3500, T + 12_250)!;
    expect(concatList(plan.segments)).toBe(
      "ffconcat version 1.0\nfile 'file:/r/a.mp4'\ninpoint 3.500\nfile 'file:/r/b.mp4'\noutpoint 2.250\n",
    );
  });
});

describe('signatureDifference', () => {
  const video = (w: number, h: number, hash = 'x'): TrackSignature => ({ handler: 'vide', codec: 'avc1', width: w, height: h, descriptionHash: hash });
  const audio: TrackSignature = { handler: 'soun', codec: 'mp4a', width: null, height: null, descriptionHash: 'a' };
  it.each([
    ['same', [video(640, 360), audio], [video(640, 360), audio], null],
    ['resolution', [video(640, 360), audio], [video(1280, 720), audio], /video avc1 640x360 -> video avc1 1280x720/],
    ['SPS', [video(640, 360, 'x'), audio], [video(640, 360, 'y'), audio], /codec parameters/],
    ['audio gone', [video(640, 360), audio], [video(640, 360)], /tracks video avc1 640x360 \+ audio mp4a -> video avc1 640x360/],
  ] as const)('%s', (_name, a, b, expected) => {
    const why = signatureDifference(a, b);
    if (expected === null) expect(why).toBeNull();
    else expect(why).toMatch(expected);
  });
});

describe('BoundedGate', () => {
  it('runs `size` at once, queues `queue` more, refuses the rest', async () => {
    const gate = new BoundedGate(1, 1);
    let release!: () => void;
    const first = gate.run(() => new Promise<string>((r) => (release = () => r('first'))));
    const second = gate.run(async () => 'second');
    await expect(gate.run(async () => 'third')).rejects.toBeInstanceOf(GateFullError);
    expect([gate.held, gate.waiting]).toEqual([1, 1]);
    release();
    expect(await first).toBe('first');
    expect(await second).toBe('second');
    expect([gate.held, gate.waiting]).toEqual([0, 0]);
  });
});

describe('playback answers evicted by the cut cache rule (planEviction)', () => {
  const answers = [
    { fileName: 'old.mp4', bytes: 400, lastUsedMs: 1 },
    { fileName: 'mid.mp4', bytes: 300, lastUsedMs: 2 },
    { fileName: 'new.mp4', bytes: 500, lastUsedMs: 3 },
  ];
  it.each([
    ['fits', 1200, [], []],
    ['least recently used first', 1000, [], ['old.mp4']],
    ['as many as needed', 600, [], ['old.mp4', 'mid.mp4']],
    ['never the kept one', 600, ['old.mp4'], ['mid.mp4', 'new.mp4']],
    ['everything but the kept one when it alone is too big', 100, ['new.mp4'], ['old.mp4', 'mid.mp4']],
  ] as const)('%s', (_name, max, keep, expected) => {
    expect(planEviction(answers, max, 0, new Set(keep))).toEqual(expected);
  });
});

describe('PlaybackStitcher', () => {
  it('refuses non-MP4 parts with a message naming the part (422), before any ffmpeg', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-'));
    const stitcher = new PlaybackStitcher(
      { ffmpeg: '/nonexistent/ffmpeg', cacheDir: dir, timeoutMs: 1000, maxConcurrent: 1, maxQueued: 0, cacheMaxBytes: 1 },
      pino({ level: 'silent' }),
    );
    const plan = planStitch([part('a.mp4', 0, 10), part('b.mkv', 10, 20, 'mkv')], T, T + 20_000)!;
    await expect(stitcher.stitch('s', plan)).rejects.toThrow(PlaybackUnsupportedError);
    await expect(stitcher.stitch('s', plan)).rejects.toThrow(/part 'b.mkv' .* is mkv: only MP4 parts are joined/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('a damaged part, or ffmpeg failing (no 500: 422 naming the record, or 503 for this server)', () => {
  it('a part without a readable moov is named as damaged (422), before any ffmpeg', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-'));
    const junk = path.join(dir, 'junk.mp4');
    fs.writeFileSync(junk, Buffer.alloc(1000, 7));
    const stitcher = new PlaybackStitcher(
      { ffmpeg: '/nonexistent/ffmpeg', cacheDir: dir, timeoutMs: 1000, maxConcurrent: 1, maxQueued: 0, cacheMaxBytes: 1 },
      pino({ level: 'silent' }),
    );
    const plan = planStitch([{ ...part('junk.mp4', 0, 10), path: junk }], T, T + 10_000)!;
    const err = await stitcher.stitch('s', plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybackDamagedError);
    expect((err as PlaybackDamagedError).fileName).toBe('junk.mp4');
    expect((err as Error).message).toMatch(/^part 'junk.mp4' cannot be read \(the record is damaged\): /);
    fs.rmSync(dir, { recursive: true });
  });

  it('mediaEnd: the byte after the last sample of any track', () => {
    expect(mediaEnd([])).toBe(0);
    expect(
      mediaEnd([
        { offsets: Float64Array.from([100, 500]), sizes: Uint32Array.from([50, 20]) },
        { offsets: Float64Array.from([150]), sizes: Uint32Array.from([400]) },
      ]),
    ).toBe(550);
  });

  const plan = { segments: [{ part: { path: '/rec/cam-1.mp4', fileName: 'cam-1.mp4' } }, { part: { path: '/rec/cam-2.mp4', fileName: 'cam-2.mp4' } }] } as unknown as Parameters<typeof stitchFailure>[0];
  it.each([
    ['the time limit', [], 30_000, 255, PlaybackFailedError, /took longer than 30 s/],
    ['ffmpeg missing', ['spawn failed: spawn /x/ffmpeg ENOENT'], null, null, PlaybackFailedError, /ffmpeg could not be started \(spawn \/x\/ffmpeg ENOENT\)/],
    ['a part ffmpeg names', ['[mov,mp4 @ 0x1] moov atom not found', 'file:/rec/cam-2.mp4: Invalid data found when processing input'], null, 1, PlaybackDamagedError, /^part 'cam-2.mp4' cannot be read .*ffmpeg: file:cam-2.mp4: Invalid data/],
    ['anything else', ['Could not write header for output file #0', 'No space left on device'], null, 1, PlaybackFailedError, /joining 2 parts failed \(ffmpeg exit 1\)/],
  ] as const)('%s', (_what, tail, timedOut, exit, type, message) => {
    const err = stitchFailure(plan, tail, timedOut, exit);
    expect(err).toBeInstanceOf(type);
    expect(err.message).toMatch(message);
  });
});

describe('parseByteRange', () => {
  it.each([
    [undefined, 1000, null],
    ['bytes=0-99', 1000, { start: 0, end: 99 }],
    ['bytes=100-', 1000, { start: 100, end: 999 }],
    ['bytes=-100', 1000, { start: 900, end: 999 }],
    ['bytes=-5000', 1000, { start: 0, end: 999 }],
    ['bytes=900-5000', 1000, { start: 900, end: 999 }],
    ['bytes=1000-', 1000, 'unsatisfiable'],
    ['bytes=-0', 1000, 'unsatisfiable'],
    ['bytes=5-4', 1000, null], // an invalid range is ignored (RFC 9110 §14.2): the whole answer
    ['bytes=0-1,5-6', 1000, null],
    ['items=0-1', 1000, null],
    ['bytes=-', 1000, null],
  ] as const)('%j of %i bytes -> %j', (header, size, expected) => {
    expect(parseByteRange(header, size)).toEqual(expected);
  });
});

describe('piecesFor', () => {
  const answer: ComposedAnswer = {
    head: Buffer.from('HEAD'),
    ranges: [
      { path: '/a', start: 100, length: 10 },
      { path: '/b', start: 0, length: 5 },
    ],
    size: 19,
  };
  it.each([
    ['everything', 0, 18, [{ buffer: 'HEAD' }, { path: '/a', start: 100, length: 10 }, { path: '/b', start: 0, length: 5 }]],
    ['inside the head', 1, 2, [{ buffer: 'EA' }]],
    ['across head and first range', 3, 5, [{ buffer: 'D' }, { path: '/a', start: 100, length: 2 }]],
    ['inside a range', 6, 8, [{ path: '/a', start: 102, length: 3 }]],
    ['across two ranges', 12, 15, [{ path: '/a', start: 108, length: 2 }, { path: '/b', start: 0, length: 2 }]],
    ['the last byte', 18, 18, [{ path: '/b', start: 4, length: 1 }]],
    ['nothing', 5, 4, []],
  ] as const)('%s', (_name, start, end, expected) => {
    const pieces = piecesFor(answer, start, end).map((p) => ('buffer' in p ? { buffer: p.buffer.toString() } : p));
    expect(pieces).toEqual(expected);
  });
});
