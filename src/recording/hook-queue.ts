/**
 * The queue hooks run in, apart from the finishing pool (so finishing a
 * file never waits for a hook): at most `concurrency` jobs at once, at most
 * `maxQueued` waiting; a job beyond that is refused (run() answers null,
 * the caller logs it and it is counted in `dropped`). Jobs of one key (a
 * recording's mediaSessionId) run one after the other, in the order they
 * were queued; jobs of other keys may pass a key that is busy.
 */
interface Waiting {
  readonly key: string;
  readonly owner: unknown;
  readonly start: () => void;
  readonly cancel: () => void;
}

export class HookQueue {
  readonly #waiting: Waiting[] = [];
  readonly #busyKeys = new Set<string>();
  #running = 0;
  #dropped = 0;

  constructor(
    /** on_record_hook_max_concurrent */
    readonly concurrency: number,
    /** on_record_hook_max_queued */
    readonly maxQueued: number,
  ) {
    if (concurrency < 1) throw new Error('HookQueue concurrency must be at least 1');
    if (maxQueued < 0) throw new Error('HookQueue maxQueued must not be negative');
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Jobs refused because the queue was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues `job` behind the jobs of `key`; null (counted in `dropped`) when
   * maxQueued jobs already wait. A job removed by clearWaiting() resolves
   * with `cancelled` without running.
   */
  run<T>(key: string, job: () => Promise<T>, cancelled: T, owner?: unknown): Promise<T> | null {
    if (this.#waiting.length >= this.maxQueued) {
      this.#dropped++;
      return null;
    }
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({
        key,
        owner,
        cancel: () => resolve(cancelled),
        start: () => {
          this.#running++;
          this.#busyKeys.add(key);
          job()
            .then(resolve, reject)
            .finally(() => {
              this.#running--;
              this.#busyKeys.delete(key);
              this.#pump();
            });
        },
      });
      this.#pump();
    });
  }

  /** Jobs waiting that were queued by `owner`. */
  queuedOf(owner: unknown): number {
    return this.#waiting.filter((w) => w.owner === owner).length;
  }

  /**
   * Removes the jobs not started yet (of `owner` only, when given; a queue
   * shared by several hook runners); returns how many (they never run).
   */
  clearWaiting(owner?: unknown): number {
    const removed: Waiting[] = [];
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      const w = this.#waiting[i]!;
      if (owner === undefined || w.owner === owner) removed.unshift(...this.#waiting.splice(i, 1));
    }
    for (const w of removed) w.cancel();
    return removed.length;
  }

  #pump(): void {
    while (this.#running < this.concurrency) {
      const i = this.#waiting.findIndex((w) => !this.#busyKeys.has(w.key));
      if (i < 0) return;
      const [next] = this.#waiting.splice(i, 1);
      next!.start();
    }
  }
}
