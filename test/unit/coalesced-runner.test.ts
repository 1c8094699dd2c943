import { describe, expect, it } from 'vitest';
import { CoalescedRunner } from '../../src/util/coalesced-runner.js';

describe('CoalescedRunner', () => {
  it('one run at a time; wakes during a run coalesce into one more run', async () => {
    let runs = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    let release: (() => void) | null = null;
    const runner = new CoalescedRunner(async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise<void>((r) => (release = r));
      concurrent--;
    }, () => {});
    runner.wake();
    runner.wake();
    runner.wake();
    expect(runs).toBe(1);
    release!();
    await runner.running;
    // the two wakes during the first run gave exactly one more
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2);
    release!();
    await runner.running;
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2);
    expect(runner.running).toBeNull();
    expect(maxConcurrent).toBe(1);
  });

  it('a failing step is reported and the runner goes on; again() asks for one more run', async () => {
    const errors: string[] = [];
    let runs = 0;
    const runner = new CoalescedRunner(async () => {
      runs++;
      if (runs === 1) {
        runner.again();
        throw new Error('boom');
      }
    }, (err) => errors.push(err.message));
    runner.wake();
    await runner.running;
    await new Promise((r) => setImmediate(r));
    await runner.running;
    expect(errors).toEqual(['boom']);
    expect(runs).toBe(2);
  });
});
