import type Database from 'better-sqlite3';
import { migrate } from '../catalog/sqlite-migrations.js';
import type { BucketRows, UploadJob, UploadListQuery, UploadRow, UploadState, UploadStore, UploadVerified } from './upload-store.js';
import { uploadRowOf, type UploadDbRow } from './upload-db-row.js';
import { shortError } from '../util/short-error.js';
import type { ReleasedClaim } from '../cluster/claim-takeover.js';

const MIGRATIONS = [
  `CREATE TABLE uploads (
     file_name TEXT PRIMARY KEY,
     dir TEXT NOT NULL,
     node TEXT NOT NULL,
     bucket TEXT NOT NULL,
     object_key TEXT NOT NULL,
     size INTEGER NOT NULL,
     record_start_ms INTEGER NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_ms INTEGER NOT NULL,
     last_error TEXT,
     sha256 TEXT,
     etag TEXT,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL,
     uploaded_ms INTEGER,
     local_deleted INTEGER NOT NULL DEFAULT 0,
     remote_deleted_at INTEGER
   );
   CREATE INDEX uploads_due ON uploads (state, node, next_attempt_ms);
   CREATE INDEX uploads_bucket_age ON uploads (state, record_start_ms);`,
];


/** The upload queue in the catalog's SQLite file (table `uploads`, migrated under meta `uploads_schema_version`). */
export class SqliteUploadStore implements UploadStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    migrate(db, 'uploads', MIGRATIONS);
  }

  async enqueue(job: UploadJob, nowMs: number): Promise<boolean> {
    const r = this.#db
      .prepare(
        `INSERT INTO uploads (file_name, dir, node, bucket, object_key, size, record_start_ms, state, attempts, next_attempt_ms, created_ms, updated_ms)
         VALUES (@file_name, @dir, @node, @bucket, @key, @size, @start, 'pending', 0, @now, @now, @now)
         ON CONFLICT(file_name) DO UPDATE SET dir = excluded.dir, node = excluded.node, bucket = excluded.bucket, object_key = excluded.object_key,
           size = excluded.size, record_start_ms = excluded.record_start_ms, state = 'pending', attempts = 0, next_attempt_ms = excluded.next_attempt_ms,
           last_error = NULL, sha256 = NULL, etag = NULL, updated_ms = excluded.updated_ms, uploaded_ms = NULL, local_deleted = 0, remote_deleted_at = NULL
         WHERE uploads.state = 'failed' OR uploads.size != excluded.size OR uploads.remote_deleted_at IS NOT NULL`,
      )
      .run({ file_name: job.fileName, dir: job.dir, node: job.node, bucket: job.bucket, key: job.key, size: job.size, start: Math.round(job.recordStartMs), now: nowMs });
    return r.changes > 0;
  }

  async claim(node: string, nowMs: number, limit: number): Promise<UploadRow[]> {
    return this.#db.transaction(() => {
      const rows = this.#db
        .prepare("SELECT * FROM uploads WHERE state = 'pending' AND node = ? AND next_attempt_ms <= ? ORDER BY next_attempt_ms, created_ms LIMIT ?")
        .all(node, nowMs, limit) as UploadDbRow[];
      const mark = this.#db.prepare("UPDATE uploads SET state = 'uploading', updated_ms = ? WHERE file_name = ?");
      for (const r of rows) mark.run(nowMs, r.file_name);
      return rows.map((r) => ({ ...uploadRowOf(r), state: 'uploading' as const, updatedMs: nowMs }));
    })();
  }

  async resetInterrupted(node: string, nowMs: number): Promise<number> {
    return this.#db.prepare("UPDATE uploads SET state = 'pending', next_attempt_ms = ?, updated_ms = ? WHERE state = 'uploading' AND node = ?").run(nowMs, nowMs, node)
      .changes;
  }

  /** One node only: its own claims come back at its next start (resetInterrupted); no other node to adopt from. */
  async releaseAbandoned(): Promise<ReleasedClaim[]> {
    return [];
  }

  async adoptable(): Promise<UploadRow[]> {
    return [];
  }

  async adopt(): Promise<UploadRow | null> {
    return null;
  }

  async markUploaded(fileName: string, v: UploadVerified): Promise<void> {
    this.#db
      .prepare("UPDATE uploads SET state = 'uploaded', sha256 = ?, etag = ?, uploaded_ms = ?, updated_ms = ?, last_error = NULL WHERE file_name = ?")
      .run(v.sha256, v.etag, v.atMs, v.atMs, fileName);
  }

  async markRetry(fileName: string, error: string, nextAttemptMs: number, nowMs: number): Promise<void> {
    this.#db
      .prepare("UPDATE uploads SET state = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_ms = ?, updated_ms = ? WHERE file_name = ?")
      .run(shortError(error), Math.round(nextAttemptMs), nowMs, fileName);
  }

  async markFailed(fileName: string, error: string, nowMs: number): Promise<void> {
    this.#db.prepare("UPDATE uploads SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_ms = ? WHERE file_name = ?").run(shortError(error), nowMs, fileName);
  }

  async markLocalDeleted(fileName: string, nowMs: number): Promise<void> {
    this.#db.prepare('UPDATE uploads SET local_deleted = 1, updated_ms = ? WHERE file_name = ?').run(nowMs, fileName);
  }

  async markRemoteDeleted(fileName: string, nowMs: number): Promise<void> {
    this.#db.prepare('UPDATE uploads SET remote_deleted_at = ?, updated_ms = ? WHERE file_name = ?').run(nowMs, nowMs, fileName);
  }

  async get(fileName: string): Promise<UploadRow | null> {
    const r = this.#db.prepare('SELECT * FROM uploads WHERE file_name = ?').get(fileName) as UploadDbRow | undefined;
    return r ? uploadRowOf(r) : null;
  }

  async getMany(fileNames: readonly string[]): Promise<Map<string, UploadRow>> {
    const out = new Map<string, UploadRow>();
    const st = this.#db.prepare('SELECT * FROM uploads WHERE file_name = ?');
    for (const name of new Set(fileNames)) {
      const r = st.get(name) as UploadDbRow | undefined;
      if (r) out.set(name, uploadRowOf(r));
    }
    return out;
  }

  async list(query: UploadListQuery): Promise<{ total: number; rows: UploadRow[] }> {
    const states = query.states ?? [];
    const where = states.length > 0 ? `WHERE state IN (${states.map(() => '?').join(', ')})` : '';
    const total = (this.#db.prepare(`SELECT COUNT(*) AS n FROM uploads ${where}`).get(...states) as { n: number }).n;
    const rows = this.#db
      .prepare(`SELECT * FROM uploads ${where} ORDER BY updated_ms DESC, file_name LIMIT ? OFFSET ?`)
      .all(...states, query.limit ?? 100, query.offset ?? 0) as UploadDbRow[];
    return { total, rows: rows.map(uploadRowOf) };
  }

  async counts(): Promise<Record<UploadState, number>> {
    const out: Record<UploadState, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
    for (const r of this.#db.prepare('SELECT state, COUNT(*) AS n FROM uploads GROUP BY state').all() as { state: UploadState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  async bucketRows(limit: number): Promise<BucketRows> {
    const rows = this.#db
      .prepare("SELECT * FROM uploads WHERE state = 'uploaded' AND remote_deleted_at IS NULL ORDER BY record_start_ms, file_name LIMIT ?")
      .all(limit) as UploadDbRow[];
    const total = this.#db.prepare("SELECT COALESCE(SUM(size), 0) AS b FROM uploads WHERE state = 'uploaded' AND remote_deleted_at IS NULL").get() as { b: number };
    return { rows: rows.map(uploadRowOf), totalBytes: total.b };
  }
}
