import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { freeBoxHeader } from './box-tree.js';

/**
 * Inserts `length` zero bytes at `offset` of a file without moving its data
 * (Linux FALLOC_FL_INSERT_RANGE: the file system shifts its extents).
 * `offset` and `length` must be multiples of the file system's block size.
 * Rejects when the file system or the kernel refuses (tmpfs, NFS, FAT…):
 * the caller then copies instead.
 */
export type InsertRange = (file: string, offset: number, length: number) => Promise<void>;

export class InsertRangeError extends Error {}

/**
 * FALLOC_FL_INSERT_RANGE through util-linux `fallocate --insert-range`
 * (Node has no binding for fallocate(2)). One short child process per
 * finished record; its exit is awaited, its stderr kept for the error.
 */
export function fallocateInsertRange(binary = 'fallocate'): InsertRange {
  return (file, offset, length) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(binary, ['--insert-range', '--offset', String(offset), '--length', String(length), '--', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 2000) stderr += d;
      });
      child.once('error', (err) => reject(new InsertRangeError(`${binary}: ${err.message}`)));
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new InsertRangeError(`${binary} --insert-range exit ${code ?? signal}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
      });
    });
}

/** Smallest multiple of `block` that holds `bytes` and leaves either no gap or room for a `free` box header (8 bytes). */
export function insertLength(bytes: number, block: number): number {
  let length = Math.ceil(bytes / block) * block;
  const gap = length - bytes;
  if (gap > 0 && gap < 8) length += block;
  return length;
}

/**
 * A crash between inserting the range and writing its first box header
 * leaves the file starting with zeros (a block multiple) and then the
 * fragmented MP4 as it was. Covers those zeros with one `free` box, which
 * makes it the same readable file as a temp file with reserved space.
 * Returns true when it repaired something.
 */
export async function repairInsertedZeros(file: string): Promise<boolean> {
  const handle = await fs.promises.open(file, 'r+');
  try {
    const { size, blksize } = await handle.stat();
    const block = blksize > 0 ? blksize : 4096;
    const buf = Buffer.alloc(block);
    let offset = 0;
    while (offset + block <= size && offset < 1 << 26) {
      const { bytesRead } = await handle.read(buf, 0, block, offset);
      if (bytesRead < 8) return false;
      const firstNonZero = buf.subarray(0, bytesRead).findIndex((b) => b !== 0);
      if (firstNonZero === -1) {
        offset += block;
        continue;
      }
      if (firstNonZero < 4 && offset > 0) {
        // a box header right after the zeros: the fragmented file as it was
        const type = buf.toString('latin1', 4, 8);
        if (type !== 'ftyp' && type !== 'free') return false;
        await handle.write(freeBoxHeader(offset), 0, 8, 0);
        return true;
      }
      return false;
    }
    return false;
  } finally {
    await handle.close();
  }
}
