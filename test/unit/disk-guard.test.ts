import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DiskGuard } from '../../src/recording/disk-guard.js';

describe('DiskGuard cadence (issue 20: an idle daemon is not woken every second)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function guard(free: () => number, busy: () => boolean): { disk: DiskGuard; probes: () => number } {
    let probes = 0;
    const disk = new DiskGuard(
      ['/records'],
      1000,
      async () => {
        probes++;
        return free();
      },
      1000,
      { busy, idleIntervalMs: 10_000 },
    );
    return { disk, probes: () => probes };
  }

  it('checks every idleIntervalMs while nothing records, every intervalMs once something does', async () => {
    let busy = false;
    const { disk, probes } = guard(() => 1e9, () => busy);
    disk.start();
    expect(disk.nextCheckMs).toBe(10_000);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(probes()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(probes()).toBe(1);
    // a recording starts halfway through the idle wait: wake() brings the next check within a second
    await vi.advanceTimersByTimeAsync(5_000);
    busy = true;
    disk.wake();
    expect(disk.nextCheckMs).toBe(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes()).toBe(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(probes()).toBe(5);
    // the recording ends: back to the slow cadence after the next check
    busy = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes()).toBe(6);
    expect(disk.nextCheckMs).toBe(10_000);
    disk.close();
    expect(disk.nextCheckMs).toBeNull();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(probes()).toBe(6);
  });

  it('reports low space at the fast cadence while recording, and ok when it is back', async () => {
    let free = 1e9;
    const { disk } = guard(() => free, () => true);
    const events: string[] = [];
    disk.on('low', (bytes, dir) => events.push(`low ${bytes} ${dir}`));
    disk.on('ok', () => events.push('ok'));
    disk.start();
    free = 10;
    await vi.advanceTimersByTimeAsync(1000);
    expect(events).toEqual(['low 10 /records']);
    expect(disk.low).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(events).toHaveLength(1);
    free = 1e9;
    await vi.advanceTimersByTimeAsync(1000);
    expect(events).toEqual(['low 10 /records', 'ok']);
    expect(disk.low).toBe(false);
    disk.close();
  });

  it('wake() keeps the fast cadence as it is, and does nothing before start or after close', async () => {
    const { disk, probes } = guard(() => 1e9, () => true);
    disk.wake();
    expect(disk.nextCheckMs).toBeNull();
    disk.start();
    await vi.advanceTimersByTimeAsync(600);
    disk.wake();
    await vi.advanceTimersByTimeAsync(400);
    expect(probes()).toBe(1);
    disk.close();
    disk.wake();
    expect(disk.nextCheckMs).toBeNull();
  });
});
