/** The gate's queue is full: the caller should come back later. */
export class GateFullError extends Error {}
/** The gate was closed while the caller waited (or before it came). */
export class GateClosedError extends Error {}

/**
 * At most `concurrency` holders at once; up to `maxWaiting` more wait in
 * arrival order; anyone beyond is refused at once with GateFullError.
 * close() refuses the waiting ones (GateClosedError) and every later caller.
 */
export class BoundedGate {
  readonly #waiting: { grant: () => void; refuse: (err: Error) => void }[] = [];
  #held = 0;
  #closed = false;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, not ${concurrency}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be an integer >= 0, not ${maxWaiting}`);
  }

  get held(): number {
    return this.#held;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a place is free; the place is given back when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.refuse(new GateClosedError('closed'));
  }

  #acquire(): Promise<void> {
    if (this.#closed) return Promise.reject(new GateClosedError('closed'));
    if (this.#held < this.concurrency) {
      this.#held++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxWaiting) {
      return Promise.reject(new GateFullError(`${this.#held} running and ${this.#waiting.length} waiting`));
    }
    return new Promise<void>((grant, refuse) => this.#waiting.push({ grant, refuse }));
  }

  #release(): void {
    const next = this.#waiting.shift();
    // the place passes straight to the next in line: #held stays the same
    if (next) next.grant();
    else this.#held--;
  }
}
