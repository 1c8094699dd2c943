import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeHome, REPO, startDaemon, waitFor, writeProperties, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip, publish, type Publisher } from '../helpers/media.js';
import { metricNames, parsePrometheus, sampleValue, type Sample } from '../helpers/prometheus.js';

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
      env: { ...process.env, WCS_HOME: home },
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
