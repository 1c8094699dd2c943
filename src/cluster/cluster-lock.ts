import { createHash } from 'node:crypto';
import type pg from 'pg';

/** The outcome of ClusterLock.runExclusive: ran (with its value) or skipped because another node holds the lock. */
export type LockRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/**
 * Runs a cluster-wide task on one node at a time (retention of the bucket,
 * for example): whoever takes the lock runs, the others skip this round.
 */
export interface ClusterLock {
  runExclusive<T>(name: string, task: () => Promise<T>): Promise<LockRun<T>>;
}

/** One node, nobody to share with: every task runs (the embedded catalog). */
export class LocalLock implements ClusterLock {
  readonly #held = new Set<string>();

  async runExclusive<T>(name: string, task: () => Promise<T>): Promise<LockRun<T>> {
    // still one run at a time in this process
    if (this.#held.has(name)) return { ran: false };
    this.#held.add(name);
    try {
      return { ran: true, value: await task() };
    } finally {
      this.#held.delete(name);
    }
  }
}

/** First namespace of the two-int advisory lock keys this daemon uses ('wcsL'). */
const LOCK_NAMESPACE = 0x7763734c;

/** The second key: 32 bits of the name's SHA-256, as a signed int4. */
export function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0);
}

/**
 * pg_try_advisory_lock on a connection of its own, held for the task and
 * released after it (or with the connection, if this node dies: PostgreSQL
 * frees a session's advisory locks when the session ends).
 */
export class PgClusterLock implements ClusterLock {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
  ) {}

  async runExclusive<T>(name: string, task: () => Promise<T>): Promise<LockRun<T>> {
    await this.ready();
    const client = await this.pool.connect();
    let locked = false;
    let broken = false;
    try {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_NAMESPACE, lockKey(name)]);
      locked = r.rows[0]?.ok === true;
      if (!locked) return { ran: false };
      return { ran: true, value: await task() };
    } finally {
      if (locked) {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, lockKey(name)]).catch(() => (broken = true));
      }
      // a connection whose unlock failed is closed, not pooled: closing it frees the lock
      client.release(broken);
    }
  }
}
