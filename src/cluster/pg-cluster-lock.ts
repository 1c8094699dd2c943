import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ClusterLock } from './cluster-lock.js';

/** First key of the two-int advisory locks this daemon takes ('wcsL'). */
const LOCK_NAMESPACE = 0x7763734c;

/** The second key: 32 bits of the name's SHA-256, as a signed int4. */
export function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0);
}

/**
 * ClusterLock over PostgreSQL advisory locks, for nodes sharing a catalog:
 * tryAcquire is pg_try_advisory_lock on a connection kept for the lock
 * (advisory locks belong to a session) until release. If this node dies,
 * PostgreSQL frees the lock with its connection, so a dead node never holds
 * a cluster-wide task.
 */
export class PgClusterLock implements ClusterLock {
  readonly #held = new Map<string, { client: pg.PoolClient; onError: (err: Error) => void }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
  ) {}

  async tryAcquire(name: string): Promise<boolean> {
    // within one process, one holder too (the same session could take it twice)
    if (this.#held.has(name)) return false;
    await this.ready();
    const client = await this.pool.connect();
    try {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_NAMESPACE, lockKey(name)]);
      if (r.rows[0]?.ok !== true || this.#held.has(name)) {
        if (r.rows[0]?.ok === true) await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, lockKey(name)]);
        client.release();
        return false;
      }
      // the connection may break while the lock is held (database restart): the lock is gone with it,
      // and an 'error' nobody listens to would end the process
      const onError = (): void => {
        if (this.#held.get(name)?.client !== client) return;
        this.#held.delete(name);
        client.release(true);
      };
      client.on('error', onError);
      this.#held.set(name, { client, onError });
      return true;
    } catch (err) {
      // a broken connection is closed, not pooled: closing it frees anything it held
      client.release(true);
      throw err;
    }
  }

  async release(name: string): Promise<void> {
    const held = this.#held.get(name);
    if (!held) return;
    this.#held.delete(name);
    let broken = false;
    await held.client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, lockKey(name)]).catch(() => (broken = true));
    held.client.off('error', held.onError);
    held.client.release(broken);
  }

  /** Names this node holds now. */
  get held(): string[] {
    return [...this.#held.keys()];
  }
}
