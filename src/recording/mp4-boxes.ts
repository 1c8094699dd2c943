import fs from 'node:fs';

/** Types and offsets of an MP4 file's top-level boxes, read from their headers only. */
export async function topLevelBoxes(file: string): Promise<{ type: string; offset: number; size: number }[]> {
  return (await topLevelScan(file)).boxes;
}

/** A top-level box whose header says it runs past the end of the file. */
export interface CutShortBox {
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly fileSize: number;
}

/**
 * The top-level boxes of a file, and the box the scan stopped at because
 * its size runs past the end of the file (null when the boxes tile the
 * file, or the scan stopped at bytes that are no box header).
 */
export async function topLevelScan(file: string): Promise<{ boxes: { type: string; offset: number; size: number }[]; cutShort: CutShortBox | null }> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const boxes: { type: string; offset: number; size: number }[] = [];
    const head = Buffer.alloc(16);
    let offset = 0;
    let cutShort: CutShortBox | null = null;
    while (offset + 8 <= fileSize) {
      await handle.read(head, 0, 16, offset);
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (size === 1) size = Number(head.readBigUInt64BE(8));
      else if (size === 0) size = fileSize - offset;
      if (size >= 8 && offset + size > fileSize) cutShort = { type, offset, size, fileSize };
      if (size < 8 || offset + size > fileSize) break;
      boxes.push({ type, offset, size });
      offset += size;
    }
    return { boxes, cutShort };
  } finally {
    await handle.close();
  }
}

/** A complete MP4: its top-level boxes tile the whole file and include moov and the media. */
export async function isCompleteMp4(file: string): Promise<boolean> {
  try {
    const [boxes, stat] = await Promise.all([topLevelBoxes(file), fs.promises.stat(file)]);
    const last = boxes.at(-1);
    if (!last || last.offset + last.size !== stat.size) return false;
    return boxes.some((b) => b.type === 'moov') && boxes.some((b) => b.type === 'mdat' || b.type === 'moof');
  } catch {
    return false;
  }
}
