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

export interface DiskGuardCadence {
  /** Whether something records now: the guard then checks every intervalMs, else every idleIntervalMs. */
  readonly busy: () => boolean;
  readonly idleIntervalMs: number;
}

/**
 * file_recorder_min_space: watches the free space of the records and temp
 * filesystems; recordings stop, and new ones are refused, while any of them
 * is below the limit. Checked every `intervalMs` while something records
 * (cadence.busy), every `cadence.idleIntervalMs` otherwise: with nothing to
 * stop, a check a second only woke an idle daemon (issue 20). A recording
 * that starts calls wake() to bring the fast checks back at once, and the
 * start of a recording checks for itself (check()).
 */
export class DiskGuard extends TypedEmitter<DiskGuardEvents> {
  #timer: NodeJS.Timeout | null = null;
  /** The delay the pending timer was armed with. */
  #armedMs = 0;
  #started = false;
  #closed = false;
  #low = false;

  constructor(
    private readonly dirs: readonly string[],
    readonly minBytes: number,
    private readonly probe: FreeSpaceProbe = statfsProbe,
    private readonly intervalMs = 1000,
    private readonly cadence: DiskGuardCadence = { busy: () => true, idleIntervalMs: intervalMs },
  ) {
    super();
  }

  get low(): boolean {
    return this.#low;
  }

  /** The delay of the next periodic check; null when none is armed (not started, closed, or a check running). */
  get nextCheckMs(): number | null {
    return this.#timer === null ? null : this.#armedMs;
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
    if (this.#started) return;
    this.#started = true;
    this.#arm();
  }

  /** Something started recording: back to a check every intervalMs from now on (no-op when already there). */
  wake(): void {
    // a check running re-arms when it ends, with busy() as it is then
    if (this.#closed || this.#timer === null || this.#armedMs <= this.intervalMs) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    this.#armedMs = this.cadence.busy() ? this.intervalMs : this.cadence.idleIntervalMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.check()
        .catch(() => false)
        .finally(() => this.#arm());
    }, this.#armedMs);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
