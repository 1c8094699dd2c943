import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { FfmpegProcess } from '../../recording/ffmpeg/ffmpeg-process.js';
import { BoundedGate, GateFullError } from '../../util/bounded-gate.js';
import { composeMp4, type ComposedAnswer } from './compose-mp4.js';
import { ComposeUnsupportedError, PartDamagedError, readPartMedia, type PartMedia } from './mp4-sample-table.js';
import { readPartSignature, signatureDifference, signatureOfMoov, type PartSignature } from './part-codecs.js';
import { planEviction } from '../cut-cache.js';
import { classifyFfmpegFailure } from '../ffmpeg-failure.js';
import { concatList, playbackCacheKey, type PartFileState, type StitchPlan } from './playback-plan.js';

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
  /**
   * mp4_cutter_cache_max_size: bytes the kept answers may take together with
   * what `otherCacheBytes` says the cut cache holds (one budget for both);
   * least recently used answers removed first after each new one.
   */
  readonly cacheMaxBytes: number;
  /** Bytes the cut cache holds now (the other user of the same budget). */
  readonly otherCacheBytes?: () => number;
}

/**
 * An answer: composed (a moov built from the parts' sample tables, the media
 * served as byte ranges of the parts; kept in memory), or a file in cacheDir
 * that ffmpeg joined (parts that cannot be composed).
 */
export type StitchResult =
  | { readonly kind: 'composed'; readonly answer: ComposedAnswer; readonly key: string; readonly cached: boolean }
  | { readonly kind: 'file'; readonly fileName: string; readonly cached: boolean };

/** Bytes of composed heads (ftyp + moov) kept in memory: an hour from 60 parts is about 3.1 MB. */
const COMPOSED_CACHE_BYTES = 64 * 1024 * 1024;
/** Samples of parsed parts kept in memory (about 50 bytes each: 1 M is an hour of 720p + AAC about 4 times). */
const PART_MEDIA_CACHE_SAMPLES = 1_000_000;

/** The `comment` tag of every stitched answer. */
export const PLAYBACK_COMMENT = 'wcs-recorder playback';

const TEMP_PREFIX = '.stitch-';

/** A part is not MP4: only MP4 parts are stitched. */
export class PlaybackUnsupportedError extends Error {}
/** Two neighbouring parts cannot be joined by stream copy; names the boundary. */
export class PlaybackMismatchError extends Error {}
/** A part vanished from the disk (moved to the bucket, deleted) between the lookup and the read. */
export class PlaybackSourceError extends Error {}
/**
 * A part is there but damaged: its tables cannot be parsed, its media runs
 * past the end of the file, or ffmpeg cannot read it. Names the part (the
 * record): the same request fails the same way until the record is fixed.
 */
export class PlaybackDamagedError extends Error {
  constructor(
    readonly fileName: string,
    why: string,
  ) {
    super(`part '${fileName}' cannot be read (the record is damaged): ${why}`);
  }
}
/** ffmpeg failed for a reason of this server (not started, past the time limit, its output not written): worth trying again later. */
export class PlaybackFailedError extends Error {}
/** Too many stitches running and waiting. */
export class PlaybackBusyError extends Error {}
/** The daemon is shutting down. */
export class PlaybackClosedError extends Error {}

/**
 * Makes and keeps the answers of `/client/streams/<name>.mp4?from=&to=`,
 * keyed by the stream, the range and the parts (name, size, mtime). First
 * choice: composed in-process (composeMp4: a moov from the parts' sample
 * tables in front of byte ranges of the parts; the head kept in memory).
 * Parts that cannot be composed: one ffmpeg per answer (concat demuxer with
 * in and out points, `-c copy -movflags +faststart`), written under a hidden
 * temp name, renamed when complete and kept in cacheDir under a byte limit.
 * Both check first that neighbouring parts share their codec parameters.
 * Identical requests at the same time share one job; a bounded number run
 * at once.
 */
export class PlaybackStitcher {
  readonly #gate: BoundedGate;
  /** Compositions are CPU work on the event loop: one at a time, a bounded queue. */
  readonly #composeGate = new BoundedGate(1, 16);
  readonly #inFlight = new Map<string, Promise<StitchResult>>();
  readonly #running = new Set<FfmpegProcess>();
  readonly #signatures = new Map<string, { key: string; signature: Promise<PartSignature> }>();
  readonly #composed = new Map<string, ComposedAnswer>();
  readonly #partMedia = new Map<string, { key: string; media: Promise<PartMedia>; samples: number }>();
  /** When each answer was last made or served (answers found on disk count from their mtime). */
  readonly #lastUsed = new Map<string, number>();
  #closed = false;

  #cachedBytes = 0;

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
  /** Makes the cache folder (the answers' static route needs it) and removes what stitches cut short by a crash left. */
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
    const key = playbackCacheKey(streamName, plan, files);
    const composed = this.#composed.get(key);
    if (composed) {
      // most recently used last
      this.#composed.delete(key);
      this.#composed.set(key, composed);
      return { kind: 'composed', answer: composed, key, cached: true };
    }
    const fileName = `${key}.mp4`;
    const running = this.#inFlight.get(fileName);
    if (running) return running;
    const job = this.#composedOrJoined(streamName, plan, key, fileName).finally(() => this.#inFlight.delete(fileName));
    this.#inFlight.set(fileName, job);
    return job;
  }

  async #composedOrJoined(streamName: string, plan: StitchPlan, key: string, fileName: string): Promise<StitchResult> {
    const target = path.join(this.options.cacheDir, fileName);
    if (await isPlainFile(target)) {
      this.#lastUsed.set(fileName, Date.now());
      return { kind: 'file', fileName, cached: true };
    }
    const started = Date.now();
    // one read of each part's moov serves the codec check and the composition
    let media: PartMedia[] | null = null;
    try {
      media = await Promise.all(plan.segments.map((s) => this.#mediaOf(s.part.path)));
    } catch (err) {
      if (!(err instanceof ComposeUnsupportedError)) throw err;
      this.log.info({ stream: streamName, answer: key, reason: err.message }, 'Playback cannot be composed; joining with ffmpeg');
    }
    await this.#checkJoinable(plan, media);
    if (media === null) return this.#storedOrMade(streamName, plan, target, fileName);
    try {
      const answer = await this.#composeGate.run(() => composeMp4(
        plan.segments.map((s, i) => ({
          media: media[i]!,
          inSeconds: s.inpointMs / 1000,
          outSeconds: s.outpointMs === null ? null : s.outpointMs / 1000,
        })),
      ));
      this.#keepComposed(key, answer);
      this.log.info(
        { stream: streamName, answer: key, fromMs: plan.fromMs, toMs: plan.toMs, parts: plan.segments.length, gaps: plan.gaps.length, bytes: answer.size, ms: Date.now() - started },
        'Playback composed',
      );
      return { kind: 'composed', answer, key, cached: false };
    } catch (err) {
      if (err instanceof GateFullError) throw new PlaybackBusyError(`too many playback requests being prepared (${err.message})`);
      // anything the composer cannot write (unusual tables, durations beyond 32 bits) goes to ffmpeg
      const level = err instanceof ComposeUnsupportedError ? 'info' : 'warn';
      this.log[level]({ stream: streamName, answer: key, reason: (err as Error).message }, 'Playback cannot be composed; joining with ffmpeg');
    }
    return this.#storedOrMade(streamName, plan, target, fileName);
  }

  #keepComposed(key: string, answer: ComposedAnswer): void {
    this.#composed.set(key, answer);
    let total = 0;
    for (const a of this.#composed.values()) total += a.head.length;
    for (const [k, a] of this.#composed) {
      if (total <= COMPOSED_CACHE_BYTES || k === key) break;
      this.#composed.delete(k);
      total -= a.head.length;
    }
  }

  async #mediaOf(file: string): Promise<PartMedia> {
    let stateKey: string;
    try {
      const st = await fs.promises.stat(file);
      stateKey = `${st.size}:${st.mtimeMs}`;
    } catch {
      throw new PlaybackSourceError(`part '${path.basename(file)}' is gone`);
    }
    const cached = this.#partMedia.get(file);
    if (cached && cached.key === stateKey) {
      // most recently used last
      this.#partMedia.delete(file);
      this.#partMedia.set(file, cached);
      return cached.media;
    }
    // anything unreadable here goes to ffmpeg, whose own checks name the problem
    const media = readPartMedia(file).catch((err: Error) => {
      if (err instanceof PartDamagedError) throw new PlaybackDamagedError(path.basename(file), err.message);
      throw err instanceof ComposeUnsupportedError ? err : new ComposeUnsupportedError(err.message);
    });
    const entry = { key: stateKey, media, samples: 0 };
    this.#partMedia.delete(file);
    this.#partMedia.set(file, entry);
    media.then(
      (m) => {
        entry.samples = m.tracks.reduce((n, t) => n + t.dts.length, 0);
        // oldest first, until the parsed parts fit (the newest always stays)
        let total = 0;
        for (const e of this.#partMedia.values()) total += e.samples;
        for (const [f, e] of this.#partMedia) {
          if (total <= PART_MEDIA_CACHE_SAMPLES || e === entry) break;
          this.#partMedia.delete(f);
          total -= e.samples;
        }
      },
      () => {
        if (this.#partMedia.get(file) === entry) this.#partMedia.delete(file);
      },
    );
    return media;
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
    try {
      return await this.#gate.run(() => this.#make(streamName, plan, target, fileName));
    } catch (err) {
      if (err instanceof GateFullError) throw new PlaybackBusyError(`too many playback requests being prepared (${err.message})`);
      throw err;
    }
  }

  /** Refuses a plan whose neighbouring parts differ in codec parameters, naming the first such boundary. */
  async #checkJoinable(plan: StitchPlan, media: readonly PartMedia[] | null): Promise<void> {
    const signatures = media
      ? media.map((m) => {
          try {
            return signatureOfMoov(m.moov, m.path);
          } catch (err) {
            throw new PlaybackDamagedError(path.basename(m.path), (err as Error).message);
          }
        })
      : await Promise.all(plan.segments.map((s) => this.#signatureOf(s.part.path)));
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
      throw new PlaybackDamagedError(path.basename(file), err.message);
    });
    this.#signatures.set(file, { key, signature });
    return signature;
  }

  async #make(streamName: string, plan: StitchPlan, target: string, fileName: string): Promise<StitchResult> {
    if (this.#closed) throw new PlaybackClosedError('server is shutting down');
    if (await isPlainFile(target)) return { kind: 'file', fileName, cached: true };
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
    let timedOut = false;
    const timer = setTimeout(() => (timedOut = true), this.options.timeoutMs);
    try {
      const exit = await ffmpeg.finish(this.options.timeoutMs, 1000);
      clearTimeout(timer);
      if (this.#closed) throw new PlaybackClosedError('server is shutting down');
      if (exit.code !== 0) {
        log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'Playback could not be stitched');
        throw stitchFailure(plan, exit.stderrTail, timedOut ? this.options.timeoutMs : null, exit.code ?? exit.signal);
      }
      await fs.promises.rename(temp, target);
      this.#lastUsed.set(fileName, Date.now());
      log.info({ ms: Date.now() - started }, 'Playback stitched');
      await this.#evict(fileName);
      return { kind: 'file', fileName, cached: false };
    } finally {
      clearTimeout(timer);
      this.#running.delete(ffmpeg);
      await Promise.all([fs.promises.rm(temp, { force: true }), fs.promises.rm(list, { force: true })]);
    }
  }

  /** Bytes the kept answers took after the last stitch (the cutter counts them against the shared budget). */
  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  /** Keeps the cache under cacheMaxBytes: least recently used answers go first, never `keep` or one being made. */
  async #evict(keep: string): Promise<void> {
    const answers = (await listPlaybackCache(this.options.cacheDir)).map((a) => {
      const fileName = path.basename(a.path);
      return { fileName, bytes: a.size, lastUsedMs: this.#lastUsed.get(fileName) ?? a.mtimeMs };
    });
    const protect = new Set([keep, ...this.#inFlight.keys()]);
    const max = Math.max(0, this.options.cacheMaxBytes - (this.options.otherCacheBytes?.() ?? 0));
    const evicted = new Set(planEviction(answers, max, 0, protect));
    for (const name of evicted) {
      // a download of it in progress keeps reading its open descriptor
      await fs.promises.rm(path.join(this.options.cacheDir, name), { force: true });
      this.#lastUsed.delete(name);
      this.log.info({ answer: name, max }, 'Playback answer removed: mp4_cutter_cache_max_size (shared with cuts)');
    }
    this.#cachedBytes = answers.reduce((sum, a) => (evicted.has(a.fileName) ? sum : sum + a.bytes), 0);
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

/**
 * Why a join by ffmpeg failed (pure): a part its messages name is damaged
 * (PlaybackDamagedError, the client's answer names the record); anything
 * else (ffmpeg missing, the time limit, the answer not written) is this
 * server's trouble (PlaybackFailedError). The reading is shared with the
 * cutter (classifyFfmpegFailure).
 */
export function stitchFailure(
  plan: Pick<StitchPlan, 'segments'>,
  stderrTail: readonly string[],
  timedOutAfterMs: number | null,
  exit: number | string | null,
): PlaybackDamagedError | PlaybackFailedError {
  const failure = classifyFfmpegFailure(`joining ${plan.segments.length} parts`, plan.segments.map((s) => s.part), stderrTail, timedOutAfterMs, exit);
  return failure.kind === 'damaged' ? new PlaybackDamagedError(failure.fileName, failure.why) : new PlaybackFailedError(failure.why);
}
