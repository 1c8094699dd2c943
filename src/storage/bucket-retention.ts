import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { withClusterLock, type ClusterLock } from '../cluster/cluster-lock.js';
import { s3ErrorText, type S3Bucket } from './s3-bucket.js';
import type { UploadRow, UploadStore } from './upload-store.js';

export interface BucketRules {
  /** 0 = off. */
  readonly maxAgeMs: number;
  /** 0 = off. */
  readonly maxSizeBytes: number;
}

export interface BucketDeletion {
  readonly row: UploadRow;
  readonly reason: 'bucket_max_age' | 'bucket_max_size';
}

/**
 * Which bucket copies go (pure): rows oldest record first; a copy older than
 * maxAge goes, then the oldest go while the total is above maxSize. Pinned
 * records are never chosen.
 */
export function bucketDeletions(rows: readonly UploadRow[], totalBytes: number, rules: BucketRules, nowMs: number, pinned: ReadonlySet<string>): BucketDeletion[] {
  const out: BucketDeletion[] = [];
  let total = totalBytes;
  for (const row of rows) {
    if (pinned.has(row.fileName)) continue;
    const old = rules.maxAgeMs > 0 && nowMs - row.recordStartMs > rules.maxAgeMs;
    const big = rules.maxSizeBytes > 0 && total > rules.maxSizeBytes;
    if (!old && !big) break;
    out.push({ row, reason: old ? 'bucket_max_age' : 'bucket_max_size' });
    total -= row.size;
  }
  return out;
}

/** Rows looked at per pass at most (the oldest). */
const PASS_ROWS = 10_000;
const LOCK_NAME = 'wcs-recorder:bucket-retention';

/**
 * Retention of the bucket's copies, with its own rules
 * (record_upload_retention_*), one node at a time: each pass runs under the
 * ClusterLock (in-process for one daemon, an advisory lock when several
 * share a PostgreSQL catalog); a node that does not get the lock skips the
 * pass. A deleted copy's upload row keeps when; a record that was only in
 * the bucket (state remote) becomes deleted.
 */
export class BucketRetention {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;

  constructor(
    private readonly store: UploadStore,
    private readonly bucket: S3Bucket,
    private readonly catalog: Catalog,
    private readonly lock: ClusterLock,
    private readonly rules: BucketRules,
    private readonly intervalMs: number,
    private readonly onDeleted: (row: UploadRow, reason: string, recordDeleted: boolean) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.rules.maxAgeMs === 0 && this.rules.maxSizeBytes === 0) return;
    this.#timer = setInterval(() => void this.runNow(), this.intervalMs);
    this.#timer.unref();
    void this.runNow();
  }

  /** One pass (or the one running); the number of copies deleted, -1 when another node holds the lock. */
  runNow(): Promise<number> {
    if (!this.#running) {
      this.#running = withClusterLock(this.lock, LOCK_NAME, () => this.#pass())
        .then((n) => n ?? -1)
        .catch((err: Error) => {
          this.log.error({ err: err.message }, 'Bucket retention pass failed');
          return 0;
        })
        .finally(() => (this.#running = null));
    }
    return this.#running;
  }

  async #pass(): Promise<number> {
    const { rows, totalBytes } = await this.store.bucketRows(PASS_ROWS);
    const pinned = new Set<string>();
    for (const r of rows) if ((await this.catalog.get(r.fileName))?.pinned) pinned.add(r.fileName);
    const now = Date.now();
    let deleted = 0;
    for (const d of bucketDeletions(rows, totalBytes, this.rules, now, pinned)) {
      try {
        await this.bucket.delete(d.row.key);
      } catch (err) {
        this.log.warn({ file: d.row.fileName, key: d.row.key, err: s3ErrorText(err) }, 'Bucket copy could not be deleted; tried again next pass');
        continue;
      }
      await this.store.markRemoteDeleted(d.row.fileName, now);
      const rec = await this.catalog.get(d.row.fileName);
      const recordDeleted = rec?.state === 'remote';
      if (recordDeleted) await this.catalog.markDeleted(d.row.fileName, d.reason, now);
      this.log.info({ file: d.row.fileName, key: d.row.key, size: d.row.size, reason: d.reason, recordDeleted }, 'Bucket copy deleted by bucket retention');
      this.onDeleted(d.row, d.reason, recordDeleted);
      deleted++;
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}
