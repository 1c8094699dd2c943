import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Catalog, CatalogRecord } from './catalog.js';

/** Runs on_record_delete_hook_script ($1 stream, $2 path, $3 reason): HookRunner.runArgs. */
export interface DeleteHook {
  runArgs(args: readonly string[], file: string, context: Record<string, string>): Promise<unknown>;
}

/** `otherNode`: the file is on another node's disk (shared catalog); only that node deletes it. */
export type DeleteOutcome = 'deleted' | 'unknown' | 'in-progress' | 'pinned' | { readonly otherNode: string };

/** The records' copies in S3-compatible storage (issue 19). */
export interface RemoteCopies {
  /** True when a verified copy of the record is in the bucket. */
  has(fileName: string): Promise<boolean>;
  /** Deletes the bucket copy. */
  remove(fileName: string, reason: string): Promise<void>;
}

/** Told of each deletion: where the bytes went from (local file, bucket copy, or both). */
export type DeletedListener = (row: CatalogRecord, reason: string, where: { local: boolean; bucket: boolean; recordDeleted: boolean }) => void;

/** Hooks waiting to run at most; more are skipped (and logged) so a slow script cannot pile up processes. */
const MAX_QUEUED_HOOKS = 1000;

/**
 * Deletes records and cuts for REST and retention alike: the file is
 * removed, its row kept as `deleted` with when and why, its cuts removed,
 * the deletion logged and the hook run (one at a time, in order).
 */
export class RecordDeleter {
  #hooks: Promise<unknown> = Promise.resolve();
  #queued = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly hook: DeleteHook | null,
    /** True for a file name a recorder is writing now (its catalog row, or the name find_all shows). */
    private readonly inProgress: (fileName: string) => boolean,
    private readonly log: Logger,
    private readonly remote: RemoteCopies | null = null,
    private readonly onDeleted: DeletedListener | null = null,
  ) {}

  /**
   * Deletes a record unless it is unknown, being written, or (unless `force`)
   * pinned. With `localOnly` (local retention) a record whose verified copy
   * is in the bucket only loses its local file: its row turns `remote`.
   * Otherwise (REST) the bucket copy goes too.
   */
  async deleteRecord(fileName: string, reason: string, options: { allowPinned?: boolean; localOnly?: boolean } = {}): Promise<DeleteOutcome> {
    const row = await this.catalog.get(fileName);
    if (this.inProgress(fileName) || row?.state === 'recording') return 'in-progress';
    if (!row || row.state === 'deleted' || row.state === 'gone') return 'unknown';
    if (row.nodeId !== this.catalog.nodeId) return { otherNode: row.nodeId };
    if (row.pinned && !options.allowPinned) return 'pinned';
    const file = path.join(row.dir, row.fileName);
    const inBucket = this.remote !== null && (await this.remote.has(fileName));
    if (options.localOnly && inBucket) {
      if (row.state === 'remote') return 'unknown';
      await this.catalog.upsert({ ...row, state: 'remote' });
      await fs.promises.rm(file, { force: true });
      this.log.info({ file, stream: row.streamName, size: row.size, reason }, 'Local copy of an uploaded record deleted; the record stays in the bucket');
      this.onDeleted?.(row, reason, { local: true, bucket: false, recordDeleted: false });
      return 'deleted';
    }
    await fs.promises.rm(file, { force: true });
    if (inBucket) await this.remote!.remove(fileName, reason);
    await this.catalog.markDeleted(fileName, reason, Date.now());
    this.onDeleted?.(row, reason, { local: row.state !== 'remote', bucket: inBucket, recordDeleted: true });
    for (const cut of await this.catalog.cutsOf(fileName)) await this.deleteCut(cut.fileName, cut.dir, 'source_deleted');
    this.log.info({ file, stream: row.streamName, size: row.size, reason }, 'Record deleted');
    this.#runHook(row.streamName ?? '', file, reason);
    return 'deleted';
  }

  async deleteCut(fileName: string, dir: string, reason: string): Promise<void> {
    await fs.promises.rm(path.join(dir, fileName), { force: true });
    await this.catalog.removeCut(fileName);
    this.log.info({ file: path.join(dir, fileName), reason }, 'Record cut deleted');
  }

  #runHook(stream: string, file: string, reason: string): void {
    const hook = this.hook;
    if (!hook) return;
    if (this.#queued >= MAX_QUEUED_HOOKS) {
      this.log.warn({ file, reason }, 'Too many record delete hooks waiting; this one is skipped');
      return;
    }
    this.#queued++;
    this.#hooks = this.#hooks
      .then(() => hook.runArgs([stream, file, reason], file, { deleted: path.basename(file) }))
      .catch((err: Error) => this.log.warn({ file, err: err.message }, 'Record delete hook failed'))
      .finally(() => this.#queued--);
  }

  /** Waits for the hooks started so far. */
  async drain(): Promise<void> {
    await this.#hooks;
  }
}
