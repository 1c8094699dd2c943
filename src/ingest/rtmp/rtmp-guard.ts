/**
 * Per-connection guard around node-media-server's RTMP parser (issue 14).
 *
 * node-media-server parses bytes from strangers and throws on many of them
 * (an empty video message, a connect without tcUrl, a publish whose name is
 * AMF null, ...); a throw in a socket 'data' handler ends the process and
 * every recording in it. Two layers:
 *
 * 1. Checks before it sees the input (rtmp-checks.ts), installed as own
 *    properties over its parser's steps on this connection's instance only:
 *    message sizes and chunk streams bounded, control and media messages long
 *    enough, connect/publish/play arguments of the right type and held to
 *    our name rules, play allowed only when configured (and with the token).
 * 2. The session's socket 'data' handler wrapped in a try/catch: whatever
 *    still throws (the parse, node-media-server's broadcast, our own
 *    subscribers called from it) ends this connection only.
 *
 * And one economy (issue 20): audio and video messages are read into
 * regions of a per-connection slab shaped as the FLV tags the taps get
 * (tag-slab.ts), instead of node-media-server's reused buffer that its
 * broadcast then copies into a new tag per message.
 */
import { sameSecret } from '../../util/same-secret.js';
import { checkConnect, checkMessage, checkMessageHeader, checkStreamTarget, checkTimestampJump, IGNORED_TYPES, MAX_CHUNK_STREAMS, RTMP_TYPE, STREAM_TYPES } from './rtmp-checks.js';
import type { NmsInvokeMessage, NmsRtmpPacket, NmsRtmpSession } from './nms-internals.js';
import { bodyOf, offerTag, TagSlab, withdrawTag } from './tag-slab.js';

/** A check refused the input: the reason is ours, in words. */
export class RtmpRefusal extends Error {}

export interface RtmpGuardPolicy {
  /** rtmp_max_message_size: bytes of one message; a connection buffers at most twice this. */
  readonly maxMessageSize: number;
  /** rtmp_play_enabled */
  readonly playEnabled: boolean;
  /** records_access_token: when not empty, `play` needs ?token=<it>. */
  readonly playToken: string;
}

export interface RtmpGuardEvents {
  /** The connection published or started playing NAME (it passed every check). */
  started(kind: 'publish' | 'play', streamName: string): void;
  /**
   * The connection must end: `reason` says why; `unexpected` when
   * node-media-server (or a consumer it called) threw rather than a check refusing.
   */
  refused(reason: string, unexpected: boolean): void;
}

/** One line saying what threw and where (the first stack frame), never the client's bytes. */
export function describeThrow(err: unknown): string {
  if (!(err instanceof Error)) return `threw ${String(err).slice(0, 200)}`;
  // the first frame outside Node's own internals, with the path cut to the package or our source
  const frame = err.stack
    ?.split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('at ') && !l.includes('node:internal'))
    ?.replace(/(\(|at )[^()]*?(node_modules\/|\/(?=(?:src|dist)\/))/, '$1');
  return `${err.name}: ${err.message.slice(0, 200)}${frame ? ` ${frame}` : ''}`;
}

const EMPTY = Buffer.alloc(0);

/** Installs the guard on a session created but not yet run(). */
export function guardRtmpSession(session: NmsRtmpSession, policy: RtmpGuardPolicy, events: RtmpGuardEvents): void {
  const rtmp = session.rtmp;
  const budget = 2 * policy.maxMessageSize;
  let ended = false;
  let connected = false;
  let started: 'publish' | 'play' | null = null;
  let streamName = '';
  /** Clock of the last audio (8) and video (9) message handed on. */
  const lastClock = new Map<number, number>();
  const slab = new TagSlab();
  /** Packets whose payload is a slab region (the message being read on that chunk stream). */
  const inSlab = new Map<NmsRtmpPacket, Buffer>();

  const refuse = (reason: string): never => {
    throw new RtmpRefusal(reason);
  };

  const packetParse = rtmp.packetParse.bind(rtmp);
  rtmp.packetParse = (): void => {
    packetParse();
    if (rtmp.inPackets.size > MAX_CHUNK_STREAMS) refuse(`more than ${MAX_CHUNK_STREAMS} chunk streams`);
    const packet = rtmp.parserPacket;
    const { fmt, type, length } = packet.header;
    if (fmt <= 1) {
      const reason = checkMessageHeader(type, length, policy.maxMessageSize);
      if (reason !== null) refuse(reason);
      // a type 0/1 header in the middle of a message may not make it longer than its buffer
      if (packet.bytes > 0 && length > packet.payload.length) refuse(`message length changed to ${length} in the middle of a message`);
    }
  };

  const packetAlloc = rtmp.packetAlloc.bind(rtmp);
  rtmp.packetAlloc = (): void => {
    const packet = rtmp.parserPacket;
    const { length, type } = packet.header;
    const media = type === RTMP_TYPE.audio || type === RTMP_TYPE.video;
    // a slab region is never reused for the next message: it may be a tag somebody holds
    inSlab.delete(packet);
    if (media || packet.capacity < length) {
      // node-media-server allocates length + 1024 per chunk stream and keeps it; a slab region is the length
      const wanted = media ? length : length + 1024;
      let held = 0;
      for (const p of rtmp.inPackets.values()) if (p !== packet) held += p.capacity;
      if (held + wanted > budget) {
        refuse(`message buffers would hold ${held + wanted} bytes; at most ${budget} (2 x rtmp_max_message_size)`);
      }
    }
    if (media) {
      const region = slab.take(length);
      packet.payload = bodyOf(region);
      packet.capacity = length;
      inSlab.set(packet, region);
      return;
    }
    packetAlloc();
  };

  const packetHandler = rtmp.packetHandler.bind(rtmp);
  rtmp.packetHandler = (): void => {
    const packet = rtmp.parserPacket;
    const { type, length } = packet.header;
    if (length > packet.payload.length) refuse(`message of ${length} bytes in a ${packet.payload.length}-byte buffer`);
    if (STREAM_TYPES.has(type) && session.broadcast.publisher !== session) {
      // node-media-server would hand it to the stream this connection names, publisher or not:
      // a player, or a second publisher it refused, could write into somebody else's stream
      if (started === 'play') refuse(`media from a player of '${streamName}'`);
      if (started === 'publish') refuse(`media for '${streamName}', whose publish was refused`);
      return; // before publish: nowhere to go (node-media-server would drop it too)
    }
    const reason = checkMessage(type, packet.payload.subarray(0, length));
    if (reason !== null) refuse(reason);
    if ((type === RTMP_TYPE.audio || type === RTMP_TYPE.video) && packet.clock <= 0xffffffff) {
      const jump = checkTimestampJump(type, packet.clock, lastClock.get(type) ?? null);
      if (jump !== null) refuse(jump);
      lastClock.set(type, packet.clock);
    }
    if (IGNORED_TYPES.has(type)) return;
    const region = inSlab.get(packet);
    if (region === undefined) return packetHandler();
    // the message is complete: its region goes to the broadcast as an FLV tag (or is dropped); the
    // next message on this chunk stream gets a region of its own
    inSlab.delete(packet);
    offerTag(packet.payload, region);
    try {
      packetHandler();
    } finally {
      withdrawTag();
      packet.payload = EMPTY;
      packet.capacity = 0;
    }
  };

  const onConnect = rtmp.onConnect.bind(rtmp);
  rtmp.onConnect = (message: NmsInvokeMessage): void => {
    if (connected) refuse('second connect on one connection');
    const reason = checkConnect(message.cmdObj);
    if (reason !== null) refuse(reason);
    connected = true;
    onConnect(message);
  };

  const begin = (kind: 'publish' | 'play', message: NmsInvokeMessage): string => {
    if (!connected) refuse(`${kind} before connect`);
    if (started !== null) refuse(`second publish or play on one connection`);
    const target = checkStreamTarget(message.streamName, kind);
    if (!target.ok) return refuse(target.reason);
    if (kind === 'play') {
      if (!policy.playEnabled) refuse(`play of '${target.name}' refused: RTMP play is off (rtmp_play_enabled=false)`);
      if (policy.playToken !== '' && (target.token === null || !sameSecret(target.token, policy.playToken))) {
        refuse(`play of '${target.name}' refused: ${target.token === null ? 'no ?token=' : 'wrong token'} (records_access_token is set)`);
      }
    }
    started = kind;
    streamName = target.name;
    events.started(kind, target.name);
    return target.name;
  };

  const onPublish = rtmp.onPublish.bind(rtmp);
  rtmp.onPublish = (message: NmsInvokeMessage): void => {
    const name = begin('publish', message);
    onPublish(message);
    // node-media-server refuses a second publisher of a live path with a half-close only:
    // the client could keep the socket (and its place under the caps) for ever
    if (session.broadcast.publisher !== session) refuse(`publish of '${name}' refused: it is published already`);
  };

  const onPlay = rtmp.onPlay.bind(rtmp);
  rtmp.onPlay = (message: NmsInvokeMessage): void => {
    begin('play', message);
    onPlay(message);
  };

  const onData = session.onData;
  session.onData = (data: Buffer): void => {
    if (ended) return;
    try {
      onData(data);
    } catch (err) {
      ended = true;
      if (err instanceof RtmpRefusal) events.refused(err.message, false);
      else events.refused(describeThrow(err), true);
    }
  };
}
