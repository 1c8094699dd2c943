import fs from 'node:fs';
import type { Logger } from 'pino';
import type { MediaChunk, MediaTap } from '../../streams/media-tap.js';
import type { Stream } from '../../streams/stream.js';
import type { AudioEncoding } from '../formats.js';
import { RecordingPart } from '../recording-part.js';
import type { FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import { participantMuxerArgs, participantPlan, type ParticipantPlan, type VideoEncoding } from './participant-plan.js';

export { participantPlan } from './participant-plan.js';

export interface ParticipantSettings {
  readonly ffmpeg: string;
  readonly audio: AudioEncoding;
  /** How VP8 (WebRTC) participants are encoded to H.264. */
  readonly video: VideoEncoding;
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

/** Bytes of feed a participant's muxer may leave unread before the session is ended (as a single recording's). */
export const MAX_PENDING_INPUT = 64 * 1024 * 1024;

/** The description file beside a participant's media file. */
export function participantDescriptionPath(file: string): string {
  return `${file}.json`;
}

/**
 * One stream's session in a multiple recorder (from add to remove, or to
 * the end of its publish): the stream's tap fed to a live muxer writing a
 * crash-safe fragmented MP4 (H.264 + AAC), from the first keyframe (asked
 * of a WebRTC publisher at the add); VP8 is encoded to H.264 on the way.
 */
export class Participant {
  #tap: MediaTap | null = null;
  #part: RecordingPart | null = null;
  #header: MediaChunk | null = null;
  readonly #configs = new Map<string, MediaChunk>();
  readonly #clock = new StreamClock();
  #firstTs = Infinity;
  #lastTs = -Infinity;
  #plan: ParticipantPlan | null = null;
  #done = false;
  /** Whether this session encodes its video (decided at add, from the stream's codecs): it holds one of the node's transcoding places. */
  readonly transcodes: boolean;
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
    this.transcodes = participantPlan(stream.media.videoCodec, stream.media.audioCodec)?.video === 'h264';
  }

  /** True once the session's muxer has exited (its CPU and memory are free again). */
  get done(): boolean {
    return this.#done;
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
    // a WebRTC publisher sends keyframes only when asked: the session starts on the next one
    this.stream.source.requestKeyframe?.();
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
    // a chunk leaves the feed once its last frame is in, so that frame's time is what its arrival tells
    // about: a WebM cluster of a WebRTC feed holds up to 1 s of frames (placed by its first frame, a session
    // sat up to a second late); of a cluster, its last video frame (the feed may write audio ahead of the video
    // of the same instant; a cluster without video is not used when the feed has video); an FLV tag is one frame
    const clustered = this.stream.source.feedFormat === 'webm';
    const placedBy = chunk.videoEndTimestampMs ?? (clustered && chunk.track !== 'audio' ? null : chunk.endTimestampMs);
    if (placedBy !== null) this.#clock.note(placedBy, Date.now());
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
    if (part.ffmpeg.pendingInput > MAX_PENDING_INPUT) {
      // an encoder starved of CPU: its input would queue without end; the session ends with what it wrote
      this.log.error({ pending: part.ffmpeg.pendingInput, video: this.#plan?.video }, 'Participant muxer cannot keep up; the stream leaves the multiple recording');
      void this.finish('muxer too slow');
    }
  }

  #startPart(): RecordingPart | null {
    const plan = participantPlan(this.stream.media.videoCodec, this.stream.media.audioCodec);
    if (!plan || (plan.video === 'h264') !== this.transcodes) {
      // codecs that came after the add and differ from what it was admitted with (no transcoding place was taken)
      this.log.error({ videoCodec: this.stream.media.videoCodec }, 'The stream\'s video cannot join this multiple recording (H.264 is copied, VP8 encoded); stream skipped');
      void this.finish('unsupported codec');
      return null;
    }
    this.#plan = plan;
    const args = participantMuxerArgs(plan, this.stream.source.feedFormat, this.settings.audio, this.settings.video, this.file);
    const part = new RecordingPart(this.participant, this.file, { kind: 'ffmpeg', binary: this.settings.ffmpeg, args }, this.log, () => undefined);
    if (this.#header) part.writeRaw(this.#header.data);
    for (const c of this.#configs.values()) part.writeRaw(c.data);
    this.#part = part;
    this.log.info({ pid: part.ffmpeg.pid, file: this.file, video: plan.video, audio: plan.audio }, 'Participant recording started');
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
    if (!this.#finishing) {
      this.#finishing = this.#finish(reason);
      void this.#finishing.then(
        () => (this.#done = true),
        () => (this.#done = true),
      );
    }
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
      hasVideo: plan.video !== 'none',
      hasAudio: plan.audio !== 'none',
    };
  }
}
