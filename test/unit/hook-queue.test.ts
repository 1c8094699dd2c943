import { describe, expect, it } from 'vitest';
import { HookQueue } from '../../src/recording/hook-queue.js';

function deferred(): { promise: Promise<string>; resolve: (v: string) => void } {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('HookQueue', () => {
  it('runs at most `concurrency` jobs at once; the next starts when one ends', async () => {
    const q = new HookQueue(2, 10);
    const started: string[] = [];
    const gates = ['a', 'b', 'c'].map(() => deferred());
    const results = ['a', 'b', 'c'].map((k, i) => q.run(k, () => (started.push(k), gates[i]!.promise), 'cancelled'));
    await flush();
    expect(started).toEqual(['a', 'b']);
    expect(q.running).toBe(2);
    expect(q.queued).toBe(1);
    gates[1]!.resolve('B');
    await flush();
    expect(started).toEqual(['a', 'b', 'c']);
    gates[0]!.resolve('A');
    gates[2]!.resolve('C');
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
    expect(q.running).toBe(0);
  });

  it('jobs of one key run in the order queued, one at a time; other keys pass a busy key', async () => {
    const q = new HookQueue(3, 10);
    const order: string[] = [];
    const first = deferred();
    const p1 = q.run('rec1', async () => (order.push('rec1-part1'), first.promise), '');
    const p2 = q.run('rec1', async () => (order.push('rec1-part2'), 'x'), '');
    const p3 = q.run('rec2', async () => (order.push('rec2-part1'), 'y'), '');
    await flush();
    expect(order).toEqual(['rec1-part1', 'rec2-part1']);
    first.resolve('done');
    await Promise.all([p1, p2, p3]);
    expect(order).toEqual(['rec1-part1', 'rec2-part1', 'rec1-part2']);
  });

  it('beyond maxQueued waiting jobs a job is refused (null) and counted, never silently lost', async () => {
    const q = new HookQueue(1, 2);
    const gate = deferred();
    const running = q.run('a', () => gate.promise, '');
    await flush();
    expect(q.run('b', async () => 'b', '')).not.toBeNull();
    expect(q.run('c', async () => 'c', '')).not.toBeNull();
    expect(q.run('d', async () => 'd', '')).toBeNull();
    expect(q.dropped).toBe(1);
    gate.resolve('a');
    expect(await running).toBe('a');
  });

  it('clearWaiting: jobs not started resolve with the cancelled value and never run', async () => {
    const q = new HookQueue(1, 5);
    const gate = deferred();
    let ran = false;
    void q.run('a', () => gate.promise, '');
    const waiting = q.run('b', async () => ((ran = true), 'ran'), 'cancelled')!;
    await flush();
    expect(q.clearWaiting()).toBe(1);
    expect(await waiting).toBe('cancelled');
    gate.resolve('a');
    await flush();
    expect(ran).toBe(false);
  });

  it('a job that rejects frees its slot and key', async () => {
    const q = new HookQueue(1, 5);
    const failing = q.run('a', async () => {
      throw new Error('boom');
    }, '');
    const next = q.run('a', async () => 'next', '');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });
});

describe('HookQueue shared by several owners', () => {
  it('clearWaiting(owner) removes only that owner\'s waiting jobs', async () => {
    const q = new HookQueue(1, 5);
    const gate = deferred();
    const a = {};
    const b = {};
    void q.run('k0', () => gate.promise, '', a);
    const fromA = q.run('k1', async () => 'a', 'cancelled', a)!;
    const fromB = q.run('k2', async () => 'b', 'cancelled', b)!;
    expect(q.queuedOf(a)).toBe(1);
    expect(q.clearWaiting(a)).toBe(1);
    expect(await fromA).toBe('cancelled');
    gate.resolve('');
    expect(await fromB).toBe('b');
  });
});
