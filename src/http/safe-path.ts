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
