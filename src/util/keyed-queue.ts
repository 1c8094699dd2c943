/**
 * Runs tasks one after another per key: a task for key K starts only once
 * every task queued for K before it has settled (resolved or thrown).
 * Tasks of different keys run independently. The queue of a key is
 * dropped when it drains, so idle keys cost nothing.
 */
export class KeyedQueue<K = string> {
  readonly #tails = new Map<K, Promise<unknown>>();

  /** Queues `task` behind the tasks of `key`; resolves or rejects as the task does. */
  run<T>(key: K, task: () => Promise<T> | T): Promise<T> {
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
