import fs from 'node:fs';
import path from 'node:path';

/** Moves a file, across filesystems if needed (copy, then remove the source). */
export async function moveFile(from: string, to: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(to), { recursive: true });
  try {
    await fs.promises.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const partial = path.join(path.dirname(to), `.${path.basename(to)}.part`);
    await fs.promises.copyFile(from, partial);
    await fs.promises.rename(partial, to);
    await fs.promises.unlink(from);
  }
}
