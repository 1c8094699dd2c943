import fs from 'node:fs';
import type { Logger } from 'pino';
import type { MediaChunk, MediaTap } from '../../streams/media-tap.js';
import type { Stream } from '../../streams/stream.js';
import { liveMuxerArgs, type AudioEncoding, type RecordPlan } from '../formats.js';
import { RecordingPart } from '../recording-part.js';
import type { FfmpegExit } from '../ffmpeg/ffmpeg-process.js';

export interface ParticipantSettings {
  readonly ffmpeg: string;
  readonly audio: AudioEncoding;
  readonly stopTimeoutMs: number;
}

/** What a finished participant session left: its file and where it sits on the recorder's clock. */
export interface ParticipantRecord {
  readonly participant: number;
  readonly streamName: string;
  readonly mediaSessionId: string;
  readonly file: string;
  /** Server clock (ms since the epoch) of the first and last media of the file. */
  readonly startWallMs: number;
  readonly endWallMs: number;
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
}

/**
 * The plan of a participant's file: H.264 copied, AAC copied, any other
 * audio encoded to AAC (pure). Null when the video cannot go into the
 * multiple recording's MP4.
 */
export function participantPlan(videoCodec: string, audioCodec: string): RecordPlan | null {
  if (videoCodec !== '' && videoCodec !== 'H264') return null;
  const audio = audioCodec === '' ? 'none' : audioCodec === 'AAC' ? 'copy' : 'aac';
  return { container: 'mp4', extension: 'mp4', video: videoCodec === '' ? 'none' : 'copy', audio };
}

/**
 * Maps a stream's own timestamps onto the server clock: the smallest
 * (arrival - timestamp) seen is the live offset (chunks replayed from the
 * GOP cache, or delayed, arrive later than their timestamp says).
 */
export class StreamClock {
  #offset = Infinity;

  note(timestampMs: number, arrivalMs: number): void {
    const offset = arrivalMs - timestampMs;
    if (offset < this.#offset) this.#offset = offset;
  }

  get known(): boolean {
    return Number.isFinite(this.#offset);
  }

  toWall(timestampMs: number): number {
    return timestampMs + this.#offset;
  }
}

/**
 * One stream's session in a multiple recorder (from add to remove, or to
 * the end of its publish): the stream's tap fed to a live muxer writing a
 * crash-safe fragmented MP4 (H.264 + AAC), from the first keyframe.
 */
/** The description file beside a participant's media file. */
export function participantDescriptionPath(file: string): string {
  return `${file}.json`;
}

export class Participant {
  #tap: MediaTap | null = null;
  #part: RecordingPart | null = null;
  #header: MediaChunk | null = null;
  readonly #configs = new Map<string, MediaChunk>();
  readonly #clock = new StreamClock();
  #firstTs = Infinity;
  #lastTs = -Infinity;
  #plan: RecordPlan | null = null;
  #finishing: Promise<ParticipantRecord | null> | null = null;
  readonly log: Logger;

  constructor(
    readonly participant: number,
    readonly stream: Stream,
    readonly file: string,
    private readonly settings: ParticipantSettings,
    log: Logger,
    /** Called once when the stream ends by itself (publisher gone). */
    private readonly onStreamEnd: (p: Participant) => void,
  ) {
    this.log = log.child({ participant, stream: stream.name, mediaSessionId: stream.mediaSessionId });
  }

  get mediaSessionId(): string {
    return this.stream.mediaSessionId;
  }

  get finished(): boolean {
    return this.#finishing !== null;
  }

  start(): void {
    this.#tap = this.stream.source.openTap({
      data: (chunk) => this.#onChunk(chunk),
      end: () => this.onStreamEnd(this),
    });
  }

  #onChunk(chunk: MediaChunk): void {
    if (this.#finishing) return;
    if (chunk.kind === 'header') {
      this.#header = chunk;
      return;
    }
    if (chunk.kind === 'config') {
      this.#configs.set(chunk.track, chunk);
      this.#part?.writeRaw(chunk.data);
      return;
    }
    const now = Date.now();
    this.#clock.note(chunk.timestampMs, now);
    let part = this.#part;
    if (!part) {
      if (!chunk.keyframe) return;
      part = this.#startPart();
      if (!part) return;
    }
    const first = !Number.isFinite(this.#firstTs);
    if (chunk.timestampMs < this.#firstTs) this.#firstTs = chunk.timestampMs;
    if (chunk.endTimestampMs > this.#lastTs) this.#lastTs = chunk.endTimestampMs;
    part.write(chunk);
    if (first) this.#describe(this.#record()!);
  }

  #startPart(): RecordingPart | null {
    const plan = participantPlan(this.stream.media.videoCodec, this.stream.media.audioCodec);
    if (!plan) {
      this.log.error({ videoCodec: this.stream.media.videoCodec }, 'Only H.264 streams can join a multiple recording; stream skipped');
      void this.finish('unsupported codec');
      return null;
    }
    this.#plan = plan;
    const args = liveMuxerArgs(plan, this.stream.source.feedFormat, this.settings.audio, { clusterDurationLimitMs: 0, clusterSizeLimit: 0 }, this.file);
    const part = new RecordingPart(this.participant, this.file, { kind: 'ffmpeg', binary: this.settings.ffmpeg, args }, this.log, () => undefined);
    if (this.#header) part.writeRaw(this.#header.data);
    for (const c of this.#configs.values()) part.writeRaw(c.data);
    this.#part = part;
    this.log.info({ pid: part.ffmpeg.pid, file: this.file, audio: plan.audio }, 'Participant recording started');
    return part;
  }

  /** What recovery needs if the server dies: written when media starts, and again when the session ends. */
  #describe(record: ParticipantRecord): void {
    try {
      fs.writeFileSync(participantDescriptionPath(this.file), JSON.stringify(record));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Cannot write the participant description used for crash recovery');
    }
  }

  /** Ends the session: the muxer finishes its file; null when no media was recorded. */
  finish(reason: string): Promise<ParticipantRecord | null> {
    if (!this.#finishing) this.#finishing = this.#finish(reason);
    return this.#finishing;
  }

  async #finish(reason: string): Promise<ParticipantRecord | null> {
    this.#tap?.close();
    this.#tap = null;
    const part = this.#part;
    this.log.info({ reason }, 'Participant leaves the multiple recording');
    if (!part) return null;
    const exit: FfmpegExit = await part.finish(this.settings.stopTimeoutMs);
    if (exit.code !== 0 && exit.code !== 255) {
      this.log.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-3) }, 'Participant muxer did not end cleanly; keeping what it wrote');
    }
    if (!Number.isFinite(this.#firstTs) || !this.#clock.known || part.bytes === 0) return null;
    const record = this.#record();
    if (record) this.#describe(record);
    return record;
  }

  #record(): ParticipantRecord | null {
    const plan = this.#plan;
    if (!plan || !this.#clock.known) return null;
    return {
      participant: this.participant,
      streamName: this.stream.name,
      mediaSessionId: this.stream.mediaSessionId,
      file: this.file,
      startWallMs: this.#clock.toWall(this.#firstTs),
      endWallMs: this.#clock.toWall(this.#lastTs),
      hasVideo: plan.video === 'copy',
      hasAudio: plan.audio !== 'none',
    };
  }
}
