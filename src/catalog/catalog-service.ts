import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { MultiRecordInfo } from '../recording/multi/multi-recorder.js';
import type { PartStartInfo, RecordInfo } from '../recording/recorder.js';
import type { Catalog } from './catalog.js';
import { isRecordName, statEntry } from './folder-scan.js';
import { importJournalOnce } from './journal-import.js';
import { finishedPart, multiRecordingRow, multiRow, recordingRow } from './record-rows.js';
import type { Reconciler, RecordFolder } from './reconciler.js';

export interface CatalogServiceOptions {
  readonly recordDir: string;
  /** The journal of the daemon before the catalog, imported once. */
  readonly journalFile: string;
  readonly folders: readonly RecordFolder[];
  /** mp4_cutter_dir when it is a folder of its own. */
  readonly cutDir: string | null;
  /** A full reconcile this often while running (the watcher covers changes in between). */
  readonly rescanIntervalMs: number;
  /** start() waits this long for the start-up reconcile (probing many new files goes on in the background). */
  readonly startupWaitMs: number;
  /** Watcher events are taken together after this quiet time, ms. */
  readonly settleMs: number;
}

/**
 * Keeps the catalog true: imports the old journal once, reconciles the
 * folders at start-up and while running (folder watchers, periodic
 * rescans), and writes the rows the recorders report: a row per part from
 * its first byte (state recording), finished or recovered when its file is
 * in place. Writes are applied in order.
 */
export class CatalogService {
  #chain: Promise<void> = Promise.resolve();
  #reconciling: Promise<void> | null = null;
  readonly #watchers: fs.FSWatcher[] = [];
  readonly #pending = new Map<string, Set<string>>();
  #settleTimer: NodeJS.Timeout | null = null;
  #rescanTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Temp (work folder) names of the multiple recorders in progress, by URI. */
  readonly #multiTemp = new Map<string, string>();

  constructor(
    readonly catalog: Catalog,
    private readonly reconciler: Reconciler,
    private readonly options: CatalogServiceOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await importJournalOnce(this.catalog, this.options.journalFile, this.options.recordDir, this.log);
    const done = this.#reconcile('start-up');
    const waited = await Promise.race([done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), this.options.startupWaitMs).unref())]);
    if (!waited) this.log.warn({ waitedMs: this.options.startupWaitMs }, 'Start-up reconcile still probing new files; it goes on in the background');
    for (const dir of new Set([...this.options.folders.map((f) => f.dir), ...(this.options.cutDir ? [this.options.cutDir] : [])])) this.#watch(dir);
    if (this.options.rescanIntervalMs > 0) {
      this.#rescanTimer = setInterval(() => void this.#reconcile('periodic'), this.options.rescanIntervalMs);
      this.#rescanTimer.unref();
    }
  }

  #reconcile(why: string): Promise<void> {
    if (this.#reconciling) return this.#reconciling;
    const run = this.reconciler.reconcileAll().then(
      (report) => this.log.info({ ...report, why }, 'Catalog reconciled with the record folders'),
      (err: Error) => this.log.error({ err: err.message, why }, 'Catalog reconcile failed'),
    );
    this.#reconciling = run.finally(() => (this.#reconciling = null));
    return this.#reconciling;
  }

  #watch(dir: string): void {
    try {
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (typeof name !== 'string' || !isRecordName(name)) return;
        let names = this.#pending.get(dir);
        if (!names) this.#pending.set(dir, (names = new Set()));
        names.add(name);
        if (this.#settleTimer) clearTimeout(this.#settleTimer);
        this.#settleTimer = setTimeout(() => void this.#takePending(), this.options.settleMs);
        this.#settleTimer.unref();
      });
      watcher.on('error', (err) => this.log.warn({ dir, err: err.message }, 'Record folder watcher failed; periodic rescans only'));
      this.#watchers.push(watcher);
    } catch (err) {
      this.log.warn({ dir, err: (err as Error).message }, 'Record folder cannot be watched; periodic rescans only');
    }
  }

  #takePending(): Promise<void> {
    if (this.#settleTimer) clearTimeout(this.#settleTimer);
    this.#settleTimer = null;
    const batches = [...this.#pending.entries()];
    this.#pending.clear();
    return this.#enqueue(async () => {
      for (const [dir, names] of batches) await this.reconciler.refreshNames(dir, names);
    });
  }

  /**
   * Brings the catalog up to date with what the watchers saw (before
   * answering a query); waits at most `maxWaitMs`. A full reconcile still
   * probing many new files is not waited for: queries answer with what is
   * known so far.
   */
  async refresh(maxWaitMs = 5000): Promise<void> {
    await Promise.race([this.#takePending(), new Promise<void>((r) => setTimeout(r, maxWaitMs).unref())]);
  }

  /** Waits for the writes queued so far. */
  flush(): Promise<void> {
    return this.#enqueue(async () => undefined);
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(task).catch((err: Error) => this.log.error({ err: err.message }, 'Catalog write failed'));
    this.#chain = next;
    return next;
  }

  partStarted(p: PartStartInfo): void {
    void this.#enqueue(() => this.catalog.upsert(recordingRow(p)));
  }

  partFailed(tmpFile: string): void {
    void this.#enqueue(() => this.catalog.remove(path.basename(tmpFile)));
  }

  recorded(r: RecordInfo): void {
    const disk = statEntry(path.dirname(r.path), r.fileName);
    void this.#enqueue(() => this.catalog.finishPart(finishedPart(r, disk?.mtimeMs ?? r.endTimeMillis)));
  }

  multiStarted(uri: string, workDir: string, startTimeMillis: number): void {
    const row = multiRecordingRow(uri, workDir, startTimeMillis);
    this.#multiTemp.set(uri, row.fileName);
    void this.#enqueue(() => this.catalog.upsert(row));
  }

  multiRecorded(info: MultiRecordInfo): void {
    const tempName = this.#multiTemp.get(info.uri) ?? info.fileName;
    this.#multiTemp.delete(info.uri);
    const disk = statEntry(path.dirname(info.path), info.fileName);
    if (!disk) return;
    void this.#enqueue(() => this.catalog.finishPart({ tempName, row: multiRow(info, disk.size, disk.mtimeMs) }));
  }

  /** A multiple recorder that ended with no file: its in-progress row goes. */
  multiEmpty(uri: string): void {
    const tempName = this.#multiTemp.get(uri);
    this.#multiTemp.delete(uri);
    if (tempName) void this.#enqueue(() => this.catalog.remove(tempName));
  }

  cutMade(fileName: string, dir: string, sourceFileName: string): void {
    const disk = statEntry(dir, fileName);
    if (!disk) return;
    void this.#enqueue(() => this.catalog.upsertCut({ fileName, dir, sourceFileName, size: disk.size, createdMs: Date.now() }));
  }

  /**
   * After start-up recovery: rows still `recording` belong to no recorder
   * (a crash, and recovery could not make a record of them): broken when
   * their temp file was kept aside, gone otherwise.
   */
  async settleInterrupted(): Promise<void> {
    await this.flush();
    // this node's rows only: on a shared catalog the other nodes' are their own recordings in progress
    const stale = await this.catalog.find({ states: ['recording'], nodeId: this.catalog.nodeId, limit: 100_000 });
    for (const row of stale.records) {
      const kept = fs.existsSync(path.join(row.dir, `${row.fileName}.broken`)) || fs.existsSync(path.join(row.dir, row.fileName));
      if (kept && row.provider !== 'multi') {
        await this.catalog.markBroken(row.fileName);
      } else {
        await this.catalog.markGone([row.fileName]);
      }
    }
    if (stale.total > 0) this.log.warn({ count: stale.total }, 'Interrupted recordings recovery could not finish are marked broken or gone in the catalog');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watchers) w.close();
    if (this.#settleTimer) clearTimeout(this.#settleTimer);
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    await this.#reconciling?.catch(() => undefined);
    await this.#chain;
    await this.catalog.close();
  }
}
