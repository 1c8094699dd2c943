import type { Readable } from 'node:stream';
import type { MediaChunk, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { WebmChunker, type WebmTrack } from './webm-chunker.js';

export interface WebmFeedOptions {
  /**
   * Keep the clusters since the last keyframe and replay them to a new tap
   * (default). Off for WebRTC, whose keyframes come on request and whose
   * groups of pictures can last minutes: a new tap waits for the next keyframe.
   */
  readonly keepGop?: boolean;
  /**
   * Added to every chunk's timestamps (ms), read once at the first media
   * chunk: a WebRTC publisher's own clock, so {startTime} is absolute.
   */
  readonly timestampOffsetMs?: () => number;
  /** Cut clusters before the video keyframes inside them (see splitClusterAtKeyframes). */
  readonly splitAtKeyframes?: boolean;
  /** Each chunk as it arrives (a keyframe request can stop waiting). */
  readonly onChunk?: (chunk: MediaChunk) => void;
}

/**
 * A stream source fed by a live WebM/Matroska byte stream (for example an
 * ffmpeg that turns a WebRTC publisher's RTP into `-f webm -live 1 -dash 1`).
 * Keeps the header and the clusters since the last keyframe, so a tap opened
 * mid-stream starts on a keyframe, like node-media-server's GOP cache.
 */
export class WebmFeedSource implements StreamSource {
  readonly feedFormat = 'webm' as const;
  readonly #chunker: WebmChunker;
  readonly #taps = new Set<{ consumer: TapConsumer }>();
  #header: MediaChunk | null = null;
  #gop: MediaChunk[] = [];
  #ended = false;
  #offsetMs: number | null = null;

  constructor(
    input: Readable,
    private readonly onTracks: (tracks: readonly WebmTrack[]) => void,
    private readonly onDisconnect: (reason: string) => void,
    private readonly options: WebmFeedOptions = {},
  ) {
    this.#chunker = new WebmChunker({ splitAtKeyframes: options.splitAtKeyframes ?? false });
    input.on('data', (data: Buffer) => this.#push(data));
    input.on('end', () => this.end());
    input.on('error', () => this.end());
  }

  #push(data: Buffer): void {
    let chunks: MediaChunk[];
    try {
      chunks = this.#chunker.push(data);
    } catch {
      this.end();
      return;
    }
    for (let chunk of chunks) {
      if (chunk.kind === 'media' && this.options.timestampOffsetMs) {
        this.#offsetMs ??= Math.round(this.options.timestampOffsetMs());
        const offset = this.#offsetMs;
        chunk = {
          ...chunk,
          timestampMs: chunk.timestampMs + offset,
          endTimestampMs: chunk.endTimestampMs + offset,
          ...(chunk.videoEndTimestampMs !== undefined ? { videoEndTimestampMs: chunk.videoEndTimestampMs + offset } : {}),
        };
      }
      this.options.onChunk?.(chunk);
      if (chunk.kind === 'header') {
        this.#header = chunk;
        this.onTracks(this.#chunker.tracks);
      } else if (this.options.keepGop === false) {
        // nothing kept: a new tap starts at the next keyframe
      } else if (chunk.keyframe) {
        this.#gop = [chunk];
      } else if (this.#gop.length > 0) {
        this.#gop.push(chunk);
      }
      if (chunk.kind === 'media') for (const tap of this.#taps) tap.consumer.data(chunk);
    }
  }

  openTap(consumer: TapConsumer): MediaTap {
    const entry = { consumer };
    if (this.#header && this.#gop.length > 0) {
      consumer.data(this.#header);
      for (const c of this.#gop) consumer.data(c);
    } else if (this.#header) {
      consumer.data(this.#header);
    }
    // a tap opened before the header arrived gets it with the first media
    if (!this.#header) {
      const original = consumer;
      let sentHeader = false;
      entry.consumer = {
        data: (chunk) => {
          if (!sentHeader && this.#header) {
            sentHeader = true;
            original.data(this.#header);
          }
          original.data(chunk);
        },
        end: () => original.end(),
      };
    }
    this.#taps.add(entry);
    return { close: () => this.#taps.delete(entry) };
  }

  disconnect(reason: string): void {
    this.onDisconnect(reason);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const tap of [...this.#taps]) {
      this.#taps.delete(tap);
      tap.consumer.end();
    }
  }
}
