import type { LiveBroadcast } from './live-broadcast.js';

/**
 * An FLV-tag subscriber of a live broadcast: receives the FLV header,
 * metadata, sequence headers and GOP cache on attach, then every live tag.
 */
export class FlvSubscriber {
  #attached = false;

  constructor(
    private readonly broadcast: LiveBroadcast,
    private readonly onBuffer: (buf: Buffer) => void,
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

  #send = (buf: Buffer): void => {
    if (this.#attached) this.onBuffer(buf);
  };
}
