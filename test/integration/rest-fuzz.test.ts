import { describe, expect, it } from 'vitest';
import { runFuzz, type FuzzReport } from '../fuzz/rest-fuzz.js';

/** One line per failure: enough to replay it (seed, case number) and to see the daemon's stack. */
function failures(report: FuzzReport): string[] {
  return report.failures.map(
    (f) =>
      `#${f.case.n} ${f.case.kind} ${f.case.method} ${f.case.path.slice(0, 200)} body ${JSON.stringify(f.case.body?.toString('utf8', 0, 200) ?? null)}` +
      ` -> ${f.answer.status} ${f.answer.body.slice(0, 200)} ${f.logged.join(' ').slice(0, 600)}`,
  );
}

// The short run of the REST fuzzer (test/fuzz/rest-fuzz.ts): a few hundred
// seeded cases over every route of /rest-api/docs against a real daemon that
// records a healthy RTMP publish meanwhile. The long run is
// bench/fuzz-rest.mjs (docs/testing.md).
describe('REST fuzzer (short run)', () => {
  it.each([11, 12])('seed %i: never a 5xx, the daemon alive, no orphaned ffmpeg, the healthy record whole', async (seed) => {
    const report = await runFuzz({ requests: 300, seed, concurrency: 3 });
    expect(failures(report)).toEqual([]);
    expect(report.serverErrorLines).toEqual([]);
    expect(report.requests).toBe(300);
    expect(report.daemonAlive).toBe(true);
    expect(report.daemonExit).toBe('0');
    expect(report.orphans).toEqual([]);
    expect(report.healthy.note).toBe('');
    expect(report.healthy.parts).toBeGreaterThan(0);
    // the record holds what the publisher sent (its own -progress count), whatever the machine's speed
    expect(Math.abs(report.healthy.recordedSeconds - report.healthy.sentSeconds)).toBeLessThanOrEqual(1.5);
  }, 120_000);
});
