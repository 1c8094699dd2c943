import { describe, expect, it } from 'vitest';
import { BoxFormatError, boxSize, childHeaders, findChild, freeBoxHeader, parseBoxes, readBoxHeader, serializeBox } from '../../src/recording/mp4/box-tree.js';

function box(type: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(payload.length + 8, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, payload]);
}

describe('MP4 box tree', () => {
  it('parses containers into children, keeps leaves raw, and serializes back byte for byte', () => {
    const stbl = box('stbl', Buffer.concat([box('stsd', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])), box('stts', Buffer.alloc(8))]));
    const moov = box('moov', Buffer.concat([box('mvhd', Buffer.alloc(100, 1)), box('trak', box('mdia', box('minf', stbl))), box('udta', box('meta', Buffer.alloc(4)))]));
    const [tree] = parseBoxes(moov);
    expect(tree?.type).toBe('moov');
    expect(tree?.children?.map((c) => c.type)).toEqual(['mvhd', 'trak', 'udta']);
    // udta is not a container here: kept raw, nested boxes and all
    expect(findChild(tree!, 'udta')?.payload?.length).toBe(12);
    expect(serializeBox(tree!).equals(moov)).toBe(true);
    expect(boxSize(tree!)).toBe(moov.length);
  });

  it('reads 64-bit sizes and size 0 (to the end)', () => {
    const big = Buffer.alloc(24);
    big.writeUInt32BE(1, 0);
    big.write('mdat', 4, 'latin1');
    big.writeBigUInt64BE(24n, 8);
    expect(readBoxHeader(big, 0)).toEqual({ type: 'mdat', offset: 0, size: 24, headerSize: 16 });
    const open = Buffer.alloc(20);
    open.write('mdat', 4, 'latin1');
    expect(readBoxHeader(open, 0)?.size).toBe(20);
    expect(readBoxHeader(Buffer.alloc(4), 0)).toBeNull();
  });

  it('refuses sizes smaller than the header and children running past their parent', () => {
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(4, 0);
    bad.write('free', 4, 'latin1');
    expect(() => readBoxHeader(bad, 0)).toThrow(BoxFormatError);
    const over = box('free', Buffer.alloc(8));
    over.writeUInt32BE(100, 0);
    expect(() => childHeaders(over, 0, over.length)).toThrow(/runs past/);
  });

  it('writes free box headers', () => {
    const h = freeBoxHeader(2048 * 1024);
    expect(h.readUInt32BE(0)).toBe(2048 * 1024);
    expect(h.toString('latin1', 4, 8)).toBe('free');
  });
});
