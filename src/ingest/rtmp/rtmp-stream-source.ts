import type { FeedFormat, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { FlvStartGate } from './flv-start-gate.js';
import { FlvSubscriber } from './flv-subscriber.js';
import type { BroadcastPublisher, LiveBroadcast } from './live-broadcast.js';

/** The connection that publishes (it may change within the grace window). */
export interface RtmpPublisherHandle extends BroadcastPublisher {
  disconnect(): void;
}

class RtmpTap implements MediaTap {
  readonly #subscriber: FlvSubscriber;
  #closed = false;

  constructor(
    broadcast: LiveBroadcast,
    private readonly consumer: TapConsumer,
    private readonly onClosed: (tap: RtmpTap) => void,
    audioBufferMax: number,
  ) {
    // the codec ids onMetaData announced
    const gate = new FlvStartGate({
      videoExpected: () => broadcast.videoCodecId > 0,
      audioExpected: () => broadcast.audioCodecId > 0,
    }, audioBufferMax);
    this.#subscriber = new FlvSubscriber(broadcast, (buf, kind, timestampMs) => {
      for (const out of gate.pushTag(buf, kind, timestampMs)) consumer.data(out);
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

/** The media of one RTMP publish, as its live broadcast hands it out. */
export class RtmpStreamSource implements StreamSource {
  readonly feedFormat: FeedFormat = 'flv';
  readonly #taps = new Set<RtmpTap>();

  constructor(
    private readonly broadcast: LiveBroadcast,
    private session: RtmpPublisherHandle,
    private readonly audioBufferMax: number,
  ) {}

  get publisherSession(): RtmpPublisherHandle {
    return this.session;
  }

  /** A publisher that came back within the grace window takes over. */
  rebind(session: RtmpPublisherHandle): void {
    this.session = session;
  }

  openTap(consumer: TapConsumer): MediaTap {
    const tap = new RtmpTap(this.broadcast, consumer, (t) => this.#taps.delete(t), this.audioBufferMax);
    this.#taps.add(tap);
    return tap;
  }

  disconnect(_reason: string): void {
    this.session.disconnect();
  }

  /** The publish is over: every open tap ends. */
  end(): void {
    for (const tap of [...this.#taps]) tap.end();
  }
}
