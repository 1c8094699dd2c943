import type { Logger } from 'pino';
import type { StreamRegistry } from '../../streams/stream-registry.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import type { DiskGuard } from '../disk-guard.js';
import type { HookRunner } from '../hook-runner.js';
import { DiskSpaceError, NOT_ENOUGH_SPACE } from '../recorder-manager.js';
import { recoverMultiRecordings } from './multi-recovery.js';
import { participantPlan } from './participant.js';
import { MultiRecorder, type MultiRecorderSettings, type MultiRecordInfo } from './multi-recorder.js';
import { parseMultiRecorderUri } from './multi-uri.js';

export { AlreadyAddedError, NotAddedError } from './multi-recorder.js';
export { MultiRecorderUriError } from './multi-uri.js';

/** A recorder with this URI exists (409). */
export class RecorderExistsError extends Error {}
/** No recorder with this URI (404). */
export class UnknownRecorderError extends Error {}
/** No published stream with this mediaSessionId (404). */
export class UnknownStreamError extends Error {}
/** The stream's codecs cannot go into the multiple recording's MP4 (400). */
export class UnsupportedStreamError extends Error {}
/** Every transcoding place of the node is taken (503, Retry-After). */
export class TranscodingLimitError extends Error {
  readonly retryAfterSeconds = TRANSCODING_RETRY_AFTER_SECONDS;
}

/** Seconds a client refused for lack of a transcoding place is told to wait. */
export const TRANSCODING_RETRY_AFTER_SECONDS = 10;

export interface MultiRecorderManagerSettings extends MultiRecorderSettings {
  /** multi_recorder_max_transcoded_participants: participants whose video is encoded to H.264 at once, over all recorders; 0 = none. */
  readonly maxTranscodedParticipants: number;
}

export interface MultiRecorderJson {
  uri: string;
  mediaSessionsId: string[];
  fileName: string;
}

/**
 * The multiple recorders by URI (/rest-api/multipleRecorder/*): startup,
 * add, remove, find_all, terminate; runs on_multiple_record_hook_script
 * with $1 file, $2 creation/modification time, $3 duration (ms), $4 URI
 * after each finished file, and finishes every recorder on close().
 */
interface MultiRecorderManagerEvents {
  /** A multiple recorder started: its participants' files go into `workDir` until it is terminated. */
  started: [uri: string, workDir: string, startTimeMillis: number];
  /** A multiple recorder ended with nothing recorded (no file). */
  empty: [uri: string];
  /** A multiple recording is finished (or recovered) and in multi_record_dir. */
  recorded: [info: MultiRecordInfo];
}

export class MultiRecorderManager extends TypedEmitter<MultiRecorderManagerEvents> {
  readonly #recorders = new Map<string, MultiRecorder>();
  /** Every recorder whose processes may still run, terminating ones included (they hold transcoding places until their muxers exit). */
  readonly #live = new Set<MultiRecorder>();
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly settings: MultiRecorderManagerSettings,
    private readonly hooks: HookRunner,
    private readonly disk: DiskGuard,
    private readonly log: Logger,
  ) {
    super();
    disk.on('low', this.#onDiskLow);
  }

  /** file_recorder_min_space: every multiple recorder is finished (file assembled, hook run). */
  #onDiskLow = (): void => {
    for (const uri of [...this.#recorders.keys()]) {
      this.log.error({ uri }, NOT_ENOUGH_SPACE);
      void this.terminate(uri, NOT_ENOUGH_SPACE).catch((err: Error) => this.log.error({ uri, err: err.message }, 'Multiple recorder failed to finish'));
    }
  };

  #checkSpace(): void {
    if (this.disk.low) throw new DiskSpaceError(NOT_ENOUGH_SPACE);
  }

  /** Assembles the multiple recordings a crash interrupted, and runs their hooks. */
  async recoverInterrupted(): Promise<MultiRecordInfo[]> {
    const infos = await recoverMultiRecordings(this.settings, this.log);
    for (const info of infos) this.#runHook(info);
    return infos;
  }

  async startup(uri: string): Promise<void> {
    parseMultiRecorderUri(uri);
    if (this.#closed) throw new Error('server is shutting down');
    this.#checkSpace();
    if (this.#recorders.has(uri)) throw new RecorderExistsError(`Multiple recorder ${uri} already exists`);
    const recorder = new MultiRecorder(uri, this.settings, this.log);
    this.#recorders.set(uri, recorder);
    this.#live.add(recorder);
    try {
      await recorder.start();
    } catch (err) {
      this.#recorders.delete(uri);
      this.#live.delete(recorder);
      throw err;
    }
    this.emit('started', uri, recorder.workDir, recorder.startTimeMillis);
  }

  #recorder(uri: string): MultiRecorder {
    const recorder = this.#recorders.get(uri);
    if (!recorder) throw new UnknownRecorderError(`No multiple recorder ${uri}`);
    return recorder;
  }

  add(uri: string, mediaSessionId: string): void {
    const recorder = this.#recorder(uri);
    this.#checkSpace();
    const stream = this.registry.byMediaSessionId(mediaSessionId);
    if (!stream || stream.status !== 'PUBLISHING') throw new UnknownStreamError(`No published stream with mediaSessionId ${mediaSessionId}`);
    const known = stream.media.videoCodec !== '' || stream.media.audioCodec !== '';
    const plan = known ? participantPlan(stream.media.videoCodec, stream.media.audioCodec) : null;
    if (known && plan === null) {
      this.log.warn({ uri, stream: stream.name, mediaSessionId, videoCodec: stream.media.videoCodec }, 'Stream refused by the multiple recorder: its video codec cannot go into H.264');
      throw new UnsupportedStreamError(
        `Stream ${stream.name} (${stream.media.videoCodec}) cannot join a multiple recording: H.264 video is copied, VP8/VP9/AV1 encoded to H.264; nothing else`,
      );
    }
    if (plan?.video === 'h264' && !recorder.has(mediaSessionId)) {
      const max = this.settings.maxTranscodedParticipants;
      if (max === 0) {
        this.log.warn({ uri, stream: stream.name, mediaSessionId, videoCodec: stream.media.videoCodec }, 'Stream refused by the multiple recorder: transcoding is off (multi_recorder_max_transcoded_participants=0)');
        throw new UnsupportedStreamError(
          `Stream ${stream.name} (${stream.media.videoCodec}) needs its video encoded to H.264, which this server does not do (multi_recorder_max_transcoded_participants=0)`,
        );
      }
      const now = this.transcodingNow;
      if (now >= max) {
        this.log.warn({ uri, stream: stream.name, mediaSessionId, transcoding: now, max }, 'Stream refused by the multiple recorder: every transcoding place is taken (multi_recorder_max_transcoded_participants)');
        throw new TranscodingLimitError(
          `Stream ${stream.name} (${stream.media.videoCodec}) needs its video encoded to H.264 and ${now} of ${max} transcoded participants are recording (multi_recorder_max_transcoded_participants); try again when one leaves`,
        );
      }
    }
    recorder.add(stream);
  }

  /** Participants whose video is being encoded to H.264 now, over every recorder. */
  /** Multiple recorders now (the disk guard checks often while there are some). */
  get activeCount(): number {
    return this.#recorders.size;
  }

  get transcodingNow(): number {
    let n = 0;
    for (const r of this.#live) n += r.transcodingNow;
    return n;
  }

  async remove(uri: string, mediaSessionId: string): Promise<void> {
    await this.#recorder(uri).remove(mediaSessionId);
  }

  findAll(): MultiRecorderJson[] {
    return [...this.#recorders.values()].map((r) => ({ uri: r.uri, mediaSessionsId: r.mediaSessionIds, fileName: r.currentFileName }));
  }

  /** Finishes a recorder: answers once the file is assembled; the hook then runs in the background. */
  async terminate(uri: string, reason = 'terminated by REST'): Promise<MultiRecordInfo | null> {
    const recorder = this.#recorder(uri);
    this.#recorders.delete(uri);
    let info: MultiRecordInfo | null;
    try {
      info = await recorder.terminate(reason);
    } finally {
      this.#live.delete(recorder);
    }
    if (info) this.#runHook(info);
    else this.emit('empty', uri);
    return info;
  }

  #runHook(info: MultiRecordInfo): void {
    this.emit('recorded', info);
    const args = [info.path, String(info.creationModificationTime), String(info.durationMs), info.uri];
    const p = this.hooks.runArgs(args, info.path, { multiRecorder: info.uri });
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Finishes and assembles every recorder (server shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    this.disk.off('low', this.#onDiskLow);
    const uris = [...this.#recorders.keys()];
    await Promise.all(
      uris.map((uri) =>
        this.terminate(uri, 'server shutdown').catch((err: Error) => this.log.error({ uri, err: err.message }, 'Multiple recorder failed to finish')),
      ),
    );
  }
}
