import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
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
  /** Ends a helper process, if one runs (started again on the next request). */
  close?(): Promise<void>;
}

export class InsertRangeError extends Error {}

/**
 * FALLOC_FL_INSERT_RANGE / COLLAPSE_RANGE through util-linux `fallocate`
 * (Node has no binding for fallocate(2)), run by one long-lived `sh` that
 * reads requests on its stdin: spawning from the daemon blocks its event
 * loop while the kernel copies its page tables (about 45 ms per record in
 * the N=10 profile under load); the small shell forks cheaply instead.
 * Started on first use, unref'd (it never keeps the daemon alive), ended
 * by closing its stdin (the daemon's exit closes it too). Requests are
 * answered in order.
 */
export function fallocateInsertRange(binary = 'fallocate'): InsertRange {
  let helper: ChildProcessWithoutNullStreams | null = null;
  const waiting: { resolve(): void; reject(err: Error): void; what: string }[] = [];
  const fail = (why: string): void => {
    helper = null;
    for (const w of waiting.splice(0)) w.reject(new InsertRangeError(`${w.what}: ${why}`));
  };
  const start = (): ChildProcessWithoutNullStreams => {
    // four lines in (mode, offset, length, file); one line out: 0, or the last line fallocate said
    const script = 'while IFS= read -r mode && IFS= read -r offset && IFS= read -r length && IFS= read -r file; do ' +
      'if err=$("$0" "$mode" --offset "$offset" --length "$length" -- "$file" 2>&1); then echo 0; else echo "$err" | tail -n 1 | tr -d "\\n"; echo; fi; done';
    const child = spawn('sh', ['-c', script, binary], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const w = waiting.shift();
        if (!w) continue;
        if (line === '0') w.resolve();
        else w.reject(new InsertRangeError(`${w.what}: ${line || 'failed'}`));
      }
    });
    child.stderr.resume();
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`helper exited (${code ?? signal})`));
    child.stdin.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?(): void }).unref?.();
    (child.stdout as unknown as { unref?(): void }).unref?.();
    (child.stderr as unknown as { unref?(): void }).unref?.();
    return child;
  };
  const run = (mode: '--insert-range' | '--collapse-range', file: string, offset: number, length: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const what = `${binary} ${mode}`;
      if (/[\n\r]/.test(file)) return reject(new InsertRangeError(`${what}: a line break in the file name`));
      helper ??= start();
      waiting.push({ resolve, reject, what });
      helper.stdin.write(`${mode}\n${offset}\n${length}\n${file}\n`);
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
    async close() {
      const child = helper;
      if (!child) return;
      helper = null;
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
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
