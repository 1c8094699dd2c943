/**
 * How a Stream hands its media to a consumer, whatever the protocol: an FLV
 * byte feed that starts with an FLV file header, the codec configuration and
 * the media from a keyframe, then carries every live tag.
 */
export interface TapConsumer {
  /** Each chunk of the FLV feed, in order. */
  data(chunk: Buffer): void;
  /** Once, when the source ends (publisher gone). Not called after close(). */
  end(): void;
}

export interface MediaTap {
  /** Detaches from the source; nothing is delivered afterwards. */
  close(): void;
}

export interface StreamSource {
  /** Opens a new tap on the live media; the consumer may be called synchronously. */
  openTap(consumer: TapConsumer): MediaTap;
  /** Disconnects the publisher (the stream then ends). */
  disconnect(reason: string): void;
}
