import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessMp4Muxer } from '../../src/recording/mp4/in-process-mp4-muxer.js';
import { finishFragmentedMp4 } from '../../src/recording/mp4/finish-fragmented.js';
import { decodeErrors, durationOf, makeClip, mp4TopLevelBoxes } from '../helpers/media.js';

// The in-process muxer against ffmpeg's: the same FLV tags in, the same packets out.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-inproc-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function flvOf(clip: string): Buffer {
  const file = path.join(dir, `${path.basename(clip)}.flv`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', clip, '-c', 'copy', '-f', 'flv', '-y', file]);
  return fs.readFileSync(file);
}

/** The FLV file header, then whole tags (header, body, previous-tag-size), as the RTMP ingest hands them on. */
function tagsOf(flv: Buffer): Buffer[] {
  const out = [flv.subarray(0, 13)];
  let p = 13;
  while (p + 11 <= flv.length) {
    const size = flv.readUIntBE(p + 1, 3);
    out.push(flv.subarray(p, p + 11 + size + 4));
    p += 11 + size + 4;
  }
  return out;
}

/** Per stream: each packet's presentation time (s), size and key flag, in decode order. */
function packets(file: string): Map<string, { t: number; size: number; key: boolean }[]> {
  const csv = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,size,flags', '-of', 'csv', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = new Map<string, { t: number; size: number; key: boolean }[]>();
  for (const line of csv.split('\n').filter((l) => l.startsWith('packet,'))) {
    const [, type, t, size, flags] = line.split(',');
    m.set(type!, [...(m.get(type!) ?? []), { t: Number(t), size: Number(size), key: (flags ?? '').includes('K') }]);
  }
  return m;
}

async function muxInProcess(tags: Buffer[], opts: { hasVideo: boolean; hasAudio: boolean }, name: string): Promise<{ file: string; lines: string[] }> {
  const tmp = path.join(dir, `${name}.frag.mp4`);
  const lines: string[] = [];
  const muxer = new InProcessMp4Muxer(tmp, { ...opts, width: 640, height: 360 }, (l) => lines.push(l));
  for (const t of tags) muxer.write(t);
  const exit = await muxer.finish(5000);
  expect(exit.code).toBe(0);
  const done = await finishFragmentedMp4(tmp, { moovFirst: true, stagedPath: path.join(dir, `${name}.mp4`) });
  return { file: done.file, lines };
}

function muxWithFfmpeg(flv: Buffer, name: string): string {
  const src = path.join(dir, `${name}.src.flv`);
  fs.writeFileSync(src, flv);
  const out = path.join(dir, `${name}.ffmpeg.mp4`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'flv', '-i', src, '-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-movflags', '+faststart', '-y', out]);
  return out;
}

describe('in-process MP4 muxer (record_muxer=in-process)', () => {
  const cases = [
    { label: 'H.264 with B-frames + AAC', clip: makeClip({ video: true, audio: true, seconds: 6, gop: 1 }), hasVideo: true, hasAudio: true },
    { label: 'H.264 only', clip: makeClip({ video: true, audio: false, seconds: 4, gop: 2 }), hasVideo: true, hasAudio: false },
    { label: 'AAC only', clip: makeClip({ video: false, audio: true, seconds: 4 }), hasVideo: false, hasAudio: true },
  ];
  for (const c of cases) {
    it(`${c.label}: the same packets, times and key frames as ffmpeg's muxer writes`, async () => {
      const flv = flvOf(c.clip);
      const ours = await muxInProcess(tagsOf(flv), c, c.label.replace(/\W+/g, '-'));
      const theirs = muxWithFfmpeg(flv, c.label.replace(/\W+/g, '-'));
      expect(ours.lines).toEqual([]);
      expect(decodeErrors(ours.file)).toBe('');
      expect(mp4TopLevelBoxes(ours.file).map((b) => b.type)).toEqual(['ftyp', 'moov', 'mdat']);
      const a = packets(ours.file);
      const b = packets(theirs);
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [type, list] of b) {
        const mine = a.get(type)!;
        expect(mine.map((p) => p.size)).toEqual(list.map((p) => p.size));
        expect(mine.map((p) => p.key)).toEqual(list.map((p) => p.key));
        // both start where ffmpeg's does and keep the published timing (ms timestamps)
        for (let i = 0; i < list.length; i++) expect(Math.abs(mine[i]!.t - list[i]!.t)).toBeLessThanOrEqual(0.0011);
      }
      expect(Math.abs(durationOf(ours.file) - durationOf(theirs))).toBeLessThanOrEqual(0.05);
    });
  }

  it('a tag it cannot take is an [error] line and skipped; timestamps that go back are dropped with a warning', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });
    const tags = tagsOf(flvOf(clip));
    const mediaTags = tags.filter((t, i) => i > 0 && (t[0] === 9 || t[0] === 8));
    // an H.263 video tag in the middle (codec id 2), then a copy of an earlier tag (its timestamp goes back)
    const bad = Buffer.from(mediaTags[40]!);
    bad[11] = (bad[11]! & 0xf0) | 2;
    const back = Buffer.from(mediaTags.filter((t) => t[0] === 9)[5]!);
    const at = Math.floor(tags.length / 2);
    const fed = [...tags.slice(0, at), bad, back, ...tags.slice(at)];
    const ours = await muxInProcess(fed, { hasVideo: true, hasAudio: true }, 'bad-input');
    expect(ours.lines.filter((l) => l.startsWith('[error]'))).toEqual(['[error] video codec id 2 is not H.264']);
    expect(ours.lines.filter((l) => l.startsWith('[warning]'))).toEqual(['[warning] 1 samples dropped: their timestamps went back']);
    expect(decodeErrors(ours.file)).toBe('');
    const good = await muxInProcess(tags, { hasVideo: true, hasAudio: true }, 'good-input');
    const count = (f: string, t: string): number => packets(f).get(t)!.length;
    expect(count(ours.file, 'video')).toBe(count(good.file, 'video'));
    expect(count(ours.file, 'audio')).toBe(count(good.file, 'audio'));
  });

  it('syncing the temp file to disk as it grows (fdatasync every N bytes) writes the same bytes', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 1 });
    const tags = tagsOf(flvOf(clip));
    const write = async (name: string, writebackBytes: number): Promise<Buffer> => {
      const tmp = path.join(dir, `${name}.frag.mp4`);
      const muxer = new InProcessMp4Muxer(tmp, { hasVideo: true, hasAudio: true, width: 640, height: 360 }, () => undefined, 0, writebackBytes);
      for (const t of tags) muxer.write(t);
      expect((await muxer.finish(5000)).code).toBe(0);
      return fs.readFileSync(tmp);
    };
    const never = await write('sync-never', 0);
    const always = await write('sync-each-fragment', 1);
    expect(always.length).toBeGreaterThan(100_000);
    expect(always.equals(never)).toBe(true);
  });
});

