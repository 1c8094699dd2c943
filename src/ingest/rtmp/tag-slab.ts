/**
 * RTMP audio and video messages read straight into the FLV tags the taps
 * get (issue 20).
 *
 * node-media-server reads each message into a buffer it reuses per chunk
 * stream, then builds an FLV tag per message with Buffer.alloc (a new,
 * zero-filled ArrayBuffer) and copies the message into it. Instead, the
 * chunk reader gets, for each audio/video message, a view into a
 * shared slab with room for the 11-byte FLV tag header in front and the
 * 4-byte previous-tag-size behind: the message lands where the tag will be,
 * and the tag is finished in place (header and trailer written) when the
 * broadcast hands it on (finishFlvTag). One copy (socket buffer to slab) and no
 * ArrayBuffer per message; the garbage collector sees small views only.
 *
 * Slabs come from the ingest's SlabPool (util/slab-pool.ts) and go back
 * to it when no tag in them is held any more (the GOP cache, a fragment
 * being built, a write in flight each hold theirs); each connection cuts
 * from a slab of its own, so one publisher's long GOP never pins another's
 * memory. A region comes with one reference for the message being read,
 * which the session gives back once the message has been handed on.
 */
import { releaseView, retainView, type SizeClassPools, type SlabPool } from '../../util/slab-pool.js';

export const FLV_TAG_HEADER_SIZE = 11;
export const FLV_PREVIOUS_TAG_SIZE = 4;

/** Bytes of one slab. */
export const SLAB_SIZE = 256 * 1024;
/** Messages above this get a region of their own (a slab holds at least four of the largest). */
export const SLAB_MAX_TAG = SLAB_SIZE / 4;
/** Regions of their own come from size classes up to this (larger messages get a plain buffer). */
export const LARGE_TAG_MAX = 4 * 1024 * 1024;

/** Carves FLV tag regions (header room, message, trailer room) out of pool slabs. Not zeroed: every byte is written before a tag is handed on. */
export class TagSlab {
  #slab: Buffer | null = null;
  #used = 0;

  constructor(
    private readonly pool: SlabPool,
    /** Where a region above maxTag comes from (null: a buffer of its own). */
    private readonly large: SizeClassPools | null = null,
    private readonly maxTag = Math.min(SLAB_MAX_TAG, pool.slabSize / 4),
  ) {}

  /**
   * A region for the tag of a message of `bodyLength` bytes (header room,
   * body, trailer room), with one reference the caller gives back
   * (releaseView) once the message has been handed on.
   */
  take(bodyLength: number): Buffer {
    const need = FLV_TAG_HEADER_SIZE + bodyLength + FLV_PREVIOUS_TAG_SIZE;
    if (need > this.maxTag) return this.large?.take(need) ?? Buffer.allocUnsafeSlow(need);
    if (this.#slab === null || this.#used + need > this.#slab.length) {
      // the carver's reference to the full slab goes; the regions cut from it hold their own
      if (this.#slab !== null) releaseView(this.#slab);
      this.#slab = this.pool.take();
      this.#used = 0;
    }
    const region = this.#slab.subarray(this.#used, this.#used + need);
    retainView(region);
    // 8-byte steps keep the next region aligned (cheaper copies)
    this.#used += (need + 7) & ~7;
    return region;
  }

  /** The connection is over: the slab being cut goes back once its regions are let go. */
  close(): void {
    if (this.#slab !== null) releaseView(this.#slab);
    this.#slab = null;
  }
}

/** The body view of a tag region: where the parser writes the message. */
export function bodyOf(region: Buffer): Buffer {
  return region.subarray(FLV_TAG_HEADER_SIZE, region.length - FLV_PREVIOUS_TAG_SIZE);
}

/**
 * Finishes the FLV tag around a body read into `tag` (a region from take()
 * or any buffer of header + body + trailer): the same bytes
 * node-media-server 4.4.3's Flv.createMessage builds by copying (type,
 * size, timestamp with its high byte after, stream id 0, body,
 * previous-tag-size). Returns `tag`.
 */
export function finishFlvTag(tag: Buffer, type: number, size: number, dts: number): Buffer {
  tag[0] = type;
  tag[1] = (size >> 16) & 0xff;
  tag[2] = (size >> 8) & 0xff;
  tag[3] = size & 0xff;
  tag[4] = (dts >> 16) & 0xff;
  tag[5] = (dts >> 8) & 0xff;
  tag[6] = dts & 0xff;
  tag[7] = (dts >> 24) & 0xff;
  tag[8] = 0;
  tag[9] = 0;
  tag[10] = 0;
  tag.writeUInt32BE(FLV_TAG_HEADER_SIZE + size, FLV_TAG_HEADER_SIZE + size);
  return tag;
}
