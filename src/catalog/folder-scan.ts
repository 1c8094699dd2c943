import fs from 'node:fs';
import path from 'node:path';
import { containerOf } from '../records/containers.js';

/** A record file as found on disk. */
export interface DiskEntry {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface KnownFile {
  readonly size: number;
  readonly mtimeMs: number;
}

export interface FolderDiff {
  /** On disk, not in the catalog. */
  readonly added: DiskEntry[];
  /** In both, with another size or modification time. */
  readonly changed: DiskEntry[];
  /** In the catalog, no longer on disk. */
  readonly vanished: string[];
}

/** Whether a name in a record folder can be a record: visible, with a record container's extension (pure). */
export function isRecordName(name: string): boolean {
  return !name.startsWith('.') && containerOf(name) !== null;
}

/** Compares the catalog's view of a folder with its listing (pure). Unchanged files (same size and mtime) are left alone. */
export function diffFolder(known: ReadonlyMap<string, KnownFile>, onDisk: readonly DiskEntry[]): FolderDiff {
  const added: DiskEntry[] = [];
  const changed: DiskEntry[] = [];
  const seen = new Set<string>();
  for (const entry of onDisk) {
    seen.add(entry.name);
    const k = known.get(entry.name);
    if (!k) added.push(entry);
    else if (k.size !== entry.size || Math.round(k.mtimeMs) !== Math.round(entry.mtimeMs)) changed.push(entry);
  }
  const vanished = [...known.keys()].filter((name) => !seen.has(name));
  return { added, changed, vanished };
}

/** Stats one file; null when it is not a plain file (gone, a folder, a symlink). */
export function statEntry(dir: string, name: string): DiskEntry | null {
  try {
    const s = fs.lstatSync(path.join(dir, name));
    return s.isFile() ? { name, size: s.size, mtimeMs: Math.round(s.mtimeMs) } : null;
  } catch {
    return null;
  }
}

/**
 * The record files of a folder (plain files, visible, record containers).
 * Stats synchronously (far faster than the thread pool for 100k files) and
 * yields to the event loop every `batch` files.
 */
export async function listRecordFiles(dir: string, batch = 5000): Promise<DiskEntry[]> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && isRecordName(d.name)).map((d) => d.name);
  } catch {
    return [];
  }
  const entries: DiskEntry[] = [];
  for (let i = 0; i < names.length; i++) {
    const e = statEntry(dir, names[i]!);
    if (e) entries.push(e);
    if (i % batch === batch - 1) await new Promise((r) => setImmediate(r));
  }
  return entries;
}
