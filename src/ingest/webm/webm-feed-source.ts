import type { Readable } from 'node:stream';
import type { MediaChunk, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { WebmChunker, type WebmTrack } from './webm-chunker.js';

/**
 * A stream source fed by a live WebM/Matroska byte stream (for example an
 * ffmpeg that turns a WebRTC publisher's RTP into `-f webm -live 1 -dash 1`).
 * Keeps the header and the clusters since the last keyframe, so a tap opened
 * mid-stream starts on a keyframe, like node-media-server's GOP cache.
 */
export class WebmFeedSource implements StreamSource {
  readonly feedFormat = 'webm' as const;
  readonly #chunker = new WebmChunker();
  readonly #taps = new Set<{ consumer: TapConsumer }>();
  #header: MediaChunk | null = null;
  #gop: MediaChunk[] = [];
  #ended = false;

  constructor(
    input: Readable,
    private readonly onTracks: (tracks: readonly WebmTrack[]) => void,
    private readonly onDisconnect: (reason: string) => void,
  ) {
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
    for (const chunk of chunks) {
      if (chunk.kind === 'header') {
        this.#header = chunk;
        this.onTracks(this.#chunker.tracks);
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
