import { describe, expect, it } from 'vitest';
import {
  checkRangeInside,
  cutFileName,
  cutInputArgs,
  CutRangeError,
  formatSeconds,
  parseCutRange,
  parseSeconds,
  recordNameOfCut,
} from '../../src/http/cut-range.js';
import { recordPathInside } from '../../src/http/safe-path.js';
import { containerOf, CONTENT_TYPES, isCuttable } from '../../src/records/containers.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CutRangeError);
    return (err as Error).message;
  }
  throw new Error('expected a CutRangeError');
}

describe('parseSeconds', () => {
  it.each([
    ['0', 0],
    ['11', 11_000],
    ['011', 11_000],
    ['11.5', 11_500],
    ['11.50', 11_500],
    ['11.005', 11_005],
    ['0.001', 1],
    [' 60 ', 60_000],
    ['864000', 864_000_000],
  ])('%j -> %d ms', (raw, ms) => {
    expect(parseSeconds('start', raw)).toBe(ms);
  });

  it.each([
    ['', /start is empty/],
    ['   ', /start is empty/],
    ['-1', /negative/],
    ['-0.5', /negative/],
    ['abc', /not a number of seconds/],
    ['1e3', /not a number/],
    ['0x10', /not a number/],
    ['Infinity', /not a number/],
    ['NaN', /not a number/],
    ['1.', /not a number/],
    ['.5', /not a number/],
    ['1.2345', /at most 3 decimals/],
    ['1,5', /not a number/],
    ['+5', /not a number/],
    ['864000.001', /too large/],
    ['99999999', /not a number/],
  ])('%j is refused', (raw, message) => {
    expect(errorOf(() => parseSeconds('start', raw))).toMatch(message);
  });
});

describe('parseCutRange', () => {
  it('no start and no end: the whole record', () => {
    expect(parseCutRange({})).toBeNull();
    expect(parseCutRange({ token: 'x' } as { start?: string })).toBeNull();
  });

  it.each([
    [{ start: '11', end: '60' }, { startMs: 11_000, endMs: 60_000 }],
    [{ start: '11' }, { startMs: 11_000 }],
    [{ end: '60' }, { endMs: 60_000 }],
    [{ start: '0', end: '0.001' }, { startMs: 0, endMs: 1 }],
  ])('%j -> %j', (query, range) => {
    expect(parseCutRange(query)).toEqual(range);
  });

  it.each([
    [{ start: '10', end: '5' }, 'end (5) must be after start (10)'],
    [{ start: '10', end: '10' }, 'end (10) must be after start (10)'],
    [{ end: '0' }, 'end (0) must be after start (0)'],
    [{ start: 'x', end: '10' }, "start 'x' is not a number"],
    [{ start: '1', end: '-3' }, "end '-3' is negative"],
  ])('%j -> 400 %s', (query, message) => {
    expect(errorOf(() => parseCutRange(query))).toContain(message);
  });
});

describe('checkRangeInside', () => {
  it('a start inside the record passes; an end beyond it is allowed', () => {
    expect(() => checkRangeInside({ startMs: 59_999 }, 60.0)).not.toThrow();
    expect(() => checkRangeInside({ startMs: 10_000, endMs: 600_000 }, 60.0)).not.toThrow();
    expect(() => checkRangeInside({ endMs: 600_000 }, 60.0)).not.toThrow();
  });

  it('a start at or beyond the end is refused', () => {
    expect(errorOf(() => checkRangeInside({ startMs: 60_000 }, 60.0))).toBe('start (60) is beyond the end of the record (60 s long)');
    expect(errorOf(() => checkRangeInside({ startMs: 70_000, endMs: 80_000 }, 59.98))).toMatch(/59\.98 s long/);
  });
});

describe('formatSeconds and ffmpeg input options', () => {
  it.each([
    [0, '0'],
    [11_000, '11'],
    [11_500, '11.5'],
    [11_050, '11.05'],
    [11_005, '11.005'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatSeconds(ms)).toBe(text);
  });

  it('seeks on the input with -ss and stops with -to, only for the bounds given', () => {
    expect(cutInputArgs({ startMs: 11_000, endMs: 60_000 })).toEqual(['-ss', '11', '-to', '60']);
    expect(cutInputArgs({ startMs: 1_500 })).toEqual(['-ss', '1.5']);
    expect(cutInputArgs({ endMs: 60_000 })).toEqual(['-to', '60']);
  });
});

describe('cutFileName (WCS: stream.mp4?start=11&end=60 -> stream-s11-e60.mp4)', () => {
  it.each([
    ['stream.mp4', { startMs: 11_000, endMs: 60_000 }, 'stream-s11-e60.mp4'],
    ['stream.mp4', { startMs: 11_000 }, 'stream-s11.mp4'],
    ['stream.mp4', { endMs: 60_000 }, 'stream-e60.mp4'],
    ['stream.mp4', { startMs: 1_500, endMs: 2_250 }, 'stream-s1.5-e2.25.mp4'],
    ['stream-abc-alice.mp4', { startMs: 0, endMs: 5_000 }, 'stream-abc-alice-s0-e5.mp4'],
    ['a.b.mp4', { startMs: 1_000 }, 'a.b-s1.mp4'],
  ])('%s %j -> %s', (name, range, expected) => {
    expect(cutFileName(name, range)).toBe(expected);
  });

  it('equal requests give equal names whatever their spelling', () => {
    const a = parseCutRange({ start: '011.50', end: '60' })!;
    const b = parseCutRange({ start: '11.5', end: '60.000' })!;
    expect(cutFileName('x.mp4', a)).toBe(cutFileName('x.mp4', b));
  });

  it('stays a plain name of at most 255 bytes inside its folder, distinct for distinct long records', () => {
    const long1 = 'é'.repeat(125) + 'a.mp4';
    const long2 = 'é'.repeat(125) + 'b.mp4';
    const range = { startMs: 864_000_000 - 1, endMs: 864_000_000 };
    const n1 = cutFileName(long1, range);
    const n2 = cutFileName(long2, range);
    expect(Buffer.byteLength(n1)).toBeLessThanOrEqual(255);
    expect(n1).not.toBe(n2);
    expect(n1.endsWith('-s863999.999-e864000.mp4')).toBe(true);
    expect(recordPathInside('/srv/cuts', n1)).toBe(`/srv/cuts/${n1}`);
  });

  it('recordNameOfCut finds the record a part was cut from', () => {
    expect(recordNameOfCut('stream-s11-e60.mp4')).toBe('stream.mp4');
    expect(recordNameOfCut('stream-s11.mp4')).toBe('stream.mp4');
    expect(recordNameOfCut('stream-e60.mp4')).toBe('stream.mp4');
    expect(recordNameOfCut('a-s1-e2-s3.mp4')).toBe('a-s1-e2.mp4');
    expect(recordNameOfCut('stream-s1.5-e2.25.mp4')).toBe('stream.mp4');
    expect(recordNameOfCut('stream.mp4')).toBeNull();
    expect(recordNameOfCut('stream-sx.mp4')).toBeNull();
    expect(recordNameOfCut('stream-s11-e60.webm')).toBeNull();
    for (const name of ['rec.mp4', 'x-y-z.mp4']) {
      for (const range of [{ startMs: 1_000 }, { endMs: 2_000 }, { startMs: 3_250, endMs: 4_000 }]) {
        expect(recordNameOfCut(cutFileName(name, range))).toBe(name);
      }
    }
  });
});

describe('record containers', () => {
  it.each([
    ['a.mp4', 'mp4', 'video/mp4', true],
    ['a.MP4', 'mp4', 'video/mp4', true],
    ['a.webm', 'webm', 'video/webm', false],
    ['a.mkv', 'mkv', 'video/x-matroska', false],
    ['a.ts', 'ts', 'video/mp2t', false],
  ] as const)('%s: %s, %s, cuttable %s', (name, container, type, cuttable) => {
    expect(containerOf(name)).toBe(container);
    expect(CONTENT_TYPES[container]).toBe(type);
    expect(isCuttable(containerOf(name))).toBe(cuttable);
  });

  it.each(['a.flv', 'a', '.mp4', 'a.mp4.part', 'record.jsonl'])('%s is not a record', (name) => {
    expect(containerOf(name)).toBeNull();
    expect(isCuttable(containerOf(name))).toBe(false);
  });
});
