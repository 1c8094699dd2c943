import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedPart } from '../../src/catalog/part-source.js';
import { composeMp4, piecesFor, type ComposedAnswer } from '../../src/http/playback/compose-mp4.js';
import { readPartMedia } from '../../src/http/playback/mp4-sample-table.js';
import { planStitch } from '../../src/http/playback/playback-plan.js';
import { PlaybackStitcher } from '../../src/http/playback/playback-stitcher.js';
import { decodeErrors, ffprobe } from '../helpers/media.js';
import { firstVideoPackets, frameMd5, moovFirst } from '../helpers/rest.js';

/**
 * The two ways an answer is made, on parts cut from one source clip: the
 * composed MP4 (moov from the parts' tables, media as byte ranges of the
 * parts) and, for parts that cannot be composed (fragmented MP4), ffmpeg's
 * concat join. Both must show `from` first and hold to − from.
 */
const T = 1_700_000_000_000;
/** Parts cut with -ss/-t by stream copy are a little longer than 4 s (their audio runs on): what the answer may exceed to − from by. */
const SLACK = 0.5;
const ff = (args: string[]): void => {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
};

function write(answer: ComposedAnswer, file: string): void {
  const fd = fs.openSync(file, 'w');
  for (const p of piecesFor(answer, 0, answer.size - 1)) {
    if ('buffer' in p) {
      fs.writeSync(fd, p.buffer);
    } else {
      const b = Buffer.alloc(p.length);
      const src = fs.openSync(p.path, 'r');
      fs.readSync(src, b, 0, p.length, p.start);
      fs.closeSync(src);
      fs.writeSync(fd, b);
    }
  }
  fs.closeSync(fd);
}

function videoDuration(file: string): number {
  return Number(ffprobe(file).streams.find((s) => s.codec_type === 'video')!.duration);
}

/** The answer's frame at `at` is the source's frame at `seconds`, within `frames` frames either way. */
function expectShows(answer: string, at: number, source: string, seconds: number, frames = 1): void {
  const around = Array.from({ length: 2 * frames + 1 }, (_, k) => seconds + (k - frames) / 30).filter((t) => t >= 0);
  expect(around.map((t) => frameMd5(source, t))).toContain(frameMd5(answer, at));
}

describe('playback answers: composed and joined by ffmpeg', () => {
  let dir: string;
  let source: string;
  const regular: RecordedPart[] = [];
  const fragmented: RecordedPart[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-compose-'));
    source = path.join(dir, 'source.mp4');
    ff([
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '12', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0',
      '-c:a', 'aac', '-b:a', '64k', source,
    ]);
    for (let i = 0; i < 3; i++) {
      const name = `part_${i + 1}.mp4`;
      const file = path.join(dir, name);
      ff(['-ss', String(i * 4), '-i', source, '-t', '4', '-c', 'copy', file]);
      regular.push({ path: file, fileName: name, streamName: 's', startMs: T + i * 4000, endMs: T + (i + 1) * 4000, container: 'mp4', nodeId: 'n1' });
      const fragName = `frag_${i + 1}.mp4`;
      const frag = path.join(dir, fragName);
      ff(['-ss', String(i * 4), '-i', source, '-t', '4', '-c', 'copy', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', frag]);
      fragmented.push({ path: frag, fileName: fragName, streamName: 's', startMs: T + i * 4000, endMs: T + (i + 1) * 4000, container: 'mp4', nodeId: 'n1' });
    }
  }, 60_000);

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('composes three parts from 1.5 s to 10 s: `from` shown first, 8.5 s long, moov first, no decode errors', async () => {
    const plan = planStitch(regular, T + 1500, T + 10_000)!;
    const media = await Promise.all(plan.segments.map((s) => readPartMedia(s.part.path)));
    const answer = await composeMp4(plan.segments.map((s, i) => ({ media: media[i]!, inSeconds: s.inpointMs / 1000, outSeconds: s.outpointMs === null ? null : s.outpointMs / 1000 })));
    // nothing of the media is copied: the file is the head plus ranges of the parts
    expect(answer.ranges.every((r) => regular.some((p) => p.path === r.path))).toBe(true);
    const out = path.join(dir, 'composed.mp4');
    write(answer, out);
    expect(fs.statSync(out).size).toBe(answer.size);
    expect(Math.abs(videoDuration(out) - 8.5)).toBeLessThanOrEqual(SLACK);
    expect(moovFirst(out)).toBe(true);
    expect(decodeErrors(out)).toBe('');
    const [first] = firstVideoPackets(out, 1);
    expect(first!.key).toBe(true);
    expect(first!.pts).toBeLessThanOrEqual(0.001);
    expectShows(out, 0, source, 1.5);
    // across the first boundary: the answer at 2.5 s + 0.5 s is the source at 4.5 s (the first part's
    // audio runs a little past its video, and the next part starts after both: a few frames later)
    expectShows(out, 3, source, 4.5, 3);
  });

  it('the stitcher composes MP4 parts and joins fragmented ones with ffmpeg; both start at `from`', async () => {
    const cacheDir = path.join(dir, 'cache');
    const stitcher = new PlaybackStitcher(
      { ffmpeg: 'ffmpeg', cacheDir, timeoutMs: 60_000, maxConcurrent: 1, maxQueued: 2, cacheMaxBytes: 1024 ** 3 },
      pino({ level: 'silent' }),
    );
    await stitcher.start();
    try {
      const composed = await stitcher.stitch('s', planStitch(regular, T + 1500, T + 10_000)!);
      expect(composed.kind).toBe('composed');
      const again = await stitcher.stitch('s', planStitch(regular, T + 1500, T + 10_000)!);
      expect(again.kind === 'composed' && again.cached).toBe(true);

      const joined = await stitcher.stitch('s', planStitch(fragmented, T + 1500, T + 10_000)!);
      expect(joined.kind).toBe('file');
      if (joined.kind !== 'file') return;
      const file = path.join(cacheDir, joined.fileName);
      expect(Math.abs(videoDuration(file) - 8.5)).toBeLessThanOrEqual(SLACK);
      expect(moovFirst(file)).toBe(true);
      expect(decodeErrors(file)).toBe('');
      // a fragmented part has no edit list: its own timeline is the reference (B-frame delay of 2 frames)
      expectShows(file, 0, fragmented[0]!.path, 1.5, 2);
      expect(fs.readdirSync(cacheDir)).toEqual([joined.fileName]);
      const cachedFile = await stitcher.stitch('s', planStitch(fragmented, T + 1500, T + 10_000)!);
      expect(cachedFile).toEqual({ kind: 'file', fileName: joined.fileName, cached: true });
    } finally {
      await stitcher.close();
    }
  }, 60_000);
});
