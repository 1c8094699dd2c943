/**
 * Recycled memory for RTMP ingest (issue 20, round 4).
 *
 * Audio and video messages are read into regions of 256 KiB slabs
 * (ingest/rtmp/tag-slab.ts). A new slab for every 256 KiB received is an
 * ArrayBuffer allocation V8 counts as external memory: at 3 Mbit/s that is
 * about 0.4 MB/s per stream, which keeps V8's full collector running (a
 * Mark-Compact every two to three seconds at 10 streams, found with perf:
 * a quarter of the daemon's CPU, concurrent marking and sweeping on V8's
 * worker threads, plus the page faults of fresh slabs). A pool gives a slab
 * back for reuse once nothing holds a tag in it any more.
 *
 * Who holds what is counted per slab:
 * - the pool's `take()` hands a slab out with one reference, its carver's
 *   (the TagSlab that cuts regions from it), given back with
 *   `releaseView(slab)` when the carver moves on to the next slab;
 * - a message being read holds one reference from the region's cut until
 *   it has been handed to the broadcast and every synchronous consumer;
 * - anything that keeps a tag (or any view of it) beyond the synchronous
 *   call that gave it — the GOP cache, a fragment being built, a write in
 *   flight — calls `retainView(view)` when it keeps it and `releaseView`
 *   (with that view or any other view of the same slab) exactly once when it
 *   lets go.
 *
 * A reference never given back is safe: that slab simply never returns to
 * the pool and the garbage collector frees it when the last view goes (the
 * pool keeps no reference to a slab in use). A reference given back twice
 * is not: the slab could be reused under a consumer still reading it. So
 * consumers that are not sure to let go exactly once (a muxer that failed,
 * a queue thrown away) let go of nothing. `poison` (tests: environment
 * WCS_SLAB_POISON=1) fills each slab with 0xA5 when its last reference
 * goes, so a tag read after it was given back shows as wrong bytes in the
 * records (test/integration/media-integrity.test.ts); `overReleased` counts
 * releases of a slab nobody held.
 *
 * Views of buffers that are not pool slabs are ignored by retainView and
 * releaseView, so a consumer need not know where a tag came from.
 */

const SLAB = Symbol('wcs.slab');

/** What the pool knows of one slab; attached to the slab's ArrayBuffer. */
interface SlabRecord {
  refs: number;
  readonly pool: SlabPool;
  readonly slab: Buffer;
}

type PooledArrayBuffer = ArrayBufferLike & { [SLAB]?: SlabRecord };

export interface SlabPoolStats {
  /** Slabs allocated since start. */
  readonly allocated: number;
  /** Slabs handed out again from the pool. */
  readonly reused: number;
  /** Slabs waiting in the pool. */
  readonly free: number;
  /** Slabs out of the pool now (held by a carver, a message, a cache or a write). */
  readonly inUse: number;
  /** Slabs let go to the garbage collector because the pool was full. */
  readonly dropped: number;
  /** Releases of a slab that had no reference left (a consumer bug; should stay 0). */
  readonly overReleased: number;
}

export class SlabPool {
  readonly #free: Buffer[] = [];
  /** The fewest slabs the pool held since the last trim(). */
  #lowWater = 0;
  #allocated = 0;
  #reused = 0;
  #inUse = 0;
  #dropped = 0;
  #overReleased = 0;

  constructor(
    /** Bytes of one slab. */
    readonly slabSize: number,
    /** Slabs the pool keeps for reuse; a slab given back beyond that is left to the garbage collector. */
    private maxFree: number,
    /** Fill a slab with 0xA5 when its last reference goes (tests). */
    private readonly poison = false,
  ) {}

  /** A slab with one reference, the caller's. Its bytes are whatever was there: not zeroed. */
  take(): Buffer {
    this.#inUse++;
    const reused = this.#free.pop();
    if (this.#free.length < this.#lowWater) this.#lowWater = this.#free.length;
    if (reused !== undefined) {
      this.#reused++;
      (reused.buffer as PooledArrayBuffer)[SLAB]!.refs = 1;
      return reused;
    }
    const slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.#allocated++;
    const record: SlabRecord = { refs: 1, pool: this, slab };
    (slab.buffer as PooledArrayBuffer)[SLAB] = record;
    return slab;
  }

  get stats(): SlabPoolStats {
    return { allocated: this.#allocated, reused: this.#reused, free: this.#free.length, inUse: this.#inUse, dropped: this.#dropped, overReleased: this.#overReleased };
  }

  /** How many slabs the pool may keep from now on (those beyond are let go at once). */
  limit(maxFree: number): void {
    this.maxFree = maxFree;
    if (this.#free.length > maxFree) this.#free.length = maxFree;
    if (this.#lowWater > this.#free.length) this.#lowWater = this.#free.length;
  }

  /**
   * Lets go of the slabs no take() needed since the last trim (the fewest
   * the pool held in that time): after a burst of media the pool shrinks
   * back to what the streams use. Called every few seconds.
   */
  trim(): void {
    this.#free.length -= Math.min(this.#lowWater, this.#free.length);
    this.#lowWater = this.#free.length;
  }

  /** @internal the last reference of `record` went. */
  returned(record: SlabRecord): void {
    this.#inUse--;
    if (this.poison) record.slab.fill(0xa5);
    if (this.#free.length < this.maxFree) this.#free.push(record.slab);
    else this.#dropped++;
  }

  /** @internal a release found no reference to give back. */
  overReleased(): void {
    this.#overReleased++;
  }
}

function recordOf(view: Uint8Array): SlabRecord | undefined {
  return (view.buffer as PooledArrayBuffer)[SLAB];
}

/** One more holder of the slab `view` lies in (nothing for memory that is not a pool slab). */
export function retainView(view: Uint8Array): void {
  const record = recordOf(view);
  if (record !== undefined) record.refs++;
}

/** A holder of the slab `view` lies in lets go; the slab returns to its pool when none is left. */
export function releaseView(view: Uint8Array): void {
  const record = recordOf(view);
  if (record === undefined) return;
  if (record.refs <= 0) {
    record.pool.overReleased();
    return;
  }
  if (--record.refs === 0) record.pool.returned(record);
}

/**
 * Pools for messages too large to share a slab (a keyframe above a quarter
 * of a slab): one pool per power-of-two size from `smallest` to `largest`;
 * a region is the start of a slab of the smallest size that holds it, with
 * one reference (its message's), so it goes back to its pool as soon as its
 * holders let go, never pinned by a neighbour. Larger messages get a buffer
 * of their own.
 */
export class SizeClassPools {
  readonly #pools: SlabPool[] = [];

  constructor(smallest: number, largest: number, maxFreeEach: number, poison = false) {
    for (let size = smallest; size <= largest; size *= 2) this.#pools.push(new SlabPool(size, maxFreeEach, poison));
  }

  /** A region of `bytes` with one reference, or null when no class holds it. */
  take(bytes: number): Buffer | null {
    for (const pool of this.#pools) if (pool.slabSize >= bytes) return pool.take().subarray(0, bytes);
    return null;
  }

  limit(maxFreeEach: number): void {
    for (const pool of this.#pools) pool.limit(maxFreeEach);
  }

  trim(): void {
    for (const pool of this.#pools) pool.trim();
  }

  /** The classes' figures added up. */
  get stats(): SlabPoolStats {
    return sumStats(this.#pools.map((p) => p.stats));
  }
}

/** Figures of several pools added up. */
export function sumStats(all: readonly SlabPoolStats[]): SlabPoolStats {
  const sum = { allocated: 0, reused: 0, free: 0, inUse: 0, dropped: 0, overReleased: 0 };
  for (const s of all) {
    sum.allocated += s.allocated;
    sum.reused += s.reused;
    sum.free += s.free;
    sum.inUse += s.inUse;
    sum.dropped += s.dropped;
    sum.overReleased += s.overReleased;
  }
  return sum;
}
