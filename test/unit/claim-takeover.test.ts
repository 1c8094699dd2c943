import { describe, expect, it } from 'vitest';
import { takeoverInterval } from '../../src/cluster/claim-takeover.js';

describe('how often abandoned claims are looked for', () => {
  it.each([
    // [cluster_node_timeout ms, cluster_claim_lease ms, interval ms]
    [20_000, 30_000, 10_000],
    [3_000, 2_000, 1_000],
    [2_000, 30_000, 1_000],
    [600_000, 600_000, 10_000],
    [8_000, 30_000, 4_000],
  ])('node timeout %i, lease %i: every %i ms', (timeout, lease, interval) => {
    expect(takeoverInterval(timeout, lease)).toBe(interval);
  });
});
