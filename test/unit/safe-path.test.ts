import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existingRecordInside, recordPathInside } from '../../src/http/safe-path.js';

const DIR = '/srv/wcs/records';

describe('recordPathInside (pure)', () => {
  it.each([
    ['empty', ''],
    ['dot', '.'],
    ['dot dot', '..'],
    ['parent then name', '../x'],
    ['parent of parent', '../../etc/passwd'],
    ['sub path', 'a/b'],
    ['trailing slash', 'stream.mp4/'],
    ['leading slash', '/stream.mp4'],
    ['absolute', '/etc/passwd'],
    ['backslash', 'a\\b'],
    ['backslash parent', '..\\x'],
    ['NUL inside', 'a\0b.mp4'],
    ['NUL at end', 'stream.mp4\0'],
    ['hidden', '.hidden'],
    ['hidden tmp dir', '.tmp'],
    ['256 characters', 'a'.repeat(252) + '.mp4'],
    ['very long', 'a'.repeat(10_000)],
  ])('%s (%j) -> null', (_label, name) => {
    expect(recordPathInside(DIR, name)).toBeNull();
  });

  it.each([
    'stream.mp4',
    'a..b.mp4',
    'ünïcode.mp4',
    'stream-9c3e-test-1563776083752-{endTime}.mp4',
    'name with spaces.mp4',
    'x',
    'stream.',
    'a'.repeat(251) + '.mp4',
    '😀.mp4',
    '%2e%2e',
  ])('%j -> path.join(dir, name)', (name) => {
    expect(recordPathInside(DIR, name)).toBe(path.join(DIR, name));
  });

  it('255 characters is the longest accepted', () => {
    expect(recordPathInside(DIR, 'a'.repeat(255))).toBe(path.join(DIR, 'a'.repeat(255)));
    expect(recordPathInside(DIR, 'a'.repeat(256))).toBeNull();
  });

  it('a relative or non-normalized dir still yields a path directly inside it', () => {
    expect(recordPathInside('records', 'stream.mp4')).toBe(path.resolve('records', 'stream.mp4'));
    expect(recordPathInside('/srv/wcs/./records/', 'stream.mp4')).toBe(path.join(DIR, 'stream.mp4'));
  });
});

describe('existingRecordInside (I/O)', () => {
  let root: string;
  let dir: string;
  let outsideFile: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-safe-path-'));
    dir = path.join(root, 'records');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stream.mp4'), 'data');
    fs.writeFileSync(path.join(dir, 'ünïcode.mp4'), 'data');
    fs.writeFileSync(path.join(dir, 'a..b.mp4'), 'data');
    fs.writeFileSync(path.join(dir, '.hidden.mp4'), 'data');
    fs.mkdirSync(path.join(dir, 'subdir.mp4'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'inner.mp4'), 'data');
    outsideFile = path.join(root, 'secret.txt');
    fs.writeFileSync(outsideFile, 'secret');
    // links leading out of the records folder
    fs.symlinkSync(outsideFile, path.join(dir, 'outside.mp4'));
    fs.symlinkSync('/etc/hostname', path.join(dir, 'hostname.mp4'));
    fs.symlinkSync(path.join(dir, 'sub', 'inner.mp4'), path.join(dir, 'to-subdir-file.mp4'));
    fs.symlinkSync(root, path.join(dir, 'to-root'));
    // link to a file inside the folder, and a dangling link
    fs.symlinkSync(path.join(dir, 'stream.mp4'), path.join(dir, 'alias.mp4'));
    fs.symlinkSync(path.join(dir, 'nothing.mp4'), path.join(dir, 'dangling.mp4'));
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it.each(['stream.mp4', 'ünïcode.mp4', 'a..b.mp4'])('a real file %j -> its real path', async (name) => {
    const realDir = fs.realpathSync(dir);
    await expect(existingRecordInside(dir, name)).resolves.toBe(path.join(realDir, name));
  });

  it.each([
    ['missing file', 'missing.mp4'],
    ['directory', 'subdir.mp4'],
    ['symlink to a file outside (/etc/hostname)', 'hostname.mp4'],
    ['symlink to a file outside (temp)', 'outside.mp4'],
    ['symlink to a file in a sub folder', 'to-subdir-file.mp4'],
    ['symlink to a folder outside', 'to-root'],
    ['dangling symlink', 'dangling.mp4'],
    ['hidden file', '.hidden.mp4'],
    ['traversal', '../secret.txt'],
    ['sub path', 'sub/inner.mp4'],
    ['empty', ''],
    ['dot dot', '..'],
    ['NUL', 'stream.mp4\0'],
  ])('%s (%j) -> null', async (_label, name) => {
    await expect(existingRecordInside(dir, name)).resolves.toBeNull();
  });

  it('a symlink to a file inside the same folder resolves to that file', async () => {
    const realDir = fs.realpathSync(dir);
    await expect(existingRecordInside(dir, 'alias.mp4')).resolves.toBe(path.join(realDir, 'stream.mp4'));
  });

  it('a records folder reached through a symlink still works', async () => {
    const linkDir = path.join(root, 'records-link');
    fs.symlinkSync(dir, linkDir);
    await expect(existingRecordInside(linkDir, 'stream.mp4')).resolves.toBe(
      path.join(fs.realpathSync(dir), 'stream.mp4'),
    );
    await expect(existingRecordInside(linkDir, 'hostname.mp4')).resolves.toBeNull();
  });

  it('a missing records folder -> null', async () => {
    await expect(existingRecordInside(path.join(root, 'no-such-dir'), 'stream.mp4')).resolves.toBeNull();
  });
});

describe('recordPathInside counts the 255 limit in UTF-8 bytes', () => {
  it('refuses a name of 128 two-byte characters (256 bytes) and accepts 127 plus one ASCII byte', () => {
    expect(recordPathInside('/records', 'ü'.repeat(128))).toBeNull();
    expect(recordPathInside('/records', 'ü'.repeat(127) + 'a')).toBe(`/records/${'ü'.repeat(127)}a`);
  });
});
