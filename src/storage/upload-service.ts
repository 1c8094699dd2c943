import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { containerOf, CONTENT_TYPES } from '../records/containers.js';
import { backoffMs } from '../util/backoff.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { digestFile, verifyObject, type FileDigest } from './file-digest.js';
import { s3ErrorText, type S3Bucket } from './s3-bucket.js';
import type { UploadRow, UploadStore } from './upload-store.js';
import type { UploadTarget, UploadVerify } from './upload-values.js';
import { CoalescedRunner } from '../util/coalesced-runner.js';
import type { ClaimTakeover } from '../cluster/claim-takeover.js';

export interface UploadServiceOptions {
  /** The node whose rows this service uploads (the files are on its disk). */
  readonly node: string;
  readonly target: UploadTarget;
  readonly concurrency: number;
  readonly partSize: number;
  readonly deleteLocal: boolean;
  readonly verify: UploadVerify;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
  /** How often due rows are looked for (a new record wakes the loop at once). */
  readonly pollMs: number;
  /**
   * On a shared queue: uploads a node that is not alive left `uploading` go
   * back to pending, and this node adopts the pending rows of such nodes whose
   * files it can read (shared record storage). null: the embedded queue (one node).
   */
  readonly takeover: ClaimTakeover | null;
}

/** A finished record to upload. */
export interface UploadRequest {
  readonly fileName: string;
  readonly dir: string;
  readonly size: number;
  readonly startMs: number;
}

interface UploadEvents {
  /** Verified in the bucket (and, with record_upload_delete_local, deleted locally). */
  uploaded: [row: UploadRow, digest: FileDigest, seconds: number];
  /** Gave up after record_upload_max_attempts. */
  failed: [row: UploadRow, error: string];
}

/** The object key of a record (pure): the prefix and the file name (a plain name, checked by the recorder's naming). */
export function objectKey(target: UploadTarget, fileName: string): string {
  return `${target.prefix}${fileName}`;
}

/**
 * Copies finished records into the bucket from the persisted queue
 * (UploadStore): at most `concurrency` at once, each by multipart upload,
 * then verified with a HEAD (size, and the ETag against the MD5s computed
 * while hashing the file), and only then marked uploaded and, when asked,
 * deleted locally (its catalog row turns `remote`). A failure is retried
 * with doubling waits; after record_upload_max_attempts the row is
 * `failed` and the local file stays. Rows left `uploading` by a crash go
 * back to pending at start(): the upload starts again from its first part
 * (an abandoned multipart upload is aborted by the SDK when it can, else
 * by the bucket's lifecycle rule; docs/storage.md).
 */
export class UploadService extends TypedEmitter<UploadEvents> {
  readonly #running = new Map<string, AbortController>();
  #timer: NodeJS.Timeout | null = null;
  #takeoverTimer: NodeJS.Timeout | null = null;
  /** Rows of other nodes whose files this node cannot read (logged once each). */
  readonly #unreadable = new Set<string>();
  readonly #runner = new CoalescedRunner(
    () => this.#tick(),
    (err) => this.log.error({ err: err.message }, 'Upload queue read failed'),
  );
  #closed = false;
  readonly #jobs = new Set<Promise<void>>();
  /** Failed attempts since start (metrics): retried later, or given up. */
  readonly #failures = { retry: 0, failed: 0 };

  constructor(
    readonly store: UploadStore,
    private readonly bucket: S3Bucket,
    private readonly catalog: Catalog,
    private readonly options: UploadServiceOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    const reset = await this.store.resetInterrupted(this.options.node, Date.now());
    if (reset > 0) this.log.warn({ count: reset }, 'Uploads interrupted by a stop or crash are queued again');
    await this.#sweep();
    this.#timer = setInterval(() => this.wake(), this.options.pollMs);
    this.#timer.unref();
    const takeover = this.options.takeover;
    if (takeover) {
      this.#takeoverTimer = setInterval(() => void this.#takeOver(takeover), takeover.intervalMs);
      this.#takeoverTimer.unref();
      void this.#takeOver(takeover);
    }
    this.wake();
  }

  /**
   * Uploads abandoned by a node that is not alive: its `uploading` rows go
   * back to pending, and the pending rows of such nodes whose files this
   * node can read (same size) become this node's. Their local copies are
   * never deleted here: the file and its catalog row are the other node's.
   */
  async #takeOver(rule: ClaimTakeover): Promise<void> {
    if (this.#closed) return;
    const node = this.options.node;
    try {
      const released = await this.store.releaseAbandoned(node, Date.now(), rule);
      if (released.length > 0) {
        const nodes = [...new Set(released.map((r) => r.node ?? 'unknown'))];
        this.log.warn({ count: released.length, nodes, files: released.map((r) => r.what) }, `Uploads abandoned by a node that is not alive (${nodes.join(', ')}) are pending again`);
      }
      const free = this.options.concurrency - this.#running.size;
      if (free <= 0) return;
      for (const row of await this.store.adoptable(node, Date.now(), rule, free * 4)) {
        if (this.#closed || this.#running.size >= this.options.concurrency) break;
        const file = path.join(row.dir, row.fileName);
        const stat = await fs.promises.stat(file).catch(() => null);
        if (stat === null || !stat.isFile() || stat.size !== row.size) {
          if (!this.#unreadable.has(row.fileName)) {
            if (this.#unreadable.size >= 10_000) this.#unreadable.clear();
            this.#unreadable.add(row.fileName);
            this.log.info({ file: row.fileName, node: row.node }, 'Upload of a node that is not alive waits for it: its file cannot be read here');
          }
          continue;
        }
        const taken = await this.store.adopt(row.fileName, row.node, node, Date.now());
        if (taken === null) continue;
        this.log.warn({ file: row.fileName, key: row.key, from: row.node }, `Upload taken over from ${row.node} (not alive): its file is readable here`);
        this.#startJob(taken, row.node);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Looking for abandoned uploads failed; tried again later');
    }
  }

  /**
   * Queues the records this daemon finished since uploads were first turned
   * on that have no upload row: a crash between a record's finish and its
   * queueing (or a record finished while the store's queue could not be
   * written) is caught up at the next start. Files the daemon did not
   * record (provider 'file') are left alone.
   */
  async #sweep(): Promise<void> {
    const key = `uploads_enabled_since:${this.options.target.bucket}/${this.options.target.prefix}`;
    const since = Number((await this.catalog.getMeta(key)) ?? NaN);
    if (!Number.isFinite(since)) {
      await this.catalog.setMeta(key, String(Date.now()));
      return;
    }
    let queued = 0;
    for (let offset = 0; ; offset += SWEEP_PAGE) {
      const page = await this.catalog.find({ states: ['finished', 'recovered'], fromMs: since, offset, limit: SWEEP_PAGE, sort: 'start' });
      const known = await this.store.getMany(page.records.map((r) => r.fileName));
      for (const r of page.records) {
        if (r.provider === 'file' || known.has(r.fileName) || (r.endMs ?? 0) < since) continue;
        await this.enqueue({ fileName: r.fileName, dir: r.dir, size: r.size, startMs: r.startMs });
        queued++;
      }
      if (page.records.length < SWEEP_PAGE) break;
    }
    if (queued > 0) this.log.warn({ count: queued }, 'Records finished but never queued for upload (a crash?) are queued now');
  }

  get running(): number {
    return this.#running.size;
  }

  /** Attempts of this node that failed since start: retried later, or given up. */
  get failures(): { readonly retry: number; readonly failed: number } {
    return { ...this.#failures };
  }

  /** Queues a finished record (a row already pending or uploaded for the same file stays as it is). */
  async enqueue(r: UploadRequest): Promise<void> {
    const key = objectKey(this.options.target, r.fileName);
    const added = await this.store.enqueue(
      { fileName: r.fileName, dir: r.dir, node: this.options.node, bucket: this.options.target.bucket, key, size: r.size, recordStartMs: r.startMs },
      Date.now(),
    );
    if (added) this.log.info({ file: r.fileName, key, size: r.size }, 'Record queued for upload');
    this.wake();
  }

  /** Looks for due rows now. */
  wake(): void {
    if (this.#closed) return;
    this.#runner.wake();
  }

  async #tick(): Promise<void> {
    const free = this.options.concurrency - this.#running.size;
    if (free <= 0 || this.#closed) return;
    const rows = await this.store.claim(this.options.node, Date.now(), free);
    for (const row of rows) this.#startJob(row, null);
  }

  /** `adoptedFrom`: the node that is not alive whose row this node took over (its local copy is kept). */
  #startJob(row: UploadRow, adoptedFrom: string | null): void {
    const abort = new AbortController();
    this.#running.set(row.fileName, abort);
    const job = this.#upload(row, abort.signal, adoptedFrom).finally(() => {
      this.#running.delete(row.fileName);
      this.#jobs.delete(job);
      this.wake();
    });
    this.#jobs.add(job);
  }

  async #upload(row: UploadRow, signal: AbortSignal, adoptedFrom: string | null): Promise<void> {
    const file = path.join(row.dir, row.fileName);
    const started = performance.now();
    const ctx = { file: row.fileName, key: row.key, attempt: row.attempts + 1 };
    try {
      const before = await fs.promises.stat(file).catch(() => null);
      if (before === null) throw new LocalFileGoneError(`the local file ${file} is gone`);
      this.log.info({ ...ctx, size: before.size }, 'Record upload started');
      const digest = await digestFile(file, this.options.partSize);
      const container = containerOf(row.fileName);
      await this.bucket.upload(file, row.key, { sha256: digest.sha256 }, container ? CONTENT_TYPES[container] : 'application/octet-stream', signal);
      const head = await this.bucket.head(row.key);
      const mismatch = verifyObject(digest, head, this.options.verify);
      if (mismatch !== null) throw new Error(`verification failed: ${mismatch}`);
      const now = Date.now();
      await this.store.markUploaded(row.fileName, { sha256: digest.sha256, etag: (head.etag ?? '').replace(/"/g, ''), atMs: now });
      const seconds = (performance.now() - started) / 1000;
      this.log.info({ ...ctx, size: digest.size, sha256: digest.sha256, seconds: Number(seconds.toFixed(3)) }, 'Record uploaded and verified');
      if (this.options.deleteLocal && adoptedFrom === null) await this.#deleteLocal(row, file, before);
      else if (this.options.deleteLocal) this.log.info({ ...ctx, from: adoptedFrom }, "Taken-over upload verified; the local copy is the other node's and is kept");
      const done = await this.store.get(row.fileName);
      if (done) this.emit('uploaded', done, digest, seconds);
    } catch (err) {
      if (this.#closed && signal.aborted) {
        this.log.info(ctx, 'Record upload stopped by shutdown; it starts again at the next start');
        return;
      }
      const error = err instanceof LocalFileGoneError ? err.message : s3ErrorText(err);
      const attempts = row.attempts + 1;
      const now = Date.now();
      if (err instanceof LocalFileGoneError || attempts >= this.options.maxAttempts) {
        this.#failures.failed++;
        await this.store.markFailed(row.fileName, error, now);
        this.log.error({ ...ctx, err: error }, 'Record upload failed for good; the local file (if any) is kept');
        const failed = await this.store.get(row.fileName);
        if (failed) this.emit('failed', failed, error);
        return;
      }
      const wait = backoffMs(attempts, this.options.retryMinMs, this.options.retryMaxMs, Math.random());
      this.#failures.retry++;
      await this.store.markRetry(row.fileName, error, now + wait, now);
      this.log.warn({ ...ctx, err: error, retryInMs: wait }, 'Record upload failed; retried later');
    }
  }

  /** After a verified upload: the local file goes (unless it changed meanwhile) and the catalog row turns remote. */
  async #deleteLocal(row: UploadRow, file: string, before: fs.Stats): Promise<void> {
    const now = await fs.promises.stat(file).catch(() => null);
    if (now === null || now.size !== before.size || now.mtimeMs !== before.mtimeMs) {
      this.log.warn({ file: row.fileName }, 'Record changed or vanished while uploading; the local copy is not deleted');
      return;
    }
    // the row turns remote before the file goes: a folder watcher seeing the file vanish then leaves the row alone
    const rec = await this.catalog.get(row.fileName);
    if (rec && rec.state !== 'deleted' && rec.state !== 'gone') {
      await this.catalog.upsert({ ...rec, state: 'remote' });
    }
    await fs.promises.rm(file, { force: true });
    await this.store.markLocalDeleted(row.fileName, Date.now());
    this.log.info({ file: row.fileName, key: row.key }, 'Local copy deleted after a verified upload (record_upload_delete_local)');
  }

  /** Stops the running uploads (they go back to pending and start again at the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#takeoverTimer) clearInterval(this.#takeoverTimer);
    for (const abort of this.#running.values()) abort.abort();
    await this.#runner.running;
    await Promise.allSettled([...this.#jobs]);
    await this.store.resetInterrupted(this.options.node, Date.now()).catch(() => 0);
    this.bucket.close();
  }
}

class LocalFileGoneError extends Error {}

/** Catalog rows read per page by the start-up sweep. */
const SWEEP_PAGE = 500;
