/** More tasks are queued for one key than the queue takes: the caller should come back later. */
export class QueueFullError extends Error {}

/**
 * Runs tasks one after another per key: a task for key K starts only once
 * every task queued for K before it has settled (resolved or thrown).
 * Tasks of different keys run independently. The queue of a key is
 * dropped when it drains, so idle keys cost nothing.
 */
export class KeyedQueue<K = string> {
  readonly #tails = new Map<K, Promise<unknown>>();
  /** Tasks queued or running per key. */
  readonly #depth = new Map<K, number>();

  /** `maxPerKey`: tasks one key may have queued or running; beyond, run() rejects with QueueFullError. */
  constructor(readonly maxPerKey = Number.POSITIVE_INFINITY) {}

  /** Queues `task` behind the tasks of `key`; resolves or rejects as the task does. */
  run<T>(key: K, task: () => Promise<T> | T): Promise<T> {
    const depth = this.#depth.get(key) ?? 0;
    if (depth >= this.maxPerKey) return Promise.reject(new QueueFullError(`${depth} calls are already queued for this stream`));
    this.#depth.set(key, depth + 1);
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(
      () => task(),
      () => task(),
    );
    // the tail never rejects: a failed task does not block the ones after it
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      const left = (this.#depth.get(key) ?? 1) - 1;
      if (left > 0) this.#depth.set(key, left);
      else this.#depth.delete(key);
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Whether anything is queued or running for `key`. */
  busy(key: K): boolean {
    return this.#tails.has(key);
  }

  /** Keys with queued or running tasks. */
  get size(): number {
    return this.#tails.size;
  }

  /** Resolves once everything queued so far, for every key, has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
