import type pg from 'pg';

/** One step of a PostgreSQL schema: applied once, in version order, recorded in schema_migrations. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Key of the transaction-scoped advisory lock that serialises migrations of nodes starting together. */
const MIGRATION_LOCK = 0x77637331; // 'wcs1'

/**
 * Brings the schema to the newest version: every step not yet recorded in
 * schema_migrations runs in one transaction under an advisory lock, so two
 * nodes starting at once never both apply a step. A database whose schema
 * is newer than this code (a newer node migrated it) is refused: this
 * daemon would misread it.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[]): Promise<number> {
  const newest = migrations.reduce((m, s) => Math.max(m, s.version), 0);
  const client = await pool.connect();
  let broken = false;
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)');
    const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(done.rows.map((r) => Number(r.version)));
    const current = Math.max(0, ...applied);
    if (current > newest) throw new Error(`the catalog schema is version ${current}, newer than this daemon's ${newest}: upgrade this node`);
    for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [step.version, step.name, Date.now()]);
    }
    await client.query('COMMIT');
    return newest;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
