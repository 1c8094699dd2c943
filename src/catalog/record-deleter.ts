import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Catalog } from './catalog.js';

/** Runs on_record_delete_hook_script ($1 stream, $2 path, $3 reason): HookRunner.runArgs. */
export interface DeleteHook {
  runArgs(args: readonly string[], file: string, context: Record<string, string>): Promise<unknown>;
}

/** `otherNode`: the file is on another node's disk (shared catalog); only that node deletes it. */
export type DeleteOutcome = 'deleted' | 'unknown' | 'in-progress' | 'pinned' | { readonly otherNode: string };

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
  ) {}

  /** Deletes a record unless it is unknown, being written, or (unless `force`) pinned. */
  async deleteRecord(fileName: string, reason: string, options: { allowPinned?: boolean } = {}): Promise<DeleteOutcome> {
    const row = await this.catalog.get(fileName);
    if (this.inProgress(fileName) || row?.state === 'recording') return 'in-progress';
    if (!row || row.state === 'deleted' || row.state === 'gone') return 'unknown';
    if (row.nodeId !== this.catalog.nodeId) return { otherNode: row.nodeId };
    if (row.pinned && !options.allowPinned) return 'pinned';
    const file = path.join(row.dir, row.fileName);
    await fs.promises.rm(file, { force: true });
    await this.catalog.markDeleted(fileName, reason, Date.now());
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
