import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mp4DurationSeconds, mvhdDuration } from '../../src/catalog/mp4-duration.js';

let dir: string;

function encode(name: string, extra: string[]): string {
  const file = path.join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', ...extra, '-y', file]);
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp4dur-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('mp4DurationSeconds (mvhd read in process, before ffprobe)', () => {
  it('plain and faststart MP4: the duration ffprobe would say', () => {
    for (const file of [encode('plain.mp4', []), encode('fast.mp4', ['-movflags', '+faststart'])]) {
      const ffprobe = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }));
      expect(Math.abs(mp4DurationSeconds(file)! - ffprobe)).toBeLessThan(0.05);
    }
  });
  it('null (ffprobe decides) for fragmented MP4, truncated files, other formats, missing files', () => {
    expect(mp4DurationSeconds(encode('frag.mp4', ['-movflags', '+frag_keyframe+empty_moov']))).toBeNull();
    const plain = path.join(dir, 'plain.mp4');
    const cut = path.join(dir, 'cut.mp4');
    fs.writeFileSync(cut, fs.readFileSync(plain).subarray(0, 2000));
    expect(mp4DurationSeconds(cut)).toBeNull();
    const text = path.join(dir, 'text.mp4');
    fs.writeFileSync(text, 'not an mp4 at all, just text');
    expect(mp4DurationSeconds(text)).toBeNull();
    expect(mp4DurationSeconds(path.join(dir, 'none.mp4'))).toBeNull();
  });
  it('mvhd versions 0 and 1; damaged boxes', () => {
    const v0 = Buffer.alloc(8 + 100);
    v0.writeUInt32BE(108, 0);
    v0.write('mvhd', 4, 'latin1');
    v0.writeUInt32BE(1000, 20);
    v0.writeUInt32BE(61_500, 24);
    expect(mvhdDuration(v0)).toBe(61.5);
    const v1 = Buffer.alloc(8 + 112);
    v1.writeUInt32BE(120, 0);
    v1.write('mvhd', 4, 'latin1');
    v1[8] = 1;
    v1.writeUInt32BE(90_000, 28);
    v1.writeBigUInt64BE(900_000n, 32);
    expect(mvhdDuration(v1)).toBe(10);
    const bad = Buffer.from(v0);
    bad.writeUInt32BE(5000, 0);
    expect(mvhdDuration(bad)).toBeNull();
    expect(mvhdDuration(Buffer.alloc(0))).toBeNull();
  });
});
