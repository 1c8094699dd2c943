import fs from 'node:fs';

/** A moov larger than this is left to ffprobe (a 24-hour 30 fps record's moov is a few MB). */
const MAX_MOOV_BYTES = 32 * 1024 * 1024;

/**
 * The duration of a finished MP4 from its mvhd box, in seconds, read in
 * process (a handful of small reads instead of an ffprobe process); null
 * when the file is not a plain finished MP4 this can read (no moov, a moov
 * too large, fragmented with no duration, a damaged box): the caller then
 * asks ffprobe.
 */
export function mp4DurationSeconds(file: string): number | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(16);
    let offset = 0;
    for (let boxes = 0; offset + 8 <= size && boxes < 64; boxes++) {
      const n = fs.readSync(fd, head, 0, 16, offset);
      if (n < 8) return null;
      let boxSize = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (boxSize === 1) {
        if (n < 16) return null;
        boxSize = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (boxSize === 0) {
        boxSize = size - offset;
      }
      if (boxSize < header || offset + boxSize > size) return null;
      if (type === 'moov') {
        if (boxSize > MAX_MOOV_BYTES) return null;
        const moov = Buffer.alloc(boxSize - header);
        if (fs.readSync(fd, moov, 0, moov.length, offset + header) !== moov.length) return null;
        return mvhdDuration(moov);
      }
      offset += boxSize;
    }
    return null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Duration in seconds from the mvhd child of a moov payload (pure); null when absent, zero or damaged. */
export function mvhdDuration(moov: Buffer): number | null {
  let at = 0;
  while (at + 8 <= moov.length) {
    const size = moov.readUInt32BE(at);
    const type = moov.toString('latin1', at + 4, at + 8);
    if (size < 8 || at + size > moov.length) return null;
    if (type === 'mvhd') {
      const version = moov[at + 8];
      if (version === 1) {
        if (size < 8 + 4 + 16 + 4 + 8) return null;
        const timescale = moov.readUInt32BE(at + 28);
        const duration = Number(moov.readBigUInt64BE(at + 32));
        return timescale > 0 && duration > 0 && duration < 2 ** 53 ? duration / timescale : null;
      }
      if (size < 8 + 4 + 8 + 4 + 4) return null;
      const timescale = moov.readUInt32BE(at + 20);
      const duration = moov.readUInt32BE(at + 24);
      return timescale > 0 && duration > 0 && duration !== 0xffffffff ? duration / timescale : null;
    }
    at += size;
  }
  return null;
}
