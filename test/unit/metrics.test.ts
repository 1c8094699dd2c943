import { describe, expect, it } from 'vitest';
import { Metrics, type MetricsSources } from '../../src/http/metrics/metrics.js';
import { boundedLabel, countBy, PROVIDERS } from '../../src/http/metrics/metric-labels.js';
import { metricNames, parsePrometheus, sampleValue } from '../helpers/prometheus.js';

function sources(over: Partial<MetricsSources> = {}): MetricsSources {
  return {
    streamProviders: () => ['Flash', 'Flash', 'RTSP'],
    recordingsActive: () => 2,
    rtspPullStatuses: () => ['PLAYING', 'RETRYING', 'PLAYING'],
    webrtcSessions: () => 1,
    diskDirs: ['/records', '/gone'],
    freeSpace: async (dir) => {
      if (dir === '/gone') throw new Error('ENOENT');
      return 5e9;
    },
    eventLoop: () => ({ meanMs: 1, p50Ms: 1, p99Ms: 12, maxMs: 40, sinceMs: 1000 }),
    eventLoopWindow: () => ({ count: 20, minSeconds: 0.05, maxSeconds: 0.09, meanSeconds: 0.052, stddevSeconds: 0.004, p50Seconds: 0.051, p90Seconds: 0.055, p99Seconds: 0.088 }),
    recordingStates: () => ['RECORDING', 'PAUSED', 'RECORDING', 'SOMETHING'],
    hookQueue: () => ({ running: 2, queued: 5, dropped: 3 }),
    uploadCounts: async () => ({ pending: 4, uploading: 1, uploaded: 10, failed: 2 }),
    uploadFailures: () => ({ retry: 6, failed: 2 }),
    webhookCounts: async () => ({ pending: 1, delivering: 0, delivered: 7, dead: 3 }),
    webhookTotals: () => ({ dead: 3, dropped: 9 }),
    ...over,
  };
}

describe('metric labels (pure)', () => {
  it('keeps label values inside their set', () => {
    expect(boundedLabel('mkv', ['mp4', 'mkv'], 'mp4')).toBe('mkv');
    expect(boundedLabel('a stream name', ['mp4', 'mkv'], 'mp4')).toBe('mp4');
  });
  it('counts by value with every allowed value present, unknown ones dropped', () => {
    expect(countBy(['Flash', 'WebRTC', 'Flash', 'SIP'], PROVIDERS)).toEqual({ Flash: 2, RTSP: 0, WebRTC: 1 });
    expect(countBy([], PROVIDERS)).toEqual({ Flash: 0, RTSP: 0, WebRTC: 0 });
  });
});

describe('Metrics', () => {
  it('reads the gauges on scrape and has every series at 0 before the first event', async () => {
    const m = new Metrics(sources(), { processMetrics: false });
    const text = await m.text();
    const s = parsePrometheus(text);
    expect(sampleValue(s, 'wcs_streams', { provider: 'Flash' })).toBe(2);
    expect(sampleValue(s, 'wcs_streams', { provider: 'WebRTC' })).toBe(0);
    expect(sampleValue(s, 'wcs_recordings_active')).toBe(2);
    expect(sampleValue(s, 'wcs_rtsp_pulls', { status: 'PLAYING' })).toBe(2);
    expect(sampleValue(s, 'wcs_rtsp_pulls', { status: 'FAILED' })).toBe(0);
    expect(sampleValue(s, 'wcs_webrtc_sessions')).toBe(1);
    expect(sampleValue(s, 'wcs_disk_free_bytes', { dir: '/records' })).toBe(5e9);
    // a folder that cannot be read has no sample rather than a wrong one
    expect(sampleValue(s, 'wcs_disk_free_bytes', { dir: '/gone' })).toBeUndefined();
    expect(sampleValue(s, 'wcs_event_loop_delay_seconds', { stat: 'p99' })).toBeCloseTo(0.012);
    expect(sampleValue(s, 'wcs_records_finished_total', { container: 'webm' })).toBe(0);
    expect(sampleValue(s, 'wcs_records_failed_total', { reason: 'disk_space' })).toBe(0);
    expect(sampleValue(s, 'wcs_hook_runs_total', { hook: 'record', result: 'failed' })).toBe(0);
    expect(sampleValue(s, 'wcs_retention_deleted_total', { reason: 'max_age', kind: 'record' })).toBe(0);
    expect(sampleValue(s, 'wcs_record_finish_seconds_count')).toBe(0);
    expect(sampleValue(s, 'wcs_cut_seconds_count')).toBe(0);
    expect(sampleValue(s, 'wcs_record_bytes_written_total')).toBe(0);
    expect(sampleValue(s, 'wcs_records_recovered_total')).toBe(0);
    // recordings by state: an unknown state makes no series
    expect(sampleValue(s, 'wcs_recordings', { state: 'RECORDING' })).toBe(2);
    expect(sampleValue(s, 'wcs_recordings', { state: 'PAUSED' })).toBe(1);
    expect(sampleValue(s, 'wcs_recordings', { state: 'FINISHING' })).toBe(0);
    expect(s.filter((x) => x.name === 'wcs_recordings')).toHaveLength(3);
    expect(sampleValue(s, 'wcs_hook_queue_jobs', { state: 'running' })).toBe(2);
    expect(sampleValue(s, 'wcs_hook_queue_jobs', { state: 'queued' })).toBe(5);
    expect(sampleValue(s, 'wcs_hook_queue_dropped_total')).toBe(3);
    expect(sampleValue(s, 'wcs_hook_queue_timed_out_total')).toBe(0);
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'pending' })).toBe(4);
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'failed' })).toBe(2);
    expect(sampleValue(s, 'wcs_upload_failures_total', { result: 'retry' })).toBe(6);
    expect(sampleValue(s, 'wcs_upload_failures_total', { result: 'failed' })).toBe(2);
    expect(sampleValue(s, 'wcs_webhook_deliveries', { state: 'dead' })).toBe(3);
    expect(sampleValue(s, 'wcs_webhook_deliveries', { state: 'delivered' })).toBe(7);
    expect(sampleValue(s, 'wcs_webhook_deliveries_dead_total')).toBe(3);
    expect(sampleValue(s, 'wcs_webhook_events_dropped_total')).toBe(9);
    // its own registry only: no process metrics unless asked for
    expect([...metricNames(text)].every((n) => n.startsWith('wcs_'))).toBe(true);
  });

  it('counts the events, with bounded labels', async () => {
    const m = new Metrics(sources(), { processMetrics: false });
    m.recordFinished({ container: 'mp4', size: 1000, endTimeMillis: 10_000 }, 10_750);
    m.recordFinished({ container: 'weird', size: 500, endTimeMillis: 20_000 }, 20_100);
    m.recordRecovered();
    m.recordFailed('no_usable_file');
    m.hookRan('record', 'ok', 0.2);
    m.hookRan('delete', 'skipped', 0);
    m.retentionPass([
      { kind: 'record', reason: 'max_age', size: 100 },
      { kind: 'cut', reason: 'max_age', size: 10 },
      { kind: 'record', reason: 'min_free_space', size: 50 },
    ], 99_000);
    m.retentionPass([]);
    m.cutMade(0.3);
    const s = parsePrometheus(await m.text());
    expect(sampleValue(s, 'wcs_record_bytes_written_total')).toBe(1500);
    expect(sampleValue(s, 'wcs_records_finished_total', { container: 'mp4' })).toBe(2);
    expect(sampleValue(s, 'wcs_record_finish_seconds_count')).toBe(2);
    expect(sampleValue(s, 'wcs_record_finish_seconds_sum')).toBeCloseTo(0.85);
    expect(sampleValue(s, 'wcs_record_finish_seconds_bucket', { le: '0.1' })).toBe(1);
    expect(sampleValue(s, 'wcs_records_recovered_total')).toBe(1);
    expect(sampleValue(s, 'wcs_records_failed_total', { reason: 'no_usable_file' })).toBe(1);
    expect(sampleValue(s, 'wcs_hook_runs_total', { hook: 'record', result: 'ok' })).toBe(1);
    expect(sampleValue(s, 'wcs_hook_runs_total', { hook: 'delete', result: 'skipped' })).toBe(1);
    expect(sampleValue(s, 'wcs_hook_seconds_count', { hook: 'record' })).toBe(1);
    // a skipped hook did not run: no duration
    expect(sampleValue(s, 'wcs_hook_seconds_count', { hook: 'delete' })).toBe(0);
    expect(sampleValue(s, 'wcs_retention_deleted_total', { reason: 'max_age', kind: 'record' })).toBe(1);
    expect(sampleValue(s, 'wcs_retention_deleted_total', { reason: 'max_age', kind: 'cut' })).toBe(1);
    expect(sampleValue(s, 'wcs_cut_seconds_count')).toBe(1);

    const snap = await m.snapshot();
    expect(snap).toMatchObject({
      streams: { Flash: 2, RTSP: 1, WebRTC: 0 },
      recordingsActive: 2,
      recordBytesWritten: 1500,
      recordsFinished: 2,
      recordsFailed: 1,
      recordsRecovered: 1,
      webrtcSessions: 1,
      rtspPulls: { PLAYING: 2, RETRYING: 1 },
      diskFree: [{ dir: '/records', bytes: 5e9 }, { dir: '/gone', bytes: null }],
      retention: { deleted: { max_age: 2, min_free_space: 1, max_size: 0 }, lastPass: { atMs: 99_000, records: 2, cuts: 1, bytes: 160 } },
      eventLoopDelay: { p99Ms: 12 },
    });
  });

  it('adds the process metrics to its own registry when asked (two instances do not collide)', async () => {
    const a = new Metrics(sources(), { processMetrics: true });
    const b = new Metrics(sources(), { processMetrics: true });
    const names = metricNames(await a.text());
    expect(names.has('process_cpu_user_seconds_total')).toBe(true);
    expect(names.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    // the event-loop series come from the daemon's monitor (sources.eventLoopWindow), not a histogram of prom-client's
    expect(sampleValue(parsePrometheus(await a.text()), 'nodejs_eventloop_lag_p99_seconds')).toBe(0.088);
    expect(metricNames(await b.text()).has('wcs_streams')).toBe(true);
  });

  it('queues that are off read as 0; a store that cannot be read keeps the last values instead of failing the scrape', async () => {
    let fail = false;
    let uploads: Record<string, number> | null = null;
    const m = new Metrics(
      sources({
        uploadCounts: async () => {
          if (fail) throw new Error('catalog down');
          return uploads;
        },
        webhookCounts: async () => null,
      }),
      { processMetrics: false },
    );
    let s = parsePrometheus(await m.text());
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'pending' })).toBe(0);
    expect(sampleValue(s, 'wcs_webhook_deliveries', { state: 'dead' })).toBe(0);
    uploads = { pending: 3, uploading: 0, uploaded: 0, failed: 0 };
    s = parsePrometheus(await m.text());
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'pending' })).toBe(3);
    fail = true;
    s = parsePrometheus(await m.text());
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'pending' })).toBe(3);
  });

  it('counts hook runs ended by on_record_hook_timeout in wcs_hook_queue_timed_out_total, whatever the hook', async () => {
    const m = new Metrics(sources(), { processMetrics: false });
    m.hookRan('record', 'timeout', 60);
    m.hookRan('delete', 'timeout', 60);
    m.hookRan('record', 'ok', 1);
    const s = parsePrometheus(await m.text());
    expect(sampleValue(s, 'wcs_hook_queue_timed_out_total')).toBe(2);
    expect(sampleValue(s, 'wcs_hook_runs_total', { hook: 'record', result: 'timeout' })).toBe(1);
  });
});
