import net from 'node:net';
import type { Logger } from 'pino';
import { Stream } from '../../streams/stream.js';
import { StreamNameTakenError, type StreamRegistry } from '../../streams/stream-registry.js';
import { noteMediaTag } from './flv-media-info.js';
import { describeMediaTag, flvAudioCodecName, flvVideoCodecName, readFlvTag } from './flv-tags.js';
import { FlvSubscriber } from './flv-subscriber.js';
import { ConnectionLimits, LogThrottle } from './connection-limits.js';
import { LiveBroadcast, TagKind, type BroadcastEvents, type BroadcastPublisher } from './live-broadcast.js';
import { RtmpSession, type RtmpSessionHost, type StreamQuery } from './rtmp-session.js';
import { RtmpStreamSource } from './rtmp-stream-source.js';
import { ReadTurns } from './read-turns.js';
import { adoptWithSharedReads, SHARED_READ_SIZE } from './socket-reads.js';
import { FLV_TAG_HEADER_SIZE, LARGE_TAG_MAX, SLAB_MAX_TAG, SLAB_SIZE } from './tag-slab.js';
import { SizeClassPools, SlabPool, sumStats, type SlabPoolStats } from '../../util/slab-pool.js';

export interface RtmpIngestOptions {
  readonly port: number;
  readonly bind: string;
  /** How long a publish survives its connection closing (rtmp_publish_grace_ms: the resume window). */
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
  /** Fill recycled slabs with a pattern (tests: WCS_SLAB_POISON=1), so a tag used after it was let go shows. */
  readonly poisonSlabs?: boolean;
}

/**
 * Slabs the pool keeps per connection (beyond a base): a stream lets go of
 * several at each keyframe (its GOP cache) and takes them again within the
 * next GOP, so a few per connection let the pool serve that churn; what a
 * burst left beyond that goes at the next trim.
 */
const FREE_SLABS_BASE = 8;
const FREE_SLABS_PER_CONNECTION = 4;
/** Free regions kept per size class for keyframes above a quarter slab (plus one per 8 connections). */
const LARGE_FREE_EACH_BASE = 2;
/** Seconds between two trims of the slab pool (slabs unused that long are let go). */
const SLAB_TRIM_SECONDS = 10;

/** Bytes queued for a client that does not read (a stalled player) before it is closed. */
export const MAX_WRITE_BACKLOG = 64 * 1024 * 1024;

/** One accepted RTMP connection, as the log names it. */
interface RtmpConnection {
  readonly socket: net.Socket;
  /** address:port of the client */
  readonly peer: string;
  stream: string | null;
  timeout: NodeJS.Timeout;
}

interface LivePublish {
  readonly stream: Stream;
  readonly source: RtmpStreamSource;
  readonly probe: FlvSubscriber;
  readonly broadcast: LiveBroadcast;
  lastMediaAt: number;
  /** What the probe last read in full of each track: the FLV audio format and video codec id (-1: none, or enhanced RTMP). */
  probedAudioFormat: number;
  probedVideoCodecId: number;
}

export class RtmpPortError extends Error {}

function queryValue(query: StreamQuery, key: string): string | undefined {
  const v = query[key];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses the WCS client `record` flag from the publish URL: true, false, or not said. */
export function recordFlagOf(query: StreamQuery): boolean | null {
  const v = queryValue(query, 'record')?.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return null;
}

/**
 * RTMP ingest: our RTMP sessions (rtmp-session.ts) on our own listener, one
 * live broadcast per stream path. Each publish of rtmp://host/APP/NAME
 * becomes a Stream named NAME in the registry, with an RtmpStreamSource as
 * its media tap.
 */
export class RtmpIngest {
  readonly #byPath = new Map<string, LivePublish>();
  readonly #connections = new Set<RtmpConnection>();
  readonly #limits: ConnectionLimits;
  /** One log line per second and client address for refused connections. */
  readonly #refusedLog = new Map<string, LogThrottle>();
  readonly #broadcasts = new Map<string, LiveBroadcast>();
  /** Every connection's reads land here, one at a time (socket-reads.ts). */
  readonly #readBuffer = Buffer.allocUnsafe(SHARED_READ_SIZE);
  /** Where every connection's audio and video messages are read into (tag-slab.ts); #large for keyframes above a quarter slab. */
  readonly #slabs: SlabPool;
  readonly #large: SizeClassPools;
  /** What all connections read per turn of the event loop. */
  readonly #turns = new ReadTurns();
  #server: net.Server | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #watchdogTicks = 0;

  constructor(
    private readonly options: RtmpIngestOptions,
    private readonly registry: StreamRegistry,
    private readonly log: Logger,
  ) {
    this.#limits = new ConnectionLimits(options.maxConnections, options.maxConnectionsPerIp);
    this.#slabs = new SlabPool(SLAB_SIZE, FREE_SLABS_BASE, options.poisonSlabs ?? false);
    this.#large = new SizeClassPools(2 * SLAB_MAX_TAG, LARGE_TAG_MAX, LARGE_FREE_EACH_BASE, options.poisonSlabs ?? false);
  }

  /** What the slab pools have done (POST /rest-api/server/stats). */
  get slabStats(): SlabPoolStats {
    return sumStats([this.#slabs.stats, this.#large.stats]);
  }

  #limitPools(): void {
    this.#slabs.limit(FREE_SLABS_BASE + FREE_SLABS_PER_CONNECTION * this.#connections.size);
    this.#large.limit(LARGE_FREE_EACH_BASE + Math.ceil(this.#connections.size / 8));
  }

  async start(): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
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
    for (const broadcast of [...this.#broadcasts.values()]) broadcast.finish();
    for (const live of [...this.#byPath.values()]) this.#finish(live);
    await closed;
    this.#slabs.limit(0);
    this.#large.limit(0);
  }

  /** Admits a connection within the limits and starts its RTMP session. */
  #accept(accepted: net.Socket): void {
    const address = accepted.remoteAddress ?? '';
    const peer = `${address}:${accepted.remotePort ?? 0}`;
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
      accepted.destroy();
      return;
    }
    let session: RtmpSession | null = null;
    const adopted = adoptWithSharedReads(accepted, this.#readBuffer, (data, bytes) => session?.read(data, bytes));
    const socket = adopted ?? accepted;
    const timeout = setTimeout(() => {
      this.log.warn({ peer }, `RTMP connection ${peer} closed: it did not publish within ${this.options.publishTimeoutSeconds} s (rtmp_publish_timeout)`);
      socket.destroy();
    }, this.options.publishTimeoutSeconds * 1000);
    timeout.unref();
    const connection: RtmpConnection = { socket, peer, stream: null, timeout };
    this.#connections.add(connection);
    this.#limitPools();
    this.#wakeWatchdog();
    socket.on('close', () => {
      clearTimeout(timeout);
      this.#connections.delete(connection);
      this.#limitPools();
      this.#limits.release(address);
    });
    session = new RtmpSession(
      socket,
      { maxMessageSize: this.options.maxMessageSize, playEnabled: this.options.playEnabled, playToken: this.options.playToken },
      this.#sessionHost(connection),
      this.#slabs,
      this.#large,
      this.#turns,
    );
    session.start(adopted === null);
    if (adopted === null) accepted.resume();
  }

  #sessionHost(connection: RtmpConnection): RtmpSessionHost {
    const { peer, socket } = connection;
    return {
      started: (_session, kind, name) => {
        clearTimeout(connection.timeout);
        connection.stream = name;
        if (kind === 'play') this.log.info({ peer, stream: name }, `RTMP play of '${name}' by ${peer}`);
      },
      refused: (_session, reason, unexpected) => {
        const said = unexpected ? `the RTMP session failed on its input (${reason})` : reason;
        this.log.warn(
          { peer, stream: connection.stream ?? undefined, unexpected },
          `RTMP connection ${peer}${connection.stream !== null ? ` (stream '${connection.stream}')` : ''} closed: ${said}`,
        );
        socket.destroy();
      },
      publish: (session) => this.#publish(session),
      play: (session) => this.#broadcastOf(session.streamPath),
    };
  }

  #broadcastOf(path: string): LiveBroadcast {
    let broadcast = this.#broadcasts.get(path);
    if (broadcast === undefined) {
      broadcast = new LiveBroadcast(path, this.options.publishGraceMs, this.#broadcastEvents);
      this.#broadcasts.set(path, broadcast);
    }
    return broadcast;
  }

  readonly #broadcastEvents: BroadcastEvents = {
    finished: (broadcast: LiveBroadcast, publisher: BroadcastPublisher) => {
      const live = this.#byPath.get(broadcast.streamPath);
      if (live && live.source.publisherSession === publisher) this.#finish(live);
    },
    empty: (broadcast: LiveBroadcast) => {
      if (this.#broadcasts.get(broadcast.streamPath) === broadcast) this.#broadcasts.delete(broadcast.streamPath);
    },
  };

  /** A session that passed the publish checks: a new Stream, a resumed one, or the reason it may not publish. */
  #publish(session: RtmpSession): LiveBroadcast | string {
    const path = session.streamPath;
    const broadcast = this.#broadcastOf(path);
    const result = broadcast.publish(session);
    if (result === 'taken') return `publish of '${session.name}' refused: it is published already`;
    const existing = this.#byPath.get(path);
    if (result === 'resumed' && existing) {
      existing.source.rebind(session);
      existing.lastMediaAt = Date.now();
      this.log.info(
        { stream: existing.stream.name, mediaSessionId: existing.stream.mediaSessionId },
        'RTMP publisher reconnected within the grace window; the publish goes on',
      );
      return broadcast;
    }
    const source = new RtmpStreamSource(broadcast, session, this.options.audioBufferMax);
    const stream = new Stream({
      name: session.name,
      app: session.app,
      mediaProvider: 'Flash',
      login: queryValue(session.query, 'login') ?? '',
      recordRequested: recordFlagOf(session.query),
      source,
      connectionId: `/${session.ip}/${session.id}`,
    });
    const live: LivePublish = {
      stream,
      source,
      broadcast,
      lastMediaAt: Date.now(),
      probedAudioFormat: -1,
      probedVideoCodecId: -1,
      probe: new FlvSubscriber(broadcast, (buf, kind) => this.#probe(live, buf, kind)),
    };
    // the probe subscribes first, so codecs are known before any recorder sees the same tag
    live.probe.attach();
    this.#byPath.set(path, live);
    try {
      this.registry.publish(stream);
    } catch (err) {
      this.#byPath.delete(path);
      live.probe.detach();
      broadcast.finish();
      if (err instanceof StreamNameTakenError) return `publish of '${session.name}' refused: ${err.message}`;
      throw err;
    }
    this.log.info(
      { stream: stream.name, mediaSessionId: stream.mediaSessionId, app: stream.app, remote: session.ip },
      'RTMP stream published',
    );
    return broadcast;
  }

  #finish(live: LivePublish): void {
    if (this.#byPath.get(live.broadcast.streamPath) !== live) return;
    this.#byPath.delete(live.broadcast.streamPath);
    live.probe.detach();
    live.source.end();
    this.registry.unpublish(live.stream);
    this.log.info({ stream: live.stream.name, mediaSessionId: live.stream.mediaSessionId }, 'RTMP stream unpublished');
  }

  /** Reads codecs and picture size from the feed, and notes that media arrives. */
  #probe(live: LivePublish, buf: Buffer, kind: TagKind): void {
    if (kind === TagKind.FileHeader) return;
    // a frame in the same (non-enhanced) codec as the last frame of its track says nothing new but that media arrives
    const b0 = buf[FLV_TAG_HEADER_SIZE] ?? 0;
    if (
      (kind === TagKind.AudioFrame && b0 >> 4 !== 9 && b0 >> 4 === live.probedAudioFormat) ||
      ((kind === TagKind.InterFrame || kind === TagKind.KeyFrame) && (b0 & 0x80) === 0 && (b0 & 0x0f) === live.probedVideoCodecId)
    ) {
      live.lastMediaAt = Date.now();
      return;
    }
    if (kind === TagKind.AudioFrame) live.probedAudioFormat = b0 >> 4;
    else if (kind === TagKind.InterFrame || kind === TagKind.KeyFrame) live.probedVideoCodecId = (b0 & 0x80) === 0 ? b0 & 0x0f : -1;
    const tag = readFlvTag(buf);
    if (!tag) return;
    const info = live.stream.media;
    const media = describeMediaTag(tag);
    if (!media) {
      // onMetaData: the broadcast has read the announced codec ids
      const announced = live.broadcast;
      if (info.audioCodec === '' && announced.audioCodecId) info.audioCodec = flvAudioCodecName(announced.audioCodecId);
      if (info.videoCodec === '' && announced.videoCodecId) info.videoCodec = flvVideoCodecName(announced.videoCodecId);
      return;
    }
    live.lastMediaAt = Date.now();
    noteMediaTag(info, tag, media);
  }

  /** The watchdog runs while there are connections (an idle daemon is not woken every second for nothing). */
  #wakeWatchdog(): void {
    if (this.#watchdog !== null || this.#server === null) return;
    this.#watchdogTicks = 0;
    this.#watchdog = setInterval(this.#checkIdle, 1000);
    this.#watchdog.unref();
  }

  #checkIdle = (): void => {
    if (this.#connections.size === 0 && this.#slabs.stats.inUse === 0 && this.#large.stats.inUse === 0) {
      // nothing connected and every slab back: the free ones go too, and the watchdog sleeps
      // (the next connection's #limitPools gives the pools their caps back before it takes a slab)
      this.#slabs.limit(0);
      this.#large.limit(0);
      if (this.#watchdog) clearInterval(this.#watchdog);
      this.#watchdog = null;
      return;
    }
    if (++this.#watchdogTicks % SLAB_TRIM_SECONDS === 0) {
      this.#slabs.trim();
      this.#large.trim();
    }
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
      if (live.broadcast.status !== 'publishing') continue;
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
