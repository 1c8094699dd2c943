import { randomUUID } from 'node:crypto';
import type { NmsBroadcast, NmsSubscriber } from './nms-internals.js';

/**
 * An internal subscriber of a node-media-server broadcast: receives the FLV
 * header, codec headers and GOP cache on attach, then every live tag.
 */
export class FlvSubscriber implements NmsSubscriber {
  readonly id = `wcs-${randomUUID()}`;
  readonly ip = '';
  readonly protocol = 'flv' as const;
  readonly streamPath: string;
  endTime = 0;
  #attached = false;

  constructor(
    private readonly broadcast: NmsBroadcast,
    private readonly onBuffer: (buf: Buffer) => void,
  ) {
    this.streamPath = broadcast.streamPath;
  }

  attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    const err = this.broadcast.postPlay(this);
    if (err !== null) throw new Error(err);
  }

  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.broadcast.donePlay(this);
  }

  sendBuffer = (buf: Buffer): void => {
    if (this.#attached) this.onBuffer(buf);
  };
}
