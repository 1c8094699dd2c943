import fs from 'node:fs';
import path from 'node:path';

/**
 * Checks a requested record name (already URL-decoded) and returns the
 * absolute path of that file inside `dir`, or null when the name could
 * leave the directory or is not a plain visible file name. Pure: no I/O.
 */
export function recordPathInside(dir: string, name: string): string | null {
  if (name === '' || Buffer.byteLength(name) > 255) return null;
  if (name.includes('/') || name.includes('\\') || name.includes('\0')) return null;
  if (name.startsWith('.')) return null;
  const resolved = path.resolve(dir, name);
  if (path.dirname(resolved) !== path.resolve(dir)) return null;
  return resolved;
}

/**
 * The I/O half: the file must exist as a regular file whose real path
 * (symlinks resolved) is still directly inside the real `dir`.
 */
export async function existingRecordInside(dir: string, name: string): Promise<string | null> {
  const candidate = recordPathInside(dir, name);
  if (candidate === null) return null;
  try {
    const [realDir, realFile] = await Promise.all([fs.promises.realpath(dir), fs.promises.realpath(candidate)]);
    if (path.dirname(realFile) !== realDir) return null;
    const stat = await fs.promises.stat(realFile);
    return stat.isFile() ? realFile : null;
  } catch {
    return null;
  }
}

/** A record opened for reading: the descriptor is what is served, the checks were made on it. */
export interface OpenedRecord {
  readonly handle: fs.promises.FileHandle;
  readonly stat: fs.Stats;
  /** The real path of what was opened (directly inside the real dir). */
  readonly realPath: string;
}

/** Where the kernel says an open descriptor leads (Linux); null when it cannot tell. */
export type DescriptorPath = (fd: number) => Promise<string | null>;

export const procFdPath: DescriptorPath = async (fd) => {
  try {
    return await fs.promises.readlink(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
};

/**
 * Opens a record once and checks what was opened, not a path: the
 * descriptor must be a regular file whose real path (from /proc/self/fd)
 * is directly inside the real `dir`. A symlink or a swap between a check
 * and the open can then never serve a file from elsewhere. Without /proc
 * the final name is opened with O_NOFOLLOW (no symlink at all). O_NONBLOCK
 * keeps a FIFO put in the folder from hanging the open. Null when the
 * record is not there or not allowed; the caller closes the handle.
 */
export async function openRecordInside(dir: string, name: string, fdPath: DescriptorPath = procFdPath): Promise<OpenedRecord | null> {
  const candidate = recordPathInside(dir, name);
  if (candidate === null) return null;
  let realDir: string;
  try {
    realDir = await fs.promises.realpath(dir);
  } catch {
    return null;
  }
  const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(candidate, O_RDONLY | O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    let realPath = await fdPath(handle.fd);
    if (realPath === null) {
      // no /proc: open the name again without following a symlink and keep that one
      await handle.close();
      handle = await fs.promises.open(candidate, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
      realPath = path.join(realDir, path.basename(candidate));
    }
    const stat = await handle.stat();
    if (!stat.isFile() || path.dirname(realPath) !== realDir || path.basename(realPath).startsWith('.')) {
      await handle.close();
      return null;
    }
    return { handle, stat, realPath };
  } catch {
    await handle.close().catch(() => undefined);
    return null;
  }
}
