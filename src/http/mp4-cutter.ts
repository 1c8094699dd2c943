import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { FfmpegProcess } from '../recording/ffmpeg/ffmpeg-process.js';
import { ProbeError, type MediaProbe } from '../records/media-probe.js';
import { ComposeUnsupportedError, PartDamagedError, readPartMedia } from './playback/mp4-sample-table.js';
import { classifyFfmpegFailure } from './ffmpeg-failure.js';
import type { FreeSpaceProbe } from '../recording/disk-guard.js';
import { BoundedGate, GateClosedError, GateFullError } from '../util/bounded-gate.js';
import { planEviction, type CachedPart } from './cut-cache.js';
import { checkRangeInside, clampRange, cutFileName, cutInputArgs, estimatePartBytes, formatSeconds, recordNameOfCut, type CutRange } from './cut-range.js';
import { existingRecordInside, recordPathInside } from './safe-path.js';

export interface Mp4CutterOptions {
  readonly ffmpeg: string;
  /** record_dir: the only folder a cut reads from. */
  readonly recordDir: string;
  /** mp4_cutter_dir: where parts are stored and served from. */
  readonly cutterDir: string;
  /** A cut taking longer than this is stopped and answered as an error. */
  readonly timeoutMs: number;
  /** mp4_cutter_max_concurrent: cut ffmpegs running at once. */
  readonly maxConcurrent: number;
  /** mp4_cutter_max_queued: cuts waiting for a place; beyond, CutterBusyError (503). */
  readonly maxQueued: number;
  /**
   * mp4_cutter_cache_max_size: bytes all stored parts may take, together with
   * what `otherCacheBytes` says the playback answers hold (one budget for
   * both); least recently used removed first.
   */
  readonly cacheMaxBytes: number;
  /** Bytes the time-range playback answers hold now (the other user of the same budget). */
  readonly otherCacheBytes?: () => number;
  /** file_recorder_min_space: a cut never leaves less free space than this on mp4_cutter_dir. */
  readonly minFreeBytes: number;
  /** Free space of a folder's filesystem (tests give their own). */
  readonly freeSpace: FreeSpaceProbe;
  /** Told of each part made and how long ffmpeg took (the record catalog keeps cuts as cache entries; metrics). */
  readonly onCut?: (fileName: string, dir: string, sourceFileName: string, seconds: number) => void;
  /** A local copy of a record that is not in record_dir (a bucket-only record, issue 19); null when there is none. */
  readonly remoteSource?: (recordName: string) => Promise<string | null>;
}

export interface CutResult {
  /** The folder to serve from: cutterDir, or recordDir when the range is the whole record. */
  readonly dir: string;
  /** The part's file name inside `dir` (the record's own name for the whole record). */
  readonly fileName: string;
  /** True when the part already existed (an earlier identical request), or is the record itself. */
  readonly cached: boolean;
}

/** Seconds a client told 503 should wait before it asks again. */
export const CUT_RETRY_AFTER_SECONDS = 5;

/** The `comment` tag written into every part, so that it is never taken for a record. */
export const CUT_COMMENT = 'wcs-recorder cut';

const TEMP_PREFIX = '.cut-';
const TEMP_SUFFIX = '.part.mp4';

/** The record is missing or not a plain file inside record_dir. */
export class CutSourceError extends Error {}
/**
 * The part could not be made for a reason of this server (ffmpeg or ffprobe
 * missing, over the time limit, the part not written or stored): 503 with
 * Retry-After.
 */
export class CutFailedError extends Error {
  readonly retryAfterSeconds = CUT_RETRY_AFTER_SECONDS;
}
/**
 * The record is there but damaged: its own tables say it is cut short, or
 * ffprobe or ffmpeg cannot read it (422). The same request fails the same
 * way until the record is repaired or replaced. Names the record.
 */
export class CutDamagedError extends Error {
  constructor(
    readonly fileName: string,
    readonly why: string,
  ) {
    super(`Record '${fileName}' cannot be cut (the record is damaged): ${why}`);
  }
}
/** The daemon is shutting down. */
export class CutterClosedError extends Error {}
/** Too many cuts running and waiting: 503 with Retry-After. */
export class CutterBusyError extends Error {
  readonly retryAfterSeconds = CUT_RETRY_AFTER_SECONDS;
}
/** The part would not fit: below file_recorder_min_space, or larger than the whole cache (507). */
export class CutNoSpaceError extends Error {}

/**
 * Makes and keeps the `?start=&end=` parts of MP4 records: one ffmpeg per
 * part (`-ss S -to E -i record -c copy -movflags +faststart`, seeking on the
 * input so nothing before S is read), written to a hidden temp name and
 * renamed when complete. An identical request later is served the stored
 * part; identical requests at the same time share one ffmpeg. Running cuts
 * are killed on close().
 *
 * Bounded against hostile input: a start or end that says nothing (0, past
 * the end) is dropped before the part is named, so one part answers them
 * all; at most maxConcurrent ffmpegs run and maxQueued cuts wait (beyond:
 * CutterBusyError); the stored parts are kept under cacheMaxBytes (least
 * recently used removed first); and a cut that would leave less than
 * minFreeBytes free is refused (CutNoSpaceError).
 */
export class Mp4Cutter {
  readonly #inFlight = new Map<string, Promise<CutResult>>();
  readonly #running = new Set<FfmpegProcess>();
  /** Parts made by this daemon, by file name. */
  readonly #made = new Set<string>();
  /** The cache: parts known to be ours (made here or marked with CUT_COMMENT), by file name. */
  readonly #parts = new Map<string, CachedPart>();
  /** Parts being made now, with the bytes they may take. */
  readonly #reserved = new Map<string, number>();
  readonly #gate: BoundedGate;
  /** What the tables of each record said (damage found, or null), by path, for one size and mtime. */
  readonly #tables = new Map<string, { key: string; damage: Promise<string | null> }>();
  #scan: Promise<void> | null = null;
  #closed = false;

  constructor(
    private readonly options: Mp4CutterOptions,
    private readonly probe: MediaProbe,
    private readonly log: Logger,
  ) {
    this.#gate = new BoundedGate(options.maxConcurrent, options.maxQueued);
  }

  /** Cut ffmpegs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Bytes the stored parts known to the cache take. */
  get cacheBytes(): number {
    let sum = 0;
    for (const p of this.#parts.values()) sum += p.bytes;
    return sum;
  }

  get cutterDir(): string {
    return this.options.cutterDir;
  }

  /** Creates the folder and removes temp files a killed daemon left behind. */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.options.cutterDir, { recursive: true });
    for (const name of await fs.promises.readdir(this.options.cutterDir)) {
      if (name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)) {
        await fs.promises.rm(path.join(this.options.cutterDir, name), { force: true });
      }
    }
  }

  /** The parts an earlier run stored count against the cache limit: found once, before the first cut is made. */
  #storedPartsFound(): Promise<void> {
    this.#scan ??= this.#scanStoredParts().catch((err: Error) => this.log.warn({ err: err.message }, 'Stored parts of mp4_cutter_dir not scanned'));
    return this.#scan;
  }

  /** Finds the parts already in cutterDir: cut-like names whose comment tag says CUT_COMMENT (never a record). */
  async #scanStoredParts(): Promise<void> {
    for (const name of await fs.promises.readdir(this.options.cutterDir)) {
      if (this.#closed) return;
      if (this.#parts.has(name) || recordNameOfCut(name) === null) continue;
      const file = path.join(this.options.cutterDir, name);
      try {
        const stat = await fs.promises.lstat(file);
        if (!stat.isFile()) continue;
        const facts = await this.probe.probe(file);
        if (facts.comment !== CUT_COMMENT || this.#parts.has(name)) continue;
        this.#parts.set(name, { fileName: name, bytes: stat.size, lastUsedMs: stat.mtimeMs });
        this.#made.add(name);
      } catch {
        // unreadable: not ours to count or remove
      }
    }
    await this.#evict(0, new Set());
  }

  /**
   * Whether a file of record_dir is a part rather than a record (only
   * possible when mp4_cutter_dir is record_dir): made by this daemon,
   * marked by its comment tag, or named `<record>-sS-eE.mp4` next to its
   * record.
   */
  isCut(fileName: string, comment: string | null = null): boolean {
    if (path.resolve(this.options.cutterDir) !== path.resolve(this.options.recordDir)) return false;
    if (this.#made.has(fileName) || comment === CUT_COMMENT) return true;
    const source = recordNameOfCut(fileName);
    return source !== null && source !== fileName && fs.existsSync(path.join(this.options.recordDir, source));
  }

  /** Returns the part of record `recordName` (a plain name inside record_dir), making it when needed. */
  async cut(recordName: string, range: CutRange): Promise<CutResult> {
    if (this.#closed) throw new CutterClosedError('server is shutting down');
    const local = await existingRecordInside(this.options.recordDir, recordName);
    const source = local ?? (recordPathInside(this.options.recordDir, recordName) !== null ? ((await this.options.remoteSource?.(recordName)) ?? null) : null);
    if (source === null) throw new CutSourceError(`Record '${recordName}' not found`);
    // a record its own tables say is cut short is refused before ffprobe and ffmpeg read it
    const damage = await this.#tableDamage(source);
    if (damage !== null) throw new CutDamagedError(recordName, damage);
    const facts = await this.probe.probe(source).catch((err: Error) => {
      if (err instanceof ProbeError && err.transient) throw new CutFailedError(`Record '${recordName}' cannot be cut now: ${err.message.split(source).join(recordName)}`);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CutSourceError(`Record '${recordName}' not found`);
      throw new CutDamagedError(recordName, `ffprobe: ${err.message.split(source).join(recordName)}`);
    });
    checkRangeInside(range, facts.durationSeconds);
    // a bound that says nothing (0, at or past the end) is dropped before naming: one part answers them all
    const clamped = clampRange(range, facts.durationSeconds);
    if (clamped === null) return { dir: local !== null ? this.options.recordDir : path.dirname(source), fileName: path.basename(source), cached: true };
    const fileName = cutFileName(path.basename(source), clamped);
    const target = recordPathInside(this.options.cutterDir, fileName);
    if (target === null) throw new CutSourceError(`Record '${recordName}' cannot be cut`);
    if (this.#closed) throw new CutterClosedError('server is shutting down');
    // check and register synchronously: identical requests arriving together share one job
    const running = this.#inFlight.get(target);
    if (running) return running;
    const job = this.#storedOrMade(source, target, fileName, clamped, facts.durationSeconds).finally(() => this.#inFlight.delete(target));
    this.#inFlight.set(target, job);
    return job;
  }

  /**
   * What the record's own tables say is wrong with it (its media, or its
   * moov, runs past the end of the file: cut short), read as the playback
   * reads its parts (readPartMedia); null when nothing is, or the tables
   * cannot say (fragmented, unusual: ffmpeg decides). Once per size and mtime.
   */
  async #tableDamage(source: string): Promise<string | null> {
    let key: string;
    try {
      const st = await fs.promises.stat(source);
      key = `${st.size}:${st.mtimeMs}`;
    } catch {
      return null;
    }
    const known = this.#tables.get(source);
    if (known && known.key === key) return known.damage;
    const damage = readPartMedia(source).then(
      () => null,
      (err: Error) => {
        if (err instanceof PartDamagedError) return err.message;
        if (!(err instanceof ComposeUnsupportedError)) this.log.debug({ record: path.basename(source), reason: err.message }, 'Record tables not read; ffmpeg decides');
        return null;
      },
    );
    // a bounded memory of records: the oldest forgotten first
    this.#tables.delete(source);
    this.#tables.set(source, { key, damage });
    if (this.#tables.size > 1000) this.#tables.delete(this.#tables.keys().next().value!);
    return damage;
  }

  /** Kills running cuts (their temp files are removed) and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#gate.close();
    const exits = [...this.#running].map((p) => {
      p.signal('SIGKILL');
      return p.exited;
    });
    await Promise.all(exits);
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #storedOrMade(source: string, target: string, fileName: string, range: CutRange, durationSeconds: number): Promise<CutResult> {
    if (await isPlainFile(target)) {
      this.log.info({ record: path.basename(source), part: fileName }, 'Record part served from mp4_cutter_dir');
      const known = this.#parts.get(fileName);
      if (known) this.#parts.set(fileName, { ...known, lastUsedMs: Date.now() });
      return { dir: this.options.cutterDir, fileName, cached: true };
    }
    try {
      return await this.#gate.run(() => this.#makeWithin(source, target, fileName, range, durationSeconds));
    } catch (err) {
      if (err instanceof GateFullError) {
        this.log.warn(
          { record: path.basename(source), part: fileName, running: this.#gate.held, waiting: this.#gate.waiting },
          'Record part refused: too many cuts running and waiting (mp4_cutter_max_concurrent, mp4_cutter_max_queued)',
        );
        throw new CutterBusyError(`Too many record parts being cut; try again in ${CUT_RETRY_AFTER_SECONDS} s`);
      }
      if (err instanceof GateClosedError) throw new CutterClosedError('server is shutting down');
      throw err;
    }
  }

  /** Within a place of the gate: room is made (cache limit, free space), then the part is cut. */
  async #makeWithin(source: string, target: string, fileName: string, range: CutRange, durationSeconds: number): Promise<CutResult> {
    if (this.#closed) throw new CutterClosedError('server is shutting down');
    // a part stored by the cut that held this place before us
    if (await isPlainFile(target)) return { dir: this.options.cutterDir, fileName, cached: true };
    await this.#storedPartsFound();
    if (this.#closed) throw new CutterClosedError('server is shutting down');
    const recordBytes = await fs.promises.stat(source).then(
      (st) => st.size,
      () => {
        throw new CutSourceError(`Record '${path.basename(source)}' not found`);
      },
    );
    const estimate = estimatePartBytes(recordBytes, durationSeconds, range);
    const o = this.options;
    if (estimate > o.cacheMaxBytes) {
      throw new CutNoSpaceError(
        `The part would take up to ${mib(estimate)} MiB, more than mp4_cutter_cache_max_size (${mib(o.cacheMaxBytes)} MiB); ask for a shorter part or download the whole record`,
      );
    }
    await this.#evict(estimate, new Set([fileName]));
    const reserved = [...this.#reserved.values()].reduce((a, b) => a + b, 0);
    const free = await o.freeSpace(o.cutterDir).catch(() => Number.POSITIVE_INFINITY);
    if (free - reserved - estimate < o.minFreeBytes) {
      this.log.error({ record: path.basename(source), part: fileName, free, estimate, min: o.minFreeBytes }, 'Record part refused: not enough disk space');
      throw new CutNoSpaceError(
        `Not enough disk space to cut this part: ${mib(free)} MiB free, the part may take ${mib(estimate)} MiB and file_recorder_min_space keeps ${mib(o.minFreeBytes)} MiB for recording`,
      );
    }
    this.#reserved.set(fileName, estimate);
    try {
      const made = await this.#make(source, target, fileName, range, durationSeconds);
      const bytes = (await fs.promises.stat(target)).size;
      this.#parts.set(fileName, { fileName, bytes, lastUsedMs: Date.now() });
      return made;
    } finally {
      this.#reserved.delete(fileName);
      await this.#evict(0, new Set([fileName]));
    }
  }

  /** What the stored parts may take: mp4_cutter_cache_max_size less what the playback answers hold. */
  #budget(): number {
    return Math.max(0, this.options.cacheMaxBytes - (this.options.otherCacheBytes?.() ?? 0));
  }

  /** Bytes the stored parts (and the cuts being made) hold now. */
  get cachedBytes(): number {
    let sum = 0;
    for (const p of this.#parts.values()) sum += p.bytes;
    for (const r of this.#reserved.values()) sum += r;
    return sum;
  }

  /** Removes least recently used parts until the cache plus `incoming` fits mp4_cutter_cache_max_size. */
  async #evict(incoming: number, keep: ReadonlySet<string>): Promise<void> {
    const reserved = [...this.#reserved.values()].reduce((a, b) => a + b, 0);
    const protect = new Set([...keep, ...this.#reserved.keys(), ...[...this.#inFlight.keys()].map((t) => path.basename(t))]);
    const max = this.#budget();
    for (const name of planEviction([...this.#parts.values()], max, incoming + reserved, protect)) {
      const part = this.#parts.get(name);
      this.#parts.delete(name);
      this.#made.delete(name);
      // a download of it in progress keeps reading its open descriptor
      await fs.promises.rm(path.join(this.options.cutterDir, name), { force: true });
      this.log.info({ part: name, bytes: part?.bytes, max }, 'Record part removed: mp4_cutter_cache_max_size');
    }
  }

  /** Whether a part ffmpeg wrote lasts nothing (ffprobe's duration 0); false when ffprobe cannot say. */
  async #lastsNothing(file: string): Promise<boolean> {
    try {
      return (await this.probe.probe(file)).durationSeconds <= 0;
    } catch {
      return false;
    } finally {
      this.probe.forget(file);
    }
  }

  async #make(source: string, target: string, fileName: string, range: CutRange, durationSeconds: number): Promise<CutResult> {
    if (this.#closed) throw new CutterClosedError('server is shutting down');
    const temp = path.join(this.options.cutterDir, `${TEMP_PREFIX}${randomUUID()}${TEMP_SUFFIX}`);
    const args = [
      '-hide_banner',
      '-nostdin',
      '-loglevel', 'error',
      '-protocol_whitelist', 'file',
      '-f', 'mp4',
      ...cutInputArgs(range),
      '-i', `file:${source}`,
      '-map', '0:v?',
      '-map', '0:a?',
      '-c', 'copy',
      '-movflags', '+faststart',
      '-metadata', `comment=${CUT_COMMENT}`,
      '-f', 'mp4',
      '-y', `file:${temp}`,
    ];
    const log = this.log.child({ record: path.basename(source), part: fileName });
    const started = Date.now();
    const ffmpeg = new FfmpegProcess(this.options.ffmpeg, args);
    this.#running.add(ffmpeg);
    log.info(
      { ffmpegPid: ffmpeg.pid, start: range.startMs === undefined ? null : formatSeconds(range.startMs), end: range.endMs === undefined ? null : formatSeconds(range.endMs) },
      'Cutting record part',
    );
    // a cut stopped at its time limit may still exit 0 (SIGINT: ffmpeg writes what it has): never kept
    let timedOut = false;
    const timer = setTimeout(() => (timedOut = true), this.options.timeoutMs);
    try {
      const exit = await ffmpeg.finish(this.options.timeoutMs, 1000);
      clearTimeout(timer);
      if (this.#closed) throw new CutterClosedError('server is shutting down');
      if (exit.code !== 0 || timedOut) {
        const recordName = path.basename(source);
        const failure = classifyFfmpegFailure(
          `cutting '${recordName}'`,
          [{ path: source, fileName: recordName }],
          exit.stderrTail,
          timedOut ? this.options.timeoutMs : null,
          exit.code ?? exit.signal,
          temp,
        );
        if (failure.kind === 'damaged') {
          // logged once, by the route that refuses it, with the reason
          log.debug({ code: exit.code, stderr: exit.stderrTail }, 'ffmpeg could not read the record');
          throw new CutDamagedError(failure.fileName, failure.why);
        }
        log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail, reason: failure.why }, 'Record part could not be cut');
        throw new CutFailedError(`Record '${recordName}' cannot be cut now: ${failure.why}`);
      }
      // ffmpeg exits 0 with a part of no length (at most the last GOP before the range, edited out)
      // when the record's header promises more than its media holds
      if (await this.#lastsNothing(temp)) {
        const recordName = path.basename(source);
        const from = formatSeconds(range.startMs ?? 0);
        const to = range.endMs === undefined ? 'its end' : `${formatSeconds(range.endMs)} s`;
        log.debug({ durationSeconds }, 'ffmpeg found no media in the range');
        throw new CutDamagedError(recordName, `it holds no media from ${from} s to ${to}, although its header says it lasts ${durationSeconds} s`);
      }
      try {
        await fs.promises.rename(temp, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        log.error({ err: (err as Error).message }, 'Record part could not be cut');
        throw new CutFailedError(`Record '${path.basename(source)}' cannot be cut now: the part could not be stored (${code})`);
      }
      this.#made.add(fileName);
      this.options.onCut?.(fileName, this.options.cutterDir, path.basename(source), (Date.now() - started) / 1000);
      log.info({ ms: Date.now() - started }, 'Record part cut');
      return { dir: this.options.cutterDir, fileName, cached: false };
    } finally {
      clearTimeout(timer);
      this.#running.delete(ffmpeg);
      await fs.promises.rm(temp, { force: true });
    }
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

async function isPlainFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.lstat(file)).isFile();
  } catch {
    return false;
  }
}
