import type pg from 'pg';
import type { BucketRows, UploadJob, UploadListQuery, UploadRow, UploadState, UploadStore, UploadVerified } from './upload-store.js';
import { uploadRowOf, type UploadDbRow } from './upload-db-row.js';
import { shortError } from '../util/short-error.js';
import type { ClaimTakeover, ReleasedClaim } from '../cluster/claim-takeover.js';
import { nodeAliveSql } from '../cluster/cluster-store.js';

/**
 * The upload queue in the shared PostgreSQL catalog (table `uploads`, made by
 * the catalog's migration 2): the same contract as SqliteUploadStore. Each
 * node claims only its own rows (it holds their local files); a claim takes
 * rows with FOR UPDATE SKIP LOCKED, so two workers never take the same row.
 */


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
    return r.rows.map(uploadRowOf).sort((a, b) => a.nextAttemptMs - b.nextAttemptMs || a.createdMs - b.createdMs);
  }

  async resetInterrupted(node: string, nowMs: number): Promise<number> {
    const r = await this.#query("UPDATE uploads SET state = 'pending', next_attempt_ms = $1, updated_ms = $1 WHERE state = 'uploading' AND node = $2", [
      Math.round(nowMs),
      node,
    ]);
    return r.rowCount ?? 0;
  }

  async releaseAbandoned(node: string, nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>): Promise<ReleasedClaim[]> {
    const r = await this.#query<{ file_name: string; node: string }>(
      `UPDATE uploads SET state = 'pending', next_attempt_ms = $1, updated_ms = $1
       WHERE file_name IN (
         SELECT file_name FROM uploads WHERE state = 'uploading' AND node <> $2 AND updated_ms <= $1::bigint - $3::bigint
           AND NOT ${nodeAliveSql('uploads.node', '$4')}
         FOR UPDATE SKIP LOCKED)
       RETURNING file_name, node`,
      [Math.round(nowMs), node, Math.round(rule.leaseMs), Math.round(rule.nodeTimeoutMs)],
    );
    return r.rows.map((row) => ({ what: row.file_name, node: row.node }));
  }

  async adoptable(node: string, nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>, limit: number): Promise<UploadRow[]> {
    const r = await this.#query<UploadDbRow>(
      `SELECT * FROM uploads WHERE state = 'pending' AND node <> $1 AND next_attempt_ms <= $2 AND updated_ms <= $2::bigint - $3::bigint
         AND NOT ${nodeAliveSql('uploads.node', '$4')}
       ORDER BY next_attempt_ms, created_ms LIMIT $5`,
      [node, Math.round(nowMs), Math.round(rule.leaseMs), Math.round(rule.nodeTimeoutMs), limit],
    );
    return r.rows.map(uploadRowOf);
  }

  async adopt(fileName: string, fromNode: string, toNode: string, nowMs: number): Promise<UploadRow | null> {
    const r = await this.#query<UploadDbRow>(
      "UPDATE uploads SET node = $3, state = 'uploading', updated_ms = $4 WHERE file_name = $1 AND node = $2 AND state = 'pending' RETURNING *",
      [fileName, fromNode, toNode, Math.round(nowMs)],
    );
    return r.rows[0] ? uploadRowOf(r.rows[0]) : null;
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
      [shortError(error), Math.round(nextAttemptMs), Math.round(nowMs), fileName],
    );
  }

  async markFailed(fileName: string, error: string, nowMs: number): Promise<void> {
    await this.#query("UPDATE uploads SET state = 'failed', attempts = attempts + 1, last_error = $1, updated_ms = $2 WHERE file_name = $3", [
      shortError(error),
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
    return r.rows[0] ? uploadRowOf(r.rows[0]) : null;
  }

  async getMany(fileNames: readonly string[]): Promise<Map<string, UploadRow>> {
    const out = new Map<string, UploadRow>();
    if (fileNames.length === 0) return out;
    const r = await this.#query<UploadDbRow>('SELECT * FROM uploads WHERE file_name = ANY($1)', [[...new Set(fileNames)]]);
    for (const row of r.rows) out.set(row.file_name, uploadRowOf(row));
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
    return { total: total.rows[0]?.n ?? 0, rows: rows.rows.map(uploadRowOf) };
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
    return { rows: rows.rows.map(uploadRowOf), totalBytes: Number(total.rows[0]?.b ?? 0) };
  }
}
