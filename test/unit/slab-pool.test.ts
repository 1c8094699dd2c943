import { describe, expect, it } from 'vitest';
import { releaseView, retainView, SlabPool } from '../../src/util/slab-pool.js';

describe('SlabPool: slabs recycled by reference count', () => {
  it('a slab returns to the pool when its last holder lets go, through any view of it', () => {
    const pool = new SlabPool(1024, 8);
    const slab = pool.take(); // the taker's reference
    const a = slab.subarray(0, 100);
    const b = slab.subarray(100, 300);
    retainView(a);
    retainView(b);
    releaseView(slab);
    expect(pool.stats.free).toBe(0);
    // another view of the same bytes lets go for `a`
    releaseView(Buffer.from(a.buffer, a.byteOffset, a.length));
    expect(pool.stats.free).toBe(0);
    releaseView(b.subarray(10, 20));
    expect(pool.stats.free).toBe(1);
    const again = pool.take();
    expect(again.buffer).toBe(slab.buffer);
    expect(pool.stats).toMatchObject({ allocated: 1, reused: 1, free: 0, overReleased: 0 });
  });

  it('memory that is not a pool slab is ignored', () => {
    const pool = new SlabPool(1024, 8);
    const own = Buffer.alloc(100);
    const small = Buffer.from('abc'); // Node's shared 8 KiB pool
    for (const view of [own, small, own.subarray(5)]) {
      retainView(view);
      releaseView(view);
      releaseView(view);
    }
    expect(pool.stats).toMatchObject({ allocated: 0, free: 0, overReleased: 0 });
  });

  it('a release with no holder left is counted and changes nothing', () => {
    const pool = new SlabPool(1024, 8);
    const slab = pool.take();
    releaseView(slab);
    expect(pool.stats.free).toBe(1);
    releaseView(slab);
    expect(pool.stats.overReleased).toBe(1);
    expect(pool.stats.free).toBe(1);
    // taken again: one reference, as new
    const again = pool.take();
    retainView(again);
    releaseView(again);
    expect(pool.stats.free).toBe(0);
    releaseView(again);
    expect(pool.stats.free).toBe(1);
  });

  it('keeps at most maxFree slabs; limit() lets the rest go', () => {
    const pool = new SlabPool(1024, 2);
    const slabs = [pool.take(), pool.take(), pool.take()];
    for (const s of slabs) releaseView(s);
    expect(pool.stats.free).toBe(2);
    pool.limit(1);
    expect(pool.stats.free).toBe(1);
    pool.limit(0);
    expect(pool.stats.free).toBe(0);
    expect(pool.take().buffer).not.toBe(slabs[0]!.buffer);
    expect(pool.stats.allocated).toBe(4);
  });

  it('poison: a slab whose last holder let go is filled with 0xA5 (a late reader sees it)', () => {
    const pool = new SlabPool(64, 2, true);
    const slab = pool.take();
    slab.fill(1);
    const view = slab.subarray(8, 16);
    retainView(view);
    releaseView(slab);
    expect(view.every((x) => x === 1)).toBe(true);
    releaseView(view);
    expect(view.every((x) => x === 0xa5)).toBe(true);
    expect(slab.every((x) => x === 0xa5)).toBe(true);
  });

  it('a slab never let go is simply not reused (the garbage collector frees it)', () => {
    const pool = new SlabPool(1024, 8);
    const held = pool.take();
    const other = pool.take();
    releaseView(other);
    expect(pool.take().buffer).toBe(other.buffer);
    expect(pool.take().buffer).not.toBe(held.buffer);
    expect(pool.stats.allocated).toBe(3);
  });
});

describe('SlabPool.trim', () => {
  it('lets go of the slabs no take() needed since the last trim, and keeps those that were', () => {
    const pool = new SlabPool(1024, 16);
    const burst = Array.from({ length: 10 }, () => pool.take());
    for (const s of burst) releaseView(s);
    expect(pool.stats.free).toBe(10);
    pool.trim(); // the low-water mark starts at 0: nothing measured yet
    expect(pool.stats.free).toBe(10);
    // the streams now use three at a time: the pool never went below 7
    for (let round = 0; round < 5; round++) {
      const inUse = [pool.take(), pool.take(), pool.take()];
      for (const s of inUse) releaseView(s);
    }
    pool.trim();
    expect(pool.stats.free).toBe(3);
    // the same use again: the three left are all needed, none goes
    const inUse = [pool.take(), pool.take(), pool.take()];
    for (const s of inUse) releaseView(s);
    pool.trim();
    expect(pool.stats.free).toBe(3);
    expect(pool.stats.allocated).toBe(10);
  });
});
