/**
 * How a Stream hands its media to a consumer, whatever the protocol: a byte
 * feed in a container ffmpeg reads (FLV for RTMP and cameras, WebM for VP8),
 * cut into chunks that say what they are, so a consumer can start (and
 * restart, for rotation) on a keyframe with the codec configuration.
 */
export type FeedFormat = 'flv' | 'webm';

export type ChunkKind =
  /** Start of the feed (FLV file header; EBML header + Segment + Tracks). Replayed at each new part. */
  | 'header'
  /** Codec configuration (FLV sequence headers). Replayed at each new part. */
  | 'config'
  /** Media data (FLV tag; WebM cluster). */
  | 'media';

export interface MediaChunk {
  readonly kind: ChunkKind;
  readonly data: Buffer;
  /** For media: the track it carries (a WebM cluster may carry both: 'av'). */
  readonly track: 'audio' | 'video' | 'av' | 'none';
  /** For media: a part may start here (video keyframe; any audio chunk of an audio-only feed). */
  readonly keyframe: boolean;
  /** For media: the stream's own timestamp of the chunk, in ms. */
  readonly timestampMs: number;
  /** For media: the stream's own timestamp of the chunk's last frame, in ms (same as timestampMs for one frame). */
  readonly endTimestampMs: number;
  /**
   * For media of several frames of both tracks (a WebM cluster): the
   * timestamp of its last video frame, in ms. A WebRTC feed may write audio
   * ahead of the video of the same instant (until the tracks' sender reports
   * line them up), so this is the one to place the chunk on a wall clock by.
   */
  readonly videoEndTimestampMs?: number;
}

export interface TapConsumer {
  /** Each chunk of the feed, in order; the first ones are header and config. */
  data(chunk: MediaChunk): void;
  /** Once, when the source ends (publisher gone). Not called after close(). */
  end(): void;
}

export interface MediaTap {
  /** Detaches from the source; nothing is delivered afterwards. */
  close(): void;
}

export interface StreamSource {
  /** The container of the feed a tap delivers. */
  readonly feedFormat: FeedFormat;
  /** Opens a new tap on the live media; the consumer may be called synchronously. */
  openTap(consumer: TapConsumer): MediaTap;
  /** Disconnects the publisher (the stream then ends). */
  disconnect(reason: string): void;
  /**
   * Asks the publisher for a keyframe (WebRTC: PLI/FIR), so a recording or a
   * rotated part can start soon; absent where keyframes come on their own.
   */
  requestKeyframe?(): void;
}
