import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonEnv, freePort, makeHome, REPO, startDaemon, waitFor, writeProperties, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip, publish, type Publisher } from '../helpers/media.js';
import { metricNames, parsePrometheus, sampleValue, type Sample } from '../helpers/prometheus.js';
import { postJson, streamNamed } from '../helpers/rest.js';
import { TestS3, useS3Credentials } from '../helpers/s3.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const TOKEN = 'metrics-secret-1';

/** Every family issue 16 asks for, plus prom-client's process metrics. */
const FAMILIES = [
  'wcs_streams',
  'wcs_recordings_active',
  'wcs_record_bytes_written_total',
  'wcs_records_finished_total',
  'wcs_records_failed_total',
  'wcs_records_recovered_total',
  'wcs_record_finish_seconds',
  'wcs_hook_runs_total',
  'wcs_hook_seconds',
  'wcs_disk_free_bytes',
  'wcs_retention_deleted_total',
  'wcs_rtsp_pulls',
  'wcs_webrtc_sessions',
  'wcs_cut_seconds',
  'wcs_event_loop_delay_seconds',
  'wcs_recordings',
  'wcs_hook_queue_jobs',
  'wcs_hook_queue_dropped_total',
  'wcs_hook_queue_timed_out_total',
  'wcs_upload_queue',
  'wcs_upload_failures_total',
  'wcs_webhook_deliveries',
  'wcs_webhook_deliveries_dead_total',
  'wcs_webhook_events_dropped_total',
  'process_cpu_user_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
];

async function scrape(daemon: DaemonHandle): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(daemon.url('/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  return { text, samples: parsePrometheus(text) };
}

describe('/metrics with a real RTMP publish recorded', () => {
  let daemon: DaemonHandle;
  let publisher: Publisher | null = null;

  beforeAll(async () => {
    daemon = await startDaemon({ metrics_token: TOKEN });
  });

  afterAll(async () => {
    publisher?.proc.kill('SIGKILL');
    expect((await daemon.stop()).code).toBe(0);
  });

  it('refuses a scrape without the token or with a wrong one (401), takes ?token=', async () => {
    const none = await fetch(daemon.url('/metrics'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toMatch(/wcs_/);
    expect((await fetch(daemon.url('/metrics'), { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(daemon.url('/metrics?token=nope'))).status).toBe(401);
    const query = await fetch(daemon.url(`/metrics?token=${TOKEN}`));
    expect(query.status).toBe(200);
    expect(await query.text()).toMatch(/^wcs_streams\{provider="Flash"\} 0$/m);
  });

  it('has every series before a publish, and the recording ones move while a stream is recorded and after it finished', async () => {
    const before = await scrape(daemon);
    const names = metricNames(before.text);
    for (const family of FAMILIES) expect(names.has(family), family).toBe(true);
    const b = before.samples;
    expect(sampleValue(b, 'wcs_streams', { provider: 'Flash' })).toBe(0);
    expect(sampleValue(b, 'wcs_recordings_active')).toBe(0);
    expect(sampleValue(b, 'wcs_records_finished_total', { container: 'mp4' })).toBe(0);
    expect(sampleValue(b, 'wcs_record_bytes_written_total')).toBe(0);
    expect(sampleValue(b, 'wcs_record_finish_seconds_count')).toBe(0);
    expect(sampleValue(b, 'wcs_hook_runs_total', { hook: 'record', result: 'ok' })).toBe(0);
    expect(sampleValue(b, 'wcs_disk_free_bytes', { dir: daemon.recordDir })).toBeGreaterThan(0);
    expect(sampleValue(b, 'wcs_rtsp_pulls', { status: 'PLAYING' })).toBe(0);
    expect(sampleValue(b, 'wcs_webrtc_sessions')).toBe(0);
    // no stream name is ever a label
    expect(before.text).not.toMatch(/metrics1/);

    const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 2 });
    publisher = publish(clip, daemon.rtmpUrl('metrics1'), ['-stream_loop', '-1']);
    await waitFor(async () => sampleValue((await scrape(daemon)).samples, 'wcs_recordings_active') === 1, 20_000, 'a recording in /metrics');
    const during = (await scrape(daemon)).samples;
    expect(sampleValue(during, 'wcs_streams', { provider: 'Flash' })).toBe(1);
    expect(sampleValue(during, 'wcs_recordings_active')).toBe(1);
    // some media in the record before the publisher goes
    await waitFor(() => publisher!.sentSeconds() >= 3, 20_000, '3 s of media sent');

    publisher.proc.kill('SIGINT');
    await waitFor(
      async () => {
        const s = (await scrape(daemon)).samples;
        return (sampleValue(s, 'wcs_records_finished_total', { container: 'mp4' }) ?? 0) >= 1 && (sampleValue(s, 'wcs_hook_runs_total', { hook: 'record', result: 'ok' }) ?? 0) >= 1;
      },
      30_000,
      'the record finished and its hook run',
    );
    const after = await scrape(daemon);
    const a = after.samples;
    expect(sampleValue(a, 'wcs_streams', { provider: 'Flash' })).toBe(0);
    expect(sampleValue(a, 'wcs_recordings_active')).toBe(0);
    expect(sampleValue(a, 'wcs_records_finished_total', { container: 'mp4' })).toBe(1);
    expect(sampleValue(a, 'wcs_record_bytes_written_total')).toBeGreaterThan(10_000);
    expect(sampleValue(a, 'wcs_record_finish_seconds_count')).toBe(1);
    expect(sampleValue(a, 'wcs_record_finish_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(a, 'wcs_hook_seconds_count', { hook: 'record' })).toBe(1);
    expect(sampleValue(a, 'wcs_records_failed_total', { reason: 'no_usable_file' })).toBe(0);
    expect(sampleValue(a, 'wcs_records_recovered_total')).toBe(0);
    expect(after.text).not.toMatch(/metrics1/);

    // a ?start=&end= part of the record is cut by ffmpeg once (wcs_cut_seconds), then served from the cache
    const record = fs.readdirSync(daemon.recordDir).find((f) => f.endsWith('.mp4') && !f.startsWith('.'));
    expect(record).toBeDefined();
    for (let i = 0; i < 2; i++) {
      const cut = await fetch(daemon.url(`/client/records/${encodeURIComponent(record!)}?start=0.5&end=1.5`));
      expect(cut.status).toBe(200);
      await cut.arrayBuffer();
    }
    expect(sampleValue((await scrape(daemon)).samples, 'wcs_cut_seconds_count')).toBe(1);
  });

  // LOG_LEVEL in the test's environment would win over log_level
  it.skipIf(process.env.LOG_LEVEL)('logs JSON lines when standard output is not a terminal, without debug lines at the default level', () => {
    const lines = daemon.output.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(3);
    const levels = lines.map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.every((l) => l >= 30)).toBe(true);
  });
});

describe('a recording refused for disk space', () => {
  it('counts wcs_records_failed_total{reason="disk_space"}', async () => {
    // more free space asked for than any test machine has: every recording is refused
    const daemon = await startDaemon({ file_recorder_min_space: '1000000g' });
    let publisher: Publisher | null = null;
    try {
      const failed = async (): Promise<number> => {
        const res = await fetch(daemon.url('/metrics'));
        return sampleValue(parsePrometheus(await res.text()), 'wcs_records_failed_total', { reason: 'disk_space' }) ?? -1;
      };
      expect(await failed()).toBe(0);
      publisher = publish(makeClip({ video: true, audio: true, seconds: 6, gop: 2 }), daemon.rtmpUrl('metrics2'), ['-stream_loop', '-1']);
      await waitFor(async () => (await failed()) === 1, 20_000, 'the refused recording counted');
      const s = parsePrometheus(await (await fetch(daemon.url('/metrics'))).text());
      expect(sampleValue(s, 'wcs_streams', { provider: 'Flash' })).toBe(1);
      expect(sampleValue(s, 'wcs_recordings_active')).toBe(0);
    } finally {
      publisher?.proc.kill('SIGKILL');
      expect((await daemon.stop()).code).toBe(0);
    }
  });
});

/** gate*: waits for $WCS_HOME/gate (ended by on_record_hook_timeout if it never comes); any other stream ends at once. */
const GATE_HOOK = `#!/bin/sh
case "$1" in
  gate*) while [ ! -e "$WCS_HOME/gate" ]; do sleep 0.1; done ;;
esac
`;

describe('the queues and recording states in /metrics (leftovers of issues 17–19)', () => {
  let s3: TestS3;
  let refuse: TcpProxy;
  let hooks: WebhookReceiver;
  let daemon: DaemonHandle;
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    useS3Credentials();
    s3 = await TestS3.start();
    // the bucket is down for this daemon: every upload attempt fails
    refuse = await TcpProxy.start(s3.port, 'refuse');
    hooks = await WebhookReceiver.start();
    hooks.answer = () => 500;
    const home = makeHome();
    fs.writeFileSync(path.join(home, 'bin', 'gate.sh'), GATE_HOOK, { mode: 0o755 });
    daemon = await startDaemon(
      {
        stream_record_policy_template: '{streamName}',
        on_record_hook_script: 'bin/gate.sh',
        on_record_hook_max_concurrent: 1,
        on_record_hook_max_queued: 1,
        on_record_hook_timeout: 15,
        record_upload_url: `s3://${s3.bucket}/m/`,
        record_upload_endpoint: refuse.url,
        record_upload_force_path_style: true,
        record_upload_max_attempts: 2,
        record_upload_retry_min_delay: 1,
        record_upload_retry_max_delay: 1,
        record_webhook_url: hooks.url,
        record_webhook_max_attempts: 1,
      },
      home,
    );
  }, 60_000);

  afterAll(async () => {
    for (const p of publishers) p.proc.kill('SIGKILL');
    if (daemon) {
      fs.writeFileSync(path.join(daemon.home, 'gate'), '');
      expect((await daemon.stop()).code).toBe(0);
    }
    await hooks?.close();
    await refuse?.close();
    await s3?.close();
  }, 60_000);

  const samples = async (): Promise<Sample[]> => parsePrometheus(await (await fetch(daemon.url('/metrics'))).text());

  it('wcs_recordings by state: RECORDING, then PAUSED after /recorder/pause', async () => {
    const zero = await samples();
    for (const state of ['RECORDING', 'PAUSED', 'FINISHING']) expect(sampleValue(zero, 'wcs_recordings', { state })).toBe(0);
    const p = publish(makeClip({ video: true, audio: true, seconds: 6, gop: 1 }), daemon.rtmpUrl('paused1'), ['-stream_loop', '-1']);
    publishers.push(p);
    const { mediaSessionId } = await streamNamed(daemon, 'paused1');
    await waitFor(async () => sampleValue(await samples(), 'wcs_recordings', { state: 'RECORDING' }) === 1, 20_000, 'RECORDING 1');
    expect((await postJson(daemon, '/rest-api/recorder/pause', { mediaSessionId })).status).toBe(200);
    const paused = await samples();
    expect(sampleValue(paused, 'wcs_recordings', { state: 'PAUSED' })).toBe(1);
    expect(sampleValue(paused, 'wcs_recordings', { state: 'RECORDING' })).toBe(0);
    expect(sampleValue(paused, 'wcs_recordings_active')).toBe(1);
    p.proc.kill('SIGINT');
    await waitFor(async () => sampleValue(await samples(), 'wcs_hook_runs_total', { hook: 'record', result: 'ok' }) === 1, 30_000, "paused1's record and its hook");
    expect(sampleValue(await samples(), 'wcs_recordings', { state: 'PAUSED' })).toBe(0);
  });

  it('the upload queue and its failures, the webhook outbox and its dead deliveries', async () => {
    // paused1's record: two attempts refused by the bucket, then given up
    await waitFor(async () => sampleValue(await samples(), 'wcs_upload_queue', { state: 'failed' }) === 1, 30_000, 'the upload given up');
    const s = await samples();
    expect(sampleValue(s, 'wcs_upload_failures_total', { result: 'retry' })).toBe(1);
    expect(sampleValue(s, 'wcs_upload_failures_total', { result: 'failed' })).toBe(1);
    expect(sampleValue(s, 'wcs_upload_queue', { state: 'uploaded' })).toBe(0);
    // every event answered 500 with record_webhook_max_attempts=1: each delivery dead at its first try
    await waitFor(async () => (sampleValue(await samples(), 'wcs_webhook_deliveries', { state: 'dead' }) ?? 0) >= 4, 30_000, 'dead deliveries');
    const w = await samples();
    const dead = sampleValue(w, 'wcs_webhook_deliveries', { state: 'dead' })!;
    // the node counts a delivery dead just before the outbox row says so
    expect(sampleValue(w, 'wcs_webhook_deliveries_dead_total')).toBeGreaterThanOrEqual(dead);
    expect(hooks.received.length).toBeGreaterThanOrEqual(dead);
    expect(sampleValue(w, 'wcs_webhook_deliveries', { state: 'delivered' })).toBe(0);
    expect(sampleValue(w, 'wcs_webhook_events_dropped_total')).toBe(0);
  });

  it('the hook queue: one running, one queued, one dropped; the running one timed out', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 2, gop: 1 });
    const ps = ['gate1', 'gate2', 'gate3'].map((name) => publish(clip, daemon.rtmpUrl(name)));
    publishers.push(...ps);
    for (const p of ps) expect(await p.exited, p.stderr()).toBe(0);
    // on_record_hook_max_concurrent=1, on_record_hook_max_queued=1: the first gate hook runs (and waits), the second waits, the third is dropped
    await waitFor(
      async () => {
        const s = await samples();
        return sampleValue(s, 'wcs_hook_queue_dropped_total') === 1 && sampleValue(s, 'wcs_hook_queue_jobs', { state: 'queued' }) === 1;
      },
      20_000,
      'a hook queued and one dropped',
    );
    const q = await samples();
    expect(sampleValue(q, 'wcs_hook_queue_jobs', { state: 'running' })).toBe(1);
    expect(sampleValue(q, 'wcs_hook_runs_total', { hook: 'record', result: 'dropped' })).toBe(1);
    expect(sampleValue(q, 'wcs_hook_queue_timed_out_total')).toBe(0);
    // the running hook never sees its gate: on_record_hook_timeout ends it, and the queued one starts
    await waitFor(async () => sampleValue(await samples(), 'wcs_hook_queue_timed_out_total') === 1, 40_000, 'the first gate hook timed out');
    await waitFor(async () => sampleValue(await samples(), 'wcs_hook_queue_jobs', { state: 'queued' }) === 0, 10_000, 'the queued hook started');
    fs.writeFileSync(path.join(daemon.home, 'gate'), '');
    await waitFor(async () => sampleValue(await samples(), 'wcs_hook_queue_jobs', { state: 'running' }) === 0, 20_000, 'the hook queue empty');
    const end = await samples();
    expect(sampleValue(end, 'wcs_hook_runs_total', { hook: 'record', result: 'timeout' })).toBe(1);
    expect(sampleValue(end, 'wcs_hook_runs_total', { hook: 'record', result: 'ok' })).toBe(2);
  }, 120_000);
});

describe('metrics_enabled=false and log_level', () => {
  it.skipIf(process.env.LOG_LEVEL)('answers 404 at /metrics, and log_level=debug logs debug lines as JSON', async () => {
    const daemon = await startDaemon({ metrics_enabled: false, log_level: 'debug' });
    try {
      const res = await fetch(daemon.url('/metrics'));
      expect(res.status).toBe(404);
      const lines = daemon.output.split('\n').filter((l) => l.trim() !== '');
      // every line of standard output is a JSON object (not a terminal: no pino-pretty)
      const bad = lines.filter((l) => !l.startsWith("{"));
      expect(bad).toEqual([]);
      const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg?: string; stdout?: string });
      expect(parsed.some((p) => p.level === 20)).toBe(true);
      expect(parsed.find((p) => p.msg === 'Logging')).toMatchObject({ stdout: 'json', from: 'log_level', logLevel: 'debug', level: 20 });
    } finally {
      expect((await daemon.stop()).code).toBe(0);
    }
  });
});

describe('logs at a terminal', () => {
  const hasScript = (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  // util-linux `script` gives the daemon a pseudo-terminal as standard output
  it.skipIf(!hasScript || process.env.LOG_FORMAT)('writes readable lines to the terminal and JSON to logs/server.log', async () => {
    const home = makeHome();
    writeProperties(home, { 'http.port': await freePort(), 'rtmp.port': await freePort(), ip_local: '127.0.0.1' });
    const proc = spawn('script', ['-qec', path.join(REPO, 'bin', 'wcs-recorder'), '/dev/null'], {
      env: daemonEnv(home),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    let daemonPid: number | null = null;
    try {
      await waitFor(() => /wcs-recorder ready/.test(out), 20_000, 'the daemon ready on the terminal');
      daemonPid = Number(execFileSync('pgrep', ['-P', String(proc.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
      const lines = out.split(/\r?\n/).filter((l) => l.trim() !== '');
      expect(lines.some((l) => l.trimStart().startsWith('{'))).toBe(false);
      // time, level word, [component] message
      expect(out).toMatch(/\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*wcs-recorder starting/);
      expect(out).toMatch(/INFO.*\[rtmp\] RTMP ingest listening/);
      const file = fs.readFileSync(path.join(home, 'logs', 'server.log'), 'utf8').split('\n').filter(Boolean);
      expect(file.length).toBeGreaterThan(3);
      for (const line of file) expect((JSON.parse(line) as { level: number }).level).toBeGreaterThanOrEqual(30);
      expect(file.some((l) => l.includes('wcs-recorder ready'))).toBe(true);
    } finally {
      if (daemonPid !== null && daemonPid > 0) process.kill(daemonPid, 'SIGTERM');
      else proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
  });
});
