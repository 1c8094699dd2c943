import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { PartsBusyError, type PartSource, type RecordedPart } from '../catalog/part-source.js';
import { BoundedGate, GateFullError } from '../util/bounded-gate.js';
import { recordPathInside } from '../http/safe-path.js';
import { s3ErrorText, type S3Bucket } from './s3-bucket.js';
import type { UploadRow, UploadStore } from './upload-store.js';

export interface BucketRecordsOptions {
  /** Local copies of bucket-only records (mp4_cutter_dir/.bucket). */
  readonly cacheDir: string;
  /** record_upload_cache_max_size. */
  readonly cacheMaxBytes: number;
  /** Copies used more recently than this are never evicted (a cut or playback may be reading them). */
  readonly minKeepMs: number;
}

/** Too many bucket-only records being fetched at once: try again shortly. */
export class BucketBusyError extends Error {}

/** Fetches running at once, and waiting; beyond, BucketBusyError (a client cannot make the daemon fill its disk with copies). */
const FETCH_CONCURRENCY = 2;
const FETCH_WAITING = 8;

interface Cached {
  size: number;
  lastUsedMs: number;
}

/**
 * Records whose bytes are in the bucket: which ones (a verified upload
 * whose bucket copy is still there), and local copies of them for the
 * parts that must read a file (cuts with ffmpeg, time-range playback),
 * fetched once into a folder of their own and kept within
 * record_upload_cache_max_size, least recently used evicted first.
 * Downloads of whole records do not come here: they are proxied from the
 * bucket with their byte range (send-bucket-record.ts).
 */
export class BucketRecords {
  readonly #cached = new Map<string, Cached>();
  readonly #fetching = new Map<string, Promise<string | null>>();
  #started = false;
  readonly #gate = new BoundedGate(FETCH_CONCURRENCY, FETCH_WAITING);

  constructor(
    readonly store: UploadStore,
    readonly bucket: S3Bucket,
    private readonly options: BucketRecordsOptions,
    private readonly log: Logger,
  ) {}

  /** Makes the cache folder and learns what it holds (temp files of an interrupted fetch are removed). */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.options.cacheDir, { recursive: true });
    for (const name of await fs.promises.readdir(this.options.cacheDir)) {
      const file = path.join(this.options.cacheDir, name);
      if (name.startsWith('.dl-')) {
        await fs.promises.rm(file, { force: true });
        continue;
      }
      const st = await fs.promises.stat(file).catch(() => null);
      if (st?.isFile()) this.#cached.set(name, { size: st.size, lastUsedMs: st.atimeMs });
    }
    this.#started = true;
  }

  get cachedBytes(): number {
    let n = 0;
    for (const c of this.#cached.values()) n += c.size;
    return n;
  }

  /** The upload row of a record whose verified copy is in the bucket; null otherwise. */
  async inBucket(fileName: string): Promise<UploadRow | null> {
    const row = await this.store.get(fileName);
    return row !== null && row.state === 'uploaded' && row.remoteDeletedAt === null && row.bucket === this.bucket.bucket ? row : null;
  }

  /**
   * A local copy of a bucket-only record (fetched once, then reused); null
   * when the record is not in the bucket. BucketBusyError when too many
   * fetches run and wait.
   */
  async localCopy(fileName: string): Promise<string | null> {
    if (!this.#started) return null;
    const target = recordPathInside(this.options.cacheDir, fileName);
    if (target === null) return null;
    const known = this.#cached.get(fileName);
    if (known && fs.existsSync(target)) {
      known.lastUsedMs = Date.now();
      return target;
    }
    let job = this.#fetching.get(fileName);
    if (!job) {
      job = this.#fetch(fileName, target).finally(() => this.#fetching.delete(fileName));
      this.#fetching.set(fileName, job);
    }
    return job;
  }

  async #fetch(fileName: string, target: string): Promise<string | null> {
    const row = await this.inBucket(fileName);
    if (row === null) return null;
    try {
      return await this.#gate.run(() => this.#fetchRow(fileName, target, row));
    } catch (err) {
      if (err instanceof GateFullError) {
        this.log.warn({ file: fileName, running: this.#gate.held, waiting: this.#gate.waiting }, 'Bucket-only record fetch refused: too many fetches');
        throw new BucketBusyError('too many records being fetched from the bucket; try again shortly');
      }
      throw err;
    }
  }

  async #fetchRow(fileName: string, target: string, row: UploadRow): Promise<string | null> {
    await this.#makeRoom(row.size);
    const started = performance.now();
    try {
      const size = await this.bucket.download(row.key, target);
      this.#cached.set(fileName, { size, lastUsedMs: Date.now() });
      this.log.info({ file: fileName, key: row.key, size, seconds: Number(((performance.now() - started) / 1000).toFixed(3)) }, 'Bucket-only record fetched for a cut or playback');
      return target;
    } catch (err) {
      this.log.warn({ file: fileName, key: row.key, err: s3ErrorText(err) }, 'Bucket-only record could not be fetched');
      return null;
    }
  }

  async #makeRoom(incoming: number): Promise<void> {
    const now = Date.now();
    let total = this.cachedBytes + incoming;
    const oldest = [...this.#cached.entries()].sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs);
    for (const [name, c] of oldest) {
      if (total <= this.options.cacheMaxBytes) break;
      if (now - c.lastUsedMs < this.options.minKeepMs) break;
      await fs.promises.rm(path.join(this.options.cacheDir, name), { force: true });
      this.#cached.delete(name);
      total -= c.size;
      this.log.info({ file: name, size: c.size }, 'Local copy of a bucket-only record evicted (record_upload_cache_max_size)');
    }
  }

  /** Forgets (and removes) the local copy of a record (deleted). */
  async forget(fileName: string): Promise<void> {
    if (!this.#cached.delete(fileName)) return;
    const target = recordPathInside(this.options.cacheDir, fileName);
    if (target) await fs.promises.rm(target, { force: true });
  }
}

/**
 * The catalog's parts for time-range playback, with the parts whose local
 * file is gone but whose copy is in the bucket swapped for a local copy.
 * A part of another node (a shared catalog) is read from the bucket when it
 * has a copy there: its path names a file on that node, not here. Such a
 * copy is this node's to read, so it is handed on as a part of `selfId`:
 * cluster reads then neither proxy it to its node (which may be stopped)
 * nor copy it from there again.
 */
export class BucketPartSource implements PartSource {
  constructor(
    private readonly parts: PartSource,
    private readonly bucket: BucketRecords,
    /** This node (catalog rows of other nodes carry theirs); null = one node, every part is this node's. */
    private readonly selfId: string | null = null,
  ) {}

  async partsOverlapping(streamName: string, fromMs: number, toMs: number): Promise<readonly RecordedPart[]> {
    const parts = await this.parts.partsOverlapping(streamName, fromMs, toMs);
    const out: RecordedPart[] = [];
    for (const p of parts) {
      const own = this.selfId === null || p.nodeId === this.selfId;
      if (own && fs.existsSync(p.path)) {
        out.push(p);
        continue;
      }
      let copy: string | null;
      try {
        copy = await this.bucket.localCopy(p.fileName);
      } catch (err) {
        if (err instanceof BucketBusyError) throw new PartsBusyError(err.message);
        throw err;
      }
      if (copy === null) out.push(p);
      else out.push(own || this.selfId === null ? { ...p, path: copy } : { ...p, path: copy, nodeId: this.selfId });
    }
    return out;
  }
}
