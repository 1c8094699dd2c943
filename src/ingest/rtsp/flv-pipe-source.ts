import type { FeedFormat, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { FlvStartGate } from '../rtmp/flv-start-gate.js';
import { describeMediaTag, FLV_TAG_SCRIPT, isFlvFileHeader, readFlvTag, type FlvTagInfo, type MediaTagInfo } from '../rtmp/flv-tags.js';

/** Tags kept since the last video keyframe before the cache gives up (a camera with a very long GOP). */
const MAX_GOP_TAGS = 3000;
const MAX_GOP_BYTES = 32 * 1024 * 1024;

interface Entry {
  readonly consumer: TapConsumer;
  readonly gate: FlvStartGate;
}

/**
 * The media of one camera pull as a stream source: fed with the FLV buffers
 * of ffmpeg's output (file header, then whole tags), it keeps what
 * node-media-server keeps for a late RTMP subscriber (the codec sequence
 * headers and the tags since the last video keyframe), so a tap opened at
 * any moment starts on a keyframe with the codec configuration, through the
 * same FlvStartGate as RTMP.
 */
export class FlvPipeSource implements StreamSource {
  readonly feedFormat: FeedFormat = 'flv';
  readonly #taps = new Set<Entry>();
  #hasAudio = false;
  #hasVideo = false;
  #audioHeader: Buffer | null = null;
  #videoHeader: Buffer | null = null;
  #gop: Buffer[] = [];
  #gopBytes = 0;
  #ended = false;

  constructor(
    private readonly audioBufferMax: number,
    private readonly onDisconnect: (reason: string) => void,
  ) {}

  /**
   * One buffer from FlvByteSplitter. `onMedia` is told about each media tag
   * before any tap sees it (so the stream's codecs are known when a recorder
   * plans its file).
   */
  push(buf: Buffer, onMedia?: (tag: FlvTagInfo, media: MediaTagInfo) => void): void {
    if (this.#ended) return;
    if (isFlvFileHeader(buf)) {
      // what ffmpeg maps into the FLV: the start gate waits for announced audio
      this.#hasAudio = (buf[4]! & 0x04) !== 0;
      this.#hasVideo = (buf[4]! & 0x01) !== 0;
      return;
    }
    const tag = readFlvTag(buf);
    if (tag === null || tag.type === FLV_TAG_SCRIPT) return;
    const media = describeMediaTag(tag);
    if (media === null) return;
    onMedia?.(tag, media);
    if (media.isSequenceHeader) {
      if (media.kind === 'audio') this.#audioHeader = buf;
      else this.#videoHeader = buf;
    } else if (media.kind === 'video' && media.isKeyframe) {
      this.#gop = [buf];
      this.#gopBytes = buf.length;
    } else if (this.#gop.length > 0 || (!this.#hasVideo && media.kind === 'audio')) {
      this.#gop.push(buf);
      this.#gopBytes += buf.length;
      if (this.#gop.length > MAX_GOP_TAGS || this.#gopBytes > MAX_GOP_BYTES) {
        // audio-only: keep the latest; video: wait for the next keyframe
        this.#gop = this.#hasVideo ? [] : this.#gop.slice(-1);
        this.#gopBytes = this.#gop.reduce((n, b) => n + b.length, 0);
      }
    }
    for (const entry of this.#taps) this.#deliver(entry, buf);
  }

  #deliver(entry: Entry, buf: Buffer): void {
    for (const chunk of entry.gate.push(buf)) entry.consumer.data(chunk);
  }

  openTap(consumer: TapConsumer): MediaTap {
    const gate = new FlvStartGate({ videoExpected: () => this.#hasVideo, audioExpected: () => this.#hasAudio }, this.audioBufferMax);
    const entry: Entry = { consumer, gate };
    if (this.#ended) {
      queueMicrotask(() => consumer.end());
      return { close: () => undefined };
    }
    this.#taps.add(entry);
    // what a late subscriber of an RTMP publish gets: sequence headers, then the GOP so far
    if (this.#audioHeader) this.#deliver(entry, this.#audioHeader);
    if (this.#videoHeader) this.#deliver(entry, this.#videoHeader);
    for (const buf of this.#gop) this.#deliver(entry, buf);
    return { close: () => void this.#taps.delete(entry) };
  }

  disconnect(reason: string): void {
    this.onDisconnect(reason);
  }

  /** The pull is over: every open tap ends. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#gop = [];
    for (const entry of [...this.#taps]) {
      this.#taps.delete(entry);
      entry.consumer.end();
    }
  }
}
