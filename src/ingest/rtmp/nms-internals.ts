/**
 * The one place that touches node-media-server's internal API (pinned to
 * 4.4.3 in package.json; test/integration covers it end to end).
 *
 * node-media-server has no public media hook, so we use what its own FLV
 * recorder uses: an internal subscriber (`protocol: 'flv'`, empty ip) added
 * with BroadcastServer.postPlay(), which first receives the FLV header, the
 * metadata, the sequence headers and the GOP cache, then every live tag.
 * We do not run its NodeMediaServer class (HTTP server, JSON store, admin
 * API): only its RTMP connection handler, on a net.Server we own, so a taken
 * port is our error to report instead of its process.exit(1).
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import { claimFlvTag } from './tag-slab.js';

const require = createRequire(import.meta.url);

export const NMS_VERSION = '4.4.3';

/** The fields of node-media-server's BaseSession/RtmpSession that we read. */
export interface NmsSession {
  readonly id: string;
  readonly ip: string;
  readonly protocol: string;
  readonly streamApp: string;
  readonly streamName: string;
  readonly streamPath: string;
  readonly streamQuery: Record<string, string | string[] | undefined>;
  readonly inBytes: number;
  readonly videoWidth: number;
  readonly videoHeight: number;
  readonly socket?: net.Socket;
  close(): void;
}

/** A subscriber object as BroadcastServer expects it. */
export interface NmsSubscriber {
  id: string;
  ip: string;
  protocol: 'flv';
  streamPath: string;
  endTime: number;
  sendBuffer(buffer: Buffer): void;
}

export interface NmsBroadcast {
  readonly streamPath: string;
  publisher: NmsSession | null;
  publishGraceMs: number;
  postPlay(session: NmsSubscriber): string | null;
  donePlay(session: NmsSubscriber): void;
  getPublishStatus(): 'publishing' | 'reconnecting' | 'idle';
}

interface NmsContext {
  config: { bind?: string; rtmp?: { port?: number } };
  broadcasts: Map<string, NmsBroadcast>;
  sessions: Map<string, NmsSession>;
  eventEmitter: EventEmitter;
}

interface NmsRtmpServer {
  handleRequest(socket: net.Socket): void;
  stop(): void;
}

interface NmsLogger {
  level: string;
  log(message: string, level?: string): void;
}

export type NmsLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const pkg = require('node-media-server/package.json') as { version: string };
if (pkg.version !== NMS_VERSION) {
  throw new Error(`node-media-server ${NMS_VERSION} is required (found ${pkg.version}); its internal API is pinned`);
}

const Context = require('node-media-server/src/core/context.js') as NmsContext;
const NodeRtmpServer = require('node-media-server/src/server/rtmp_server.js') as new () => NmsRtmpServer;
const nmsLogger = require('node-media-server/src/core/logger.js') as NmsLogger;
const { parseH264Sps } = require('node-media-server/src/protocol/sps_info.js') as {
  parseH264Sps(sps: Buffer): { width: number; height: number } | null;
};

export { parseH264Sps };

/** Routes node-media-server's console logger into ours. */
export function redirectNmsLogger(sink: (level: NmsLogLevel, message: string) => void): void {
  nmsLogger.log = (message: string, level = 'info') => {
    const known: NmsLogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
    sink(known.find((l) => l === level) ?? 'info', message);
  };
}

/**
 * Creates node-media-server's RTMP connection handler. Its Context is
 * module-global, so one daemon process embeds one RTMP ingest.
 */
export function createNmsRtmpHandler(): { handler: NmsRtmpServer; events: EventEmitter; broadcasts: Map<string, NmsBroadcast> } {
  // Without rtmp.port in its config NodeRtmpServer creates no listener of its own.
  Context.config = {};
  return { handler: new NodeRtmpServer(), events: Context.eventEmitter, broadcasts: Context.broadcasts };
}

/** The header fields of node-media-server's RtmpPacket (the message being read on one chunk stream). */
export interface NmsRtmpPacketHeader {
  fmt: number;
  cid: number;
  timestamp: number;
  length: number;
  type: number;
  stream_id: number;
}

export interface NmsRtmpPacket {
  header: NmsRtmpPacketHeader;
  clock: number;
  payload: Buffer;
  capacity: number;
  bytes: number;
}

/** A decoded AMF0 command as node-media-server's invokeHandler hands it on (fields as sent: any AMF value). */
export interface NmsInvokeMessage {
  cmd?: unknown;
  transId?: unknown;
  cmdObj?: unknown;
  streamName?: unknown;
  [field: string]: unknown;
}

/**
 * node-media-server's RTMP protocol parser (protocol/rtmp.js): the state and
 * the steps we wrap. Each is a prototype method called as `this.step()`, so
 * an own property of the same name on one instance replaces it for that
 * connection only.
 */
export interface NmsRtmpProtocol {
  parserPacket: NmsRtmpPacket;
  inPackets: Map<number, NmsRtmpPacket>;
  inChunkSize: number;
  streamApp?: unknown;
  connectCmdObj?: unknown;
  /** Reads a chunk header: picks (or creates) the RtmpPacket of its chunk stream. */
  packetParse(): void;
  /** Allocates the payload buffer of a message from its header length. */
  packetAlloc(): void;
  /** Dispatches a complete message by its type. */
  packetHandler(): void;
  onConnect(message: NmsInvokeMessage): void;
  onPublish(message: NmsInvokeMessage): void;
  onPlay(message: NmsInvokeMessage): void;
}

/** node-media-server's RtmpSession (session/rtmp_session.js), before run() wires it to its socket. */
export interface NmsRtmpSession extends NmsSession {
  readonly rtmp: NmsRtmpProtocol;
  /**
   * The broadcast of the session's stream path (a placeholder until publish
   * or play). node-media-server hands every media message the session sends
   * to it, whether or not the session is its publisher.
   */
  readonly broadcast: { readonly publisher: unknown };
  readonly socket: net.Socket;
  /** The socket 'data' handler; read by run(), so replacing it before run() wraps every parse. */
  onData: (data: Buffer) => void;
  run(): void;
}

const RtmpSession = require('node-media-server/src/session/rtmp_session.js') as new (socket: net.Socket) => NmsRtmpSession;

/**
 * What node-media-server's NodeRtmpServer.handleRequest does for one socket,
 * in two halves so that the caller can install its guards between creating
 * the session and wiring it to the socket: `start()` registers the session
 * and calls its run().
 */
export function createNmsRtmpSession(socket: net.Socket): { session: NmsRtmpSession; start(): void } {
  const session = new RtmpSession(socket);
  return {
    session,
    start(): void {
      session.run();
      Context.sessions.set(session.id, session);
    },
  };
}

/** node-media-server's AVPacket, as BroadcastServer.broadcastMessage receives it. */
interface NmsPacket {
  codec_type: number;
  flags: number;
  dts: number;
  pts: number;
  size: number;
  data: Buffer;
}

/** The fields of BroadcastServer that its broadcastMessage touches. */
interface NmsBroadcastInternals {
  broadcastMessage(packet: NmsPacket): void;
  subscribers: Map<string, { protocol: string; sendBuffer(buffer: Buffer): void }>;
  flvGopCache: Set<Buffer> | null;
  rtmpGopCache: Set<Buffer> | null;
  _dtsOffset: Record<number, number>;
  _lastDts: Record<number, number>;
}

const Flv = require('node-media-server/src/protocol/flv.js') as { createMessage(packet: NmsPacket): Buffer };

/** Broadcasts whose broadcastMessage is already wrapped (a publisher resuming within the grace window keeps its broadcast). */
const flvOnly = new WeakSet<NmsBroadcast>();

/**
 * Bytes of media a stream's GOP cache may hold (from its last keyframe). A
 * longer GOP is not cached whole: a recording started by REST then begins
 * at the next keyframe instead. Bounds what one publisher that never sends
 * a keyframe makes us keep (node-media-server alone: 4096 packets of up to
 * rtmp_max_message_size each).
 */
export const GOP_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** Packet flags of node-media-server: 1 audio frame, 3 video keyframe, 4 video inter frame. */
const MEDIA_FLAGS = new Set([1, 3, 4]);

/**
 * node-media-server builds every packet twice, as an FLV tag and as RTMP
 * chunks (a full copy each), and keeps both in its GOP caches, whether or
 * not anybody plays over RTMP. The recorder only reads FLV tags. This wraps
 * a broadcast's broadcastMessage so that, while no RTMP player is
 * subscribed, media packets take the FLV half only (the same steps as
 * node-media-server 4.4.3's own code, minus the RTMP message); headers and
 * metadata, and everything while an RTMP player is there, still go through
 * the original. An RTMP player that joins then starts at the next keyframe
 * instead of from the GOP cache. Measured in bench/concurrent-rtmp.mjs.
 */
export function skipUnplayedRtmpMessages(broadcast: NmsBroadcast): void {
  if (flvOnly.has(broadcast)) return;
  flvOnly.add(broadcast);
  const b = broadcast as unknown as NmsBroadcastInternals;
  const original = b.broadcastMessage;
  // bytes of media in the GOP caches since the last keyframe (issue 14: node-media-server caps them at 4096 packets only)
  let cached = 0;
  const bound = (packet: NmsPacket): void => {
    if (!MEDIA_FLAGS.has(packet.flags)) return;
    cached = packet.flags === 3 ? packet.size : cached + packet.size;
    if (cached > GOP_CACHE_MAX_BYTES) {
      // null, not empty: no inter frame is cached until the next keyframe starts a new GOP
      b.flvGopCache = null;
      b.rtmpGopCache = null;
      cached = 0;
    }
  };
  b.broadcastMessage = (packet: NmsPacket): void => {
    if (!MEDIA_FLAGS.has(packet.flags)) return original(packet);
    for (const s of b.subscribers.values()) {
      if (s.protocol === 'rtmp') {
        original(packet);
        return bound(packet);
      }
    }
    bound(packet);
    const dtsOffset = b._dtsOffset[packet.codec_type] ?? 0;
    if (dtsOffset > 0) {
      packet.dts += dtsOffset;
      packet.pts += dtsOffset;
    }
    b._lastDts[packet.codec_type] = packet.dts;
    // read straight into its tag by the guard (tag-slab.ts), or copied into a new one
    const flvMessage = claimFlvTag(packet.data, packet.codec_type, packet.size, packet.dts) ?? Flv.createMessage(packet);
    // the RTMP GOP cache would miss these packets: drop it; the next keyframe with a player starts a new one
    b.rtmpGopCache = null;
    if (packet.flags === 3) {
      b.flvGopCache?.clear();
      b.flvGopCache = new Set([flvMessage]);
    } else {
      b.flvGopCache?.add(flvMessage);
    }
    if (b.flvGopCache && b.flvGopCache.size > 4096) b.flvGopCache.clear();
    for (const s of b.subscribers.values()) if (s.protocol === 'flv') s.sendBuffer(flvMessage);
  };
}
