import net from 'node:net';
import type { Logger } from 'pino';
import { Stream } from '../../streams/stream.js';
import { StreamNameTakenError, type StreamRegistry } from '../../streams/stream-registry.js';
import { noteMediaTag } from './flv-media-info.js';
import { describeMediaTag, flvAudioCodecName, flvVideoCodecName, readFlvTag } from './flv-tags.js';
import { FlvSubscriber } from './flv-subscriber.js';
import { ConnectionLimits, LogThrottle } from './connection-limits.js';
import { guardRtmpSession } from './rtmp-guard.js';
import {
  createNmsRtmpHandler,
  createNmsRtmpSession,
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
  /** rtmp_publish_timeout: seconds a connection may take to publish (or play) before it is closed. */
  readonly publishTimeoutSeconds: number;
  /** rtmp_max_connections */
  readonly maxConnections: number;
  /** rtmp_max_connections_per_ip */
  readonly maxConnectionsPerIp: number;
  /** rtmp_max_message_size */
  readonly maxMessageSize: number;
  /** rtmp_play_enabled */
  readonly playEnabled: boolean;
  /** records_access_token: `play` must carry ?token=<it> when set. */
  readonly playToken: string;
}

/** node-media-server's error lines about what a client sent (amf.js), one per message. */
const CLIENT_CHATTER = /^(Unknown (command|field|data)|Failed to decode AMF0)/;

/** Bytes queued for a client that does not read (a stalled player) before it is closed. */
export const MAX_WRITE_BACKLOG = 64 * 1024 * 1024;

/** One accepted RTMP connection, as the log names it. */
interface RtmpConnection {
  readonly socket: net.Socket;
  /** address:port of the client */
  readonly peer: string;
  stream: string | null;
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
  readonly #connections = new Set<RtmpConnection>();
  readonly #limits: ConnectionLimits;
  /** One log line per second and client address for refused connections. */
  readonly #refusedLog = new Map<string, LogThrottle>();
  #server: net.Server | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #nms: ReturnType<typeof createNmsRtmpHandler> | null = null;

  constructor(
    private readonly options: RtmpIngestOptions,
    private readonly registry: StreamRegistry,
    private readonly log: Logger,
  ) {
    this.#limits = new ConnectionLimits(options.maxConnections, options.maxConnectionsPerIp);
  }

  async start(): Promise<void> {
    const nmsLog = this.log.child({ component: 'node-media-server' });
    redirectNmsLogger((level, message) => {
      // its "info" lines are per-connection chatter; our own lines say what matters. Its AMF
      // decoder's complaints ("Unknown command") come once per message a client sends, name no
      // peer and would let one client fill the log: debug too
      if ((level === 'error' || level === 'warn') && !CLIENT_CHATTER.test(message)) nmsLog.warn(message);
      else nmsLog.debug(message);
    });
    const nms = createNmsRtmpHandler();
    this.#nms = nms;
    nms.events.on('postPublish', this.#onPostPublish);
    nms.events.on('donePublish', this.#onDonePublish);
    const server = net.createServer((socket) => this.#accept(socket));
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
    for (const connection of this.#connections) connection.socket.destroy();
    for (const live of [...this.#byPath.values()]) this.#finish(live);
    await closed;
    if (this.#nms) {
      this.#nms.events.off('postPublish', this.#onPostPublish);
      this.#nms.events.off('donePublish', this.#onDonePublish);
      this.#nms = null;
    }
  }

  /** Admits a connection within the limits and hands it to node-media-server behind the guard. */
  #accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    const peer = `${address}:${socket.remotePort ?? 0}`;
    const refusal = this.#limits.admit(address);
    if (refusal !== null) {
      if (this.#refusedLog.size > 1000) this.#refusedLog.clear();
      let throttle = this.#refusedLog.get(address);
      if (!throttle) this.#refusedLog.set(address, (throttle = new LogThrottle(1000)));
      const skipped = throttle.take();
      if (skipped !== null) {
        this.log.warn(
          { peer, skipped },
          `RTMP connection from ${peer} refused: ${refusal}${skipped > 0 ? ` (${skipped} more refused since the last line)` : ''}`,
        );
      }
      socket.destroy();
      return;
    }
    const connection: RtmpConnection = { socket, peer, stream: null };
    this.#connections.add(connection);
    const timeout = setTimeout(() => {
      this.log.warn({ peer }, `RTMP connection ${peer} closed: it did not publish within ${this.options.publishTimeoutSeconds} s (rtmp_publish_timeout)`);
      socket.destroy();
    }, this.options.publishTimeoutSeconds * 1000);
    timeout.unref();
    socket.on('close', () => {
      clearTimeout(timeout);
      this.#connections.delete(connection);
      this.#limits.release(address);
    });
    const { session, start } = createNmsRtmpSession(socket);
    guardRtmpSession(
      session,
      { maxMessageSize: this.options.maxMessageSize, playEnabled: this.options.playEnabled, playToken: this.options.playToken },
      {
        started: (kind, name) => {
          clearTimeout(timeout);
          connection.stream = name;
          if (kind === 'play') this.log.info({ peer, stream: name }, `RTMP play of '${name}' by ${peer}`);
        },
        refused: (reason, unexpected) => {
          const said = unexpected ? `node-media-server failed on its input (${reason})` : reason;
          this.log.warn(
            { peer, stream: connection.stream ?? undefined, unexpected },
            `RTMP connection ${peer}${connection.stream !== null ? ` (stream '${connection.stream}')` : ''} closed: ${said}`,
          );
          socket.destroy();
        },
      },
    );
    start();
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
    for (const connection of this.#connections) {
      if (connection.socket.writableLength > MAX_WRITE_BACKLOG) {
        this.log.warn(
          { peer: connection.peer, stream: connection.stream ?? undefined },
          `RTMP connection ${connection.peer} closed: it does not read; ${connection.socket.writableLength} bytes queued`,
        );
        connection.socket.destroy();
      }
    }
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
