import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { FfmpegProcess } from '../../recording/ffmpeg/ffmpeg-process.js';
import { BoundedGate, GateFullError } from './bounded-gate.js';
import { readPartSignature, signatureDifference, type PartSignature } from './part-codecs.js';
import { answersToEvict, concatList, playbackCacheKey, type PartFileState, type StitchPlan } from './playback-plan.js';

export interface PlaybackStitcherOptions {
  readonly ffmpeg: string;
  /** Where answers are kept: `<mp4_cutter_dir>/.playback`. */
  readonly cacheDir: string;
  /** A stitch taking longer is stopped (SIGINT, then SIGKILL) and answered as an error. */
  readonly timeoutMs: number;
  /** Stitches running at once. */
  readonly maxConcurrent: number;
  /** Stitches waiting for a slot; beyond that requests are refused (503). */
  readonly maxQueued: number;
  /** Bytes the kept answers may take; least recently used removed first after each new one. */
  readonly cacheMaxBytes: number;
}

export interface StitchResult {
  /** The answer's file name inside cacheDir. */
  readonly fileName: string;
  readonly cached: boolean;
}

/** The `comment` tag of every stitched answer. */
export const PLAYBACK_COMMENT = 'wcs-recorder playback';

const TEMP_PREFIX = '.stitch-';

/** A part is not MP4: only MP4 parts are stitched. */
export class PlaybackUnsupportedError extends Error {}
/** Two neighbouring parts cannot be joined by stream copy; names the boundary. */
export class PlaybackMismatchError extends Error {}
/** A part vanished or cannot be read. */
export class PlaybackSourceError extends Error {}
/** ffmpeg failed. */
export class PlaybackFailedError extends Error {}
/** Too many stitches running and waiting. */
export class PlaybackBusyError extends Error {}
/** The daemon is shutting down. */
export class PlaybackClosedError extends Error {}

/**
 * Makes and keeps the answers of `/client/streams/<name>.mp4?from=&to=`: one
 * ffmpeg per answer (concat demuxer over the parts with in and out points,
 * `-c copy -movflags +faststart`), written under a hidden temp name and
 * renamed when complete, kept in cacheDir under a name made from the
 * stream, the range and the parts (name, size, mtime). Identical requests at
 * the same time share one ffmpeg; a bounded number run at once.
 */
export class PlaybackStitcher {
  readonly #gate: BoundedGate;
  readonly #inFlight = new Map<string, Promise<StitchResult>>();
  readonly #running = new Set<FfmpegProcess>();
  readonly #signatures = new Map<string, { key: string; signature: Promise<PartSignature> }>();
  /** When each answer was last made or served (answers found on disk count from their mtime). */
  readonly #lastUsed = new Map<string, number>();
  #closed = false;

  constructor(
    private readonly options: PlaybackStitcherOptions,
    private readonly log: Logger,
  ) {
    this.#gate = new BoundedGate(options.maxConcurrent, options.maxQueued);
  }

  get cacheDir(): string {
    return this.options.cacheDir;
  }

  /** Creates the folder and removes temp files a killed daemon left behind. */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.options.cacheDir, { recursive: true });
    for (const name of await fs.promises.readdir(this.options.cacheDir)) {
      if (name.startsWith(TEMP_PREFIX)) await fs.promises.rm(path.join(this.options.cacheDir, name), { force: true });
    }
  }

  /** The answer for `plan` of `streamName`, made when needed. */
  async stitch(streamName: string, plan: StitchPlan): Promise<StitchResult> {
    if (this.#closed) throw new PlaybackClosedError('server is shutting down');
    const notMp4 = plan.segments.find((s) => s.part.container !== 'mp4');
    if (notMp4) {
      throw new PlaybackUnsupportedError(
        `part '${notMp4.part.fileName}' (from ${new Date(notMp4.startMs).toISOString()}) is ${notMp4.part.container}: only MP4 parts are joined for playback; download it from /client/records/`,
      );
    }
    const files = await Promise.all(plan.segments.map((s) => fileState(s.part.path, s.part.fileName)));
    const fileName = `${playbackCacheKey(streamName, plan, files)}.mp4`;
    const target = path.join(this.options.cacheDir, fileName);
    const running = this.#inFlight.get(fileName);
    if (running) return running;
    const job = this.#storedOrMade(streamName, plan, target, fileName).finally(() => this.#inFlight.delete(fileName));
    this.#inFlight.set(fileName, job);
    return job;
  }

  /** Kills running stitches (their temp files are removed) and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    const exits = [...this.#running].map((p) => {
      p.signal('SIGKILL');
      return p.exited;
    });
    await Promise.all(exits);
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #storedOrMade(streamName: string, plan: StitchPlan, target: string, fileName: string): Promise<StitchResult> {
    if (await isPlainFile(target)) {
      this.#lastUsed.set(fileName, Date.now());
      return { fileName, cached: true };
    }
    await this.#checkJoinable(plan);
    try {
      return await this.#gate.run(() => this.#make(streamName, plan, target, fileName));
    } catch (err) {
      if (err instanceof GateFullError) throw new PlaybackBusyError(`too many playback requests being prepared (${err.message})`);
      throw err;
    }
  }

  /** Refuses a plan whose neighbouring parts differ in codec parameters, naming the first such boundary. */
  async #checkJoinable(plan: StitchPlan): Promise<void> {
    const signatures = await Promise.all(plan.segments.map((s) => this.#signatureOf(s.part.path)));
    for (let i = 1; i < signatures.length; i++) {
      const why = signatureDifference(signatures[i - 1]!, signatures[i]!);
      if (why !== null) {
        const before = plan.segments[i - 1]!;
        const after = plan.segments[i]!;
        throw new PlaybackMismatchError(
          `the stream changed at ${new Date(after.startMs).toISOString()} (${after.startMs}) between '${before.part.fileName}' and '${after.part.fileName}': ${why}; ` +
            `ask for a range on one side of it`,
        );
      }
    }
  }

  async #signatureOf(file: string): Promise<PartSignature> {
    let key: string;
    try {
      const st = await fs.promises.stat(file);
      key = `${st.size}:${st.mtimeMs}`;
    } catch {
      throw new PlaybackSourceError(`part '${path.basename(file)}' is gone`);
    }
    const cached = this.#signatures.get(file);
    if (cached && cached.key === key) return cached.signature;
    const signature = readPartSignature(file).catch((err: Error) => {
      this.#signatures.delete(file);
      throw new PlaybackSourceError(`part '${path.basename(file)}' cannot be read: ${err.message}`);
    });
    this.#signatures.set(file, { key, signature });
    return signature;
  }

  async #make(streamName: string, plan: StitchPlan, target: string, fileName: string): Promise<StitchResult> {
    if (this.#closed) throw new PlaybackClosedError('server is shutting down');
    if (await isPlainFile(target)) return { fileName, cached: true };
    const id = randomUUID();
    const list = path.join(this.options.cacheDir, `${TEMP_PREFIX}${id}.txt`);
    const temp = path.join(this.options.cacheDir, `${TEMP_PREFIX}${id}.mp4`);
    await fs.promises.writeFile(list, concatList(plan.segments));
    const args = [
      '-hide_banner',
      '-nostdin',
      '-loglevel', 'error',
      // keep the timestamps before the first inpoint negative: the MP4 gets an edit list and shows `from` first
      '-copyts',
      '-protocol_whitelist', 'file',
      '-f', 'concat',
      '-safe', '0',
      '-i', `file:${list}`,
      '-map', '0:v?',
      '-map', '0:a?',
      '-c', 'copy',
      '-movflags', '+faststart',
      '-metadata', `comment=${PLAYBACK_COMMENT}`,
      '-f', 'mp4',
      '-y', `file:${temp}`,
    ];
    const log = this.log.child({ stream: streamName, answer: fileName });
    const started = Date.now();
    const ffmpeg = new FfmpegProcess(this.options.ffmpeg, args);
    this.#running.add(ffmpeg);
    log.info({ ffmpegPid: ffmpeg.pid, fromMs: plan.fromMs, toMs: plan.toMs, parts: plan.segments.length, gaps: plan.gaps.length }, 'Stitching playback');
    try {
      const exit = await ffmpeg.finish(this.options.timeoutMs, 1000);
      if (this.#closed) throw new PlaybackClosedError('server is shutting down');
      if (exit.code !== 0) {
        log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'Playback could not be stitched');
        throw new PlaybackFailedError(`joining ${plan.segments.length} parts failed (ffmpeg exit ${exit.code ?? exit.signal})`);
      }
      await fs.promises.rename(temp, target);
      this.#lastUsed.set(fileName, Date.now());
      log.info({ ms: Date.now() - started }, 'Playback stitched');
      await this.#evict(fileName);
      return { fileName, cached: false };
    } finally {
      this.#running.delete(ffmpeg);
      await Promise.all([fs.promises.rm(temp, { force: true }), fs.promises.rm(list, { force: true })]);
    }
  }

  /** Keeps the cache under cacheMaxBytes: least recently used answers go first, never `keep` or one being made. */
  async #evict(keep: string): Promise<void> {
    const answers = (await listPlaybackCache(this.options.cacheDir)).map((a) => {
      const fileName = path.basename(a.path);
      return { fileName, bytes: a.size, lastUsedMs: this.#lastUsed.get(fileName) ?? a.mtimeMs };
    });
    const protect = new Set([keep, ...this.#inFlight.keys()]);
    for (const name of answersToEvict(answers, this.options.cacheMaxBytes, protect)) {
      // a download of it in progress keeps reading its open descriptor
      await fs.promises.rm(path.join(this.options.cacheDir, name), { force: true });
      this.#lastUsed.delete(name);
      this.log.info({ answer: name, max: this.options.cacheMaxBytes }, 'Playback answer removed: cache size limit');
    }
  }
}

async function fileState(file: string, fileName: string): Promise<PartFileState> {
  try {
    const st = await fs.promises.stat(file);
    return { fileName, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    throw new PlaybackSourceError(`part '${fileName}' is gone`);
  }
}

async function isPlainFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.lstat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * The answers kept in a playback cache folder, for a size limit over
 * mp4_cutter_dir to count and remove (oldest access first): temp files of
 * running stitches are left out.
 */
export async function listPlaybackCache(cacheDir: string): Promise<{ path: string; size: number; atimeMs: number; mtimeMs: number }[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(cacheDir);
  } catch {
    return [];
  }
  const out: { path: string; size: number; atimeMs: number; mtimeMs: number }[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.mp4')) continue;
    const file = path.join(cacheDir, name);
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st?.isFile()) out.push({ path: file, size: st.size, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs });
  }
  return out;
}
