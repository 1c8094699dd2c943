import { describe, expect, it } from 'vitest';
import { parseRotation, rotationDue, RotationError, type PartProgress, type Rotation } from '../../src/recording/rotation.js';

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// parseRotation (WCS "Record files rotation": record_rotation=20, record_rotation=10M)
// ---------------------------------------------------------------------------

describe('parseRotation', () => {
  it.each<[string, Rotation]>([
    ['20', { kind: 'duration', seconds: 20 }],
    ['1', { kind: 'duration', seconds: 1 }],
    ['3600', { kind: 'duration', seconds: 3600 }],
    [' 20 ', { kind: 'duration', seconds: 20 }],
    ['10M', { kind: 'size', bytes: 10 * MiB }],
    ['10m', { kind: 'size', bytes: 10 * MiB }],
    ['1M', { kind: 'size', bytes: MiB }],
    ['disabled', { kind: 'disabled' }],
    ['DISABLED', { kind: 'disabled' }],
    ['Disabled', { kind: 'disabled' }],
    ['', { kind: 'disabled' }],
    ['   ', { kind: 'disabled' }],
  ])('%j -> %j', (raw, expected) => {
    expect(parseRotation(raw)).toEqual(expected);
  });

  it.each(['0', '00', '0M', '-5', '1.5', '20s', '10MB', '10G', '10K', 'M', 'abc', '10 M', '+5', 'enabled'])(
    '%j throws RotationError',
    (raw) => {
      expect(() => parseRotation(raw)).toThrow(RotationError);
    },
  );

  it('the error message names the allowed values', () => {
    expect(() => parseRotation('20s')).toThrow(/disabled/);
  });
});

// ---------------------------------------------------------------------------
// rotationDue
// ---------------------------------------------------------------------------

const part = (firstTimestampMs: number, bytes: number, lastGopBytes = 0): PartProgress => ({ firstTimestampMs, bytes, lastGopBytes });
const key = (timestampMs: number) => ({ keyframe: true, timestampMs });
const inter = (timestampMs: number) => ({ keyframe: false, timestampMs });

const DURATION_20: Rotation = { kind: 'duration', seconds: 20 };
const SIZE_10M: Rotation = { kind: 'size', bytes: 10 * MiB };
const DISABLED: Rotation = { kind: 'disabled' };

describe('rotationDue: never', () => {
  it.each<[string, Rotation]>([
    ['duration', DURATION_20],
    ['size', SIZE_10M],
    ['disabled', DISABLED],
  ])('%s: not at a non-keyframe chunk, however long or large the part', (_label, rotation) => {
    expect(rotationDue(rotation, part(0, 100 * MiB, 10 * MiB), inter(1_000_000))).toBe(false);
    expect(rotationDue(rotation, part(0, 100 * MiB, 10 * MiB), inter(1_000_000), 100 * MiB)).toBe(false);
  });

  it.each<[string, Rotation]>([
    ['duration', DURATION_20],
    ['size', SIZE_10M],
    ['disabled', DISABLED],
  ])('%s: not while the part is empty (bytes 0)', (_label, rotation) => {
    expect(rotationDue(rotation, part(0, 0, 20 * MiB), key(1_000_000))).toBe(false);
    expect(rotationDue(rotation, part(0, 0, 0), key(1_000_000), 100 * MiB)).toBe(false);
  });

  it('disabled: never at a keyframe either', () => {
    expect(rotationDue(DISABLED, part(0, 1e12, 1e9), key(1e9), 1e9)).toBe(false);
  });
});

describe('rotationDue: duration (record_rotation=20)', () => {
  // WCS example fragment starting at 1553577643961
  const first = 1553577643961;
  it.each<[string, number, boolean]>([
    ['at the start', first, false],
    ['10 s in', first + 10_000, false],
    ['1 ms before 20 s', first + 19_999, false],
    ['exactly 20 s', first + 20_000, true],
    ['1 ms after 20 s', first + 20_001, true],
    ['40 s in (a long GOP)', first + 40_000, true],
    ['timestamp before the part start', first - 5, false],
  ])('keyframe %s -> %s', (_label, ts, due) => {
    expect(rotationDue(DURATION_20, part(first, 5000), key(ts))).toBe(due);
  });

  it.each<[number, number, number, boolean]>([
    // [seconds, first, chunk ts, due]
    [1, 0, 999, false],
    [1, 0, 1000, true],
    [20, 0, 19_999, false],
    [20, 0, 20_000, true],
    [3600, 100, 3_600_099, false],
    [3600, 100, 3_600_100, true],
  ])('%d s, part from %d ms, keyframe at %d ms -> %s', (seconds, first, ts, due) => {
    expect(rotationDue({ kind: 'duration', seconds }, part(first, 1), key(ts))).toBe(due);
  });

  it('size and overhead do not matter for a duration rotation', () => {
    expect(rotationDue(DURATION_20, part(0, 100 * MiB, 100 * MiB), key(1000), 100 * MiB)).toBe(false);
    expect(rotationDue(DURATION_20, part(0, 1, 0), key(20_000), 0)).toBe(true);
  });
});

describe('rotationDue: size (record_rotation=10M)', () => {
  const limit = 10 * MiB;
  it.each<[string, number, number, number, boolean]>([
    // [label, bytes, lastGopBytes, overhead, due]
    ['small part', 1000, 100, 0, false],
    ['1 byte short of the limit with the next GOP', limit - 1 - 1000, 1000, 0, false],
    ['exactly at the limit with the next GOP', limit - 1000, 1000, 0, true],
    ['past the limit', limit + 1, 1000, 0, true],
    ['GOP size unknown (0): bytes alone 1 short', limit - 1, 0, 0, false],
    ['GOP size unknown (0): bytes alone at the limit', limit, 0, 0, true],
    ['the next GOP would overflow', 9 * MiB, MiB + 1, 0, true],
    ['the next GOP would just fit', 9 * MiB, MiB - 1, 0, false],
  ])('%s -> %s', (_label, bytes, gop, overhead, due) => {
    expect(rotationDue(SIZE_10M, part(0, bytes, gop), key(1234), overhead)).toBe(due);
  });

  it('a reserved moov (2048 KB) makes rotation due earlier', () => {
    const reserved = 2048 * 1024;
    const p = part(0, 7 * MiB, 512 * 1024);
    expect(rotationDue(SIZE_10M, p, key(1000))).toBe(false);
    expect(rotationDue(SIZE_10M, p, key(1000), 0)).toBe(false);
    expect(rotationDue(SIZE_10M, p, key(1000), reserved)).toBe(false); // 7 + 0.5 + 2 = 9.5 MiB
    const q = part(0, 7.5 * MiB, 512 * 1024);
    expect(rotationDue(SIZE_10M, q, key(1000))).toBe(false); // 8 MiB
    expect(rotationDue(SIZE_10M, q, key(1000), reserved)).toBe(true); // exactly 10 MiB
  });

  it('boundary with the overhead counted', () => {
    const overhead = 1000;
    expect(rotationDue(SIZE_10M, part(0, limit - overhead - 11, 10), key(0), overhead)).toBe(false);
    expect(rotationDue(SIZE_10M, part(0, limit - overhead - 10, 10), key(0), overhead)).toBe(true);
  });

  it('the time since the part start does not matter for a size rotation', () => {
    expect(rotationDue(SIZE_10M, part(0, 1000), key(10_000_000))).toBe(false);
    expect(rotationDue(SIZE_10M, part(5000, limit), key(5000))).toBe(true);
  });
});
