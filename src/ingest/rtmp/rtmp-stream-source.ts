import type { FeedFormat, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { FlvStartGate } from './flv-start-gate.js';
import { FlvSubscriber } from './flv-subscriber.js';
import type { NmsBroadcast, NmsSession } from './nms-internals.js';

interface PublisherCodecIds {
  readonly videoCodec?: number;
  readonly audioCodec?: number;
}

class RtmpTap implements MediaTap {
  readonly #subscriber: FlvSubscriber;
  #closed = false;

  constructor(
    broadcast: NmsBroadcast,
    private readonly consumer: TapConsumer,
    private readonly onClosed: (tap: RtmpTap) => void,
    audioBufferMax: number,
  ) {
    // node-media-server fills the publisher's codec ids from onMetaData
    const codecs = (): PublisherCodecIds => (broadcast.publisher ?? {}) as PublisherCodecIds;
    const gate = new FlvStartGate({
      videoExpected: () => (codecs().videoCodec ?? 0) > 0,
      audioExpected: () => (codecs().audioCodec ?? 0) > 0,
    }, audioBufferMax);
    this.#subscriber = new FlvSubscriber(broadcast, (buf) => {
      for (const out of gate.push(buf)) consumer.data(out);
    });
    this.#subscriber.attach();
  }

  end(): void {
    if (this.#closed) return;
    this.close();
    this.consumer.end();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriber.detach();
    this.onClosed(this);
  }
}

/** The media of one RTMP publish, as seen through node-media-server's broadcast. */
export class RtmpStreamSource implements StreamSource {
  readonly feedFormat: FeedFormat = 'flv';
  readonly #taps = new Set<RtmpTap>();

  constructor(
    private readonly broadcast: NmsBroadcast,
    private session: NmsSession,
    private readonly audioBufferMax: number,
  ) {}

  get publisherSession(): NmsSession {
    return this.session;
  }

  /** A publisher that came back within the grace window takes over. */
  rebind(session: NmsSession): void {
    this.session = session;
  }

  openTap(consumer: TapConsumer): MediaTap {
    const tap = new RtmpTap(this.broadcast, consumer, (t) => this.#taps.delete(t), this.audioBufferMax);
    this.#taps.add(tap);
    return tap;
  }

  disconnect(_reason: string): void {
    this.session.socket?.destroy();
  }

  /** The publish is over: every open tap ends. */
  end(): void {
    for (const tap of [...this.#taps]) tap.end();
  }
}
