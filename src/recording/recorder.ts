import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { MediaChunk, MediaTap } from '../streams/media-tap.js';
import type { Stream } from '../streams/stream.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { finalizePart } from './finalize-part.js';
import {
  inProcessMp4Fits,
  liveMuxerArgs,
  planRecording,
  type AudioEncoding,
  type MatroskaSettings,
  type Mp4Layout,
  type RecordFormats,
  type RecordPlan,
} from './formats.js';
import { moveFile } from './move-file.js';
import type { InsertRange } from './mp4/insert-range.js';
import { PRESET_VIDEO_CODEC } from './presets.js';
import { planWithOptions, RecordOptionsError, type RecordOptions } from './record-options.js';
import { nameRecord, type NamingRules, type TemplateValues } from './naming.js';
import { type MuxerSpec, RecordingPart } from './recording-part.js';
import { ErrorBudget } from './error-budget.js';
import { removeSidecar, writeSidecar, type PartSidecar } from './part-sidecar.js';
import { PauseClock, type PauseEntry } from './pause-clock.js';
import { flvCompositionOffsetMs, retimeChunk } from './retime-chunk.js';
import { rotationDue, type Rotation } from './rotation.js';
import type { WorkPool } from './work-pool.js';

export type RecorderState = 'starting' | 'recording' | 'finishing' | 'done' | 'failed';

/** What the API shows of a recording in progress (find_all `state`). */
export type RecordingApiState = 'RECORDING' | 'PAUSED' | 'FINISHING';

/** A pause as listed with a record (and with a recording in progress). */
export interface RecordPause {
  /** Wall clock of the pause, epoch ms. */
  readonly pausedAt: number;
  /** Wall clock of the resume, epoch ms; null while paused (or when the recording ended paused). */
  readonly resumedAt: number | null;
  /** Where the pause is in the record (the part), ms from its start. */
  readonly positionMs: number;
  /** Media time of the stream left out, ms (0 until the record continued). */
  readonly skippedMs: number;
}

export interface RecorderSettings {
  readonly ffmpeg: string;
  readonly formats: RecordFormats;
  readonly naming: NamingRules;
  readonly rotation: Rotation;
  /** record_rotation_index_enabled */
  readonly indexParts: boolean;
  readonly tmpDir: string;
  readonly recordDir: string;
  readonly stopTimeoutMs: number;
  readonly audio: AudioEncoding;
  readonly matroska: MatroskaSettings;
  readonly mp4: Mp4Layout;
  /** The daemon's insert-range helper for moov-first finishes (null: the media is copied behind the moov). */
  readonly insertRange: InsertRange | null;
  /** record_muxer: who writes MP4 records of H.264 + AAC copied from an FLV feed. */
  readonly muxer: 'in-process' | 'ffmpeg';
  /** Bytes of input ffmpeg may fall behind by before the recording is stopped. */
  readonly maxPendingInput: number;
  readonly limits: RecordingLimits;
  /** Options of this recording given by REST (format, tracks, maxLength, preset); none = the server's. */
  readonly options?: RecordOptions;
}

export interface RecordingLimits {
  /** file_recorder_error_interval, ms */
  readonly errorIntervalMs: number;
  /** file_recorder_max_errors_per_interval */
  readonly maxErrors: number;
  /** record_max_length, ms (0 = none) */
  readonly maxLengthMs: number;
  /** record_idle_timeout, ms */
  readonly idleTimeoutMs: number;
}

/** A finished record file (one per part when rotating). */
export interface RecordInfo {
  readonly fileName: string;
  readonly path: string;
  readonly mediaSessionId: string;
  readonly streamName: string;
  readonly size: number;
  /** 1-based part number (1 without rotation). */
  readonly part: number;
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  /** The stream's own timestamps of the part's first and last frame, ms. */
  readonly startTime: number;
  readonly endTime: number;
  readonly durationMs: number;
  /** The hidden temp file the part was written to (its catalog row was known by that name while recording). */
  readonly tmpFile?: string;
  /** True for a part finished by start-up recovery after a crash. */
  readonly recovered?: boolean;
  /** How the stream came in, and what it carried (absent for parts recovered without a description). */
  readonly mediaProvider?: string;
  readonly login?: string;
  readonly videoCodec?: string;
  readonly audioCodec?: string;
  readonly width?: number;
  readonly height?: number;
  /** The pauses inside this part (absent when none). */
  readonly pauses?: readonly RecordPause[];
}

/** A part whose muxer has just been started: it exists on disk (under its temp name) from now on. */
export interface PartStartInfo {
  readonly tmpFile: string;
  readonly mediaSessionId: string;
  readonly streamName: string;
  readonly mediaProvider: string;
  readonly login: string;
  readonly part: number;
  readonly startTimeMillis: number;
  readonly container: string;
  readonly videoCodec: string;
  readonly audioCodec: string;
  readonly width: number;
  readonly height: number;
}

interface RecorderEvents {
  state: [state: RecorderState];
  /** A part was opened (its temp file exists). */
  partStarted: [part: PartStartInfo];
  /** A part produced no usable file (its temp file is removed). */
  partFailed: [tmpFile: string];
  /** A part is finished and in record_dir. */
  recorded: [record: RecordInfo];
  finished: [records: RecordInfo[]];
}

/** How long before a rotation is due its keyframe is asked for (sources that send keyframes on request), ms. */
const KEYFRAME_LEAD_MS = 500;

/**
 * Pauses one recording may have: each is kept in memory, in the part's
 * recovery description and in the catalog row, so a client toggling pause
 * cannot grow them without bound.
 */
export const MAX_PAUSES_PER_RECORDING = 1000;

/** Hidden temp names: never served, never listed, found again by recovery. */
export const TEMP_PREFIX = '.rec-';

/**
 * Records one stream: taps its media and feeds it to a live muxer per part
 * (a new part at a keyframe when record_rotation says so); each finished
 * part is turned into its final container, named by the template with its
 * own times, and moved into record_dir, in order.
 */
export class Recorder extends TypedEmitter<RecorderEvents> {
  #state: RecorderState = 'starting';
  #tap: MediaTap | null = null;
  #part: RecordingPart | null = null;
  #partCount = 0;
  #plan: RecordPlan | null = null;
  #header: MediaChunk | null = null;
  readonly #configs = new Map<string, MediaChunk>();
  #finishing: Promise<RecordInfo[]> | null = null;
  #chain: Promise<void> = Promise.resolve();
  readonly #records: RecordInfo[] = [];
  #failures = 0;
  readonly #errors: ErrorBudget;
  /** After a muxer error, media is skipped until the next keyframe. */
  #skipUntilKeyframe = false;
  /** Media duration of the parts already ended, ms (record_max_length). */
  #endedPartsMs = 0;
  #lastChunkAt = Date.now();
  #idleTimer: NodeJS.Timeout | null = null;
  /** Pause/resume: what is written, and the shift that keeps the record's timestamps continuous. */
  readonly #clock = new PauseClock(MAX_PAUSES_PER_RECORDING);
  /** Codec configuration that arrived while paused: written before the keyframe the record continues at. */
  #configWhilePaused = false;
  /** Record timeline timestamp of the first media written (-1 before any): live pause positions count from it. */
  #firstMediaMs = -1;
  /** The crash-recovery description of the current part (rewritten with its pauses). */
  #sidecar: PartSidecar | null = null;
  readonly log: Logger;

  constructor(
    readonly stream: Stream,
    private readonly settings: RecorderSettings,
    private readonly pool: WorkPool,
    log: Logger,
    private readonly sequence: number,
  ) {
    super();
    this.log = log.child({ stream: stream.name, mediaSessionId: stream.mediaSessionId });
    this.#errors = new ErrorBudget(settings.limits.errorIntervalMs, settings.limits.maxErrors);
  }

  get state(): RecorderState {
    return this.#state;
  }

  get ffmpegPid(): number | undefined {
    return this.#part?.ffmpeg.pid;
  }

  get records(): readonly RecordInfo[] {
    return this.#records;
  }

  /** The plan this recording follows (known once media arrives). */
  get plan(): RecordPlan {
    if (this.#plan) return this.#plan;
    try {
      return this.#makePlan();
    } catch {
      return planRecording(this.stream.media.videoCodec, this.stream.media.audioCodec, this.settings.formats);
    }
  }

  /** The plan for the stream's codecs and this recording's options; throws RecordOptionsError when they do not fit. */
  #makePlan(): RecordPlan {
    return planWithOptions(this.stream.media.videoCodec, this.stream.media.audioCodec, this.settings.formats, this.settings.options ?? {});
  }

  /** Whether this recording transcodes (a preset): it counts against record_transcode_max_concurrent. */
  get transcodes(): boolean {
    return this.settings.options?.preset !== undefined;
  }

  /**
   * Recorded media time so far, ms: the parts already ended plus the one
   * being written. maxLength counts this; when pause/resume comes, a paused
   * span is not in it (switch here).
   */
  #recordedMs(part: RecordingPart | null): number {
    return this.#endedPartsMs + (part?.durationMs ?? 0);
  }

  /** The longest recorded length, ms (0 = none): the recording's maxLength, else record_max_length. */
  get maxLengthMs(): number {
    return this.settings.options?.maxLengthMs ?? this.settings.limits.maxLengthMs;
  }

  /** The file the current part is being written to (hidden .rec- name), and when it started; null between parts. */
  get currentPart(): { readonly tmpFile: string; readonly startTimeMillis: number } | null {
    const part = this.#part;
    return part ? { tmpFile: part.tmpFile, startTimeMillis: part.startTimeMillis } : null;
  }

  /** The current part's name as WCS shows it while recording: elements not known yet stay literal. */
  get currentFileName(): string {
    const part = this.#part;
    const values: TemplateValues = this.#commonValues();
    values.startTimeMillis = part?.startTimeMillis ?? Date.now();
    if (part && part.firstTimestampMs >= 0) values.startTime = part.firstTimestampMs;
    return nameRecord(this.settings.naming, values, 'keep', this.plan.extension, this.#indexOf(part?.index ?? 1));
  }

  get apiState(): RecordingApiState {
    if (this.#state === 'finishing' || this.#state === 'done' || this.#state === 'failed') return 'FINISHING';
    // resumed and waiting for the keyframe to continue at: RECORDING (as a recording waiting for its first keyframe)
    const mode = this.#clock.mode;
    return mode === 'paused' || mode === 'pausing' ? 'PAUSED' : 'RECORDING';
  }

  /**
   * Media time recorded so far, ms: the sum of the recorded spans of every
   * part (pauses left out). Rotation, record_max_length and the idle timeout
   * count this time.
   */
  get recordedMs(): number {
    return this.#endedPartsMs + (this.#part?.durationMs ?? 0);
  }

  /** The stream's own timestamp of the last media seen (written or not), ms; -1 before any. */
  get lastStreamTimestampMs(): number {
    return this.#clock.lastStreamTimestampMs;
  }

  /** Every pause of this recording so far, on the recording's own timeline (positionMs from its first media). */
  get pauses(): RecordPause[] {
    return this.#clock.pauses.map((p) => this.#pauseOf(p, Math.max(this.#firstMediaMs, 0)));
  }

  #pauseOf(p: PauseEntry, partStartMs: number): RecordPause {
    return { pausedAt: p.pausedAt, resumedAt: p.resumedAt, positionMs: Math.max(0, p.atMs - partStartMs), skippedMs: p.skippedMs };
  }

  /**
   * Stops writing media until resume() (a resume waiting for its keyframe is
   * taken back); 'already' when paused or finishing, 'limit' after
   * MAX_PAUSES_PER_RECORDING pauses.
   */
  pause(): 'paused' | 'already' | 'limit' {
    if (this.#finishing) return 'already';
    if (this.#clock.atPauseLimit) return 'limit';
    if (!this.#clock.pause(Date.now())) return 'already';
    this.#notePausesForRecovery();
    this.log.info({ recordedMs: this.recordedMs, streamTimestampMs: this.#clock.lastStreamTimestampMs, pauses: this.#clock.pauses.length }, 'Recording paused');
    return 'paused';
  }

  /** Writes media again from the next keyframe (asked of a WebRTC publisher); false when not paused or finishing. */
  resume(): boolean {
    if (this.#finishing || !this.#clock.resume(Date.now())) return false;
    this.#notePausesForRecovery();
    // the time spent paused is no idle time
    this.#lastChunkAt = Date.now();
    this.stream.source.requestKeyframe?.();
    this.log.info({ recordedMs: this.recordedMs, keyframeRequested: this.stream.source.requestKeyframe !== undefined }, 'Recording resuming at the next keyframe');
    return true;
  }

  async start(): Promise<void> {
    // synchronous up to the tap: an await here would let the ingest take in a burst of queued media
    // (a publisher whose data waited in the socket while the daemon was busy) before the tap exists,
    // and the source's GOP cache then only holds the latest GOP
    fs.mkdirSync(this.settings.tmpDir, { recursive: true });
    this.log.info(
      { template: this.settings.naming.template, rotation: this.settings.rotation, ...this.#optionsForLog() },
      'Recording starting; waiting for a keyframe',
    );
    this.#tap = this.stream.source.openTap({
      data: (chunk) => this.#onChunk(chunk),
      end: () => void this.finish('publisher gone'),
    });
    // a WebRTC publisher sends keyframes only when asked: the recording starts on the next one
    this.stream.source.requestKeyframe?.();
    const idle = this.settings.limits.idleTimeoutMs;
    this.#idleTimer = setInterval(() => {
      // a paused recording is not idle: the idle timeout counts recorded time only
      if (this.#clock.mode !== 'paused' && Date.now() - this.#lastChunkAt > idle) void this.finish(`no media for ${Math.round(idle / 1000)} s`);
    }, Math.min(1000, idle));
    this.#idleTimer.unref();
  }

  /** The video (and audio) the record holds: the preset's output when transcoding, no codec for a track left out. */
  #recordedMedia(plan: RecordPlan): { videoCodec: string; audioCodec: string; width: number; height: number } {
    const m = this.stream.media;
    const audioCodec = plan.audio === 'none' ? '' : m.audioCodec;
    if (plan.video === 'encode' && plan.preset) {
      return { videoCodec: PRESET_VIDEO_CODEC[plan.preset.codec], audioCodec, width: plan.preset.width, height: plan.preset.height };
    }
    if (plan.video === 'none') return { videoCodec: '', audioCodec, width: 0, height: 0 };
    return { videoCodec: m.videoCodec, audioCodec, width: m.width, height: m.height };
  }

  #optionsForLog(): Record<string, unknown> {
    const o = this.settings.options;
    if (!o) return {};
    const { preset, ...rest } = o;
    return { options: { ...rest, ...(preset ? { preset: preset.name } : {}) } };
  }

  /** Counts an error; past file_recorder_max_errors_per_interval the recording stops. */
  #noteError(what: string): void {
    if (this.#finishing) return;
    this.#skipUntilKeyframe = true;
    const exceeded = this.#errors.record(Date.now());
    this.log.warn({ error: what, errors: this.#errors.count, max: this.settings.limits.maxErrors }, 'Recording error; media skipped until the next keyframe');
    if (exceeded) {
      const minutes = Math.round(this.settings.limits.errorIntervalMs / 60000);
      void this.finish(`${this.#errors.count} errors within ${minutes} min (file_recorder_max_errors_per_interval)`);
    }
  }

  /** Stops the recording and finishes its files; resolves with the records made (none when no media came). */
  finish(reason: string): Promise<RecordInfo[]> {
    if (!this.#finishing) this.#finishing = this.#finish(reason);
    return this.#finishing;
  }

  #setState(state: RecorderState): void {
    this.#state = state;
    this.emit('state', state);
  }

  /**
   * The `_N` of a part's name: with rotation as record_rotation_index_enabled
   * says; without rotation only for the parts after a muxer failure (so the
   * continuation never overwrites the first file).
   */
  #indexOf(index: number): number | null {
    if (this.settings.rotation.kind !== 'disabled') return this.settings.indexParts ? index : null;
    return index > 1 ? index : null;
  }

  /** What names the stream's records, whatever the part. */
  #identity(): { streamName: string; mediaSessionId: string; sessionId: string; login: string; audioCodec: string; videoCodec: string } {
    const s = this.stream;
    return {
      streamName: s.name,
      mediaSessionId: s.mediaSessionId,
      sessionId: s.sessionId,
      login: s.login,
      audioCodec: s.media.audioCodec,
      videoCodec: s.media.videoCodec,
    };
  }

  #commonValues(): TemplateValues {
    return this.#identity();
  }

  #onChunk(chunk: MediaChunk): void {
    if (this.#finishing) return;
    this.#lastChunkAt = Date.now();
    if (chunk.kind === 'header') {
      this.#header = chunk;
      return;
    }
    const feed = this.stream.source.feedFormat;
    if (chunk.kind === 'config') {
      this.#configs.set(chunk.track, chunk);
      if (this.#clock.paused) this.#configWhilePaused = true;
      else this.#part?.writeRaw(retimeChunk(chunk, feed, this.#clock.offsetMs).data);
      return;
    }
    // the one gate of pause/resume: left out while paused, shifted back by the time left out after
    const resuming = this.#clock.mode === 'resuming';
    const cto = feed === 'flv' && chunk.track === 'video' ? flvCompositionOffsetMs(chunk.data) : 0;
    const admitted = this.#clock.admit(cto === 0 ? chunk : { ...chunk, ptsMs: chunk.timestampMs + cto });
    if (!admitted) return;
    if (resuming) {
      this.log.info({ streamTimestampMs: chunk.timestampMs, recordTimestampMs: admitted.timestampMs, skippedMs: this.#clock.pauses.at(-1)?.skippedMs ?? 0 }, 'Recording resumed at a keyframe');
      if (this.#configWhilePaused && this.#part) {
        for (const c of this.#configs.values()) this.#part.writeRaw(retimeChunk(c, feed, admitted.offsetMs).data);
      }
      this.#configWhilePaused = false;
    }
    chunk = retimeChunk(chunk, feed, admitted.offsetMs);
    if (this.#skipUntilKeyframe) {
      if (!chunk.keyframe) return;
      this.#skipUntilKeyframe = false;
    }
    let part = this.#part;
    if (
      part &&
      !chunk.keyframe &&
      this.stream.source.requestKeyframe &&
      this.#rotationDue(part, { ...chunk, keyframe: true, timestampMs: chunk.endTimestampMs + KEYFRAME_LEAD_MS })
    ) {
      // the part is (about to be) long enough: ask for the keyframe it can end at
      this.stream.source.requestKeyframe();
    }
    if (part && this.#rotationDue(part, chunk)) {
      this.#endPart(part, 'rotation');
      part = null;
    }
    if (!part) {
      if (!chunk.keyframe) return;
      if (!this.#plan) {
        try {
          this.#plan = this.#makePlan();
        } catch (err) {
          if (!(err instanceof RecordOptionsError)) throw err;
          this.log.error({ err: err.message, videoCodec: this.stream.media.videoCodec, audioCodec: this.stream.media.audioCodec }, 'Recording options do not fit the stream; recording stopped');
          void this.finish(`options do not fit the stream: ${err.message}`);
          return;
        }
      }
      part = this.#startPart();
    }
    part.write(chunk);
    if (this.#firstMediaMs < 0) this.#firstMediaMs = chunk.timestampMs;
    this.#clock.written(chunk.track, chunk.endTimestampMs, admitted.ptsMs);
    // the media time the pause left out is known now
    if (resuming) this.#notePausesForRecovery();
    const maxLength = this.maxLengthMs;
    if (maxLength > 0 && this.#recordedMs(part) >= maxLength) {
      const what = this.settings.options?.maxLengthMs !== undefined ? 'maxLength' : 'record_max_length';
      void this.finish(`${what} of ${maxLength / 1000} s reached`);
      return;
    }
    if (part.ffmpeg.pendingInput > this.settings.maxPendingInput) {
      this.log.error({ pending: part.ffmpeg.pendingInput }, 'Recorder muxer cannot keep up; stopping the recording');
      void this.finish('muxer too slow');
    }
  }

  #rotationDue(part: RecordingPart, chunk: MediaChunk): boolean {
    const overhead = this.plan.container === 'mp4' && this.settings.mp4.reserveSpace ? this.settings.mp4.reservedBytes : 0;
    return rotationDue(this.settings.rotation, part, chunk, overhead);
  }

  #startPart(): RecordingPart {
    const plan = (this.#plan ??= this.#makePlan());
    const index = ++this.#partCount;
    const tmpFile = path.join(this.settings.tmpDir, `${TEMP_PREFIX}${this.stream.mediaSessionId}-${this.sequence}-${index}.${plan.extension}`);
    // moov first into reserved space: the temp file starts with that space and the muxer writes behind it
    const { mp4 } = this.settings;
    const reserved = plan.container === 'mp4' && mp4.moovFirst && mp4.reserveSpace ? mp4.reservedBytes : 0;
    const media = this.stream.media;
    const inProcess =
      this.settings.muxer === 'in-process' && inProcessMp4Fits(plan, this.stream.source.feedFormat, media.videoCodec, media.audioCodec);
    // the part's wall-clock start: the file's creation time (kept through finishing and recovery, which reuse the temp file's moov)
    const creationTime = new Date();
    const muxer: MuxerSpec = inProcess
      ? { kind: 'in-process', mp4: { hasVideo: plan.video === 'copy', hasAudio: plan.audio === 'copy', width: media.width, height: media.height, creationTime } }
      : {
          kind: 'ffmpeg',
          binary: this.settings.ffmpeg,
          args: liveMuxerArgs(plan, this.stream.source.feedFormat, this.settings.audio, this.settings.matroska, reserved > 0 ? 'pipe:3' : tmpFile, creationTime),
          // SVT-AV1 prints its banner and settings at info level straight to stderr: warnings and errors only
          ...(plan.preset?.codec === 'av1' ? { env: { SVT_LOG: '2' } } : {}),
        };
    const part = new RecordingPart(index, tmpFile, muxer, this.log, (line) => this.#noteError(`muxer: ${line}`), reserved, creationTime.getTime());
    this.#part = part;
    try {
      this.#sidecar = {
        version: 1,
        ...this.#identity(),
        naming: this.settings.naming,
        nameIndex: this.#indexOf(index),
        plan,
        startTimeMillis: part.startTimeMillis,
        firstTimestampMs: -1,
      };
      writeSidecar(tmpFile, this.#sidecar);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Cannot write the part description used for crash recovery');
    }
    if (this.#header) part.writeRaw(this.#header.data);
    for (const c of this.#configs.values()) part.writeRaw(retimeChunk(c, this.stream.source.feedFormat, this.#clock.offsetMs).data);
    this.emit('partStarted', {
      tmpFile,
      mediaSessionId: this.stream.mediaSessionId,
      streamName: this.stream.name,
      mediaProvider: this.stream.mediaProvider,
      login: this.stream.login,
      part: index,
      startTimeMillis: part.startTimeMillis,
      container: plan.container,
      ...this.#recordedMedia(plan),
    });
    this.log.info(
      { part: index, pid: part.ffmpeg.pid, muxer: muxer.kind, tmpFile, container: plan.container, video: plan.video, audio: plan.audio, ...(plan.preset ? { preset: plan.preset.name } : {}) },
      'Recording started',
    );
    if (this.#state === 'starting') this.#setState('recording');
    void part.ffmpeg.exited.then((exit) => {
      if (this.#part === part && !this.#finishing) {
        // keep what it wrote (crash-safe temp file) and go on in a new part from the next keyframe
        this.log.error({ part: index, code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'Recorder muxer exited unexpectedly');
        this.#endPart(part, 'muxer exited');
        this.#noteError(`muxer exited with ${exit.code ?? exit.signal}`);
      }
    });
    return part;
  }

  /** Ends a part: its muxer is told to finish now; naming, finalizing and moving happen in order, in the pool. */
  #endPart(part: RecordingPart, reason: string): void {
    if (this.#part === part) this.#part = null;
    this.#endedPartsMs += part.durationMs;
    const exited = part.finish(this.settings.stopTimeoutMs);
    this.log.info({ part: part.index, reason }, 'Recording part finishing');
    this.#chain = this.#chain.then(async () => {
      const exit = await exited;
      const record = await this.pool.run(() => this.#storePart(part, exit.code, exit.stderrTail));
      if (record) {
        this.#records.push(record);
        this.emit('recorded', record);
      } else {
        this.#failures++;
        this.emit('partFailed', part.tmpFile);
      }
    });
  }

  async #storePart(part: RecordingPart, code: number | null, stderr: string[]): Promise<RecordInfo | null> {
    const size = await fs.promises.stat(part.tmpFile).then((s) => s.size, () => 0);
    if (size <= part.reservedBytes || part.firstTimestampMs < 0) {
      this.log.error({ part: part.index, code, stderr: stderr.slice(-3), tmpFile: part.tmpFile }, 'Recording part failed: the muxer wrote no usable file');
      await fs.promises.rm(part.tmpFile, { force: true });
      await removeSidecar(part.tmpFile);
      return null;
    }
    // 255: ffmpeg finished its file after our SIGINT; others: killed or failed,
    // the crash-safe temp file holds what was written
    if (code === 255) this.log.warn({ part: part.index }, 'Muxer needed SIGINT to finish within record_stop_timeout');
    else if (code !== 0) this.log.warn({ part: part.index, code }, 'Muxer did not end cleanly; finishing what it wrote');
    const plan = this.plan;
    const values: TemplateValues = {
      ...this.#commonValues(),
      startTimeMillis: part.startTimeMillis,
      endTimeMillis: part.endTimeMillis,
      startTime: Math.max(part.firstTimestampMs, 0),
      endTime: part.lastTimestampMs,
      duration: part.durationMs,
    };
    const fileName = nameRecord(this.settings.naming, values, 'empty', plan.extension, this.#indexOf(part.index));
    const dest = path.join(this.settings.recordDir, fileName);
    let recordSize: number;
    let finish: Record<string, unknown> = {};
    try {
      const done = await finalizePart(part.tmpFile, dest, {
          ffmpeg: this.settings.ffmpeg,
          plan,
          layout: this.settings.mp4,
          insertRange: this.settings.insertRange,
          timeoutMs: this.settings.stopTimeoutMs * 4,
          // a muxer that was killed left Matroska without duration and cues
          repair: code !== 0 && code !== 255,
          creationTime: new Date(part.startTimeMillis),
        });
      recordSize = done.size;
      finish = { finish: done.method, usedReserve: done.usedReserve, ...(done.fallbackReason ? { fallbackReason: done.fallbackReason } : {}), ...(done.insertRefused ? { insertRefused: done.insertRefused } : {}) };
    } catch (err) {
      // keep what was recorded: the crash-safe temp file is playable as it is
      this.log.error({ part: part.index, err: (err as Error).message }, 'Finishing the container failed; keeping the recorded file as written');
      try {
        await moveFile(part.tmpFile, dest);
        recordSize = size;
      } catch (moveErr) {
        this.log.error({ part: part.index, err: (moveErr as Error).message, tmpFile: part.tmpFile }, 'Cannot move the record into record_dir');
        return null;
      }
    }
    await removeSidecar(part.tmpFile);
    const record: RecordInfo = {
      fileName,
      path: dest,
      mediaSessionId: this.stream.mediaSessionId,
      streamName: this.stream.name,
      size: recordSize,
      part: part.index,
      startTimeMillis: part.startTimeMillis,
      endTimeMillis: part.endTimeMillis,
      startTime: Math.max(part.firstTimestampMs, 0),
      endTime: part.lastTimestampMs,
      durationMs: part.durationMs,
      tmpFile: part.tmpFile,
      mediaProvider: this.stream.mediaProvider,
      login: this.stream.login,
      ...this.#recordedMedia(plan),
      ...this.#pausesOfPart(part),
    };
    this.log.info({ part: part.index, file: dest, size: recordSize, durationMs: part.durationMs, ...finish }, 'Recording done');
    return record;
  }

  /**
   * Keeps the current part's pauses in its crash-recovery description, so a
   * part finished by recovery after a crash lists them too (a pause whose cut
   * is still to come is noted where it was asked for).
   */
  #notePausesForRecovery(): void {
    const part = this.#part;
    if (!part || !this.#sidecar || part.firstTimestampMs < 0) return;
    try {
      writeSidecar(part.tmpFile, { ...this.#sidecar, ...this.#pausesOfPart(part) });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Cannot note the pauses in the part description used for crash recovery');
    }
  }

  /** The pauses inside a part: those between its first and last media (positions from its start). */
  #pausesOfPart(part: RecordingPart): { pauses?: RecordPause[] } {
    const first = part.firstTimestampMs;
    const inside = this.#clock.pauses.filter((p) => p.atMs >= first && p.atMs <= part.lastTimestampMs);
    return inside.length > 0 ? { pauses: inside.map((p) => this.#pauseOf(p, first)) } : {};
  }

  async #finish(reason: string): Promise<RecordInfo[]> {
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#setState('finishing');
    this.#tap?.close();
    this.#tap = null;
    this.log.info({ reason }, 'Recording finishing');
    const part = this.#part;
    if (part) this.#endPart(part, reason);
    await this.#chain;
    if (this.#records.length === 0 && this.#failures === 0) {
      this.log.info({ reason }, 'Recording ended before any media arrived; no file');
    }
    this.#setState(this.#failures > 0 && this.#records.length === 0 ? 'failed' : 'done');
    this.emit('finished', [...this.#records]);
    return [...this.#records];
  }
}
