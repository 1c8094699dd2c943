import net from 'node:net';
import type { Logger } from 'pino';
import { Stream } from '../../streams/stream.js';
import { StreamNameTakenError, type StreamRegistry } from '../../streams/stream-registry.js';
import { noteMediaTag } from './flv-media-info.js';
import { describeMediaTag, flvAudioCodecName, flvVideoCodecName, readFlvTag } from './flv-tags.js';
import { FlvSubscriber } from './flv-subscriber.js';
import {
  createNmsRtmpHandler,
  redirectNmsLogger,
  skipUnplayedRtmpMessages,
  type NmsBroadcast,
  type NmsSession,
} from './nms-internals.js';
import { RtmpStreamSource } from './rtmp-stream-source.js';

export interface RtmpIngestOptions {
  readonly port: number;
  readonly bind: string;
  /** How long a publish survives its connection closing (node-media-server's resume window). */
  readonly publishGraceMs: number;
  /** Seconds without media before a publisher is disconnected. */
  readonly idleTimeoutSeconds: number;
  /** record_audio_buffer_max_size: audio frames kept to start a recording in A/V order. */
  readonly audioBufferMax: number;
}

interface LivePublish {
  readonly stream: Stream;
  readonly source: RtmpStreamSource;
  readonly probe: FlvSubscriber;
  readonly broadcast: NmsBroadcast;
  lastMediaAt: number;
}

export class RtmpPortError extends Error {}

function queryValue(query: NmsSession['streamQuery'], key: string): string | undefined {
  const v = query[key];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses the WCS client `record` flag from the publish URL: true, false, or not said. */
export function recordFlagOf(query: NmsSession['streamQuery']): boolean | null {
  const v = queryValue(query, 'record')?.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return null;
}

/**
 * RTMP ingest: node-media-server's RTMP protocol handler embedded on our own
 * listener. Each publish of rtmp://host/APP/NAME becomes a Stream named NAME
 * in the registry, with an RtmpStreamSource as its media tap.
 */
export class RtmpIngest {
  readonly #byPath = new Map<string, LivePublish>();
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #nms: ReturnType<typeof createNmsRtmpHandler> | null = null;

  constructor(
    private readonly options: RtmpIngestOptions,
    private readonly registry: StreamRegistry,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const nmsLog = this.log.child({ component: 'node-media-server' });
    redirectNmsLogger((level, message) => {
      // its "info" lines are per-connection chatter; our own lines say what matters
      if (level === 'error' || level === 'warn') nmsLog.warn(message);
      else nmsLog.debug(message);
    });
    const nms = createNmsRtmpHandler();
    this.#nms = nms;
    nms.events.on('postPublish', this.#onPostPublish);
    nms.events.on('donePublish', this.#onDonePublish);
    const server = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      nms.handler.handleRequest(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${this.options.bind}:${this.options.port}`;
        reject(
          new RtmpPortError(
            err.code === 'EADDRINUSE'
              ? `RTMP port ${where} is already in use (rtmp.port): stop the other process or choose another port`
              : `RTMP listener on ${where} failed: ${err.message}`,
          ),
        );
      });
      server.listen(this.options.port, this.options.bind, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err }, 'RTMP listener error'));
    this.#server = server;
    this.#watchdog = setInterval(this.#checkIdle, 1000);
    this.#watchdog.unref();
    this.log.info({ port: this.options.port }, `RTMP ingest listening on ${this.options.bind}:${this.options.port}`);
  }

  /** Stops accepting and disconnects every publisher; their streams end. */
  async close(): Promise<void> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
    const server = this.#server;
    this.#server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.#sockets) socket.destroy();
    for (const live of [...this.#byPath.values()]) this.#finish(live);
    await closed;
    if (this.#nms) {
      this.#nms.events.off('postPublish', this.#onPostPublish);
      this.#nms.events.off('donePublish', this.#onDonePublish);
      this.#nms = null;
    }
  }

  #onPostPublish = (session: NmsSession): void => {
    if (session.protocol !== 'rtmp' || session.streamPath === '' || !this.#nms) return;
    const broadcast = this.#nms.broadcasts.get(session.streamPath);
    if (!broadcast) return;
    // node-media-server emits postPublish before refusing a second publisher of a live path
    if (broadcast.publisher !== null && broadcast.publisher !== session) {
      this.log.warn({ stream: session.streamName }, `RTMP publish of '${session.streamPath}' refused: already published`);
      return;
    }
    broadcast.publishGraceMs = this.options.publishGraceMs;
    skipUnplayedRtmpMessages(broadcast);
    const existing = this.#byPath.get(session.streamPath);
    if (existing) {
      existing.source.rebind(session);
      existing.lastMediaAt = Date.now();
      this.log.info(
        { stream: existing.stream.name, mediaSessionId: existing.stream.mediaSessionId },
        'RTMP publisher reconnected within the grace window; the publish goes on',
      );
      return;
    }
    const source = new RtmpStreamSource(broadcast, session, this.options.audioBufferMax);
    const stream = new Stream({
      name: session.streamName,
      app: session.streamApp,
      mediaProvider: 'Flash',
      login: queryValue(session.streamQuery, 'login') ?? '',
      recordRequested: recordFlagOf(session.streamQuery),
      source,
      connectionId: `/${session.ip}/${session.id}`,
    });
    const live: LivePublish = {
      stream,
      source,
      broadcast,
      lastMediaAt: Date.now(),
      probe: new FlvSubscriber(broadcast, (buf) => this.#probe(live, buf)),
    };
    // the probe subscribes first, so codecs are known before any recorder sees the same tag
    live.probe.attach();
    this.#byPath.set(session.streamPath, live);
    try {
      this.registry.publish(stream);
    } catch (err) {
      this.#byPath.delete(session.streamPath);
      live.probe.detach();
      if (err instanceof StreamNameTakenError) {
        this.log.warn({ stream: stream.name }, `RTMP publish refused: ${err.message}`);
        queueMicrotask(() => session.socket?.destroy());
        return;
      }
      throw err;
    }
    this.log.info(
      { stream: stream.name, mediaSessionId: stream.mediaSessionId, app: stream.app, remote: session.ip },
      'RTMP stream published',
    );
  };

  #onDonePublish = (session: NmsSession): void => {
    const live = this.#byPath.get(session.streamPath);
    if (!live || live.source.publisherSession !== session) return;
    this.#finish(live);
  };

  #finish(live: LivePublish): void {
    if (this.#byPath.get(live.broadcast.streamPath) !== live) return;
    this.#byPath.delete(live.broadcast.streamPath);
    live.probe.detach();
    live.source.end();
    this.registry.unpublish(live.stream);
    this.log.info({ stream: live.stream.name, mediaSessionId: live.stream.mediaSessionId }, 'RTMP stream unpublished');
  }

  /** Reads codecs and picture size from the feed, and notes that media arrives. */
  #probe(live: LivePublish, buf: Buffer): void {
    const tag = readFlvTag(buf);
    if (!tag) return;
    const info = live.stream.media;
    const media = describeMediaTag(tag);
    if (!media) {
      // onMetaData: node-media-server has read the announced codec ids into the publisher
      const announced = live.broadcast.publisher as { audioCodec?: number; videoCodec?: number } | null;
      if (info.audioCodec === '' && announced?.audioCodec) info.audioCodec = flvAudioCodecName(announced.audioCodec);
      if (info.videoCodec === '' && announced?.videoCodec) info.videoCodec = flvVideoCodecName(announced.videoCodec);
      return;
    }
    live.lastMediaAt = Date.now();
    noteMediaTag(info, tag, media);
  }

  #checkIdle = (): void => {
    const limit = this.options.idleTimeoutSeconds * 1000;
    const now = Date.now();
    for (const live of this.#byPath.values()) {
      if (live.broadcast.getPublishStatus() !== 'publishing') continue;
      if (now - live.lastMediaAt > limit) {
        this.log.warn(
          { stream: live.stream.name, mediaSessionId: live.stream.mediaSessionId },
          `RTMP publisher sent no media for ${this.options.idleTimeoutSeconds} s; disconnecting it`,
        );
        live.lastMediaAt = now;
        live.source.disconnect('idle');
      }
    }
  };
}
