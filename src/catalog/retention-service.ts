import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Catalog } from './catalog.js';
import type { RecordDeleter } from './record-deleter.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { decideDeletions, deletable, retentionOff, type Deletion, type RetentionRules } from './retention-rules.js';

/** Oldest rows looked at per window of a pass. */
const WINDOW = 5000;
/** Windows per pass at most (a pass deletes at most WINDOW x MAX_WINDOWS records; the next pass goes on). */
const MAX_WINDOWS = 20;

/** How often free space is read when record_retention_min_free_space is set, ms. */
const FREE_SPACE_CHECK_MS = 2000;

export interface RetentionOptions {
  readonly rules: RetentionRules;
  /** record_retention_check_interval, ms. */
  readonly intervalMs: number;
  /** Free bytes on the records filesystem. */
  readonly freeSpace: () => Promise<number>;
}

interface RetentionEvents {
  /** A pass ended; `deleted` holds what it removed (often nothing). */
  pass: [deleted: readonly Deletion[]];
}

/**
 * Applies the record_retention_* rules every check interval (and at once
 * when asked, e.g. when the disk guard sees space running low): the
 * decisions come from decideDeletions over the catalog's rows; each one is
 * checked again against the catalog just before the file is removed.
 */
export class RetentionService extends TypedEmitter<RetentionEvents> {
  #timer: NodeJS.Timeout | null = null;
  #spaceTimer: NodeJS.Timeout | null = null;
  #running: Promise<Deletion[]> | null = null;
  #closed = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly deleter: RecordDeleter,
    private readonly options: RetentionOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  get enabled(): boolean {
    return !retentionOff(this.options.rules);
  }

  start(): void {
    if (!this.enabled) return;
    this.log.info({ ...this.options.rules, intervalMs: this.options.intervalMs }, 'Record retention on');
    this.#timer = setInterval(() => void this.runNow(), this.options.intervalMs);
    this.#timer.unref();
    if (this.options.rules.minFreeBytes > 0) {
      // free space is cheap to read: watched closely so retention acts before file_recorder_min_space stops recordings
      this.#spaceTimer = setInterval(() => void this.#checkSpace(), Math.min(this.options.intervalMs, FREE_SPACE_CHECK_MS));
      this.#spaceTimer.unref();
    }
    void this.runNow();
  }

  async #checkSpace(): Promise<void> {
    const free = await this.options.freeSpace().catch(() => null);
    if (free !== null && free < this.options.rules.minFreeBytes) await this.runNow();
  }

  /** One pass now (a pass already running is shared). */
  runNow(): Promise<Deletion[]> {
    if (!this.enabled || this.#closed) return Promise.resolve([]);
    if (!this.#running) {
      this.#running = this.#run()
        .catch((err: Error) => {
          this.log.error({ err: err.message }, 'Record retention pass failed');
          return [];
        })
        .finally(() => (this.#running = null));
    }
    return this.#running;
  }

  async #run(): Promise<Deletion[]> {
    const done: Deletion[] = [];
    // a window of the oldest rows at a time (never the whole catalog in memory); another window while the last one was used up
    for (let round = 0; round < MAX_WINDOWS && !this.#closed; round++) {
      const rows = await this.catalog.retentionRows(WINDOW);
      // a part being written has no size in its row yet: what it takes on disk now counts towards max_size
      const growth = rows.recording.reduce((sum, r) => sum + Math.max(0, sizeOnDisk(path.join(r.dir, r.fileName)) - r.size), 0);
      const freeBytes = this.options.rules.minFreeBytes > 0 ? await this.options.freeSpace().catch(() => null) : null;
      const decisions = decideDeletions(
        { records: rows.records, cuts: rows.cuts, totalBytes: rows.totalBytes + growth, nowMs: Date.now(), freeBytes },
        this.options.rules,
      );
      let deleted = 0;
      for (const d of decisions) {
        if (this.#closed) break;
        if (d.kind === 'cut') {
          await this.deleter.deleteCut(d.fileName, d.dir, d.reason);
          done.push(d);
          continue;
        }
        const outcome = await this.deleter.deleteRecord(d.fileName, d.reason, { localOnly: true });
        if (outcome === 'deleted') {
          done.push(d);
          deleted++;
        } else {
          this.log.info({ file: d.fileName, outcome }, 'Record kept by retention after all');
        }
      }
      const windowUsedUp = deleted > 0 && rows.records.length === WINDOW && decisions.filter((d) => d.kind === 'record').length >= rows.records.filter(deletable).length;
      if (!windowUsedUp) break;
    }
    if (done.length > 0) {
      this.log.info(
        { deleted: done.filter((d) => d.kind === 'record').length, cuts: done.filter((d) => d.kind === 'cut').length, bytes: done.reduce((s, d) => s + d.size, 0) },
        'Record retention pass',
      );
    }
    this.emit('pass', done);
    return done;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#spaceTimer) clearInterval(this.#spaceTimer);
    await this.#running;
  }
}

function sizeOnDisk(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
