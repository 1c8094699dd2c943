import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FfmpegNotFoundError, locateFfmpeg } from '../../src/recording/ffmpeg/locate-ffmpeg.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-locate-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function fakeBinaries(dir: string, names: string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) {
    fs.writeFileSync(path.join(dir, n), '#!/bin/sh\n');
    fs.chmodSync(path.join(dir, n), 0o755);
  }
  return dir;
}

const configured = fakeBinaries(path.join(root, 'configured'), ['ffmpeg', 'ffprobe']);
const fromEnv = fakeBinaries(path.join(root, 'env'), ['ffmpeg']);
const onPath = fakeBinaries(path.join(root, 'path'), ['ffmpeg', 'ffprobe']);
const notExecutable = path.join(root, 'plain-file');
fs.writeFileSync(notExecutable, 'x');

// ffmpeg-static's binary is absent on these machines (its download fails), so
// the order property > FFMPEG_PATH > PATH is what can be checked here
describe('locateFfmpeg: ffmpeg_path, then FFMPEG_PATH, then ffmpeg-static, then PATH', () => {
  it('the ffmpeg_path property wins, with ffprobe from the same folder', () => {
    const b = locateFfmpeg(path.join(configured, 'ffmpeg'), { FFMPEG_PATH: path.join(fromEnv, 'ffmpeg'), PATH: onPath });
    expect(b).toEqual({ ffmpeg: path.join(configured, 'ffmpeg'), ffprobe: path.join(configured, 'ffprobe'), origin: 'ffmpeg_path' });
  });

  it('then FFMPEG_PATH; ffprobe falls back to PATH when it is not next to it', () => {
    const b = locateFfmpeg('', { FFMPEG_PATH: path.join(fromEnv, 'ffmpeg'), PATH: onPath });
    expect(b).toEqual({ ffmpeg: path.join(fromEnv, 'ffmpeg'), ffprobe: path.join(onPath, 'ffprobe'), origin: 'FFMPEG_PATH' });
  });

  it('then ffmpeg on PATH (when ffmpeg-static did not install)', () => {
    const b = locateFfmpeg('', { PATH: `${path.join(root, 'missing')}:${onPath}` });
    expect(b.origin === 'PATH' || b.origin === 'ffmpeg-static').toBe(true);
    if (b.origin === 'PATH') expect(b.ffmpeg).toBe(path.join(onPath, 'ffmpeg'));
  });

  it.each([
    ['a configured path that is not executable', notExecutable, {}, /ffmpeg_path/],
    ['an FFMPEG_PATH that does not exist', '', { FFMPEG_PATH: path.join(root, 'nope') }, /FFMPEG_PATH/],
  ])('%s is an error naming it', (_l, prop, env, message) => {
    expect(() => locateFfmpeg(prop, env)).toThrow(message);
  });

  it('nothing anywhere: a message that says what to install', () => {
    let err: unknown = null;
    try {
      locateFfmpeg('', { PATH: path.join(root, 'empty') });
    } catch (e) {
      err = e;
    }
    // ffmpeg-static may be present on a machine with internet; then it is found instead
    if (err !== null) {
      expect(err).toBeInstanceOf(FfmpegNotFoundError);
      expect(String(err)).toMatch(/apt-get install ffmpeg/);
    }
  });
});
