import type { ClaimTakeover, ReleasedClaim } from '../cluster/claim-takeover.js';

/**
 * The persistent upload queue: one row per record file (one per rotated
 * part) to copy into S3-compatible storage. It lives in the catalog's
 * database, so a restart or a SIGKILL resumes where it was. SqliteUploadStore
 * is the embedded implementation; a PostgreSQL one implements the same
 * interface (rows carry the node that holds the local file).
 *
 * States: pending (waiting for its turn or its next try) -> uploading (a
 * worker of `node` has it) -> uploaded (verified in the bucket) | failed
 * (gave up: attempts or age exhausted; the local file is kept).
 * An uploaded row can later lose its bucket copy (bucket retention):
 * remoteDeletedAt is then set.
 */

export type UploadState = 'pending' | 'uploading' | 'uploaded' | 'failed';
export const UPLOAD_STATES: readonly UploadState[] = ['pending', 'uploading', 'uploaded', 'failed'];

export interface UploadJob {
  /** The record's file name (the catalog's key). */
  readonly fileName: string;
  /** Absolute folder of the local file. */
  readonly dir: string;
  /** The node that holds the local file and uploads it. */
  readonly node: string;
  readonly bucket: string;
  /** Object key in the bucket (prefix + file name). */
  readonly key: string;
  /** Bytes of the local file when queued. */
  readonly size: number;
  /** Start of the record's media, epoch ms (bucket retention by age). */
  readonly recordStartMs: number;
}

export interface UploadRow extends UploadJob {
  readonly state: UploadState;
  readonly attempts: number;
  /** Earliest time of the next try (pending rows), epoch ms. */
  readonly nextAttemptMs: number;
  readonly lastError: string | null;
  /** SHA-256 of the file (hex), known once hashed. */
  readonly sha256: string | null;
  /** The bucket's ETag of the verified object. */
  readonly etag: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly uploadedMs: number | null;
  /** The local copy was deleted after the upload was verified (record_upload_delete_local). */
  readonly localDeleted: boolean;
  /** The bucket copy was deleted (bucket retention, or the record deleted). */
  readonly remoteDeletedAt: number | null;
}

export interface UploadListQuery {
  readonly states?: readonly UploadState[];
  readonly offset?: number;
  /** Default 100. */
  readonly limit?: number;
}

export interface UploadVerified {
  readonly sha256: string;
  readonly etag: string;
  readonly atMs: number;
}

/** What bucket retention decides over. */
export interface BucketRows {
  /** Uploaded rows whose bucket copy is still there, oldest record first, at most the limit asked. */
  readonly rows: UploadRow[];
  /** Bytes of every uploaded row whose bucket copy is still there. */
  readonly totalBytes: number;
}

export interface UploadStore {
  /**
   * Queues a file (state pending, due now). A row already there for the same
   * file name is replaced only when it is failed or its size changed (a
   * re-recorded file); returns whether a row was written.
   */
  enqueue(job: UploadJob, nowMs: number): Promise<boolean>;
  /** Takes up to `limit` due pending rows of `node` (oldest first) and marks them uploading. */
  claim(node: string, nowMs: number, limit: number): Promise<UploadRow[]>;
  /** Rows of `node` left uploading by a crash go back to pending, due now; returns how many. */
  resetInterrupted(node: string, nowMs: number): Promise<number>;
  /**
   * Rows another node was uploading and abandoned (it is not alive, the
   * claim is older than the lease: ClaimTakeover) go back to pending, due
   * now; they stay that node's. A shared queue only (the embedded one has one node).
   */
  releaseAbandoned(node: string, nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>): Promise<ReleasedClaim[]>;
  /** Due pending rows of nodes that are not alive, untouched for the lease, oldest first: what `node` may adopt when it can read their files. */
  adoptable(node: string, nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>, limit: number): Promise<UploadRow[]>;
  /** Takes a pending row of `fromNode` for `toNode` and marks it uploading; null when it is no longer pending there. */
  adopt(fileName: string, fromNode: string, toNode: string, nowMs: number): Promise<UploadRow | null>;
  markUploaded(fileName: string, verified: UploadVerified): Promise<void>;
  /** Back to pending with attempts + 1 and the next try at `nextAttemptMs`. */
  markRetry(fileName: string, error: string, nextAttemptMs: number, nowMs: number): Promise<void>;
  markFailed(fileName: string, error: string, nowMs: number): Promise<void>;
  markLocalDeleted(fileName: string, nowMs: number): Promise<void>;
  markRemoteDeleted(fileName: string, nowMs: number): Promise<void>;
  get(fileName: string): Promise<UploadRow | null>;
  /** Rows of these file names (missing ones are absent from the map). */
  getMany(fileNames: readonly string[]): Promise<Map<string, UploadRow>>;
  list(query: UploadListQuery): Promise<{ total: number; rows: UploadRow[] }>;
  /** Counts per state (metrics, stats). */
  counts(): Promise<Record<UploadState, number>>;
  bucketRows(limit: number): Promise<BucketRows>;
}
