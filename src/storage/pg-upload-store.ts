import type pg from 'pg';
import type { BucketRows, UploadJob, UploadListQuery, UploadRow, UploadState, UploadStore, UploadVerified } from './upload-store.js';

/**
 * The upload queue in the shared PostgreSQL catalog (table `uploads`, made by
 * the catalog's migration 2): the same contract as SqliteUploadStore. Each
 * node claims only its own rows (it holds their local files); a claim takes
 * rows with FOR UPDATE SKIP LOCKED, so two workers never take the same row.
 */

interface UploadDbRow {
  file_name: string;
  dir: string;
  node: string;
  bucket: string;
  object_key: string;
  size: number;
  record_start_ms: number;
  state: string;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
  sha256: string | null;
  etag: string | null;
  created_ms: number;
  updated_ms: number;
  uploaded_ms: number | null;
  local_deleted: boolean;
  remote_deleted_at: number | null;
}

function toRow(r: UploadDbRow): UploadRow {
  return {
    fileName: r.file_name,
    dir: r.dir,
    node: r.node,
    bucket: r.bucket,
    key: r.object_key,
    size: Number(r.size),
    recordStartMs: Number(r.record_start_ms),
    state: r.state as UploadState,
    attempts: r.attempts,
    nextAttemptMs: Number(r.next_attempt_ms),
    lastError: r.last_error,
    sha256: r.sha256,
    etag: r.etag,
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
    uploadedMs: r.uploaded_ms === null ? null : Number(r.uploaded_ms),
    localDeleted: r.local_deleted,
    remoteDeletedAt: r.remote_deleted_at === null ? null : Number(r.remote_deleted_at),
  };
}

/** Error texts are kept short: a row is not a log. */
function short(error: string): string {
  return error.length > 500 ? `${error.slice(0, 497)}...` : error;
}

export class PgUploadStore implements UploadStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
  ) {}

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    return this.pool.query<R>(sql, values);
  }

  async enqueue(job: UploadJob, nowMs: number): Promise<boolean> {
    const r = await this.#query(
      `INSERT INTO uploads (file_name, dir, node, bucket, object_key, size, record_start_ms, state, attempts, next_attempt_ms, created_ms, updated_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, $8)
       ON CONFLICT (file_name) DO UPDATE SET dir = excluded.dir, node = excluded.node, bucket = excluded.bucket, object_key = excluded.object_key,
         size = excluded.size, record_start_ms = excluded.record_start_ms, state = 'pending', attempts = 0, next_attempt_ms = excluded.next_attempt_ms,
         last_error = NULL, sha256 = NULL, etag = NULL, updated_ms = excluded.updated_ms, uploaded_ms = NULL, local_deleted = FALSE, remote_deleted_at = NULL
       WHERE uploads.state = 'failed' OR uploads.size <> excluded.size OR uploads.remote_deleted_at IS NOT NULL`,
      [job.fileName, job.dir, job.node, job.bucket, job.key, job.size, Math.round(job.recordStartMs), Math.round(nowMs)],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async claim(node: string, nowMs: number, limit: number): Promise<UploadRow[]> {
    const r = await this.#query<UploadDbRow>(
      `UPDATE uploads SET state = 'uploading', updated_ms = $2
       WHERE file_name IN (
         SELECT file_name FROM uploads WHERE state = 'pending' AND node = $1 AND next_attempt_ms <= $2
         ORDER BY next_attempt_ms, created_ms LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [node, Math.round(nowMs), limit],
    );
    return r.rows.map(toRow).sort((a, b) => a.nextAttemptMs - b.nextAttemptMs || a.createdMs - b.createdMs);
  }

  async resetInterrupted(node: string, nowMs: number): Promise<number> {
    const r = await this.#query("UPDATE uploads SET state = 'pending', next_attempt_ms = $1, updated_ms = $1 WHERE state = 'uploading' AND node = $2", [
      Math.round(nowMs),
      node,
    ]);
    return r.rowCount ?? 0;
  }

  async markUploaded(fileName: string, v: UploadVerified): Promise<void> {
    await this.#query("UPDATE uploads SET state = 'uploaded', sha256 = $1, etag = $2, uploaded_ms = $3, updated_ms = $3, last_error = NULL WHERE file_name = $4", [
      v.sha256,
      v.etag,
      Math.round(v.atMs),
      fileName,
    ]);
  }

  async markRetry(fileName: string, error: string, nextAttemptMs: number, nowMs: number): Promise<void> {
    await this.#query(
      "UPDATE uploads SET state = 'pending', attempts = attempts + 1, last_error = $1, next_attempt_ms = $2, updated_ms = $3 WHERE file_name = $4",
      [short(error), Math.round(nextAttemptMs), Math.round(nowMs), fileName],
    );
  }

  async markFailed(fileName: string, error: string, nowMs: number): Promise<void> {
    await this.#query("UPDATE uploads SET state = 'failed', attempts = attempts + 1, last_error = $1, updated_ms = $2 WHERE file_name = $3", [
      short(error),
      Math.round(nowMs),
      fileName,
    ]);
  }

  async markLocalDeleted(fileName: string, nowMs: number): Promise<void> {
    await this.#query('UPDATE uploads SET local_deleted = TRUE, updated_ms = $1 WHERE file_name = $2', [Math.round(nowMs), fileName]);
  }

  async markRemoteDeleted(fileName: string, nowMs: number): Promise<void> {
    await this.#query('UPDATE uploads SET remote_deleted_at = $1, updated_ms = $1 WHERE file_name = $2', [Math.round(nowMs), fileName]);
  }

  async get(fileName: string): Promise<UploadRow | null> {
    const r = await this.#query<UploadDbRow>('SELECT * FROM uploads WHERE file_name = $1', [fileName]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  async getMany(fileNames: readonly string[]): Promise<Map<string, UploadRow>> {
    const out = new Map<string, UploadRow>();
    if (fileNames.length === 0) return out;
    const r = await this.#query<UploadDbRow>('SELECT * FROM uploads WHERE file_name = ANY($1)', [[...new Set(fileNames)]]);
    for (const row of r.rows) out.set(row.file_name, toRow(row));
    return out;
  }

  async list(query: UploadListQuery): Promise<{ total: number; rows: UploadRow[] }> {
    const states = query.states ?? [];
    const where = states.length > 0 ? 'WHERE state = ANY($1)' : '';
    const params: unknown[] = states.length > 0 ? [[...states]] : [];
    const total = await this.#query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM uploads ${where}`, params);
    const rows = await this.#query<UploadDbRow>(
      `SELECT * FROM uploads ${where} ORDER BY updated_ms DESC, file_name LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, query.limit ?? 100, query.offset ?? 0],
    );
    return { total: total.rows[0]?.n ?? 0, rows: rows.rows.map(toRow) };
  }

  async counts(): Promise<Record<UploadState, number>> {
    const out: Record<UploadState, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
    const r = await this.#query<{ state: UploadState; n: number }>('SELECT state, COUNT(*)::int AS n FROM uploads GROUP BY state');
    for (const row of r.rows) out[row.state] = row.n;
    return out;
  }

  async bucketRows(limit: number): Promise<BucketRows> {
    const rows = await this.#query<UploadDbRow>(
      "SELECT * FROM uploads WHERE state = 'uploaded' AND remote_deleted_at IS NULL ORDER BY record_start_ms, file_name LIMIT $1",
      [limit],
    );
    const total = await this.#query<{ b: number }>("SELECT COALESCE(SUM(size), 0)::bigint AS b FROM uploads WHERE state = 'uploaded' AND remote_deleted_at IS NULL");
    return { rows: rows.rows.map(toRow), totalBytes: Number(total.rows[0]?.b ?? 0) };
  }
}
