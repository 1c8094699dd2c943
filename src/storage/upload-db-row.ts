import type { UploadRow, UploadState } from './upload-store.js';

/**
 * An `uploads` table row as either engine returns it: SQLite gives numbers
 * and 0/1, PostgreSQL's BIGINT columns come back as strings and BOOLEAN as
 * true/false. One mapping for both stores.
 */
export interface UploadDbRow {
  file_name: string;
  dir: string;
  node: string;
  bucket: string;
  object_key: string;
  size: number | string;
  record_start_ms: number | string;
  state: string;
  attempts: number;
  next_attempt_ms: number | string;
  last_error: string | null;
  sha256: string | null;
  etag: string | null;
  created_ms: number | string;
  updated_ms: number | string;
  uploaded_ms: number | string | null;
  local_deleted: number | boolean;
  remote_deleted_at: number | string | null;
}

export function uploadRowOf(r: UploadDbRow): UploadRow {
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
    localDeleted: r.local_deleted === true || r.local_deleted === 1,
    remoteDeletedAt: r.remote_deleted_at === null ? null : Number(r.remote_deleted_at),
  };
}
