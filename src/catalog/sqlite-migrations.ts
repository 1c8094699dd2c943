import type Database from 'better-sqlite3';

/**
 * Versioned migrations of a store that keeps its own tables in the
 * catalog's SQLite file: `steps[i]` brings the store from version i to
 * i + 1; the version is kept in the meta table under `<store>_schema_version`.
 * Each step runs in a transaction with the version bump.
 */
export function migrate(db: Database.Database, store: string, steps: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const key = `${store}_schema_version`;
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  const current = row ? Number(row.value) : 0;
  if (!Number.isInteger(current) || current > steps.length) {
    throw new Error(`The catalog's ${store} tables are at version ${row?.value}, newer than this daemon knows (${steps.length})`);
  }
  for (let v = current; v < steps.length; v++) {
    db.transaction(() => {
      db.exec(steps[v]!);
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, String(v + 1));
    })();
  }
}
