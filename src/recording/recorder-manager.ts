import type { Logger } from 'pino';
import type { Stream } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import { KeyedQueue } from '../util/keyed-queue.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { DiskGuard } from './disk-guard.js';
import type { HookRunner } from './hook-runner.js';
import { MAX_PAUSES_PER_RECORDING, Recorder, type PartStartInfo, type RecordInfo, type RecorderSettings, type RecordingApiState, type RecordPause } from './recorder.js';
import { planWithOptions, type RecordOptions } from './record-options.js';
import type { Rotation } from './rotation.js';
import type { WorkPool } from './work-pool.js';

export interface RecordingPolicy {
  /** record_streams */
  readonly recordStreams: boolean;
  /** record_flash_published_streams */
  readonly recordFlashPublishedStreams: boolean;
  /** record_rtsp_streams */
  readonly recordRtspStreams: boolean;
}

/** Per-recording settings a REST call may override (WCS `config` of /recorder/startup). */
export interface RecordingOverrides {
  readonly fileTemplate?: string;
  /** Parsed with parseRotation (src/recording/rotation.ts). */
  readonly rotation?: Rotation;
  /** format, audio/video, maxLength, preset (src/recording/record-options.ts). */
  readonly options?: RecordOptions;
}

/** Limits of the manager beyond those of each recorder. */
export interface ManagerLimits {
  /** record_transcode_max_concurrent: recordings with a preset at once. */
  readonly transcodeMaxConcurrent: number;
}

export interface RecordingInProgress {
  readonly fileName: string;
  readonly mediaSessionId: string;
  /** The file being written and when its part started (not in WCS's answer; the route turns it into size). */
  readonly part?: { readonly tmpFile: string; readonly startTimeMillis: number } | null;
  /** RECORDING (also while a resumed recording waits for its keyframe), PAUSED or FINISHING. */
  readonly state: RecordingApiState;
  /** Media time recorded so far, ms (pauses left out; every part). */
  readonly durationMs: number;
  /** The stream's own timestamp of the last media seen, ms (-1 before any). */
  readonly streamTimestampMs: number;
  readonly pauses: RecordPause[];
}

/** Why a recording did not start: refused for file_recorder_min_space, or it failed. */
export type StartFailure = 'disk_space' | 'start_error';

interface ManagerEvents {
  partStarted: [part: PartStartInfo];
  partFailed: [tmpFile: string];
  /** A record is in record_dir: finished by a recorder ('live') or by start-up recovery ('recovered'). */
  recorded: [record: RecordInfo, origin: 'live' | 'recovered'];
  /** A recording asked for (on publish or by REST) did not start. */
  startFailed: [reason: StartFailure];
}

/** Control calls (startup, terminate, ...) one stream may have waiting; more answer 503. */
const CONTROL_CALLS_PER_STREAM = 32;

export class NotPublishingError extends Error {}
/** record_transcode_max_concurrent recordings already transcode (503). */
export class TranscodeLimitError extends Error {}

/** Pause of a paused recording, resume of one that is not paused, either while it finishes (409). */
export class PauseStateError extends Error {}
export class DiskSpaceError extends Error {}

export const NOT_ENOUGH_SPACE = 'Not enough available disk space';

/** Decides whether a newly published stream is recorded (pure). */
export function shouldRecordOnPublish(stream: Pick<Stream, 'mediaProvider' | 'recordRequested'>, policy: RecordingPolicy): boolean {
  if (!policy.recordStreams) return false;
  if (stream.recordRequested !== null) return stream.recordRequested;
  switch (stream.mediaProvider) {
    case 'Flash':
      return policy.recordFlashPublishedStreams;
    case 'RTSP':
      return policy.recordRtspStreams;
    default:
      return true;
  }
}

/**
 * Owns every Recorder: starts one when a stream that should be recorded is
 * published or when asked by REST, finishes it when the stream ends or on
 * request, runs the hook once per finished file in order, and finishes
 * them all on close().
 *
 * Control of one stream (the start on publish, startRecording,
 * stopRecording) runs one call after another per mediaSessionId, so
 * whatever races, a stream has at most one recorder, and that recorder is
 * in #active (so find_all, terminate, the disk guard and close() see it)
 * from the moment it is made until it has finished.
 */
export class RecorderManager extends TypedEmitter<ManagerEvents> {
  readonly #active = new Map<string, Recorder>();
  readonly #control = new KeyedQueue<string>(CONTROL_CALLS_PER_STREAM);
  /** The REST settings each recorder was started with (JSON of its overrides; '{}' = the server's). */
  readonly #settingsOf = new WeakMap<Recorder, string>();
  readonly #pending = new Set<Promise<unknown>>();
  #sequence = 0;
  #closed = false;
  /** Transcoding startups that passed the limit and have no recorder in #active yet (they await the disk check). */
  #transcodeReserved = 0;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly settings: RecorderSettings,
    private readonly policy: RecordingPolicy,
    private readonly hooks: HookRunner,
    private readonly pool: WorkPool,
    private readonly disk: DiskGuard,
    private readonly log: Logger,
    private readonly limits: ManagerLimits = { transcodeMaxConcurrent: Number.POSITIVE_INFINITY },
  ) {
    super();
  }

  /** Recordings that transcode (a preset) and are not done. */
  get transcoding(): number {
    return [...this.#active.values()].filter((r) => r.transcodes && r.state !== 'done' && r.state !== 'failed').length;
  }

  start(): void {
    this.registry.on('publish', this.#onPublish);
    this.disk.on('low', this.#onDiskLow);
    this.disk.on('ok', this.#onDiskOk);
  }

  #onDiskLow = (free: number, dir: string): void => {
    this.log.error({ free, dir, min: this.disk.minBytes, recordings: this.#active.size }, NOT_ENOUGH_SPACE);
    for (const recorder of this.#active.values()) void recorder.finish(NOT_ENOUGH_SPACE);
  };

  #onDiskOk = (): void => {
    this.log.info({ min: this.disk.minBytes }, 'Disk space is back above file_recorder_min_space; recordings can start again');
  };

  /** A record finished by start-up recovery: listed and hooked like any other. */
  adoptRecovered(record: RecordInfo): void {
    this.emit('recorded', record, 'recovered');
    // hooks run in their own queue (HookRunner): finishing files never waits for them
    this.#track(this.hooks.run(record.streamName, record.path, { stream: record.streamName, mediaSessionId: record.mediaSessionId }));
  }

  /** Recordings in progress, as /recorder/find_all lists them. */
  inProgress(): RecordingInProgress[] {
    return [...this.#active.values()].map((r) => ({
      fileName: r.currentFileName,
      mediaSessionId: r.stream.mediaSessionId,
      part: r.currentPart,
      state: r.apiState,
      durationMs: r.recordedMs,
      streamTimestampMs: r.lastStreamTimestampMs,
      pauses: r.pauses,
    }));
  }

  /**
   * Pauses the recording of a stream (nothing written until resumed);
   * undefined when it is not recording, PauseStateError when it is already
   * paused or finishing. Queued behind the stream's other control calls.
   */
  pauseRecording(mediaSessionId: string): Promise<Recorder | undefined> {
    return this.#control.run(mediaSessionId, () => {
      const recorder = this.#active.get(mediaSessionId);
      if (!recorder) return undefined;
      if (recorder.apiState === 'FINISHING') throw new PauseStateError(`The recording of mediaSessionId ${mediaSessionId} is finishing`);
      const outcome = recorder.pause();
      if (outcome === 'already') throw new PauseStateError(`The recording of mediaSessionId ${mediaSessionId} is already paused`);
      if (outcome === 'limit') {
        this.log.warn({ stream: recorder.stream.name, mediaSessionId, max: MAX_PAUSES_PER_RECORDING }, 'Pause refused: the recording has had the most pauses one may have');
        throw new PauseStateError(`The recording of mediaSessionId ${mediaSessionId} has had ${MAX_PAUSES_PER_RECORDING} pauses, the most one recording may have`);
      }
      return recorder;
    });
  }

  /** Resumes a paused recording at the stream's next keyframe; as pauseRecording() for the rest. */
  resumeRecording(mediaSessionId: string): Promise<Recorder | undefined> {
    return this.#control.run(mediaSessionId, () => {
      const recorder = this.#active.get(mediaSessionId);
      if (!recorder) return undefined;
      if (recorder.apiState === 'FINISHING') throw new PauseStateError(`The recording of mediaSessionId ${mediaSessionId} is finishing`);
      if (!recorder.resume()) throw new PauseStateError(`The recording of mediaSessionId ${mediaSessionId} is not paused`);
      return recorder;
    });
  }

  recorderOf(mediaSessionId: string): Recorder | undefined {
    return this.#active.get(mediaSessionId);
  }

  /**
   * Starts recording a published stream. Queued behind any other control
   * call for the stream. A recording already running with the same settings
   * is kept (startup is idempotent: parallel or retried startups make one
   * recording and one file); one with other settings is finished first.
   */
  startRecording(mediaSessionId: string, overrides: RecordingOverrides = {}): Promise<Recorder> {
    const settingsKey = JSON.stringify(overrides);
    return this.#control.run(mediaSessionId, async () => {
      const stream = this.#publishing(mediaSessionId, 'is not publishing');
      const current = this.#active.get(mediaSessionId);
      if (current && (current.state === 'starting' || current.state === 'recording') && this.#settingsOf.get(current) === settingsKey) {
        this.log.info({ stream: stream.name, mediaSessionId }, 'Recording requested by REST is already running with these settings; kept');
        return current;
      }
      const options = overrides.options ?? {};
      // codecs known (media arrived): options that do not fit them are refused now (RecordOptionsError), not at the first keyframe
      if (stream.media.videoCodec !== '' || stream.media.audioCodec !== '') {
        planWithOptions(stream.media.videoCodec, stream.media.audioCodec, this.settings.formats, options);
      }
      // startups of other streams run in parallel: a slot is reserved now, before the awaits below
      const reserved = options.preset !== undefined;
      if (options.preset) {
        const others =
          [...this.#active.values()].filter((r) => r !== current && r.transcodes && r.state !== 'done' && r.state !== 'failed').length +
          this.#transcodeReserved;
        if (others >= this.limits.transcodeMaxConcurrent) {
          this.log.warn({ stream: stream.name, mediaSessionId, preset: options.preset.name, transcoding: others }, 'Transcoding recording refused: record_transcode_max_concurrent reached');
          throw new TranscodeLimitError(
            `${others} recordings are already transcoding (record_transcode_max_concurrent=${this.limits.transcodeMaxConcurrent}); try again when one ends, or record without a preset`,
          );
        }
        this.#transcodeReserved++;
      }
      try {
        if (!(await this.disk.check())) {
          this.log.error({ stream: stream.name, mediaSessionId }, `${NOT_ENOUGH_SPACE}; recording not started`);
          this.emit('startFailed', 'disk_space');
          throw new DiskSpaceError(NOT_ENOUGH_SPACE);
        }
        if (current) {
          this.log.info({ stream: stream.name, mediaSessionId }, 'Recording restarted by REST with other settings: finishing the current one first');
          await current.finish('restarted by REST');
        }
        this.#publishing(mediaSessionId, 'stopped publishing');
        // the recorder is in #active from here on (synchronously), where it counts against the limit
        const recorder = await this.#startRecorder(stream, overrides);
        this.#settingsOf.set(recorder, settingsKey);
        return recorder;
      } finally {
        if (reserved) this.#transcodeReserved--;
      }
    });
  }

  /**
   * Finishes the recording of a stream; undefined when it was not recording.
   * Queued behind any other control call for the stream, so a recording
   * whose start was asked for before is finished too.
   */
  stopRecording(mediaSessionId: string, reason = 'stopped by REST'): Promise<RecordInfo[] | undefined> {
    return this.#control.run(mediaSessionId, async () => {
      const recorder = this.#active.get(mediaSessionId);
      if (!recorder) return undefined;
      return recorder.finish(reason);
    });
  }

  /** The stream, when it is publishing and the manager takes recordings; else NotPublishingError. */
  #publishing(mediaSessionId: string, what: string): Stream {
    const stream = this.registry.byMediaSessionId(mediaSessionId);
    if (!stream || stream.status !== 'PUBLISHING' || this.#closed) {
      throw new NotPublishingError(`Stream with mediaSessionId ${mediaSessionId} ${what}`);
    }
    return stream;
  }

  /** Finishes every recording (files moved, hooks started) and stops taking new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    this.registry.off('publish', this.#onPublish);
    this.disk.off('low', this.#onDiskLow);
    this.disk.off('ok', this.#onDiskOk);
    await Promise.all([...this.#active.values()].map((r) => r.finish('server shutdown')));
    // control calls still queued now refuse to start (#closed); one that made a recorder meanwhile is finished too
    await this.#control.drain();
    await Promise.all([...this.#active.values()].map((r) => r.finish('server shutdown')));
    await Promise.all([...this.#pending]);
  }

  #onPublish = (stream: Stream): void => {
    if (this.#closed || !shouldRecordOnPublish(stream, this.policy)) return;
    if (this.disk.low) {
      this.log.error({ stream: stream.name, mediaSessionId: stream.mediaSessionId }, `${NOT_ENOUGH_SPACE}; recording not started`);
      this.emit('startFailed', 'disk_space');
      return;
    }
    const id = stream.mediaSessionId;
    void this.#control
      .run(id, async () => {
        // a REST startup queued meanwhile may already record it; the stream may have ended
        if (this.#closed || this.#active.has(id) || stream.status !== 'PUBLISHING') return;
        // measured now: with nothing recording the disk guard checks only every few seconds, disk.low may be old
        if (!(await this.disk.check())) {
          this.log.error({ stream: stream.name, mediaSessionId: id }, `${NOT_ENOUGH_SPACE}; recording not started`);
          this.emit('startFailed', 'disk_space');
          return;
        }
        if (this.#closed || this.#active.has(id) || stream.status !== 'PUBLISHING') return;
        this.#settingsOf.set(await this.#startRecorder(stream, {}), JSON.stringify({}));
      })
      .catch((err: Error) => {
        this.log.error({ stream: stream.name, mediaSessionId: id, err: err.message }, 'Recording could not start');
      });
  };

  async #startRecorder(stream: Stream, overrides: RecordingOverrides): Promise<Recorder> {
    const settings: RecorderSettings = {
      ...this.settings,
      naming: { ...this.settings.naming, template: overrides.fileTemplate ?? this.settings.naming.template },
      rotation: overrides.rotation ?? this.settings.rotation,
      ...(overrides.options ? { options: overrides.options } : {}),
    };
    const recorder = new Recorder(stream, settings, this.pool, this.log, ++this.#sequence);
    this.#active.set(stream.mediaSessionId, recorder);
    stream.recording = true;
    recorder.on('partStarted', (part) => this.emit('partStarted', part));
    recorder.on('partFailed', (tmpFile) => this.emit('partFailed', tmpFile));
    recorder.on('recorded', (record) => {
      this.emit('recorded', record, 'live');
      // queued in the hook queue (its own, bounded; hooks of one mediaSessionId in part order): the next file never waits for it
      this.#track(this.hooks.run(record.streamName, record.path, { stream: stream.name, mediaSessionId: stream.mediaSessionId }));
    });
    this.#track(
      new Promise<void>((resolve) => {
        recorder.once('finished', () => {
          if (this.#active.get(stream.mediaSessionId) === recorder) {
            this.#active.delete(stream.mediaSessionId);
            stream.recording = false;
          }
          resolve();
        });
      }),
    );
    try {
      await recorder.start();
    } catch (err) {
      this.emit('startFailed', 'start_error');
      await recorder.finish(`start failed: ${(err as Error).message}`);
      throw err;
    }
    return recorder;
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
