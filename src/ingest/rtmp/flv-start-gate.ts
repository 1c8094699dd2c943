import type { MediaChunk } from '../../streams/media-tap.js';
import {
  createFlvFileHeader,
  describeMediaTag,
  FLV_TAG_SCRIPT,
  isFlvFileHeader,
  readFlvTag,
} from './flv-tags.js';
import { TagKind } from './live-broadcast.js';

export interface GateHints {
  /** The publisher announced video (metadata videocodecid). */
  videoExpected(): boolean;
  /** The publisher announced audio. */
  audioExpected(): boolean;
}

/**
 * Turns an FLV feed (a live broadcast's, or a camera's ffmpeg pipe) into media chunks a muxer can
 * start on: an FLV header whose audio/video flags say what the stream
 * really carries, the latest codec configuration of each track, and media
 * from a video keyframe on (audio-only streams start at their first frame).
 * Audio that arrived just before the first keyframe but belongs after it
 * (timestamp at or past the keyframe's) is kept, up to `audioBufferMax`
 * frames (record_audio_buffer_max_size). Script tags are dropped: the
 * broadcast turns the RTMP `@setDataFrame` into one, and ffmpeg would then
 * see an extra data stream. Pure: buffers in, chunks out. What it
 * keeps beyond a push() (sequence headers, audio and video waiting for the
 * start) it keeps as copies: the tags it is given are views of recycled
 * slabs (util/slab-pool.ts).
 */
export class FlvStartGate {
  #started = false;
  #audioHeader: Buffer | null = null;
  #videoHeader: Buffer | null = null;
  #audioSeen = false;
  #pendingAudio: { data: Buffer; ts: number }[] = [];
  #hasVideo = false;
  /** Video from a keyframe on, held while announced audio has not shown up yet. */
  #held: MediaChunk[] = [];

  constructor(
    private readonly hints: GateHints,
    private readonly audioBufferMax = 100,
  ) {}

  get started(): boolean {
    return this.#started;
  }

  /** Feeds one buffer of the subscriber feed; returns the chunks to pass on, in order. */
  push(buf: Buffer): MediaChunk[] {
    if (isFlvFileHeader(buf)) return [];
    const tag = readFlvTag(buf);
    if (tag === null || tag.type === FLV_TAG_SCRIPT) return [];
    const media = describeMediaTag(tag);
    if (media === null) return [];
    return this.#media(buf, media.kind, media.isSequenceHeader, media.isKeyframe, tag.timestamp);
  }

  /**
   * push() for a tag the live broadcast has read already (its kind and
   * timestamp): the same chunks, without parsing the tag again. Kinds the
   * broadcast does not name (TagKind.Other) take push()'s way.
   */
  pushTag(buf: Buffer, kind: TagKind, timestampMs: number): MediaChunk[] {
    switch (kind) {
      case TagKind.AudioFrame:
        return this.#media(buf, 'audio', false, false, timestampMs);
      case TagKind.InterFrame:
        return this.#media(buf, 'video', false, false, timestampMs);
      case TagKind.KeyFrame:
        return this.#media(buf, 'video', false, true, timestampMs);
      case TagKind.AudioHeader:
        return this.#media(buf, 'audio', true, false, timestampMs);
      case TagKind.VideoHeader:
        return this.#media(buf, 'video', true, false, timestampMs);
      case TagKind.Data:
      case TagKind.FileHeader:
        return [];
      case TagKind.Other:
        return this.push(buf);
    }
  }

  #media(buf: Buffer, kind: 'audio' | 'video', isSequenceHeader: boolean, isKeyframe: boolean, timestamp: number): MediaChunk[] {
    if (isSequenceHeader) {
      // kept for the whole stream (here and by the recorder): a copy, so a live tag's view does not pin
      // the publisher's 256 KiB slab (tag-slab.ts) for as long as the stream lasts
      const own = Buffer.from(buf);
      if (kind === 'audio') this.#audioHeader = own;
      else this.#videoHeader = own;
      // a codec change mid-stream: pass the new configuration on
      return this.#started ? [config(own, kind)] : [];
    }
    if (this.#started) {
      const keyframe = kind === 'video' ? isKeyframe : !this.#hasVideo;
      return [mediaChunk(buf, kind, keyframe, timestamp)];
    }
    if (this.#held.length > 0) return this.#whileHolding(buf, kind, isKeyframe, timestamp);
    if (kind === 'audio') {
      this.#audioSeen = true;
      const waitForVideo = this.#videoHeader !== null || this.hints.videoExpected();
      if (waitForVideo) {
        // a copy: kept beyond this call, and the live tag's slab is recycled once its holders let go (util/slab-pool.ts)
        this.#pendingAudio.push({ data: Buffer.from(buf), ts: timestamp });
        if (this.#pendingAudio.length > this.audioBufferMax) this.#pendingAudio.shift();
        return [];
      }
      return this.#start(mediaChunk(buf, 'audio', true, timestamp), false);
    }
    if (!isKeyframe) return [];
    if (this.#audioHeader === null && !this.#audioSeen && this.hints.audioExpected()) {
      // audio without a sequence header (G.711, MP3) is announced but not seen:
      // its codec decides the recording's audio, so wait for it a little (copies, as above)
      this.#held = [mediaChunk(Buffer.from(buf), 'video', true, timestamp)];
      return [];
    }
    return this.#start(mediaChunk(buf, 'video', true, timestamp), true);
  }

  #whileHolding(buf: Buffer, kind: 'audio' | 'video', isKeyframe: boolean, ts: number): MediaChunk[] {
    const first = this.#held[0]!;
    if (kind === 'audio') {
      this.#audioSeen = true;
      const held = this.#held;
      this.#held = [];
      return this.#start(first, true, [...held.slice(1), mediaChunk(buf, 'audio', false, ts)]);
    }
    if (isKeyframe) this.#held = [mediaChunk(Buffer.from(buf), 'video', true, ts)];
    else this.#held.push(mediaChunk(Buffer.from(buf), 'video', false, ts));
    if (ts - this.#held[0]!.timestampMs >= FlvStartGate.AUDIO_WAIT_MS || this.#held.length > 300) {
      const held = this.#held;
      this.#held = [];
      return this.#start(held[0]!, true, held.slice(1));
    }
    return [];
  }

  /** How long the start waits for announced audio that has not shown up, in stream time. */
  static readonly AUDIO_WAIT_MS = 1000;

  #start(first: MediaChunk, hasVideo: boolean, following: MediaChunk[] = []): MediaChunk[] {
    this.#started = true;
    this.#hasVideo = hasVideo || this.#videoHeader !== null;
    const hasAudio = this.#audioHeader !== null || this.#audioSeen || this.hints.audioExpected();
    const out: MediaChunk[] = [
      { kind: 'header', data: createFlvFileHeader(hasAudio, this.#hasVideo), track: 'none', keyframe: false, timestampMs: 0, endTimestampMs: 0 },
    ];
    if (this.#audioHeader) out.push(config(this.#audioHeader, 'audio'));
    if (this.#videoHeader) out.push(config(this.#videoHeader, 'video'));
    out.push(first);
    for (const a of this.#pendingAudio) {
      if (a.ts >= first.timestampMs) out.push(mediaChunk(a.data, 'audio', false, a.ts));
    }
    this.#pendingAudio = [];
    out.push(...following);
    return out;
  }
}

function config(data: Buffer, track: 'audio' | 'video'): MediaChunk {
  return { kind: 'config', data, track, keyframe: false, timestampMs: 0, endTimestampMs: 0 };
}

function mediaChunk(data: Buffer, track: 'audio' | 'video', keyframe: boolean, ts: number): MediaChunk {
  return { kind: 'media', data, track, keyframe, timestampMs: ts, endTimestampMs: ts };
}
