import { describe, expect, it } from 'vitest';
import { WorkPool } from '../../src/recording/work-pool.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Jobs that wait for their gate and record how many run at once. */
function harness(pool: WorkPool, count: number) {
  let active = 0;
  let maxActive = 0;
  const started: number[] = [];
  const gates = Array.from({ length: count }, () => deferred<number>());
  const results = gates.map((gate, i) =>
    pool.run(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      started.push(i);
      try {
        return await gate.promise;
      } finally {
        active--;
      }
    }),
  );
  return {
    gates,
    results,
    started,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
  };
}

describe('WorkPool', () => {
  it.each([
    [1, 10],
    [3, 10],
    [4, 10], // file_recorder_thread_pool_max_size default
    [10, 10],
    [16, 10],
  ])('size %d, %d jobs: never more than size at once, all run, results to their callers', async (size, count) => {
    const pool = new WorkPool(size);
    expect(pool.size).toBe(size);
    const h = harness(pool, count);
    const finished = new Set<number>();
    await settle();
    const first = Math.min(size, count);
    expect(h.started).toHaveLength(first);
    expect(pool.running).toBe(first);
    expect(h.active).toBe(first);

    // finish the running jobs one at a time; each frees exactly one slot
    for (let done = 0; done < count; done++) {
      const running = h.started.filter((i) => !finished.has(i));
      expect(running.length).toBe(Math.min(size, count - done));
      const i = running[0]!;
      h.gates[i]!.resolve(i * 10);
      finished.add(i);
      await settle();
      expect(pool.running).toBeLessThanOrEqual(size);
      expect(pool.running).toBe(Math.min(size, count - done - 1));
    }
    expect(await Promise.all(h.results)).toEqual(Array.from({ length: count }, (_v, i) => i * 10));
    expect(h.maxActive).toBe(Math.min(size, count));
    expect(h.started).toHaveLength(count);
    expect(pool.running).toBe(0);
  });

  it('waiting jobs start in the order they were submitted', async () => {
    const pool = new WorkPool(2);
    const h = harness(pool, 6);
    await settle();
    expect(h.started).toEqual([0, 1]);
    h.gates[1]!.resolve(1);
    await settle();
    expect(h.started).toEqual([0, 1, 2]);
    h.gates[0]!.resolve(0);
    await settle();
    expect(h.started).toEqual([0, 1, 2, 3]);
    for (const g of h.gates) g.resolve(0);
    await Promise.all(h.results);
    expect(h.started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('finishing all running jobs at once still starts no more than size', async () => {
    const pool = new WorkPool(3);
    const h = harness(pool, 10);
    await settle();
    for (const i of [0, 1, 2]) h.gates[i]!.resolve(i);
    await settle();
    expect(pool.running).toBe(3);
    expect(h.started).toEqual([0, 1, 2, 3, 4, 5]);
    for (const g of h.gates) g.resolve(0);
    await Promise.all(h.results);
    expect(h.maxActive).toBe(3);
  });

  it("a job's rejection goes to its caller and does not block the others", async () => {
    const pool = new WorkPool(2);
    const h = harness(pool, 5);
    await settle();
    h.gates[0]!.reject(new Error('remux failed'));
    await expect(h.results[0]).rejects.toThrow('remux failed');
    await settle();
    expect(pool.running).toBe(2);
    expect(h.started).toEqual([0, 1, 2]);
    for (let i = 1; i < 5; i++) h.gates[i]!.resolve(i);
    expect(await Promise.all(h.results.slice(1))).toEqual([1, 2, 3, 4]);
    expect(pool.running).toBe(0);
    expect(h.maxActive).toBe(2);
  });

  it('a job that throws synchronously rejects its caller and frees its slot', async () => {
    const pool = new WorkPool(1);
    const bad = pool.run((): Promise<number> => {
      throw new Error('sync');
    });
    const good = pool.run(async () => 7);
    await expect(bad).rejects.toThrow('sync');
    await expect(good).resolves.toBe(7);
    expect(pool.running).toBe(0);
  });

  it('every job of a pool whose jobs all fail is still run', async () => {
    const pool = new WorkPool(2);
    let ran = 0;
    const results = Array.from({ length: 6 }, (_v, i) =>
      pool.run(async () => {
        ran++;
        await settle();
        throw new Error(`job ${i}`);
      }),
    );
    const settled = await Promise.allSettled(results);
    expect(ran).toBe(6);
    expect(settled.map((s) => s.status)).toEqual(Array(6).fill('rejected'));
    expect(pool.running).toBe(0);
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])(
    'a new job submitted %d microtasks after a running job finishes does not exceed the size',
    async (delay) => {
      const pool = new WorkPool(1);
      const h = harness(pool, 2); // job 0 running, job 1 waiting
      await settle();
      let active = 0;
      let maxActive = 0;
      const late = deferred<void>();
      let lateResult: Promise<string> | undefined;
      // resolve job 0, then submit job 2 after `delay` microtask hops
      h.gates[0]!.resolve(0);
      let chain = Promise.resolve();
      for (let i = 0; i < delay; i++) chain = chain.then(() => undefined);
      await chain.then(() => {
        lateResult = pool.run(async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await late.promise;
          active--;
          return 'late';
        });
      });
      await settle();
      const concurrent = h.active + active;
      expect(pool.running).toBeLessThanOrEqual(1);
      expect(concurrent).toBeLessThanOrEqual(1);
      h.gates[1]!.resolve(1);
      late.resolve();
      await Promise.all(h.results);
      await expect(lateResult).resolves.toBe('late');
      expect(Math.max(h.maxActive, maxActive)).toBeLessThanOrEqual(1);
    },
  );

  it.each([0, -1, -4])('size %d throws', (size) => {
    expect(() => new WorkPool(size)).toThrow();
  });
});
