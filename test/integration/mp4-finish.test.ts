import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BoxFormatError, freeBoxHeader } from '../../src/recording/mp4/box-tree.js';
import { finishFragmentedMp4 } from '../../src/recording/mp4/finish-fragmented.js';
import { fallocateInsertRange, type InsertRange, InsertRangeError, repairInterruptedInsert } from '../../src/recording/mp4/insert-range.js';
import { decodeErrors, durationOf, makeClip, mp4TopLevelBoxes } from '../helpers/media.js';

// The live muxer's fragmented MP4 (same flags as the recorder), finished in
// process, must hold exactly the packets the fragments held.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-mp4-finish-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const insertRange = fallocateInsertRange();

/** Whether the file system of `d` inserts ranges (ext4, xfs do; tmpfs does not): asked of the file system itself. */
function insertsRanges(d: string): boolean {
  const probe = path.join(d, `probe-${process.pid}`);
  fs.writeFileSync(probe, Buffer.alloc(2 * 65536, 1));
  try {
    execFileSync('fallocate', ['--insert-range', '--offset', '0', '--length', String(fs.statSync(probe).blksize), probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}
const dirInserts = insertsRanges(dir);

let n = 0;
function fragmented(clip: string, reserveBytes = 0): string {
  const file = path.join(dir, `frag-${++n}.mp4`);
  const fd = fs.openSync(file, 'w');
  if (reserveBytes > 0) {
    const reserve = Buffer.alloc(reserveBytes);
    freeBoxHeader(reserveBytes).copy(reserve);
    fs.writeSync(fd, reserve);
  }
  const out = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-i', clip, '-map', '0:v?', '-map', '0:a?', '-c', 'copy',
    '-movflags', '+frag_keyframe+delay_moov+default_base_moof', '-frag_duration', '500000', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 1 << 28 });
  fs.writeSync(fd, out);
  fs.closeSync(fd);
  return file;
}

function probePackets(file: string): string[] {
  const csv = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,dts,size,flags', '-of', 'csv', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return csv.split('\n').filter((l) => l.startsWith('packet,'));
}

/**
 * Every packet's stream, pts, dts, size and key flag, sorted: what a player
 * gets, whatever the layout. The discard flag (samples an edit list hides,
 * which a reader marks in unfragmented files only) is counted apart.
 */
function packets(file: string): string {
  return probePackets(file)
    .map((l) => l.split(',').slice(0, 6).join(',').replace(/,(K?)_?D?$/, (_m, k: string) => `,${k}`))
    .sort()
    .join('\n');
}

/** Packets hidden by the edit lists, per stream: an edit list that ends too early hides the last frames. */
function discarded(file: string): string {
  const counts = new Map<string, number>();
  for (const l of probePackets(file)) if (/D/.test(l.split(',')[5] ?? '')) counts.set(l.split(',')[1]!, (counts.get(l.split(',')[1]!) ?? 0) + 1);
  return JSON.stringify([...counts].sort());
}

/** Packets wholly before the start of presentation in the fragmented file (AAC priming): the ones its edit list hides. */
function beforeStart(file: string): string {
  const csv = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,duration', '-of', 'csv', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const byStream = new Map<string, { pts: number; duration: number }[]>();
  for (const l of csv.split('\n').filter((x) => x.startsWith('packet,'))) {
    const [, stream, pts, duration] = l.split(',');
    byStream.set(stream!, [...(byStream.get(stream!) ?? []), { pts: Number(pts), duration: Number(duration) }]);
  }
  const counts: [string, number][] = [];
  for (const [stream, list] of byStream) {
    list.sort((a, b) => a.pts - b.pts);
    // a fragment's first packet may have no duration of its own: up to the next packet
    const hidden = list.filter((p, i) => p.pts + (Number.isFinite(p.duration) ? p.duration : (list[i + 1]?.pts ?? p.pts) - p.pts) <= 0).length;
    if (hidden > 0) counts.push([stream, hidden]);
  }
  return JSON.stringify(counts.sort());
}

const md5 = (f: string): string => crypto.createHash('md5').update(fs.readFileSync(f)).digest('hex');
const types = (f: string): string[] => mp4TopLevelBoxes(f).map((b) => b.type);

const clips = {
  'H.264 with B-frames + AAC': makeClip({ video: true, audio: true, seconds: 5, gop: 1 }),
  'H.264 only': makeClip({ video: true, audio: false, seconds: 4, gop: 2 }),
  'AAC only': makeClip({ video: false, audio: true, seconds: 4 }),
};

describe('finishing a fragmented MP4 in process', () => {
  for (const [label, clip] of Object.entries(clips)) {
    it(`${label}: moov-last, faststart, reserved and inserted layouts hold exactly the recorded packets`, async () => {
      const src = fragmented(clip);
      const expected = packets(src);
      expect(expected.split('\n').length).toBeGreaterThan(50);
      const hidden = beforeStart(src);

      const last = fragmented(clip);
      const a = await finishFragmentedMp4(last, { moovFirst: false, stagedPath: `${last}.staged` });
      expect(a).toEqual({ layout: 'moov-last', file: last });
      expect(types(last).at(-1)).toBe('moov');
      expect(types(last)).not.toContain('moof');

      const fast = fragmented(clip);
      const b = await finishFragmentedMp4(fast, { moovFirst: true, stagedPath: `${fast}.staged`, insertRange: null });
      expect(b).toEqual({ layout: 'faststart', file: `${fast}.staged` });
      expect(types(b.file)).toEqual(['ftyp', 'moov', 'mdat']);

      const reserved = fragmented(clip, 256 * 1024);
      const c = await finishFragmentedMp4(reserved, { moovFirst: true, stagedPath: `${reserved}.staged` });
      expect(c).toEqual({ layout: 'reserved', file: reserved });
      expect(types(reserved).slice(0, 2)).toEqual(['ftyp', 'moov']);
      expect(types(reserved)).not.toContain('moof');
      expect(fs.existsSync(`${reserved}.staged`)).toBe(false);

      const ins = fragmented(clip);
      const insSize = fs.statSync(ins).size;
      const d = await finishFragmentedMp4(ins, { moovFirst: true, stagedPath: `${ins}.staged`, insertRange });
      expect(d.layout).toBe(dirInserts ? 'inserted' : 'faststart');
      expect(types(d.file)[0]).toBe('ftyp');
      expect(types(d.file).indexOf('moov')).toBeLessThan(types(d.file).indexOf('mdat'));
      expect(types(d.file).filter((t) => t === 'moov' || t === 'moof')).toEqual(['moov']);
      if (d.layout === 'inserted') {
        // same file, grown by whole blocks in front; nothing staged
        expect(d.file).toBe(ins);
        const grown = fs.statSync(ins).size - insSize;
        expect(grown % fs.statSync(ins).blksize).toBe(0);
        expect(grown).toBeGreaterThan(0);
        expect(fs.existsSync(`${ins}.staged`)).toBe(false);
        const boxes = mp4TopLevelBoxes(ins);
        const moov = boxes.find((x) => x.type === 'moov')!;
        expect(boxes.findIndex((x) => x.type === 'moov')).toBeLessThan(boxes.findIndex((x) => x.type === 'mdat'));
        expect(moov.offset + moov.size).toBe(grown);
      }

      for (const f of [last, b.file, reserved, d.file]) {
        expect(packets(f)).toBe(expected);
        expect(discarded(f)).toBe(hidden);
        expect(decodeErrors(f)).toBe('');
        expect(Math.abs(durationOf(f) - durationOf(clip))).toBeLessThanOrEqual(0.1);
      }
    });
  }

  it('a reserve too small for the moov gives the faststart layout and leaves the temp file as it was', async () => {
    const clip = clips['H.264 with B-frames + AAC'];
    const src = fragmented(clip, 1024);
    const before = md5(src);
    const r = await finishFragmentedMp4(src, { moovFirst: true, stagedPath: `${src}.staged`, insertRange: null });
    expect(r.layout).toBe('faststart');
    expect(md5(src)).toBe(before);
    expect(packets(r.file)).toBe(packets(src));
  });

  it('a truncated file or an unfragmented MP4 is refused with BoxFormatError and left untouched', async () => {
    const clip = clips['H.264 with B-frames + AAC'];
    const cut = fragmented(clip);
    fs.truncateSync(cut, fs.statSync(cut).size - 1000);
    const before = md5(cut);
    await expect(finishFragmentedMp4(cut, { moovFirst: false, stagedPath: `${cut}.staged` })).rejects.toBeInstanceOf(BoxFormatError);
    expect(md5(cut)).toBe(before);
    const plain = path.join(dir, 'plain.mp4');
    fs.copyFileSync(clip, plain);
    await expect(finishFragmentedMp4(plain, { moovFirst: true, stagedPath: `${plain}.staged` })).rejects.toThrow(/not a fragmented MP4/);
    expect(md5(plain)).toBe(md5(clip));
  });

  it('a file system that refuses to insert a range (tmpfs) gets the copy, and the temp file stays as it was', async () => {
    const clip = clips['H.264 with B-frames + AAC'];
    const shm = fs.mkdtempSync('/dev/shm/wcs-mp4-finish-');
    try {
      expect(insertsRanges(shm)).toBe(false);
      const src = path.join(shm, `refused-${++n}.mp4`);
      fs.copyFileSync(fragmented(clip), src);
      const before = md5(src);
      const expected = packets(src);
      const r = await finishFragmentedMp4(src, { moovFirst: true, stagedPath: `${src}.staged`, insertRange });
      expect(r.layout).toBe('faststart');
      expect(r.insertRefused).toMatch(/does not insert ranges/);
      expect(md5(src)).toBe(before);
      expect(types(r.file)).toEqual(['ftyp', 'moov', 'mdat']);
      expect(packets(r.file)).toBe(expected);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('an insert that fails after the probe said yes still gets the copy, with every packet', async () => {
    const clip = clips['H.264 with B-frames + AAC'];
    const src = fragmented(clip);
    const expected = packets(src);
    const failing: InsertRange = {
      supported: async () => true,
      insert: () => Promise.reject(new InsertRangeError('fallocate --insert-range exit 1: No space left on device')),
      collapse: () => Promise.reject(new InsertRangeError('not used')),
    };
    const r = await finishFragmentedMp4(src, { moovFirst: true, stagedPath: `${src}.staged`, insertRange: failing });
    expect(r.layout).toBe('faststart');
    expect(r.insertRefused).toMatch(/No space left/);
    expect(types(r.file)).toEqual(['ftyp', 'moov', 'mdat']);
    expect(packets(r.file)).toBe(expected);
    expect(decodeErrors(r.file)).toBe('');
  });

  it.runIf(dirInserts)('a crash inside an insert-range finish is undone at recovery (collapse-range): the file as it was before the insert', async () => {
    const clip = clips['H.264 with B-frames + AAC'];
    const block = (f: string): number => fs.statSync(f).blksize;
    // (a) killed right after the insert: zeros, then the fragmented file
    const a = fragmented(clip);
    const aBefore = md5(a);
    expect(await repairInterruptedInsert(a, insertRange)).toBe(false); // an intact file is left alone
    await insertRange.insert(a, 0, 64 * block(a));
    expect(fs.readFileSync(a).subarray(0, 8).every((b) => b === 0)).toBe(true);
    expect(await repairInterruptedInsert(a, insertRange)).toBe(true);
    expect(md5(a)).toBe(aBefore);
    // (b) killed while the room is being filled (moov written, no ftyp yet): the moov-last file under it
    const b = fragmented(clip);
    const expected = packets(b);
    await finishFragmentedMp4(b, { moovFirst: false, stagedPath: `${b}.staged` });
    const bBefore = md5(b);
    const room = 3 * block(b);
    await insertRange.insert(b, 0, room);
    const fd = fs.openSync(b, 'r+');
    fs.writeSync(fd, crypto.randomBytes(room - 64), 0, room - 64, 64);
    fs.closeSync(fd);
    expect(await repairInterruptedInsert(b, insertRange)).toBe(true);
    expect(md5(b)).toBe(bBefore);
    expect(packets(b)).toBe(expected);
    expect(decodeErrors(b)).toBe('');
  });
});
