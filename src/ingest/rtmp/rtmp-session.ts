/**
 * One RTMP connection, server side (issue 20; was node-media-server's
 * RtmpSession and Rtmp): the handshake, the chunk stream, the commands
 * (connect, createStream, publish, play; releaseStream, FCPublish,
 * FCUnpublish, deleteStream and closeStream need no answer) with the same
 * answers node-media-server sends, and the messages of a publisher handed
 * to its LiveBroadcast.
 *
 * Every input is checked before it is used (issue 14, rtmp-checks.ts and
 * amf0-check.ts): message sizes, types and chunk streams bounded, control
 * and media messages long enough, AMF well formed, connect/publish/play
 * arguments of the right type and held to our name rules, play allowed
 * only when configured (and with the token), media timestamps that do not
 * jump hours ahead. A refusal, or anything that throws while a message is
 * handled (down to the taps fed from it), ends this connection only.
 */
import querystring from 'node:querystring';
import type net from 'node:net';
import { randomUUID } from 'node:crypto';
import { sameSecret } from '../../util/same-secret.js';
import { ChunkReader, type ChunkReaderSink } from './chunk-reader.js';
import { chunkMessage, controlMessage, OUT_CHUNK_SIZE, OUT_CSID, peerBandwidthMessage, userControlMessage } from './chunk-writer.js';
import { HandshakeReader } from './handshake.js';
import type { BroadcastPublisher, LiveBroadcast, RtmpPlayerSink } from './live-broadcast.js';
import { decodeAmf0Cmd, encodeAmf0Cmd, encodeAmf0Data, type AmfCommand } from './nms-internals.js';
import { checkConnect, checkMessage, checkStreamTarget, checkTimestampJump, RTMP_TYPE, STREAM_TYPES } from './rtmp-checks.js';
import { describeThrow, RtmpRefusal } from './rtmp-refusal.js';
import { bodyOf, FLV_PREVIOUS_TAG_SIZE, FLV_TAG_HEADER_SIZE, TagSlab } from './tag-slab.js';
import { releaseView, type SizeClassPools, type SlabPool } from '../../util/slab-pool.js';
import type { ReadTurns } from './read-turns.js';

export interface RtmpSessionPolicy {
  /** rtmp_max_message_size: bytes of one message; a connection buffers at most twice this. */
  readonly maxMessageSize: number;
  /** rtmp_play_enabled */
  readonly playEnabled: boolean;
  /** records_access_token: when not empty, `play` needs ?token=<it>. */
  readonly playToken: string;
}

/** What a session asks of the ingest. */
export interface RtmpSessionHost {
  /** The connection published or started playing NAME (it passed every check). */
  started(session: RtmpSession, kind: 'publish' | 'play', name: string): void;
  /** The connection must end: `reason` says why; `unexpected` when something threw rather than a check refusing. */
  refused(session: RtmpSession, reason: string, unexpected: boolean): void;
  /** The broadcast this session now feeds, or why it may not publish. */
  publish(session: RtmpSession): LiveBroadcast | string;
  /** The broadcast of the path this session plays (created when nobody publishes it yet). */
  play(session: RtmpSession): LiveBroadcast;
}

export type StreamQuery = Record<string, string | string[] | undefined>;

const STREAM_BEGIN = 0;
const STREAM_EOF = 1;
const MEDIA_TYPES = new Set<number>([RTMP_TYPE.audio, RTMP_TYPE.video]);

export class RtmpSession implements BroadcastPublisher, ChunkReaderSink {
  readonly id = randomUUID().slice(0, 8);
  /** address:port of the client */
  readonly ip: string;
  readonly address: string;
  app = '';
  name = '';
  query: StreamQuery = {};
  /** Bytes received. */
  inBytes = 0;
  /** The client's Window Acknowledgement Size (0: none said), and the byte count of our last acknowledgement. */
  #ackWindow = 0;
  #ackedAt = 0;
  readonly #handshake: HandshakeReader;
  readonly #reader: ChunkReader;
  readonly #slab: TagSlab;
  #ended = false;
  #connected = false;
  #started: 'publish' | 'play' | null = null;
  #objectEncoding = 0;
  #streams = 0;
  #streamId = 0;
  #broadcast: LiveBroadcast | null = null;
  #player: RtmpPlayerSink | null = null;
  /** Clock of the last audio (8) and video (9) message handed on. */
  #lastAudio: number | null = null;
  #lastVideo: number | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly policy: RtmpSessionPolicy,
    private readonly host: RtmpSessionHost,
    /** Where audio and video messages are read into (the ingest's, shared by its connections); `large` for those above a quarter slab. */
    slabs: SlabPool,
    large: SizeClassPools | null = null,
    /** What all connections read per turn of the event loop (read-turns.ts); null: unbounded. */
    private readonly turns: ReadTurns | null = null,
  ) {
    this.#slab = new TagSlab(slabs, large);
    this.address = socket.remoteAddress ?? '';
    this.ip = `${this.address}:${socket.remotePort ?? 0}`;
    this.#handshake = new HandshakeReader((answer) => this.#write(answer));
    this.#reader = new ChunkReader(this, policy.maxMessageSize);
  }

  get streamPath(): string {
    return `/${this.app}/${this.name}`;
  }

  /**
   * Wires the session to its socket. With `dataEvents` false, the caller
   * hands the socket's reads to read() itself (socket-reads.ts).
   */
  start(dataEvents = true): void {
    if (dataEvents) this.socket.on('data', (data: Buffer) => this.read(data, data.length));
    this.turns?.add(this.socket);
    this.socket.on('close', this.#onClose);
    this.socket.on('error', () => undefined); // 'close' follows
  }

  /** Ends the connection (idle publisher, shutdown). */
  disconnect(): void {
    this.socket.destroy();
  }

  /** The first `bytes` of `data` are what the client sent next; nothing of `data` is kept after this returns. */
  read(data: Buffer, bytes: number): void {
    if (this.#ended) return;
    this.inBytes += bytes;
    this.turns?.read(bytes);
    try {
      let off = 0;
      if (!this.#handshake.done) {
        off = this.#handshake.push(data, bytes);
        if (off === bytes) return;
      }
      this.#reader.push(data, off, bytes);
      if (this.#ackWindow > 0 && this.inBytes - this.#ackedAt >= this.#ackWindow) {
        // node-media-server never acknowledged; some encoders wait for it once they have sent a window's worth
        this.#ackedAt = this.inBytes;
        this.#write(controlMessage(3, this.inBytes % 0x100000000));
      }
    } catch (err) {
      this.#ended = true;
      if (err instanceof RtmpRefusal) this.host.refused(this, err.message, false);
      else this.host.refused(this, describeThrow(err), true);
    }
  }

  #onClose = (): void => {
    this.#ended = true;
    this.turns?.delete(this.socket);
    this.#slab.close();
    const b = this.#broadcast;
    if (b === null) return;
    if (this.#started === 'publish') b.unpublish(this);
    else if (this.#player !== null) b.removePlayer(this.#player);
  };

  #write(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  allocate(type: number, length: number): Buffer {
    // audio and video land where their FLV tag will be (tag-slab.ts); the rest in a buffer of its own
    return MEDIA_TYPES.has(type) ? bodyOf(this.#slab.take(length)) : Buffer.allocUnsafe(length);
  }

  message(type: number, streamId: number, clock: number, body: Buffer): void {
    if (!MEDIA_TYPES.has(type)) {
      this.#handle(type, streamId, clock, body);
      return;
    }
    try {
      this.#handle(type, streamId, clock, body);
    } finally {
      // the message's own reference to its slab region (allocate): whoever keeps the tag holds one of theirs
      releaseView(body);
    }
  }

  #handle(type: number, streamId: number, clock: number, body: Buffer): void {
    if (STREAM_TYPES.has(type) && (this.#broadcast === null || this.#broadcast.publisher !== this || this.#started !== 'publish')) {
      // only the publisher of a stream writes into it: a player, or a publisher that was refused, could write into somebody else's
      if (this.#started === 'play') this.#refuse(`media from a player of '${this.name}'`);
      if (this.#started === 'publish') this.#refuse(`media for '${this.name}', whose publish was refused`);
      return; // before publish: nowhere to go
    }
    const reason = checkMessage(type, body);
    if (reason !== null) this.#refuse(reason);
    switch (type) {
      case RTMP_TYPE.audio:
      case RTMP_TYPE.video: {
        const previous = type === RTMP_TYPE.audio ? this.#lastAudio : this.#lastVideo;
        const jump = checkTimestampJump(type, clock, previous);
        if (jump !== null) this.#refuse(jump);
        if (type === RTMP_TYPE.audio) this.#lastAudio = clock;
        else this.#lastVideo = clock;
        const region = Buffer.from(body.buffer, body.byteOffset - FLV_TAG_HEADER_SIZE, body.length + FLV_TAG_HEADER_SIZE + FLV_PREVIOUS_TAG_SIZE);
        this.#broadcast!.media(type, clock, region);
        return;
      }
      case RTMP_TYPE.amf0Data:
        this.#broadcast!.data(clock, body);
        return;
      case RTMP_TYPE.setChunkSize:
        this.#reader.setChunkSize(body.readUInt32BE(0));
        return;
      case RTMP_TYPE.abort:
        this.#reader.abort(body.readUInt32BE(0));
        return;
      case RTMP_TYPE.windowAckSize:
        this.#ackWindow = body.readUInt32BE(0);
        return;
      case RTMP_TYPE.amf0Command:
        this.#command(decodeAmf0Cmd(body), streamId);
        return;
      case RTMP_TYPE.amf3Command:
        // AMF0 after a format byte
        this.#command(decodeAmf0Cmd(body.subarray(1)), streamId);
        return;
      default:
        // acknowledgements, window sizes, user control, AMF3 data, shared objects, aggregates: nothing to do
        return;
    }
  }

  #refuse(reason: string): never {
    throw new RtmpRefusal(reason);
  }

  #command(message: AmfCommand, streamId: number): void {
    switch (message.cmd) {
      case 'connect':
        return this.#onConnect(message);
      case 'createStream':
        this.#streams += 1;
        return this.#invoke(0, { cmd: '_result', transId: message.transId, cmdObj: null, info: this.#streams });
      case 'publish':
        return this.#onPublish(message, streamId);
      case 'play':
        return this.#onPlay(message, streamId);
      default:
        // releaseStream, FCPublish, FCUnpublish, deleteStream, closeStream, ...: node-media-server answers none
        return;
    }
  }

  #onConnect(message: AmfCommand): void {
    if (this.#connected) this.#refuse('second connect on one connection');
    const reason = checkConnect(message.cmdObj);
    if (reason !== null) this.#refuse(reason);
    const cmdObj = message.cmdObj as Record<string, unknown>;
    this.#connected = true;
    this.app = cmdObj['app'] as string;
    this.#objectEncoding = typeof cmdObj['objectEncoding'] === 'number' ? cmdObj['objectEncoding'] : 0;
    this.#write(controlMessage(5, 5_000_000));
    this.#write(peerBandwidthMessage(5_000_000, 2));
    this.#write(controlMessage(1, OUT_CHUNK_SIZE));
    this.#invoke(0, {
      cmd: '_result',
      transId: message.transId,
      cmdObj: { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      info: { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: this.#objectEncoding },
    });
  }

  /** The checks publish and play share; returns the stream name. */
  #begin(kind: 'publish' | 'play', message: AmfCommand, streamId: number): string {
    if (!this.#connected) this.#refuse(`${kind} before connect`);
    if (this.#started !== null) this.#refuse('second publish or play on one connection');
    const target = checkStreamTarget(message.streamName, kind);
    if (!target.ok) return this.#refuse(target.reason);
    if (kind === 'play') {
      if (!this.policy.playEnabled) this.#refuse(`play of '${target.name}' refused: RTMP play is off (rtmp_play_enabled=false)`);
      const token = this.policy.playToken;
      if (token !== '' && (target.token === null || !sameSecret(target.token, token))) {
        this.#refuse(`play of '${target.name}' refused: ${target.token === null ? 'no ?token=' : 'wrong token'} (records_access_token is set)`);
      }
    }
    this.#started = kind;
    this.name = target.name;
    this.query = querystring.parse((message.streamName as string).split('?')[1] ?? '');
    this.#streamId = streamId;
    this.host.started(this, kind, target.name);
    return target.name;
  }

  #onPublish(message: AmfCommand, streamId: number): void {
    const name = this.#begin('publish', message, streamId);
    const broadcast = this.host.publish(this);
    if (typeof broadcast === 'string') this.#refuse(broadcast);
    this.#broadcast = broadcast;
    this.#status('NetStream.Publish.Start', `/${this.app}/${name} is now published.`);
  }

  #onPlay(message: AmfCommand, streamId: number): void {
    this.#begin('play', message, streamId);
    this.#write(userControlMessage(STREAM_BEGIN, this.#streamId));
    this.#status('NetStream.Play.Reset', 'Playing and resetting stream.');
    this.#status('NetStream.Play.Start', 'Started playing stream.');
    const access = encodeAmf0Data({ cmd: '|RtmpSampleAccess', bool1: false, bool2: false });
    this.#write(chunkMessage(OUT_CSID.data, RTMP_TYPE.amf0Data, 0, 0, access));
    const broadcast = this.host.play(this);
    this.#broadcast = broadcast;
    this.#player = {
      streamId: this.#streamId,
      send: (chunks) => this.#write(chunks),
      // what node-media-server told a player when its publisher left: players like ffmpeg end there
      unpublished: () => {
        this.#write(userControlMessage(STREAM_EOF, this.#streamId));
        this.#status('NetStream.Play.UnpublishNotify', `/${this.app}/${this.name} is now unpublished.`);
      },
    };
    broadcast.addPlayer(this.#player);
  }

  #status(code: string, description: string): void {
    this.#invoke(this.#streamId, { cmd: 'onStatus', transId: 0, cmdObj: null, info: { level: 'status', code, description } });
  }

  #invoke(streamId: number, opt: Record<string, unknown>): void {
    this.#write(chunkMessage(OUT_CSID.invoke, RTMP_TYPE.amf0Command, streamId, 0, encodeAmf0Cmd(opt)));
  }
}
