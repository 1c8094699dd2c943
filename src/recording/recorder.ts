import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { MediaTap } from '../streams/media-tap.js';
import type { Stream } from '../streams/stream.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg/ffmpeg-process.js';
import { ffmpegRecordArgs, type RecordFormat } from './formats.js';
import { moveFile } from './move-file.js';
import { recordFileName, renderTemplate, type TemplateValues } from './naming.js';

export type RecorderState = 'starting' | 'recording' | 'finishing' | 'done' | 'failed';

export interface RecorderSettings {
  readonly ffmpeg: string;
  readonly format: RecordFormat;
  readonly template: string;
  readonly tmpDir: string;
  readonly recordDir: string;
  readonly stopTimeoutMs: number;
  readonly audioSampleRate: number;
  readonly audioChannels: number;
  /** Bytes of input ffmpeg may fall behind by before the recording is stopped. */
  readonly maxPendingInput: number;
}

/** A finished record file. */
export interface RecordInfo {
  readonly fileName: string;
  readonly path: string;
  readonly mediaSessionId: string;
  readonly streamName: string;
  readonly size: number;
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  /** Media duration in ms, from the stream's own timestamps. */
  readonly durationMs: number;
}

interface RecorderEvents {
  state: [state: RecorderState];
  finished: [record: RecordInfo | null];
}

const FLV_HEADER_SIZE = 13;

/**
 * Records one stream into one file: taps the stream's media, feeds it to an
 * ffmpeg muxer writing into record_tmp_dir, and on finish moves the file
 * into record_dir under its template name.
 */
export class Recorder extends TypedEmitter<RecorderEvents> {
  #state: RecorderState = 'starting';
  #tap: MediaTap | null = null;
  #ffmpeg: FfmpegProcess | null = null;
  #finishing: Promise<RecordInfo | null> | null = null;
  readonly #tmpFile: string;
  readonly #startTimeMillis = Date.now();
  #firstTimestamp: number | null = null;
  #lastTimestamp = 0;
  readonly log: Logger;

  constructor(
    readonly stream: Stream,
    private readonly settings: RecorderSettings,
    log: Logger,
    sequence: number,
  ) {
    super();
    this.log = log.child({ stream: stream.name, mediaSessionId: stream.mediaSessionId });
    this.#tmpFile = path.join(settings.tmpDir, `${stream.mediaSessionId}_${sequence}.${settings.format.extension}`);
  }

  get state(): RecorderState {
    return this.#state;
  }

  get tmpFile(): string {
    return this.#tmpFile;
  }

  get ffmpegPid(): number | undefined {
    return this.#ffmpeg?.pid;
  }

  /** The name as WCS shows it while recording: elements not known yet stay literal. */
  get currentFileName(): string {
    return recordFileName(renderTemplate(this.settings.template, this.#templateValues(false)), this.settings.format.extension);
  }

  async start(): Promise<void> {
    await fs.promises.mkdir(this.settings.tmpDir, { recursive: true });
    this.log.info({ template: this.settings.template }, 'Recording starting; waiting for a keyframe');
    this.#tap = this.stream.source.openTap({
      data: (chunk) => this.#onData(chunk),
      end: () => void this.finish('publisher gone'),
    });
  }

  /** Stops the recording and finishes the file; resolves with the record (null when nothing was recorded). */
  finish(reason: string): Promise<RecordInfo | null> {
    if (!this.#finishing) this.#finishing = this.#finish(reason);
    return this.#finishing;
  }

  #setState(state: RecorderState): void {
    this.#state = state;
    this.emit('state', state);
  }

  #onData(chunk: Buffer): void {
    if (this.#finishing) return;
    if (!this.#ffmpeg) this.#spawnMuxer();
    const ffmpeg = this.#ffmpeg;
    if (!ffmpeg) return;
    if (chunk.length > FLV_HEADER_SIZE || chunk[0] !== 0x46) {
      const ts = ((chunk[7]! << 24) | chunk.readUIntBE(4, 3)) >>> 0;
      if (this.#firstTimestamp === null) this.#firstTimestamp = ts;
      if (ts > this.#lastTimestamp) this.#lastTimestamp = ts;
    }
    ffmpeg.write(chunk);
    if (ffmpeg.pendingInput > this.settings.maxPendingInput) {
      this.log.error({ pending: ffmpeg.pendingInput }, 'Recorder muxer cannot keep up; stopping the recording');
      void this.finish('muxer too slow');
    }
  }

  #spawnMuxer(): void {
    const args = ffmpegRecordArgs(
      this.settings.format,
      {
        audioCodec: this.stream.media.audioCodec,
        audioSampleRate: this.settings.audioSampleRate,
        audioChannels: this.settings.audioChannels,
      },
      this.#tmpFile,
    );
    const ffmpeg = new FfmpegProcess(this.settings.ffmpeg, args, (line) => this.log.debug({ ffmpeg: line }, 'muxer'));
    this.#ffmpeg = ffmpeg;
    this.log.info({ pid: ffmpeg.pid, tmpFile: this.#tmpFile }, 'Recording started');
    this.#setState('recording');
    void ffmpeg.exited.then((exit) => {
      if (!this.#finishing) {
        this.log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'Recorder muxer exited unexpectedly');
        void this.finish('muxer exited');
      }
    });
  }

  #templateValues(final: boolean): TemplateValues {
    const s = this.stream;
    const values: TemplateValues = {
      streamName: s.name,
      mediaSessionId: s.mediaSessionId,
      login: s.login,
      startTimeMillis: this.#startTimeMillis,
      audioCodec: s.media.audioCodec,
      videoCodec: s.media.videoCodec,
    };
    if (this.#firstTimestamp !== null) values.startTime = this.#firstTimestamp;
    if (final) {
      values.endTimeMillis = Date.now();
      values.endTime = this.#lastTimestamp;
      values.duration = this.#lastTimestamp - (this.#firstTimestamp ?? this.#lastTimestamp);
    }
    return values;
  }

  async #finish(reason: string): Promise<RecordInfo | null> {
    const wasRecording = this.#state === 'recording';
    this.#setState('finishing');
    this.#tap?.close();
    this.#tap = null;
    this.log.info({ reason }, 'Recording finishing');
    const ffmpeg = this.#ffmpeg;
    if (!ffmpeg || !wasRecording) {
      ffmpeg?.signal('SIGINT');
      if (ffmpeg) await ffmpeg.finish(this.settings.stopTimeoutMs);
      this.log.info({ reason }, 'Recording ended before any media arrived; no file');
      this.#setState('done');
      this.emit('finished', null);
      return null;
    }
    let exit: FfmpegExit;
    try {
      exit = await ffmpeg.finish(this.settings.stopTimeoutMs);
    } catch (err) {
      return this.#fail(`muxer did not stop: ${(err as Error).message}`);
    }
    const size = await fs.promises.stat(this.#tmpFile).then((s) => s.size, () => 0);
    // 255: ffmpeg finished its file after our SIGINT (record_stop_timeout)
    if (size === 0 || (exit.code !== 0 && exit.code !== 255)) {
      return this.#fail(`muxer ended with code ${exit.code} signal ${exit.signal}: ${exit.stderrTail.slice(-3).join(' | ')}`);
    }
    if (exit.code === 255) this.log.warn('Muxer needed SIGINT to finish within record_stop_timeout');
    const values = this.#templateValues(true);
    const fileName = recordFileName(renderTemplate(this.settings.template, values, 'empty'), this.settings.format.extension);
    const dest = path.join(this.settings.recordDir, fileName);
    try {
      await moveFile(this.#tmpFile, dest);
    } catch (err) {
      return this.#fail(`cannot move ${this.#tmpFile} to ${dest}: ${(err as Error).message}`);
    }
    const record: RecordInfo = {
      fileName,
      path: dest,
      mediaSessionId: this.stream.mediaSessionId,
      streamName: this.stream.name,
      size,
      startTimeMillis: this.#startTimeMillis,
      endTimeMillis: Number(values.endTimeMillis),
      durationMs: Number(values.duration ?? 0),
    };
    this.log.info({ file: dest, size, durationMs: record.durationMs }, 'Recording done');
    this.#setState('done');
    this.emit('finished', record);
    return record;
  }

  #fail(message: string): null {
    this.log.error({ tmpFile: this.#tmpFile }, `Recording failed: ${message}`);
    this.#setState('failed');
    this.emit('finished', null);
    return null;
  }
}
