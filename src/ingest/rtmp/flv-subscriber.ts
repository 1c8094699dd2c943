import type { FlvSink, LiveBroadcast } from './live-broadcast.js';

/**
 * An FLV-tag subscriber of a live broadcast: receives the FLV header,
 * metadata, sequence headers and GOP cache on attach, then every live tag.
 */
export class FlvSubscriber {
  #attached = false;

  constructor(
    private readonly broadcast: LiveBroadcast,
    private readonly onBuffer: FlvSink,
  ) {}

  attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    this.broadcast.addFlv(this.#send);
  }

  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.broadcast.removeFlv(this.#send);
  }

  #send: FlvSink = (buf, kind, timestampMs) => {
    if (this.#attached) this.onBuffer(buf, kind, timestampMs);
  };
}
