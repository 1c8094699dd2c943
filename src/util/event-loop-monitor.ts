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

/**
 * The daemon's event-loop delay (how late timers run): the figure that says
 * whether ingest and recorders keep up. Sampled by Node's histogram every
 * `resolutionMs` (each sample is the whole interval, so the sampling period
 * is taken off: an idle loop reads about 0, not `resolutionMs`); read (and
 * optionally reset) through /rest-api/server/stats. 20 ms keeps the idle
 * daemon's own cost small (each sample wakes the process).
 */
export class EventLoopMonitor {
  #histogram: IntervalHistogram | null = null;
  #since = 0;

  constructor(private readonly resolutionMs = 20) {}

  start(): void {
    if (this.#histogram) return;
    this.#histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.#histogram.enable();
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

  close(): void {
    this.#histogram?.disable();
    this.#histogram = null;
  }
}
