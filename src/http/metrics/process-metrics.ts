import { createRequire } from 'node:module';
import { Gauge, type Registry } from 'prom-client';
import type { EventLoopWindow } from '../../util/event-loop-monitor.js';

const require = createRequire(import.meta.url);

/**
 * prom-client's default collectors (lib/defaultMetrics.js of the pinned
 * version), all but `eventLoopLag`: that one enables an event-loop histogram
 * with a timer of its own, a second sampler beside the daemon's
 * EventLoopMonitor. Its series are exported by eventLoopLagGauges() from the
 * daemon's monitor instead, under the same names. Checked against
 * prom-client's own list by test/unit/process-metrics.test.ts.
 */
export const PROCESS_COLLECTORS: readonly string[] = [
  'processCpuTotal',
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
];

/** The collector prom-client's collectDefaultMetrics() adds that this module replaces. */
export const REPLACED_COLLECTOR = 'eventLoopLag';

type Collector = (registry: Registry, config: Record<string, unknown>) => void;

/** process_* and nodejs_* series as collectDefaultMetrics() makes them, without its event-loop histogram. */
export function collectProcessMetrics(registry: Registry): void {
  for (const name of PROCESS_COLLECTORS) (require(`prom-client/lib/metrics/${name}`) as Collector)(registry, {});
}

/**
 * nodejs_eventloop_lag_* with prom-client's names, help and meaning
 * (since the previous scrape, raw: the sampling period included), read from
 * the daemon's event-loop monitor. nodejs_eventloop_lag_seconds is, as in
 * prom-client, how long a setImmediate queued at the scrape waits.
 */
export function eventLoopLagGauges(registry: Registry, window: () => EventLoopWindow): void {
  const registers = [registry];
  // registered first (as in prom-client): the registry serialises in order, and this collect sets the series after it
  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers,
    collect(this: Gauge) {
      const start = process.hrtime.bigint();
      setImmediate(() => this.set(Number(process.hrtime.bigint() - start) / 1e9));
      const w = window();
      lag.min.set(w.minSeconds);
      lag.max.set(w.maxSeconds);
      lag.mean.set(w.meanSeconds);
      lag.stddev.set(w.stddevSeconds);
      lag.p50.set(w.p50Seconds);
      lag.p90.set(w.p90Seconds);
      lag.p99.set(w.p99Seconds);
    },
  });
  const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
  const lag = {
    min: gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.'),
    max: gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.'),
    mean: gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.'),
    stddev: gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.'),
    p50: gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.'),
    p90: gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.'),
    p99: gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.'),
  };
}
