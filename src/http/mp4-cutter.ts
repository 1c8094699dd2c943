import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { FfmpegProcess } from '../recording/ffmpeg/ffmpeg-process.js';
import type { MediaProbe } from '../records/media-probe.js';
import { checkRangeInside, cutFileName, cutInputArgs, formatSeconds, recordNameOfCut, type CutRange } from './cut-range.js';
import { existingRecordInside, recordPathInside } from './safe-path.js';

export interface Mp4CutterOptions {
  readonly ffmpeg: string;
  /** record_dir: the only folder a cut reads from. */
  readonly recordDir: string;
  /** mp4_cutter_dir: where parts are stored and served from. */
  readonly cutterDir: string;
  /** A cut taking longer than this is stopped and answered as an error. */
  readonly timeoutMs: number;
  /** Told of each part made (the record catalog keeps cuts as cache entries). */
  readonly onCut?: (fileName: string, dir: string, sourceFileName: string) => void;
}

export interface CutResult {
  /** The part's file name inside cutterDir. */
  readonly fileName: string;
  /** True when the part already existed (an earlier identical request). */
  readonly cached: boolean;
}

/** The `comment` tag written into every part, so that it is never taken for a record. */
export const CUT_COMMENT = 'wcs-recorder cut';

const TEMP_PREFIX = '.cut-';
const TEMP_SUFFIX = '.part.mp4';

/** The record is missing or not a plain file inside record_dir. */
export class CutSourceError extends Error {}
/** ffmpeg could not make the part. */
export class CutFailedError extends Error {}
/** The daemon is shutting down. */
export class CutterClosedError extends Error {}

/**
 * Makes and keeps the `?start=&end=` parts of MP4 records: one ffmpeg per
 * part (`-ss S -to E -i record -c copy -movflags +faststart`, seeking on the
 * input so nothing before S is read), written to a hidden temp name and
 * renamed when complete. An identical request later is served the stored
 * part; identical requests at the same time share one ffmpeg. Running cuts
 * are killed on close().
 */
export class Mp4Cutter {
  readonly #inFlight = new Map<string, Promise<CutResult>>();
  readonly #running = new Set<FfmpegProcess>();
  /** Parts made by this daemon, by file name. */
  readonly #made = new Set<string>();
  #closed = false;

  constructor(
    private readonly options: Mp4CutterOptions,
    private readonly probe: MediaProbe,
    private readonly log: Logger,
  ) {}

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
    const source = await existingRecordInside(this.options.recordDir, recordName);
    if (source === null) throw new CutSourceError(`Record '${recordName}' not found`);
    const fileName = cutFileName(path.basename(source), range);
    const target = recordPathInside(this.options.cutterDir, fileName);
    if (target === null) throw new CutSourceError(`Record '${recordName}' cannot be cut`);
    // check and register synchronously: identical requests arriving together share one job
    const running = this.#inFlight.get(target);
    if (running) return running;
    const job = this.#storedOrMade(source, target, fileName, range).finally(() => this.#inFlight.delete(target));
    this.#inFlight.set(target, job);
    return job;
  }

  /** Kills running cuts (their temp files are removed) and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    const exits = [...this.#running].map((p) => {
      p.signal('SIGKILL');
      return p.exited;
    });
    await Promise.all(exits);
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #storedOrMade(source: string, target: string, fileName: string, range: CutRange): Promise<CutResult> {
    if (await isPlainFile(target)) {
      this.log.info({ record: path.basename(source), part: fileName }, 'Record part served from mp4_cutter_dir');
      return { fileName, cached: true };
    }
    return this.#make(source, target, fileName, range);
  }

  async #make(source: string, target: string, fileName: string, range: CutRange): Promise<CutResult> {
    const facts = await this.probe.probe(source);
    checkRangeInside(range, facts.durationSeconds);
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
    try {
      const exit = await ffmpeg.finish(this.options.timeoutMs, 1000);
      if (this.#closed) throw new CutterClosedError('server is shutting down');
      if (exit.code !== 0) {
        log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'Record part could not be cut');
        throw new CutFailedError(`Cutting '${path.basename(source)}' failed (ffmpeg exit ${exit.code ?? exit.signal})`);
      }
      await fs.promises.rename(temp, target);
      this.#made.add(fileName);
      this.options.onCut?.(fileName, this.options.cutterDir, path.basename(source));
      log.info({ ms: Date.now() - started }, 'Record part cut');
      return { fileName, cached: false };
    } finally {
      this.#running.delete(ffmpeg);
      await fs.promises.rm(temp, { force: true });
    }
  }
}

async function isPlainFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.lstat(file)).isFile();
  } catch {
    return false;
  }
}
