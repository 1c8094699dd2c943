import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ComposeUnsupportedError, PartDamagedError, readPartMedia } from '../../src/http/playback/mp4-sample-table.js';
import { topLevelScan } from '../../src/recording/mp4-boxes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-cut-short-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function box(type: string, size: number, body = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

function file(name: string, ...parts: Buffer[]): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.concat(parts));
  return f;
}

const ftyp = box('ftyp', 16, Buffer.from('isom\0\0\0\0', 'latin1'));

describe('a file cut short before its moov ends (the tables the cutter and the playback read)', () => {
  it('topLevelScan: the boxes that fit, and the one that runs past the end', async () => {
    const whole = file('whole.mp4', ftyp, box('free', 16, Buffer.alloc(8)));
    expect(await topLevelScan(whole)).toEqual({ boxes: [{ type: 'ftyp', offset: 0, size: 16 }, { type: 'free', offset: 16, size: 16 }], cutShort: null });
    const cut = file('cut.mp4', ftyp, box('moov', 8192, Buffer.alloc(100)));
    expect((await topLevelScan(cut)).cutShort).toEqual({ type: 'moov', offset: 16, size: 8192, fileSize: 124 });
  });

  it.each([
    ['cut inside its moov', [ftyp, box('moov', 8192, Buffer.alloc(100))], /its moov box runs to byte 8208 but the file has 124 bytes \(cut short\)/],
    ['moov last, cut inside the media', [ftyp, box('mdat', 1_000_000, Buffer.alloc(500))], /its mdat box runs to byte 1000016 but the file has 524 bytes \(cut short\)/],
  ])('%s: PartDamagedError saying where it ends', async (_what, parts, message) => {
    const f = file('damaged.mp4', ...parts);
    await expect(readPartMedia(f)).rejects.toThrow(PartDamagedError);
    await expect(readPartMedia(f)).rejects.toThrow(message);
  });

  it('bytes that are no MP4 at all are not called cut short (ffmpeg names them)', async () => {
    const f = file('noise.mp4', Buffer.from([0x47, 0x40, 0x11, 0x10, 0xff, 0x00, 0x01, 0x02, 0x47, 0x40, 0x00, 0x10]));
    await expect(readPartMedia(f)).rejects.toThrow(ComposeUnsupportedError);
  });
});
