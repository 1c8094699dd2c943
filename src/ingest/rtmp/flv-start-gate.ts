import {
  createFlvFileHeader,
  describeMediaTag,
  FLV_TAG_SCRIPT,
  isFlvFileHeader,
  readFlvTag,
} from './flv-tags.js';

export interface GateHints {
  /** The publisher announced video (metadata videocodecid) or sent a video sequence header. */
  videoExpected(): boolean;
  /** The publisher announced audio. */
  audioExpected(): boolean;
}

/**
 * Turns node-media-server's subscriber feed into an FLV byte stream that a
 * muxer can start on: an FLV header whose audio/video flags say what the
 * stream really carries, the latest codec configuration of each track, and
 * media from a video keyframe on (audio-only streams start at their first
 * frame). Script tags are dropped: node-media-server copies the RTMP
 * `@setDataFrame` into them and ffmpeg then sees an extra data stream.
 * Pure: buffers in, buffers out.
 */
export class FlvStartGate {
  #started = false;
  #audioHeader: Buffer | null = null;
  #videoHeader: Buffer | null = null;
  #audioSeen = false;

  constructor(private readonly hints: GateHints) {}

  get started(): boolean {
    return this.#started;
  }

  /** Feeds one buffer of the subscriber feed; returns the buffers to pass on, in order. */
  push(buf: Buffer): Buffer[] {
    if (isFlvFileHeader(buf)) return [];
    const tag = readFlvTag(buf);
    if (tag === null || tag.type === FLV_TAG_SCRIPT) return [];
    const media = describeMediaTag(tag);
    if (media === null) return [];
    if (this.#started) {
      return [buf];
    }
    if (media.isSequenceHeader) {
      if (media.kind === 'audio') this.#audioHeader = buf;
      else this.#videoHeader = buf;
      return [];
    }
    if (media.kind === 'audio') {
      this.#audioSeen = true;
      const waitForVideo = this.#videoHeader !== null || this.hints.videoExpected();
      if (waitForVideo) return [];
      return this.#start(buf, false);
    }
    if (!media.isKeyframe) return [];
    return this.#start(buf, true);
  }

  #start(first: Buffer, hasVideo: boolean): Buffer[] {
    this.#started = true;
    const hasAudio = this.#audioHeader !== null || this.#audioSeen || this.hints.audioExpected();
    const out = [createFlvFileHeader(hasAudio, hasVideo || this.#videoHeader !== null)];
    if (this.#audioHeader) out.push(this.#audioHeader);
    if (this.#videoHeader) out.push(this.#videoHeader);
    out.push(first);
    return out;
  }
}
