/**
 * Issue 14: a short, seeded RTMP fuzz run against the real daemon while a
 * healthy publish is recorded beside it. The long run is bench/fuzz-rtmp.mjs.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../fuzz/fuzz-campaign.js';

describe('RTMP fuzzing (fixed seeds)', () => {
  it('survives 300 mutated publish sessions; the healthy record stays whole', { timeout: 240_000 }, async () => {
    const result = await runCampaign({ sessions: 300, seed: 14, concurrency: 4, waitMs: 400, healthySeconds: 12 });
    const summary = JSON.stringify(
      { ...result, reasons: Object.fromEntries(result.reasons), unexpected: Object.fromEntries(result.unexpected), logTail: undefined },
      null,
      1,
    );
    expect(result.crashes, `crashed on case ${JSON.stringify(result.crashCase?.mutations)}\n${result.logTail}`).toBe(0);
    expect(result.cases).toBe(300);
    expect(result.daemonExitCode, summary).toBe(0);
    expect(result.orphans, summary).toEqual([]);
    expect(result.healthyRecordSeconds, summary).not.toBeNull();
    expect(Math.abs(result.healthyRecordSeconds! - result.healthyClipSeconds), summary).toBeLessThanOrEqual(0.5);
    // the guard refused many cases with reasons of its own
    expect(result.reasons.size, summary).toBeGreaterThan(5);
  });
});
