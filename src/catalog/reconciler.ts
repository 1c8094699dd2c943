import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { containerOf } from '../records/containers.js';
import type { MediaFacts } from '../records/media-probe.js';
import type { Catalog, RecordProvider, RecordRow } from './catalog.js';
import { diffFolder, isRecordName, listRecordFiles, statEntry, type DiskEntry } from './folder-scan.js';

/** Files described and written per transaction by a reconcile. */
const CHUNK = 1000;

export interface RecordFolder {
  readonly dir: string;
  /** Provider of files found there that no recorder reported ('file' in record_dir, 'multi' in multi_record_dir). */
  readonly provider: RecordProvider;
}

export interface ReconcilerOptions {
  readonly folders: readonly RecordFolder[];
  /** mp4_cutter_dir when it is not a record folder: every file there is a cut. */
  readonly cutDir: string | null;
  /** A cut (?start=&end= part) rather than a record; `comment` is the file's comment tag once probed. */
  readonly isCut: (fileName: string, comment: string | null) => boolean;
  /** The record a cut was made from, when its name tells. */
  readonly sourceOfCut: (fileName: string) => string | null;
  readonly probe: (file: string) => Promise<MediaFacts>;
  /**
   * A duration read in process (seconds), tried before ffprobe: the mvhd of
   * a finished MP4 (mp4DurationSeconds). null = ask ffprobe.
   */
  readonly quickDuration?: (file: string) => number | null;
  /** ffprobes at once. */
  readonly concurrency: number;
}

export interface ReconcileReport {
  readonly listed: number;
  /** New files (records and cuts). */
  readonly added: number;
  readonly changed: number;
  readonly gone: number;
  readonly cuts: number;
  readonly ms: number;
}

/**
 * Keeps the catalog in agreement with the record folders: files that
 * appeared are probed (a bounded number at a time) and added, files that
 * vanished are marked gone, unchanged files (same size and mtime) are not
 * touched. Runs in full at start-up and for the names a folder watcher
 * reports while the daemon runs.
 */
export class Reconciler {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
  ) {}

  /** Compares every folder with the catalog. */
  async reconcileAll(): Promise<ReconcileReport> {
    const started = Date.now();
    let listed = 0;
    let added = 0;
    let changed = 0;
    let gone = 0;
    let cuts = 0;
    for (const folder of this.options.folders) {
      // the catalog's view first: a part finished while the folder is listed is then never taken for vanished
      const known = await this.catalog.presentIn(folder.dir);
      const onDisk = await listRecordFiles(folder.dir);
      listed += onDisk.length;
      const diff = diffFolder(known, onDisk);
      if (diff.vanished.length > 0) {
        await this.catalog.markGone(diff.vanished);
        this.log.info({ dir: folder.dir, count: diff.vanished.length, files: diff.vanished.slice(0, 20) }, 'Records vanished from the folder; marked gone');
      }
      const knownCuts = new Set((await this.catalog.cuts()).map((c) => c.fileName));
      const fresh = diff.added.filter((e) => !knownCuts.has(e.name));
      cuts += await this.#takeAll(folder, [...fresh, ...diff.changed]);
      added += fresh.length;
      changed += diff.changed.length;
      gone += diff.vanished.length;
    }
    cuts += await this.#reconcileCutDir();
    await this.#forgetVanishedCuts();
    return { listed, added, changed, gone, cuts, ms: Date.now() - started };
  }

  /** Looks again at these names of a folder (a watcher saw them change). */
  async refreshNames(dir: string, names: Iterable<string>): Promise<void> {
    const folder = this.options.folders.find((f) => f.dir === dir);
    const vanished: string[] = [];
    const jobs: Promise<unknown>[] = [];
    const taken: DiskEntry[] = [];
    for (const name of names) {
      if (!isRecordName(name)) continue;
      const entry = statEntry(dir, name);
      if (!folder) {
        if (dir === this.options.cutDir) jobs.push(entry ? this.#addCut(dir, entry) : this.catalog.removeCut(name));
        continue;
      }
      if (entry === null) {
        const row = await this.catalog.get(name);
        if (row && row.dir === dir && (row.state === 'finished' || row.state === 'recovered' || row.state === 'broken')) vanished.push(name);
        else await this.catalog.removeCut(name);
        continue;
      }
      const row = await this.catalog.get(name);
      if (row && row.dir === dir && row.state !== 'gone' && row.state !== 'deleted' && row.size === entry.size && row.mtimeMs === entry.mtimeMs) continue;
      taken.push(entry);
    }
    if (folder) jobs.push(this.#takeAll(folder, taken));
    if (vanished.length > 0) {
      await this.catalog.markGone(vanished);
      this.log.info({ dir, files: vanished }, 'Records vanished from the folder; marked gone');
    }
    await Promise.all(jobs);
  }

  async #reconcileCutDir(): Promise<number> {
    const dir = this.options.cutDir;
    if (dir === null || this.options.folders.some((f) => f.dir === dir)) return 0;
    const known = new Set((await this.catalog.cuts()).map((c) => c.fileName));
    const onDisk = await listRecordFiles(dir);
    const fresh = onDisk.filter((e) => !known.has(e.name));
    for (const e of fresh) await this.#addCut(dir, e);
    return fresh.length;
  }

  async #forgetVanishedCuts(): Promise<void> {
    for (const cut of await this.catalog.cuts()) {
      if (!fs.existsSync(path.join(cut.dir, cut.fileName))) await this.catalog.removeCut(cut.fileName);
    }
  }

  async #addCut(dir: string, e: DiskEntry): Promise<'cut'> {
    await this.catalog.upsertCut({ fileName: e.name, dir, sourceFileName: this.options.sourceOfCut(e.name) ?? '', size: e.size, createdMs: e.mtimeMs });
    return 'cut';
  }

  /** Files that appeared or changed, a chunk at a time: each described (probed when needed), the chunk written in one transaction. Returns the cuts found. */
  async #takeAll(folder: RecordFolder, entries: readonly DiskEntry[]): Promise<number> {
    let cuts = 0;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const described = await Promise.all(entries.slice(i, i + CHUNK).map((e) => this.#describe(folder, e)));
      const rows: RecordRow[] = [];
      for (const d of described) {
        if (d === 'cut') cuts++;
        else if (d !== null) rows.push(d);
      }
      await this.catalog.upsertMany(rows);
    }
    return cuts;
  }

  /** A file that appeared or changed: a cut (stored at once), the row of a record this daemon knows (only size and mtime change), or of a foreign file (probed); null to leave it. */
  async #describe(folder: RecordFolder, e: DiskEntry): Promise<RecordRow | 'cut' | null> {
    if (this.options.isCut(e.name, null)) return this.#addCut(folder.dir, e);
    const known = await this.catalog.get(e.name);
    if (known && known.dir !== folder.dir && known.state !== 'gone' && known.state !== 'deleted') {
      this.log.warn({ file: e.name, dir: folder.dir, knownIn: known.dir }, 'A record of the same name is already known in another folder; not catalogued');
      return null;
    }
    if (known && known.streamName !== null) {
      return { ...known, dir: folder.dir, size: e.size, mtimeMs: e.mtimeMs, state: known.state === 'broken' ? 'broken' : known.state === 'recovered' ? 'recovered' : 'finished' };
    }
    const file = path.join(folder.dir, e.name);
    const quick = this.options.quickDuration?.(file) ?? null;
    const facts: MediaFacts | null =
      quick !== null ? { durationSeconds: quick, formatName: 'mov,mp4,m4a,3gp,3g2,mj2', comment: '' } : await this.#limited(() => this.options.probe(file).catch(() => null));
    if (facts && this.options.isCut(e.name, facts.comment)) return this.#addCut(folder.dir, e);
    // (if the recorder reported the file meanwhile, the catalog keeps its row: a row without a stream never replaces it)
    const durationMs = facts ? Math.round(facts.durationSeconds * 1000) : null;
    return {
      fileName: e.name,
      dir: folder.dir,
      streamName: null,
      mediaSessionId: null,
      provider: folder.provider,
      login: '',
      startMs: e.mtimeMs - (durationMs ?? 0),
      endMs: e.mtimeMs,
      durationMs,
      size: e.size,
      container: containerOf(e.name) ?? '',
      videoCodec: '',
      audioCodec: '',
      width: 0,
      height: 0,
      part: 1,
      state: facts ? 'finished' : 'broken',
      mtimeMs: e.mtimeMs,
    };
  }

  async #limited<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.options.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
