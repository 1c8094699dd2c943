import fs from 'node:fs';
import { TypedEmitter } from '../util/typed-emitter.js';

/** Bytes available to us on the filesystem of `dir`. */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

export const statfsProbe: FreeSpaceProbe = async (dir) => {
  const s = await fs.promises.statfs(dir);
  return s.bavail * s.bsize;
};

interface DiskGuardEvents {
  /** Free space fell below the limit on `dir`. */
  low: [free: number, dir: string];
  /** Free space is back above the limit everywhere. */
  ok: [];
}

/**
 * file_recorder_min_space: watches the free space of the records and temp
 * filesystems; recordings stop, and new ones are refused, while any of them
 * is below the limit.
 */
export class DiskGuard extends TypedEmitter<DiskGuardEvents> {
  #timer: NodeJS.Timeout | null = null;
  #low = false;

  constructor(
    private readonly dirs: readonly string[],
    readonly minBytes: number,
    private readonly probe: FreeSpaceProbe = statfsProbe,
    private readonly intervalMs = 1000,
  ) {
    super();
  }

  get low(): boolean {
    return this.#low;
  }

  /** Measures now; true when there is enough space everywhere. */
  async check(): Promise<boolean> {
    for (const dir of this.dirs) {
      let free: number;
      try {
        free = await this.probe(dir);
      } catch {
        continue;
      }
      if (free < this.minBytes) {
        const was = this.#low;
        this.#low = true;
        if (!was) this.emit('low', free, dir);
        return false;
      }
    }
    if (this.#low) {
      this.#low = false;
      this.emit('ok');
    }
    return true;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.intervalMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
