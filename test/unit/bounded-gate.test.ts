import { describe, expect, it } from 'vitest';
import { BoundedGate, GateClosedError, GateFullError } from '../../src/util/bounded-gate.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('BoundedGate', () => {
  it('never runs more than `concurrency` tasks; refuses beyond the waiting room', async () => {
    const gate = new BoundedGate(2, 3);
    let running = 0;
    let most = 0;
    const release = deferred();
    const task = async () => {
      running++;
      most = Math.max(most, running);
      await release.promise;
      running--;
      return 'done';
    };
    const calls = Array.from({ length: 8 }, () => gate.run(task));
    const settled = Promise.allSettled(calls);
    await new Promise((r) => setTimeout(r, 5));
    expect(gate.held).toBe(2);
    expect(gate.waiting).toBe(3);
    release.resolve();
    const results = await settled;
    expect(most).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) expect(r.reason).toBeInstanceOf(GateFullError);
    expect(gate.held).toBe(0);
  });

  it('a failing task gives its place back', async () => {
    const gate = new BoundedGate(1, 0);
    await expect(gate.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(async () => 1)).resolves.toBe(1);
  });

  it('close() refuses the waiting and later callers; the running one finishes', async () => {
    const gate = new BoundedGate(1, 5);
    const release = deferred();
    const first = gate.run(() => release.promise.then(() => 'first'));
    const waiting = gate.run(async () => 'never');
    gate.close();
    await expect(waiting).rejects.toBeInstanceOf(GateClosedError);
    await expect(gate.run(async () => 'later')).rejects.toBeInstanceOf(GateClosedError);
    release.resolve();
    await expect(first).resolves.toBe('first');
  });

  it('refuses nonsense sizes', () => {
    expect(() => new BoundedGate(0, 1)).toThrow(RangeError);
    expect(() => new BoundedGate(1, -1)).toThrow(RangeError);
  });
});
