import { createRequire } from 'node:module';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectProcessMetrics, eventLoopLagGauges, PROCESS_COLLECTORS, REPLACED_COLLECTOR } from '../../src/http/metrics/process-metrics.js';
import { EventLoopMonitor, type EventLoopWindow } from '../../src/util/event-loop-monitor.js';
import { metricNames, parsePrometheus, sampleValue } from '../helpers/prometheus.js';

const require = createRequire(import.meta.url);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const WINDOW: EventLoopWindow = {
  count: 40,
  minSeconds: 0.05,
  maxSeconds: 0.12,
  meanSeconds: 0.052,
  stddevSeconds: 0.003,
  p50Seconds: 0.0501,
  p90Seconds: 0.051,
  p99Seconds: 0.09,
};

describe('process metrics without prom-client event-loop histogram (issue 20)', () => {
  it("takes every collector of prom-client's defaults but the event-loop one", () => {
    const list = (require('prom-client/lib/defaultMetrics') as { metricsList: string[] }).metricsList;
    expect([...PROCESS_COLLECTORS, REPLACED_COLLECTOR].sort()).toEqual([...list].sort());
  });

  it('exports every metric name collectDefaultMetrics() does, the nodejs_eventloop_lag_* ones from our window', async () => {
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const ours = new Registry();
    collectProcessMetrics(ours);
    let reads = 0;
    eventLoopLagGauges(ours, () => {
      reads++;
      return WINDOW;
    });
    const ourText = await ours.metrics();
    expect([...metricNames(ourText)].sort()).toEqual([...metricNames(await theirs.metrics())].sort());
    const samples = parsePrometheus(ourText);
    expect(sampleValue(samples, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.09);
    expect(sampleValue(samples, 'nodejs_eventloop_lag_max_seconds')).toBe(0.12);
    expect(sampleValue(samples, 'nodejs_eventloop_lag_min_seconds')).toBe(0.05);
    expect(sampleValue(samples, 'nodejs_eventloop_lag_p50_seconds')).toBe(0.0501);
    expect(sampleValue(samples, 'nodejs_eventloop_lag_stddev_seconds')).toBe(0.003);
    // one read of the window per scrape: it is reset by each read
    expect(reads).toBe(1);
    await ours.metrics();
    expect(reads).toBe(2);
  });
});

describe('EventLoopMonitor', () => {
  it('serves two windows from one sampler: the scrape window restarts at each read, the stats one only when asked', async () => {
    const m = new EventLoopMonitor(10);
    expect(m.readWindow().count).toBe(0);
    m.start();
    try {
      await sleep(300);
      const first = m.readWindow();
      expect(first.count).toBeGreaterThan(0);
      // raw values: a sample is the whole interval, at least the period
      expect(first.minSeconds).toBeGreaterThanOrEqual(0.009);
      expect(first.p99Seconds).toBeGreaterThanOrEqual(first.p50Seconds);
      expect(first.maxSeconds).toBeGreaterThanOrEqual(first.p99Seconds);
      // read at once again: a new window, nothing sampled in it yet
      const again = m.readWindow();
      expect(again.count).toBeLessThan(first.count);
      // the stats window was not reset by the scrapes: it covers the whole time since start
      const stats = m.read();
      expect(stats.sinceMs).toBeGreaterThanOrEqual(300);
      expect(stats.maxMs).toBeGreaterThanOrEqual(stats.p99Ms);
      m.read(true);
      expect(m.read().sinceMs).toBeLessThan(stats.sinceMs);
    } finally {
      m.close();
    }
    expect(m.readWindow().count).toBe(0);
  });
});
