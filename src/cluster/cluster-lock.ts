/**
 * A named lock that one holder at a time has: work that must run on one
 * node only (bucket retention) takes it first. LocalClusterLock is the
 * in-process one (a single daemon); with a shared PostgreSQL catalog an
 * advisory lock implements the same interface.
 */
export interface ClusterLock {
  /** True when the lock was free and is now held by this holder; never waits. */
  tryAcquire(name: string): Promise<boolean>;
  /** Releases a lock this holder has (no-op otherwise). */
  release(name: string): Promise<void>;
}

/** Runs `fn` under the lock; returns null (without running it) when another holder has it. */
export async function withClusterLock<T>(lock: ClusterLock, name: string, fn: () => Promise<T>): Promise<T | null> {
  if (!(await lock.tryAcquire(name))) return null;
  try {
    return await fn();
  } finally {
    await lock.release(name);
  }
}

/** The lock inside one process. */
export class LocalClusterLock implements ClusterLock {
  readonly #held = new Set<string>();

  async tryAcquire(name: string): Promise<boolean> {
    if (this.#held.has(name)) return false;
    this.#held.add(name);
    return true;
  }

  async release(name: string): Promise<void> {
    this.#held.delete(name);
  }
}
