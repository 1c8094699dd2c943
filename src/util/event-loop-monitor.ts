import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopDelay {
  /** Milliseconds; 0 when nothing was sampled yet. */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** How long the figures cover, since start or the last reset. */
  readonly sinceMs: number;
}

/** The raw figures of one window (seconds, as Node's histogram records them: the sampling period included). */
export interface EventLoopWindow {
  readonly count: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
  readonly meanSeconds: number;
  readonly stddevSeconds: number;
  readonly p50Seconds: number;
  readonly p90Seconds: number;
  readonly p99Seconds: number;
}

/**
 * How often the event loop is sampled. Each sample wakes an idle daemon: at
 * 20 ms that was 50 wake-ups a second, about 0.11 CPU-s a minute of a
 * settled idle daemon's ~0.14 (issue 20, BENCHMARKS.md "The idle daemon").
 * At 50 ms it is 20 a second; under a synthetic 60 %-busy load with rare
 * 30-80 ms stalls, p99 read 40 ms at 50 ms against 45 ms at 20 ms (and
 * 46 ms at 100 ms, where a 25 s bench window holds only 250 samples): the
 * delay is still measured at every sample, there are only fewer samples,
 * so short windows give a coarser p99.
 */
export const EVENT_LOOP_RESOLUTION_MS = 50;

/**
 * The daemon's event-loop delay (how late timers run): the figure that says
 * whether ingest and recorders keep up. One sampler for the whole daemon,
 * read through two windows:
 * - read(): since start or the last reset asked by /rest-api/server/stats
 *   (and wcs_event_loop_delay_seconds); each sample is the whole interval,
 *   so the sampling period is taken off: an idle loop reads about 0;
 * - readWindow(): since the previous call (the Prometheus scrape:
 *   nodejs_eventloop_lag_*, which prom-client used to measure with a
 *   histogram and timer of its own), raw as Node records it.
 * The two windows are two native histograms enabled together with the same
 * period: their timers fire in the same loop iteration, so the second one
 * costs no wake-up (measured: 49.7 wake-ups a second with one or two 20 ms
 * histograms).
 */
export class EventLoopMonitor {
  #histogram: IntervalHistogram | null = null;
  #window: IntervalHistogram | null = null;
  #since = 0;

  constructor(readonly resolutionMs = EVENT_LOOP_RESOLUTION_MS) {}

  start(): void {
    if (this.#histogram) return;
    this.#histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.#window = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.#histogram.enable();
    this.#window.enable();
    this.#since = performance.now();
  }

  read(reset = false): EventLoopDelay {
    const h = this.#histogram;
    const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, Math.round((ns - this.resolutionMs * 1e6) / 1e4) / 100) : 0);
    const count = h ? h.count : 0;
    const out: EventLoopDelay = {
      meanMs: h && count > 0 ? ms(h.mean) : 0,
      p50Ms: h && count > 0 ? ms(h.percentile(50)) : 0,
      p99Ms: h && count > 0 ? ms(h.percentile(99)) : 0,
      maxMs: h && count > 0 ? ms(h.max) : 0,
      sinceMs: Math.round(performance.now() - this.#since),
    };
    if (reset && h) {
      h.reset();
      this.#since = performance.now();
    }
    return out;
  }

  /** The figures since the previous readWindow() (or start), then a new window; all 0 when nothing was sampled. */
  readWindow(): EventLoopWindow {
    const h = this.#window;
    const count = h ? h.count : 0;
    const s = (ns: number): number => (h && count > 0 && Number.isFinite(ns) ? ns / 1e9 : 0);
    const out: EventLoopWindow = {
      count,
      minSeconds: s(h?.min ?? 0),
      maxSeconds: s(h?.max ?? 0),
      meanSeconds: s(h?.mean ?? 0),
      stddevSeconds: s(h?.stddev ?? 0),
      p50Seconds: s(h?.percentile(50) ?? 0),
      p90Seconds: s(h?.percentile(90) ?? 0),
      p99Seconds: s(h?.percentile(99) ?? 0),
    };
    h?.reset();
    return out;
  }

  close(): void {
    this.#histogram?.disable();
    this.#window?.disable();
    this.#histogram = null;
    this.#window = null;
  }
}
