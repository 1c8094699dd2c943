/**
 * One live stream path (/app/name) as its publisher feeds it (issue 20; was
 * node-media-server's BroadcastServer): the publisher, the FLV-tag
 * subscribers (our probe and the recorders' taps), the RTMP players, and
 * what a late subscriber needs to start (metadata, sequence headers, the
 * GOP cache from the last keyframe, bounded by GOP_CACHE_MAX_BYTES).
 *
 * A publisher whose connection closes keeps the path for the grace window
 * (rtmp_publish_grace_ms): the same client address publishing again within
 * it resumes the same publish, its timestamps shifted past the last ones;
 * anybody else takes over only after the previous publish is finished.
 */
import { createFlvFileHeader, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from './flv-tags.js';
import { chunkMessage, OUT_CSID } from './chunk-writer.js';
import { decodeAmf0Data } from './nms-internals.js';
import { FLV_PREVIOUS_TAG_SIZE, FLV_TAG_HEADER_SIZE, finishFlvTag } from './tag-slab.js';
import { releaseView, retainView } from '../../util/slab-pool.js';

/**
 * Bytes of media a stream's GOP cache may hold (from its last keyframe). A
 * longer GOP is not cached whole: a recording started by REST then begins
 * at the next keyframe instead. Bounds what one publisher that never sends
 * a keyframe makes us keep.
 */
export const GOP_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Tags of one GOP cache (node-media-server's bound). */
export const GOP_CACHE_MAX_TAGS = 4096;

/** The publishing side as the broadcast sees it. */
export interface BroadcastPublisher {
  /** The client's address without its port: a reconnect from it within the grace window resumes. */
  readonly address: string;
}

/**
 * Receives whole FLV tags: the file header first, then metadata, sequence
 * headers, the GOP cache, then live tags; with what the broadcast read of
 * each (its kind, and its timestamp in ms), so a subscriber need not parse
 * the tag again.
 */
export type FlvSink = (tag: Buffer, kind: TagKind, timestampMs: number) => void;

/** An RTMP player: gets chunked messages on its stream id. */
export interface RtmpPlayerSink {
  readonly streamId: number;
  send(chunks: Buffer): void;
  /** The publish it plays is over (the player stays attached: a new publish of the path reaches it). */
  unpublished(): void;
}

/** What a media or data message is to the caches. */
export const enum TagKind {
  AudioHeader,
  AudioFrame,
  VideoHeader,
  KeyFrame,
  InterFrame,
  /** Video messages that are neither (enhanced RTMP metadata, end of sequence), and media with no body: passed on, not cached. */
  Other,
  /** A script data tag (onMetaData). */
  Data,
  /** The 13-byte FLV file header a subscriber gets first. */
  FileHeader,
}

/** Reads what an audio or video message body is (node-media-server's flv.js parserTag, with the enhanced-RTMP cases it misses). */
export function tagKind(type: number, body: Buffer): TagKind {
  if (body.length === 0) return TagKind.Other;
  const b0 = body[0]!;
  if (type === FLV_TAG_AUDIO) {
    const format = b0 >> 4;
    if (format === 10) return body[1] === 0 ? TagKind.AudioHeader : TagKind.AudioFrame;
    if (format === 9) return (b0 & 0x0f) === 0 ? TagKind.AudioHeader : TagKind.AudioFrame;
    return TagKind.AudioFrame;
  }
  const key = ((b0 >> 4) & 0x07) === 1;
  if ((b0 & 0x80) !== 0) {
    const packetType = b0 & 0x0f;
    if (packetType === 0) return TagKind.VideoHeader;
    if (packetType === 1 || packetType === 3) return key ? TagKind.KeyFrame : TagKind.InterFrame;
    return TagKind.Other;
  }
  const codecId = b0 & 0x0f;
  if ((codecId === 7 || codecId === 12) && body[1] === 0) return TagKind.VideoHeader;
  return key ? TagKind.KeyFrame : TagKind.InterFrame;
}

export type PublishResult = 'new' | 'resumed' | 'taken';

export interface BroadcastEvents {
  /** The publish is over for good (its connection closed and the grace window passed, or another client took over). */
  finished(broadcast: LiveBroadcast, publisher: BroadcastPublisher): void;
  /** Nobody publishes or subscribes any more: the path may be forgotten. */
  empty(broadcast: LiveBroadcast): void;
}

/** The timestamp of a whole FLV tag, ms. */
function timestampOf(tag: Buffer): number {
  return ((tag[7]! << 24) | (tag[4]! << 16) | (tag[5]! << 8) | tag[6]!) >>> 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class LiveBroadcast {
  #publisher: BroadcastPublisher | null = null;
  #graceTimer: NodeJS.Timeout | null = null;
  readonly #flv = new Set<FlvSink>();
  readonly #players = new Set<RtmpPlayerSink>();
  /** onMetaData audiocodecid / videocodecid of the publish (0: not announced). */
  audioCodecId = 0;
  videoCodecId = 0;
  #metadata: Buffer | null = null;
  #audioHeader: Buffer | null = null;
  #videoHeader: Buffer | null = null;
  /** Tags (with their kind) since the last keyframe; null while no GOP may be cached. */
  #gop: Buffer[] | null = null;
  #gopBytes = 0;
  /** Last timestamp per track and the shift a resumed publish adds to its own. */
  #lastAudioDts = 0;
  #lastVideoDts = 0;
  #audioDtsOffset = 0;
  #videoDtsOffset = 0;

  constructor(
    readonly streamPath: string,
    private readonly graceMs: number,
    private readonly events: BroadcastEvents,
  ) {}

  get publisher(): BroadcastPublisher | null {
    return this.#publisher;
  }

  /** publishing: live; reconnecting: in the grace window; idle: no publish. */
  get status(): 'publishing' | 'reconnecting' | 'idle' {
    if (this.#graceTimer !== null) return 'reconnecting';
    return this.#publisher !== null ? 'publishing' : 'idle';
  }

  /** A client asks to publish the path. */
  publish(publisher: BroadcastPublisher): PublishResult {
    if (this.#graceTimer !== null && this.#publisher !== null) {
      if (publisher.address === this.#publisher.address) {
        clearTimeout(this.#graceTimer);
        this.#graceTimer = null;
        this.#publisher = publisher;
        // the timeline goes on past the previous connection's last timestamps
        this.#audioDtsOffset = this.#lastAudioDts;
        this.#videoDtsOffset = this.#lastVideoDts;
        return 'resumed';
      }
      this.finish();
    }
    if (this.#publisher !== null) return 'taken';
    this.#publisher = publisher;
    return 'new';
  }

  /** The publisher's connection closed: the publish waits out the grace window. */
  unpublish(publisher: BroadcastPublisher): void {
    if (publisher !== this.#publisher || this.#graceTimer !== null) return;
    this.#graceTimer = setTimeout(() => this.finish(), this.graceMs);
    this.#graceTimer.unref();
  }

  /** Ends the publish for good: caches dropped, `finished` told. */
  finish(): void {
    if (this.#graceTimer !== null) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
    const publisher = this.#publisher;
    if (publisher === null) return;
    this.#publisher = null;
    this.events.finished(this, publisher);
    for (const player of this.#players) player.unpublished();
    this.#metadata = null;
    this.#audioHeader = null;
    this.#videoHeader = null;
    this.#dropGop();
    this.audioCodecId = 0;
    this.videoCodecId = 0;
    this.#lastAudioDts = 0;
    this.#lastVideoDts = 0;
    this.#audioDtsOffset = 0;
    this.#videoDtsOffset = 0;
    this.#emptyCheck();
  }

  /** What a late subscriber starts with: metadata, sequence headers, then the cached GOP. */
  #replay(send: FlvSink): void {
    if (this.#metadata !== null) send(this.#metadata, TagKind.Data, timestampOf(this.#metadata));
    if (this.#audioHeader !== null) send(this.#audioHeader, TagKind.AudioHeader, timestampOf(this.#audioHeader));
    if (this.#videoHeader !== null) send(this.#videoHeader, TagKind.VideoHeader, timestampOf(this.#videoHeader));
    if (this.#gop !== null) {
      for (const tag of this.#gop) send(tag, tagKind(tag[0]! & 0x1f, tag.subarray(FLV_TAG_HEADER_SIZE, tag.length - FLV_PREVIOUS_TAG_SIZE)), timestampOf(tag));
    }
  }

  addFlv(sink: FlvSink): void {
    sink(createFlvFileHeader(true, true), TagKind.FileHeader, 0);
    this.#replay(sink);
    this.#flv.add(sink);
  }

  removeFlv(sink: FlvSink): void {
    if (this.#flv.delete(sink)) this.#emptyCheck();
  }

  addPlayer(player: RtmpPlayerSink): void {
    this.#replay((tag) => player.send(this.#chunksOf(tag, player.streamId)));
    this.#players.add(player);
  }

  removePlayer(player: RtmpPlayerSink): void {
    if (this.#players.delete(player)) this.#emptyCheck();
  }

  /**
   * An audio or video message of the publisher, read into `region` (a tag
   * region: header room, body, trailer room) at timestamp `clock`.
   */
  media(type: number, clock: number, region: Buffer): void {
    const body = region.subarray(FLV_TAG_HEADER_SIZE, region.length - FLV_PREVIOUS_TAG_SIZE);
    const kind = tagKind(type, body);
    let dts = clock;
    if (kind !== TagKind.AudioHeader && kind !== TagKind.VideoHeader) {
      if (type === FLV_TAG_AUDIO) {
        dts += this.#audioDtsOffset;
        this.#lastAudioDts = dts;
      } else {
        dts += this.#videoDtsOffset;
        this.#lastVideoDts = dts;
      }
    }
    const tag = finishFlvTag(region, type, body.length, dts);
    switch (kind) {
      case TagKind.AudioHeader:
        // a copy: the slab region would keep its whole slab for the life of the publish
        this.#audioHeader = Buffer.from(tag);
        break;
      case TagKind.VideoHeader:
        this.#videoHeader = Buffer.from(tag);
        break;
      case TagKind.KeyFrame:
        this.#dropGop();
        // the cache holds its tags' slabs (util/slab-pool.ts) until the next keyframe
        retainView(tag);
        this.#gop = [tag];
        this.#gopBytes = tag.length;
        break;
      case TagKind.AudioFrame:
      case TagKind.InterFrame:
        if (this.#gop !== null) {
          this.#gopBytes += tag.length;
          // null, not empty: no inter frame is cached until the next keyframe starts a new GOP
          if (this.#gopBytes > GOP_CACHE_MAX_BYTES || this.#gop.length >= GOP_CACHE_MAX_TAGS) this.#dropGop();
          else {
            retainView(tag);
            this.#gop.push(tag);
          }
        }
        break;
      case TagKind.Other:
        break;
    }
    // the timestamp as the tag carries it (32 bits)
    this.#send(tag, kind, dts >>> 0);
  }

  /** Lets go of the GOP cache (each cached tag was retained once). */
  #dropGop(): void {
    if (this.#gop !== null) for (const tag of this.#gop) releaseView(tag);
    this.#gop = null;
    this.#gopBytes = 0;
  }

  /** An AMF0 data message of the publisher (checked by checkAmfData): onMetaData is kept and read for codec ids. */
  data(clock: number, body: Buffer): void {
    const decoded = decodeAmf0Data(body);
    const isMetadata = decoded.cmd === '@setDataFrame' || decoded.cmd === 'onMetaData';
    const tag = Buffer.allocUnsafe(FLV_TAG_HEADER_SIZE + body.length + FLV_PREVIOUS_TAG_SIZE);
    body.copy(tag, FLV_TAG_HEADER_SIZE);
    finishFlvTag(tag, FLV_TAG_SCRIPT, body.length, clock);
    if (isMetadata) {
      const meta = decoded.dataObj;
      if (isRecord(meta)) {
        this.audioCodecId = typeof meta['audiocodecid'] === 'number' ? meta['audiocodecid'] : 0;
        this.videoCodecId = typeof meta['videocodecid'] === 'number' ? meta['videocodecid'] : 0;
      }
      this.#metadata = tag;
    }
    this.#send(tag, TagKind.Data, clock);
  }

  #send(tag: Buffer, kind: TagKind, timestampMs: number): void {
    for (const sink of this.#flv) sink(tag, kind, timestampMs);
    if (this.#players.size === 0) return;
    // one chunked copy per stream id (players share it; ffmpeg and librtmp play on stream 1)
    let shared: Buffer | null = null;
    let sharedId = -1;
    for (const player of this.#players) {
      if (shared === null || sharedId !== player.streamId) {
        shared = this.#chunksOf(tag, player.streamId);
        sharedId = player.streamId;
      }
      player.send(shared);
    }
  }

  /** An FLV tag as one RTMP message on the channel of its type. */
  #chunksOf(tag: Buffer, streamId: number): Buffer {
    const type = tag[0]! & 0x1f;
    const size = tag.readUIntBE(1, 3);
    const ts = ((tag[7]! << 24) | tag.readUIntBE(4, 3)) >>> 0;
    const csid = type === FLV_TAG_AUDIO ? OUT_CSID.audio : type === FLV_TAG_VIDEO ? OUT_CSID.video : OUT_CSID.data;
    return chunkMessage(csid, type, streamId, ts, tag.subarray(FLV_TAG_HEADER_SIZE, FLV_TAG_HEADER_SIZE + size));
  }

  #emptyCheck(): void {
    if (this.#publisher === null && this.#flv.size === 0 && this.#players.size === 0) this.events.empty(this);
  }
}
