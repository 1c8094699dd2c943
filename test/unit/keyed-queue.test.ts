import { describe, expect, it } from 'vitest';
import { KeyedQueue, QueueFullError } from '../../src/util/keyed-queue.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

describe('KeyedQueue', () => {
  it('runs tasks of one key one after another, in call order', async () => {
    const q = new KeyedQueue();
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        q.run('a', async () => {
          running++;
          most = Math.max(most, running);
          await tick();
          order.push(i);
          running--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(q.size).toBe(0);
  });

  it('runs different keys side by side', async () => {
    const q = new KeyedQueue();
    let running = 0;
    let most = 0;
    const task = async () => {
      running++;
      most = Math.max(most, running);
      await tick();
      running--;
    };
    await Promise.all([q.run('a', task), q.run('b', task), q.run('c', task)]);
    expect(most).toBe(3);
  });

  it('a failing task rejects its caller only and does not block the next one', async () => {
    const q = new KeyedQueue();
    const failed = q.run('a', async () => {
      await tick();
      throw new Error('boom');
    });
    const next = q.run('a', () => 42);
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
  });

  it('a synchronous throw is a rejection, not an exception at the call', async () => {
    const q = new KeyedQueue();
    const p = q.run('a', () => {
      throw new Error('sync');
    });
    await expect(p).rejects.toThrow('sync');
    expect(await q.run('a', () => 'after')).toBe('after');
  });

  it('busy() and drain() see queued work', async () => {
    const q = new KeyedQueue<string>();
    let release!: () => void;
    void q.run('k', () => new Promise<void>((r) => (release = r)));
    expect(q.busy('k')).toBe(true);
    expect(q.busy('other')).toBe(false);
    const drained = q.drain();
    await tick();
    release();
    await drained;
    expect(q.busy('k')).toBe(false);
  });

  it('takes at most maxPerKey calls per key (queued or running); the rest are refused at once, other keys unaffected', async () => {
    const q = new KeyedQueue<string>(3);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = [q.run('k', () => gate), q.run('k', () => 1), q.run('k', () => 2)];
    await expect(q.run('k', () => 3)).rejects.toBeInstanceOf(QueueFullError);
    expect(await q.run('other', () => 'free')).toBe('free');
    release();
    expect((await Promise.all(held)).slice(1)).toEqual([1, 2]);
    // room again once they settled
    expect(await q.run('k', () => 4)).toBe(4);
  });
});
