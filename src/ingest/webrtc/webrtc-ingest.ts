import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { MediaChunk, MediaTap, StreamSource, TapConsumer } from '../../streams/media-tap.js';
import { Stream } from '../../streams/stream.js';
import { StreamNameTakenError, type StreamRegistry } from '../../streams/stream-registry.js';
import { WebmFeedSource } from '../webm/webm-feed-source.js';
import type { RtpTarget, WebRtcEngine, WebRtcSession } from './engine.js';
import type { PortPool } from './port-pool.js';
import { RtpFeed } from './rtp-feed.js';
import { checkOffer, checkOfferText } from './offer-check.js';
import { chooseTracks, feedSdp, parseSdp, type FeedTrack } from './sdp.js';

export interface WebRtcIngestOptions {
  readonly ffmpeg: string;
  /** webrtc_publisher_idle_timeout: seconds without RTP after which a publish ends. */
  readonly idleTimeoutSeconds: number;
}

export interface PublishRequest {
  readonly streamName: string;
  /** The WCS `login` (?login= of the WHIP URL; '' when none). */
  readonly login?: string;
  readonly offer: string;
  /** The WCS client `record` flag, or null when not given. */
  readonly record: boolean | null;
  /** The publisher's address, for {sessionId} and the log. */
  readonly remote: string;
}

export interface PublishResult {
  /** The WHIP session id (the resource is /whip/<stream>/<sessionId>). */
  readonly sessionId: string;
  readonly mediaSessionId: string;
  readonly answer: string;
}

export class UnknownSessionError extends Error {}
/** The server is shutting down: no new publish. */
export class IngestClosedError extends Error {}

/** How often a keyframe request is repeated until the keyframe arrives. */
const KEYFRAME_RETRY_MS = 1000;
/** How long the feed ffmpeg may take to write its last cluster after SIGINT. */
const FEED_STOP_MS = 3000;

/** A WebRTC publish as a stream source: the feed's WebM chunks, plus keyframe requests to the publisher. */
class WebRtcStreamSource implements StreamSource {
  readonly feedFormat = 'webm' as const;
  #keyframeWanted = false;
  #retry: NodeJS.Timeout | null = null;
  feed: WebmFeedSource | null = null;

  constructor(
    private readonly session: WebRtcSession,
    private readonly onDisconnect: (reason: string) => void,
    private readonly log: Logger,
  ) {}

  openTap(consumer: TapConsumer): MediaTap {
    if (!this.feed) throw new Error('WebRTC feed not started');
    return this.feed.openTap(consumer);
  }

  disconnect(reason: string): void {
    this.onDisconnect(reason);
  }

  requestKeyframe(): void {
    if (this.#keyframeWanted) return;
    this.#keyframeWanted = true;
    this.session.requestKeyframe();
    this.#retry = setInterval(() => this.session.requestKeyframe(), KEYFRAME_RETRY_MS);
    this.#retry.unref();
  }

  onChunk(chunk: MediaChunk): void {
    if (chunk.kind === 'media' && chunk.keyframe) this.log.debug({ timestampMs: chunk.timestampMs }, 'Keyframe cluster');
    if (chunk.kind === 'media' && chunk.keyframe && this.#keyframeWanted) {
      this.#keyframeWanted = false;
      if (this.#retry) clearInterval(this.#retry);
      this.#retry = null;
    }
  }

  close(): void {
    if (this.#retry) clearInterval(this.#retry);
    this.#retry = null;
  }
}

interface Publish {
  readonly id: string;
  readonly stream: Stream;
  readonly session: WebRtcSession;
  readonly feed: RtpFeed;
  readonly source: WebRtcStreamSource;
  readonly ports: number[];
  readonly createdAt: number;
  readonly log: Logger;
  ending: Promise<void> | null;
}

/**
 * WebRTC ingest: each publisher's offer is answered by the engine, its
 * recorded tracks' RTP goes to an owned feed ffmpeg (RTP -> live
 * WebM/Matroska, by copy), and the feed becomes a Stream in the registry
 * with mediaProvider "WebRTC". A publish ends on request (WHIP DELETE,
 * REST terminate), when the connection fails or closes, when the feed
 * stops, or after webrtc_publisher_idle_timeout seconds without RTP.
 */
export class WebRtcIngest {
  readonly #publishes = new Map<string, Publish>();
  /** Names being negotiated, so two offers for one name cannot both win. */
  readonly #pendingNames = new Set<string>();
  #watchdog: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    private readonly options: WebRtcIngestOptions,
    readonly engine: WebRtcEngine,
    private readonly ports: PortPool,
    private readonly registry: StreamRegistry,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.engine.start();
  }

  /** The idle watchdog runs while there are publishes: with none, it would only wake an idle daemon every second (issue 20). */
  #watch(): void {
    if (this.#publishes.size > 0 && this.#watchdog === null && !this.#closed) {
      this.#watchdog = setInterval(() => this.#checkIdle(), 1000);
      this.#watchdog.unref();
    } else if (this.#publishes.size === 0 && this.#watchdog !== null) {
      clearInterval(this.#watchdog);
      this.#watchdog = null;
    }
  }

  /** Whether the idle watchdog is running (tests). */
  get watching(): boolean {
    return this.#watchdog !== null;
  }

  /** The publish of a WHIP session, if it is live. */
  /** Publish sessions now (metrics). */
  get sessionCount(): number {
    return this.#publishes.size;
  }

  sessionOf(sessionId: string): { streamName: string; mediaSessionId: string } | undefined {
    const p = this.#publishes.get(sessionId);
    return p ? { streamName: p.stream.name, mediaSessionId: p.stream.mediaSessionId } : undefined;
  }

  /**
   * Answers a publisher's offer and registers its stream. Throws SdpError
   * (bad SDP), UnsupportedOfferError (nothing recordable),
   * StreamNameTakenError (the name is publishing), PortsExhaustedError.
   */
  async publish(request: PublishRequest): Promise<PublishResult> {
    if (this.#closed) throw new IngestClosedError('The server is shutting down');
    checkOfferText(request.offer);
    const parsed = parseSdp(request.offer);
    checkOffer(parsed);
    const tracks = chooseTracks(parsed);
    const name = request.streamName;
    if (this.registry.byName(name) || this.#pendingNames.has(name)) throw new StreamNameTakenError(`Stream '${name}' is already published`);
    this.#pendingNames.add(name);
    const ports: number[] = [];
    let session: WebRtcSession | null = null;
    let created: Publish | null = null;
    try {
      const targets: RtpTarget[] = [];
      for (const track of tracks) {
        const port = await this.ports.allocatePair();
        ports.push(port);
        targets.push({ track, rtpPort: port });
      }
      session = await this.engine.createSession({ offer: request.offer, streamName: name, targets });
      const id = randomUUID();
      const video = tracks.find((t) => t.kind === 'video');
      const feedTracks: FeedTrack[] = session.forwarded.map((f) => {
        const chosen = targets.find((t) => t.rtpPort === f.rtpPort)!.track;
        return { kind: f.kind, port: f.rtpPort, payloadType: f.payloadType, codec: chosen.name, clockRate: f.clockRate, channels: f.channels, fmtp: f.fmtp };
      });
      const live = session;
      const source = new WebRtcStreamSource(live, (reason) => void this.unpublish(id, reason).catch(() => undefined), this.log.child({ stream: name }));
      const stream = new Stream({
        name,
        app: 'whip',
        mediaProvider: 'WebRTC',
        login: request.login ?? '',
        recordRequested: request.record,
        source,
        connectionId: `/${request.remote}/${id}`,
      });
      stream.media.videoCodec = video?.name ?? '';
      stream.media.audioCodec = tracks.find((t) => t.kind === 'audio')?.name ?? '';
      const log = this.log.child({ stream: name, mediaSessionId: stream.mediaSessionId, engine: this.engine.name });
      const feed = new RtpFeed(
        {
          ffmpeg: this.options.ffmpeg,
          sdp: feedSdp(feedTracks),
          container: video?.name === 'H264' ? 'matroska' : 'webm',
          listenTimeoutSeconds: this.options.idleTimeoutSeconds + 5,
          rtpPorts: feedTracks.map((t) => t.port),
        },
        (line) => log.warn({ ffmpeg: line }, 'WebRTC feed message'),
      );
      source.feed = new WebmFeedSource(
        feed.output,
        (found) => {
          for (const t of found) {
            if (t.kind === 'video') {
              stream.media.videoCodec = t.codec;
              stream.media.width = t.width ?? 0;
              stream.media.height = t.height ?? 0;
            }
            if (t.kind === 'audio') stream.media.audioCodec = t.codec;
          }
        },
        (reason) => source.disconnect(reason),
        {
          keepGop: false,
          splitAtKeyframes: true,
          timestampOffsetMs: () => live.firstPacketClockMs ?? Date.now(),
          onChunk: (chunk) => source.onChunk(chunk),
        },
      );
      const publish: Publish = { id, stream, session: live, feed, source, ports, createdAt: Date.now(), log, ending: null };
      created = publish;
      this.#publishes.set(id, publish);
      this.#watch();
      live.once('closed', (reason) => void this.#end(publish, reason));
      live.once('rtp-ready', () => log.info('WebRTC media flowing'));
      // the feed ffmpeg only once ICE connects: an offer that never connects costs no process
      const startFeed = (): void => {
        if (publish.ending) return;
        const listening = feed.start();
        log.info({ sessionId: id, feedPid: feed.pid }, 'WebRTC ICE connected; feed started');
        void listening.then((ok) => {
          if (publish.ending) return;
          if (!ok) log.warn({ sessionId: id, feedPid: feed.pid }, 'The feed ffmpeg was not seen listening on its RTP ports; media let through anyway');
          live.feedReady();
        });
      };
      if (live.iceConnected) startFeed();
      else live.once('ice-connected', startFeed);
      void feed.exited.then((exit) => {
        if (!publish.ending) {
          log.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-3) }, 'WebRTC feed ffmpeg exited');
          void this.#end(publish, 'feed ended');
        }
      });
      this.#pendingNames.delete(name);
      this.registry.publish(stream);
      log.info(
        { sessionId: id, remote: request.remote, tracks: feedTracks.map((t) => `${t.kind}:${t.codec}/${t.payloadType}->${t.port}`), record: request.record },
        'WebRTC stream published',
      );
      return { sessionId: id, mediaSessionId: stream.mediaSessionId, answer: live.answer };
    } catch (err) {
      this.#pendingNames.delete(name);
      if (created) {
        // the name was taken meanwhile (an RTMP publish): the feed and the session go
        await this.#end(created, `publish failed: ${(err as Error).message}`);
      } else {
        for (const port of ports) this.ports.release(port);
        await session?.close('publish failed');
      }
      throw err;
    }
  }

  /** Ends a WHIP session: its recording gets the last media and finishes. */
  async unpublish(sessionId: string, reason: string): Promise<void> {
    const publish = this.#publishes.get(sessionId);
    if (!publish) throw new UnknownSessionError(`No WebRTC session ${sessionId}`);
    await this.#end(publish, reason);
  }

  #end(publish: Publish, reason: string): Promise<void> {
    publish.ending ??= this.#stop(publish, reason);
    return publish.ending;
  }

  async #stop(p: Publish, reason: string): Promise<void> {
    p.log.info({ reason, sessionId: p.id }, 'WebRTC stream ending');
    p.source.close();
    // SIGINT while RTP still flows: ffmpeg writes its last cluster, then the feed ends
    const outputEnded = new Promise<void>((resolve) => {
      if (p.feed.output.readableEnded) resolve();
      p.feed.output.once('end', () => resolve());
      p.feed.output.once('close', () => resolve());
    });
    const stopped = p.feed.stop(FEED_STOP_MS);
    // when RTP no longer flows (idle, connection gone) ffmpeg acts on the SIGINT only at its next
    // packet: give it the last audio packet again until it exits, so its last frames are written
    const nudge = setInterval(() => p.session.nudgeFeed(), 100);
    try {
      await stopped;
    } finally {
      clearInterval(nudge);
    }
    await Promise.race([outputEnded, new Promise((r) => setTimeout(r, 1000))]);
    p.source.feed?.end();
    this.registry.unpublish(p.stream);
    await p.session.close(reason);
    for (const port of p.ports) this.ports.release(port);
    this.#publishes.delete(p.id);
    this.#watch();
    p.log.info({ reason, sessionId: p.id }, 'WebRTC stream unpublished');
  }

  #checkIdle(): void {
    const limit = this.options.idleTimeoutSeconds * 1000;
    const now = Date.now();
    for (const p of this.#publishes.values()) {
      if (p.ending) continue;
      const last = Math.max(p.session.lastRtpAt, p.createdAt);
      if (now - last > limit) {
        p.log.warn({ sessionId: p.id }, `No RTP from the WebRTC publisher for ${this.options.idleTimeoutSeconds} s (webrtc_publisher_idle_timeout); ending it`);
        void this.#end(p, 'idle');
      }
    }
  }

  /** Ends every publish (their recordings finish), then the engine. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
    await Promise.all([...this.#publishes.values()].map((p) => this.#end(p, 'server shutdown')));
    await this.engine.close();
  }
}
