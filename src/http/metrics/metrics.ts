import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventLoopDelay, EventLoopWindow } from '../../util/event-loop-monitor.js';
import { collectProcessMetrics, eventLoopLagGauges } from './process-metrics.js';
import {
  boundedLabel,
  CONTAINERS,
  countBy,
  DELIVERY_STATES,
  EVENT_LOOP_STATS,
  HOOK_QUEUE_STATES,
  HOOK_RESULTS,
  HOOKS,
  RECORDING_STATES,
  PROVIDERS,
  RECORD_FAILURES,
  RETENTION_KINDS,
  RETENTION_REASONS,
  RTSP_STATUSES,
  UPLOAD_FAILURE_RESULTS,
  UPLOAD_STATES,
  type HookKind,
  type RecordFailure,
} from './metric-labels.js';

/** What the gauges read at each scrape (the daemon passes its registry, recorders, ingests and disk probe). */
export interface MetricsSources {
  /** The media provider of each stream published now. */
  streamProviders(): readonly string[];
  /** Single-stream recordings in progress. */
  recordingsActive(): number;
  /** The status of each RTSP camera pull. */
  rtspPullStatuses(): readonly string[];
  /** WebRTC (browser and WHIP) publish sessions now. */
  webrtcSessions(): number;
  /** Folders whose filesystem's free space is reported (record_dir, record_tmp_dir, ...), deduplicated. */
  readonly diskDirs: readonly string[];
  /** Free bytes on the filesystem of `dir`. */
  freeSpace(dir: string): Promise<number>;
  /** The event-loop delay since start (or the last /rest-api/server/stats reset). */
  eventLoop(): EventLoopDelay;
  /** The event-loop delay since the previous call (nodejs_eventloop_lag_*, read at each scrape when processMetrics is on). */
  eventLoopWindow(): EventLoopWindow;
  /** The state of each single-stream recording in progress (RECORDING, PAUSED, FINISHING). */
  recordingStates(): readonly string[];
  /** The hook queue: jobs running and waiting now, jobs dropped since start (queue full). */
  hookQueue(): { readonly running: number; readonly queued: number; readonly dropped: number };
  /** Upload queue rows by state (the whole cluster's on a shared catalog); null when uploads are off. */
  uploadCounts(): Promise<Readonly<Record<string, number>> | null>;
  /** Upload attempts of this node that failed since start: retried later, or given up. */
  uploadFailures(): Readonly<Record<(typeof UPLOAD_FAILURE_RESULTS)[number], number>>;
  /** Webhook deliveries by state (the whole cluster's on a shared catalog); null when webhooks are off. */
  webhookCounts(): Promise<Readonly<Record<string, number>> | null>;
  /** Webhook deliveries this node gave up on (dead) and events it dropped (outbox full), since start. */
  webhookTotals(): { readonly dead: number; readonly dropped: number };
}

/** A counter whose value is kept elsewhere (a component's own count since start): read at each scrape. */
function readCounter(this: Counter<string>, labels: Record<string, string>, value: number): void {
  this.reset();
  this.inc(labels, value);
}

/** Sets `gauge` for every state of `states` from `counts` (0 when absent or off); a failed read keeps the last values. */
async function setByState(gauge: Gauge<'state'>, states: readonly string[], read: () => Promise<Readonly<Record<string, number>> | null>): Promise<void> {
  let counts: Readonly<Record<string, number>> | null;
  try {
    counts = await read();
  } catch {
    return;
  }
  for (const state of states) gauge.set({ state }, counts?.[state] ?? 0);
}

/** A finished record as the metrics see it. */
export interface FinishedRecord {
  readonly container: string;
  readonly size: number;
  /** When its media ended (publisher gone, stop, rotation), ms since the epoch. */
  readonly endTimeMillis: number;
}

export interface RetentionDeletion {
  readonly kind: string;
  readonly reason: string;
  readonly size: number;
}

/** The figures the console shows, read without parsing the Prometheus text. */
export interface MetricsSnapshot {
  readonly streams: Readonly<Record<(typeof PROVIDERS)[number], number>>;
  readonly recordingsActive: number;
  readonly recordBytesWritten: number;
  readonly recordsFinished: number;
  readonly recordsFailed: number;
  readonly recordsRecovered: number;
  readonly rtspPulls: Readonly<Record<(typeof RTSP_STATUSES)[number], number>>;
  readonly webrtcSessions: number;
  readonly diskFree: readonly { readonly dir: string; readonly bytes: number | null }[];
  readonly retention: {
    /** Records and cuts deleted by retention since start, by reason. */
    readonly deleted: Readonly<Record<(typeof RETENTION_REASONS)[number], number>>;
    /** The last retention pass that deleted something; null when none did since start. */
    readonly lastPass: { readonly atMs: number; readonly records: number; readonly cuts: number; readonly bytes: number } | null;
  };
  readonly eventLoopDelay: EventLoopDelay;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, handles, GC, event-loop lag from sources.eventLoopWindow). */
  readonly processMetrics: boolean;
}

const FINISH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
const HOOK_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const CUT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/**
 * The daemon's Prometheus metrics in a registry of their own (never the
 * global one). Gauges are read from `sources` when scraped; counters and
 * histograms move through the record*, hook*, retention* and cut* calls the
 * daemon wires to its components' events. Label values come from bounded
 * sets (metric-labels.ts): never a stream name.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #bytesWritten: Counter;
  readonly #finished: Counter<'container'>;
  readonly #failed: Counter<'reason'>;
  readonly #recovered: Counter;
  readonly #finishSeconds: Histogram;
  readonly #hookRuns: Counter<'hook' | 'result'>;
  readonly #hookSeconds: Histogram<'hook'>;
  readonly #retentionDeleted: Counter<'reason' | 'kind'>;
  readonly #cutSeconds: Histogram;
  readonly #hookTimedOut: Counter;
  #lastRetentionPass: MetricsSnapshot['retention']['lastPass'] = null;
  readonly #retentionByReason = countBy([], RETENTION_REASONS);
  #totals = { bytes: 0, finished: 0, failed: 0, recovered: 0 };

  constructor(
    private readonly sources: MetricsSources,
    options: MetricsOptions,
  ) {
    const registers = [this.registry];
    // prom-client's defaults, but nodejs_eventloop_lag_* come from the daemon's one event-loop sampler (issue 20)
    if (options.processMetrics) {
      collectProcessMetrics(this.registry);
      eventLoopLagGauges(this.registry, () => sources.eventLoopWindow());
    }
    new Gauge({
      name: 'wcs_streams',
      help: 'Streams published now, by media provider (Flash = RTMP, RTSP, WebRTC)',
      labelNames: ['provider'],
      registers,
      collect(this: Gauge<'provider'>) {
        const counts = countBy(sources.streamProviders(), PROVIDERS);
        for (const p of PROVIDERS) this.set({ provider: p }, counts[p]);
      },
    });
    new Gauge({
      name: 'wcs_recordings_active',
      help: 'Single-stream recordings in progress',
      registers,
      collect(this: Gauge) {
        this.set(sources.recordingsActive());
      },
    });
    new Gauge({
      name: 'wcs_rtsp_pulls',
      help: 'RTSP camera pulls, by status',
      labelNames: ['status'],
      registers,
      collect(this: Gauge<'status'>) {
        const counts = countBy(sources.rtspPullStatuses(), RTSP_STATUSES);
        for (const s of RTSP_STATUSES) this.set({ status: s }, counts[s]);
      },
    });
    new Gauge({
      name: 'wcs_webrtc_sessions',
      help: 'WebRTC publish sessions (browsers and WHIP clients) now',
      registers,
      collect(this: Gauge) {
        this.set(sources.webrtcSessions());
      },
    });
    new Gauge({
      name: 'wcs_disk_free_bytes',
      help: 'Free bytes on the filesystem of each record folder (record_dir, record_tmp_dir, multi_record_dir, mp4_cutter_dir)',
      labelNames: ['dir'],
      registers,
      async collect(this: Gauge<'dir'>) {
        const gauge = this;
        await Promise.all(
          sources.diskDirs.map(async (dir) => {
            const free = await sources.freeSpace(dir).catch(() => null);
            if (free === null) gauge.remove({ dir });
            else gauge.set({ dir }, free);
          }),
        );
      },
    });
    new Gauge({
      name: 'wcs_event_loop_delay_seconds',
      help: 'Event-loop delay (how late timers run) since start or the last /rest-api/server/stats reset: mean, p50, p99, max',
      labelNames: ['stat'],
      registers,
      collect(this: Gauge<'stat'>) {
        const d = sources.eventLoop();
        const values = { mean: d.meanMs, p50: d.p50Ms, p99: d.p99Ms, max: d.maxMs };
        for (const s of EVENT_LOOP_STATS) this.set({ stat: s }, values[s] / 1000);
      },
    });
    new Gauge({
      name: 'wcs_recordings',
      help: 'Single-stream recordings in progress, by state (RECORDING, PAUSED, FINISHING as /recorder/find_all shows them)',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const counts = countBy(sources.recordingStates(), RECORDING_STATES);
        for (const state of RECORDING_STATES) this.set({ state }, counts[state]);
      },
    });
    new Gauge({
      name: 'wcs_hook_queue_jobs',
      help: 'Hook script jobs (every hook kind) running, and waiting in the hook queue (on_record_hook_max_concurrent, on_record_hook_max_queued)',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const q = sources.hookQueue();
        for (const state of HOOK_QUEUE_STATES) this.set({ state }, q[state]);
      },
    });
    new Counter({
      name: 'wcs_hook_queue_dropped_total',
      help: 'Hook script jobs never run because the hook queue was full (on_record_hook_max_queued), since start',
      registers,
      collect(this: Counter) {
        readCounter.call(this, {}, sources.hookQueue().dropped);
      },
    });
    this.#hookTimedOut = new Counter({
      name: 'wcs_hook_queue_timed_out_total',
      help: 'Hook script runs ended by on_record_hook_timeout (every hook kind), since start',
      registers,
    });
    new Gauge({
      name: 'wcs_upload_queue',
      help: 'Rows of the upload queue by state (the whole cluster on a shared catalog); all 0 when record_upload_url is not set',
      labelNames: ['state'],
      registers,
      async collect(this: Gauge<'state'>) {
        await setByState(this, UPLOAD_STATES, () => sources.uploadCounts());
      },
    });
    new Counter({
      name: 'wcs_upload_failures_total',
      help: 'Upload attempts of this node that failed, by result: retry (tried again later) or failed (given up), since start',
      labelNames: ['result'],
      registers,
      collect(this: Counter<'result'>) {
        const f = sources.uploadFailures();
        this.reset();
        for (const result of UPLOAD_FAILURE_RESULTS) this.inc({ result }, f[result]);
      },
    });
    new Gauge({
      name: 'wcs_webhook_deliveries',
      help: 'Deliveries of the webhook outbox by state (the whole cluster on a shared catalog); all 0 when record_webhook_url is not set',
      labelNames: ['state'],
      registers,
      async collect(this: Gauge<'state'>) {
        await setByState(this, DELIVERY_STATES, () => sources.webhookCounts());
      },
    });
    new Counter({
      name: 'wcs_webhook_deliveries_dead_total',
      help: 'Webhook deliveries this node gave up on (record_webhook_max_attempts or record_webhook_max_age), since start',
      registers,
      collect(this: Counter) {
        readCounter.call(this, {}, sources.webhookTotals().dead);
      },
    });
    new Counter({
      name: 'wcs_webhook_events_dropped_total',
      help: 'Webhook events not stored because the outbox was full (100,000 deliveries waiting), since start',
      registers,
      collect(this: Counter) {
        readCounter.call(this, {}, sources.webhookTotals().dropped);
      },
    });
    this.#bytesWritten = new Counter({
      name: 'wcs_record_bytes_written_total',
      help: 'Bytes of the records finished into record_dir since start',
      registers,
    });
    this.#finished = new Counter({
      name: 'wcs_records_finished_total',
      help: 'Records (parts) finished into record_dir since start, by container',
      labelNames: ['container'],
      registers,
    });
    for (const c of CONTAINERS) this.#finished.inc({ container: c }, 0);
    this.#failed = new Counter({
      name: 'wcs_records_failed_total',
      help: 'Recordings or parts that produced no record: no_usable_file (the muxer wrote nothing usable), disk_space (refused: file_recorder_min_space), start_error',
      labelNames: ['reason'],
      registers,
    });
    for (const r of RECORD_FAILURES) this.#failed.inc({ reason: r }, 0);
    this.#recovered = new Counter({
      name: 'wcs_records_recovered_total',
      help: 'Records finished at start-up from the parts a crash left in record_tmp_dir',
      registers,
    });
    this.#finishSeconds = new Histogram({
      name: 'wcs_record_finish_seconds',
      help: 'Seconds from the end of a part (publisher gone, stop, rotation) to its record in place in record_dir',
      buckets: FINISH_BUCKETS,
      registers,
    });
    this.#hookRuns = new Counter({
      name: 'wcs_hook_runs_total',
      help: 'Hook script runs, by hook (record, multi, delete) and result (ok, failed = non-zero exit, skipped = missing or could not start, timeout = ended by on_record_hook_timeout, dropped = not run: hook queue full)',
      labelNames: ['hook', 'result'],
      registers,
    });
    for (const hook of HOOKS) for (const result of HOOK_RESULTS) this.#hookRuns.inc({ hook, result }, 0);
    this.#hookSeconds = new Histogram({
      name: 'wcs_hook_seconds',
      help: 'Seconds a hook script ran, by hook',
      labelNames: ['hook'],
      buckets: HOOK_BUCKETS,
      registers,
    });
    for (const hook of HOOKS) this.#hookSeconds.zero({ hook });
    this.#retentionDeleted = new Counter({
      name: 'wcs_retention_deleted_total',
      help: 'Records and cuts deleted by retention, by reason and kind',
      labelNames: ['reason', 'kind'],
      registers,
    });
    for (const reason of RETENTION_REASONS) for (const kind of RETENTION_KINDS) this.#retentionDeleted.inc({ reason, kind }, 0);
    this.#cutSeconds = new Histogram({
      name: 'wcs_cut_seconds',
      help: 'Seconds ffmpeg took to cut a ?start=&end= part of an MP4 record (cache hits are not counted)',
      buckets: CUT_BUCKETS,
      registers,
    });
  }

  /** Content-Type of text(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** A record finished by a live recorder is in record_dir. */
  recordFinished(record: FinishedRecord, nowMs = Date.now()): void {
    this.#bytesWritten.inc(record.size);
    this.#finished.inc({ container: boundedLabel(record.container, CONTAINERS, 'mp4') });
    if (record.endTimeMillis > 0) this.#finishSeconds.observe(Math.max(0, nowMs - record.endTimeMillis) / 1000);
    this.#totals.bytes += record.size;
    this.#totals.finished++;
  }

  /** A record finished by start-up recovery. */
  recordRecovered(): void {
    this.#recovered.inc();
    this.#totals.recovered++;
  }

  recordFailed(reason: RecordFailure): void {
    this.#failed.inc({ reason });
    this.#totals.failed++;
  }

  hookRan(hook: HookKind, result: (typeof HOOK_RESULTS)[number], seconds: number): void {
    this.#hookRuns.inc({ hook, result });
    if (result === 'timeout') this.#hookTimedOut.inc();
    if (result !== 'skipped' && result !== 'dropped') this.#hookSeconds.observe({ hook }, seconds);
  }

  /** One retention pass ended with these deletions (none is fine). */
  retentionPass(deleted: readonly RetentionDeletion[], nowMs = Date.now()): void {
    if (deleted.length === 0) return;
    for (const d of deleted) {
      const reason = boundedLabel(d.reason, RETENTION_REASONS, 'max_age');
      this.#retentionDeleted.inc({ reason, kind: boundedLabel(d.kind, RETENTION_KINDS, 'record') });
      this.#retentionByReason[reason]++;
    }
    this.#lastRetentionPass = {
      atMs: nowMs,
      records: deleted.filter((d) => d.kind === 'record').length,
      cuts: deleted.filter((d) => d.kind === 'cut').length,
      bytes: deleted.reduce((sum, d) => sum + d.size, 0),
    };
  }

  cutMade(seconds: number): void {
    this.#cutSeconds.observe(seconds);
  }

  /** The console's figures, read from the same sources as the gauges. */
  async snapshot(): Promise<MetricsSnapshot> {
    const s = this.sources;
    const diskFree = await Promise.all(s.diskDirs.map(async (dir) => ({ dir, bytes: await s.freeSpace(dir).catch(() => null) })));
    return {
      streams: countBy(s.streamProviders(), PROVIDERS),
      recordingsActive: s.recordingsActive(),
      recordBytesWritten: this.#totals.bytes,
      recordsFinished: this.#totals.finished,
      recordsFailed: this.#totals.failed,
      recordsRecovered: this.#totals.recovered,
      rtspPulls: countBy(s.rtspPullStatuses(), RTSP_STATUSES),
      webrtcSessions: s.webrtcSessions(),
      diskFree,
      retention: { deleted: { ...this.#retentionByReason }, lastPass: this.#lastRetentionPass },
      eventLoopDelay: s.eventLoop(),
    };
  }
}
