import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freeBoxHeader } from './box-tree.js';

/**
 * Inserts `length` zero bytes at `offset` of a file without moving its data
 * (Linux FALLOC_FL_INSERT_RANGE: the file system shifts its extents).
 * `offset` and `length` must be multiples of the file system's block size.
 * Rejects when the file system or the kernel refuses (tmpfs, NFS, FAT…):
 * the caller then copies instead.
 */
export interface InsertRange {
  insert(file: string, offset: number, length: number): Promise<void>;
  /**
   * Removes `length` bytes at `offset` without moving data (FALLOC_FL_COLLAPSE_RANGE,
   * the inverse): undoes an insert that a crash interrupted.
   */
  collapse(file: string, offset: number, length: number): Promise<void>;
  /** Whether files in `dir` take inserts (asked once per directory, with a scratch file). */
  supported(dir: string): Promise<boolean>;
}

export class InsertRangeError extends Error {}

/**
 * FALLOC_FL_INSERT_RANGE through util-linux `fallocate --insert-range`
 * (Node has no binding for fallocate(2)). One short child process per
 * finished record; its exit is awaited, its stderr kept for the error.
 */
export function fallocateInsertRange(binary = 'fallocate'): InsertRange {
  const run = (mode: '--insert-range' | '--collapse-range', file: string, offset: number, length: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(binary, [mode, '--offset', String(offset), '--length', String(length), '--', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 2000) stderr += d;
      });
      child.once('error', (err) => reject(new InsertRangeError(`${binary}: ${err.message}`)));
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new InsertRangeError(`${binary} ${mode} exit ${code ?? signal}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
      });
    });
  const known = new Map<string, Promise<boolean>>();
  return {
    insert: (file, offset, length) => run('--insert-range', file, offset, length),
    collapse: (file, offset, length) => run('--collapse-range', file, offset, length),
    supported(dir) {
      let answer = known.get(dir);
      if (!answer) {
        answer = probe(dir, (file, length) => run('--insert-range', file, 0, length));
        if (known.size > 100) known.clear();
        known.set(dir, answer);
      }
      return answer;
    },
  };
}

/** Inserts one block into a scratch file of two blocks in `dir`. */
async function probe(dir: string, insert: (file: string, length: number) => Promise<void>): Promise<boolean> {
  const file = path.join(dir, `.insert-range-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const handle = await fs.promises.open(file, 'wx');
    let block = 4096;
    try {
      block = (await handle.stat()).blksize || 4096;
      await handle.write(Buffer.alloc(2 * block, 1), 0, 2 * block, 0);
    } finally {
      await handle.close();
    }
    await insert(file, block);
    return (await fs.promises.stat(file)).size === 3 * block;
  } catch {
    return false;
  } finally {
    await fs.promises.rm(file, { force: true });
  }
}

/** Smallest multiple of `block` that holds `bytes` and leaves either no gap or room for a `free` box header (8 bytes). */
export function insertLength(bytes: number, block: number): number {
  let length = Math.ceil(bytes / block) * block;
  const gap = length - bytes;
  if (gap > 0 && gap < 8) length += block;
  return length;
}

/** The most an insert-range finish inserts: ftyp + moov of far more than a day of media. */
const MAX_INSERT = 64 * 1024 * 1024;

/**
 * A crash inside an insert-range finish, after the insert and before the
 * ftyp at offset 0 (written last), leaves the file starting with a zero
 * word, and the file as it was before the insert (the fragmented MP4, or
 * the same with its moov appended: both readable) starting at a block
 * multiple L further on. Takes those L bytes out again (collapse-range);
 * where that fails, covers them with one `free` box (right when they are
 * still all zeros). Returns true when it repaired something.
 */
export async function repairInterruptedInsert(file: string, ranges: InsertRange): Promise<boolean> {
  const handle = await fs.promises.open(file, 'r+');
  let length = 0;
  let zeros = false;
  try {
    const { size, blksize } = await handle.stat();
    const block = blksize > 0 ? blksize : 4096;
    const head = Buffer.alloc(16);
    if ((await handle.read(head, 0, 16, 0)).bytesRead < 16 || head.readUInt32BE(0) !== 0) return false;
    const isBox = async (at: number): Promise<boolean> => {
      if ((await handle.read(head, 0, 16, at)).bytesRead < 8) return false;
      const type = head.toString('latin1', 4, 8);
      const boxSize = head.readUInt32BE(0) === 1 ? Number(head.readBigUInt64BE(8)) : head.readUInt32BE(0);
      return (type === 'ftyp' || type === 'free') && boxSize >= 8 && at + boxSize <= size;
    };
    for (let at = block; at < Math.min(size, MAX_INSERT + block); at += block) {
      if (await isBox(at)) {
        length = at;
        break;
      }
    }
    if (length === 0) return false;
    const prefix = Buffer.alloc(length);
    await handle.read(prefix, 0, length, 0);
    zeros = prefix.every((b) => b === 0);
  } finally {
    await handle.close();
  }
  try {
    await ranges.collapse(file, 0, length);
  } catch {
    if (!zeros) return false;
    const handle2 = await fs.promises.open(file, 'r+');
    try {
      await handle2.write(freeBoxHeader(length), 0, 8, 0);
    } finally {
      await handle2.close();
    }
  }
  return true;
}
