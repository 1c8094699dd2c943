/** More requests wait than the queue holds. */
export class GateFullError extends Error {}

/**
 * At most `size` jobs at once, at most `queue` more waiting; beyond that a
 * job is refused at once (GateFullError) rather than left to pile up.
 */
export class BoundedGate {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly size: number,
    readonly queue: number,
  ) {
    if (size < 1 || queue < 0) throw new Error('BoundedGate needs size >= 1 and queue >= 0');
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.size) {
      if (this.#waiting.length >= this.queue) throw new GateFullError(`${this.#running} running and ${this.#waiting.length} waiting`);
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
