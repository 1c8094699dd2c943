/**
 * Bounds how many finishing jobs (remuxes, moves, hooks) run at once:
 * file_recorder_thread_pool_max_size.
 */
export class WorkPool {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (size < 1) throw new Error('WorkPool size must be at least 1');
  }

  get running(): number {
    return this.#running;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.size) {
      // the finishing job hands its slot straight to us (running stays counted)
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await job();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
