import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../src/config/load-config.js';
import { Daemon } from '../../src/daemon.js';
import { locateFfmpeg } from '../../src/recording/ffmpeg/locate-ffmpeg.js';
import { daemonEnv, freePort, isAlive, makeHome, REPO, startDaemon, waitFor, writeProperties, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, makeClip, publish } from '../helpers/media.js';

/** Runs the daemon expecting it to exit by itself; returns its code and output. */
function runToExit(home: string, timeoutMs = 15_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: daemonEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('start-up errors are clear', () => {
  it('stops on a bad property value, naming the key, the value and what is allowed', async () => {
    const home = makeHome();
    writeProperties(home, { 'http.port': await freePort(), 'rtmp.port': await freePort(), record_streams: 'yes' });
    const { code, output } = await runToExit(home);
    expect(code).toBe(2);
    expect(output).toContain("Bad value for record_streams: 'yes'; allowed: true or false");
  });

  it('fails with a message when the RTMP port is taken, instead of exiting silently', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const home = makeHome();
      writeProperties(home, { 'http.port': await freePort(), 'rtmp.port': port, ip_local: '127.0.0.1' });
      const { code, output } = await runToExit(home);
      expect(code).toBe(2);
      expect(output).toMatch(new RegExp(`RTMP port 127\\.0\\.0\\.1:${port} is already in use \\(rtmp\\.port\\)`));
    } finally {
      blocker.close();
    }
  });

  it('fails with a message when the HTTP port is taken', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const home = makeHome();
      writeProperties(home, { 'http.port': port, 'rtmp.port': await freePort(), ip_local: '127.0.0.1' });
      const { code, output } = await runToExit(home);
      expect(code).toBe(2);
      expect(output).toMatch(/HTTP port .* is already in use \(http\.port\)/);
    } finally {
      blocker.close();
    }
  });

  it('keeps unknown keys with one warning line and starts', async () => {
    const daemon = await startDaemon({ some_future_key: 'x', another_key: 1 });
    try {
      const warnings = daemon.output.split('\n').filter((l) => l.includes('Unknown properties'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('another_key, some_future_key');
    } finally {
      await daemon.stop();
    }
  });
});

describe('hooks and liveness', () => {
  let daemon: DaemonHandle | undefined;
  afterAll(async () => {
    await daemon?.stop();
  });

  it('keeps the record when the hook script is missing, and ends a publisher that goes silent', async () => {
    const home = makeHome();
    fs.rmSync(path.join(home, 'bin', 'on_record_hook.sh'));
    daemon = await startDaemon({ rtmp_publisher_idle_timeout: 2 }, home);
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const publisher = publish(clip, daemon.rtmpUrl('silent'));
    try {
      await daemon.waitForOutput(/Recording started/);
      await new Promise((r) => setTimeout(r, 2500));
      // a half-open publisher: the TCP connection stays, no media comes
      publisher.proc.kill('SIGSTOP');
      const sent = publisher.sentSeconds();
      await daemon.waitForOutput(/sent no media for 2 s; disconnecting it/, 10_000);
      await daemon.waitForOutput(/Recording done/, 10_000);
      await daemon.waitForOutput(/hook script is missing or not executable/, 5000);
      const records = fs.readdirSync(daemon.recordDir).filter((f) => f.endsWith('.mp4'));
      expect(records).toHaveLength(1);
      const duration = durationOf(path.join(daemon.recordDir, records[0]!));
      // the record holds what the publisher sent before it went silent (its own count: on a busy machine
      // the 2.5 s of wall clock carry less media), and nothing of the silence after it
      expect(sent).toBeGreaterThan(0.5);
      expect(duration).toBeGreaterThan(sent - 0.5);
      expect(duration).toBeLessThan(sent + 0.5);
      const streams = await daemon.post<unknown[]>('/rest-api/stream/find_all');
      expect(streams.body).toEqual([]);
    } finally {
      publisher.proc.kill('SIGKILL');
    }
  });

  it('honours record_response_content_disposition_header_value=attachment and the ?record=false flag', async () => {
    await daemon?.stop();
    daemon = await startDaemon({ record_response_content_disposition_header_value: 'attachment', stream_record_policy_template: '{streamName}' });
    const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 2 });
    const refused = publish(clip, `${daemon.rtmpUrl('norec')}?record=false`);
    const recorded = publish(clip, daemon.rtmpUrl('rec'));
    expect(await refused.exited).toBe(0);
    expect(await recorded.exited).toBe(0);
    await waitFor(() => fs.existsSync(path.join(daemon!.recordDir, 'rec.mp4')), 10_000, 'rec.mp4');
    expect(fs.existsSync(path.join(daemon.recordDir, 'norec.mp4'))).toBe(false);
    const res = await fetch(daemon.url('/client/records/rec.mp4'), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment;filename="rec.mp4"');
  });
});

/** This test process's own `sh` children that run the fallocate helper script. */
function fallocateHelpers(): number[] {
  let pids: number[];
  try {
    pids = execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return pids.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('fallocate');
    } catch {
      return false;
    }
  });
}

describe('the daemon owns its insert-range helper', () => {
  // in this process, not bin/wcs-recorder: a helper the daemon forgot would outlive close() here
  // (a daemon process that exits takes it along by closing its stdin, which would hide the leak)
  it('starts the fallocate helper for a moov-first finish and ends it at close(): no sh left behind', async () => {
    const home = makeHome();
    writeProperties(home, {
      'http.port': await freePort(),
      'rtmp.port': await freePort(),
      ip_local: '127.0.0.1',
      webrtc_engine: 'werift',
      stream_record_policy_template: '{streamName}',
      mp4_container_moov_first: true,
      mp4_finish_insert_range: true,
    });
    const { config } = loadServerConfig({ home, env: { ...process.env, WCS_HOME: home } });
    const before = new Set(fallocateHelpers());
    const daemon = new Daemon(config, locateFfmpeg(config.ffmpegPath, process.env), pino({ level: 'silent' }));
    let closed = false;
    try {
      await daemon.start();
      const clip = makeClip({ video: true, audio: true, seconds: 3, gop: 1 });
      const publisher = publish(clip, `rtmp://127.0.0.1:${config.rtmpPort}/live/helper`);
      expect(await publisher.exited).toBe(0);
      const record = path.join(config.recordDirAbs, 'helper.mp4');
      await waitFor(() => fs.existsSync(record), 20_000, 'helper.mp4');
      expect(durationOf(record)).toBeGreaterThan(2);
      // record_dir is on ext4 here: the finish asked the helper for room in front of the media
      const mine = fallocateHelpers().filter((pid) => !before.has(pid));
      expect(mine).toHaveLength(1);
      await daemon.close();
      closed = true;
      expect(mine.filter(isAlive)).toEqual([]);
      expect(fallocateHelpers().filter((pid) => !before.has(pid))).toEqual([]);
    } finally {
      if (!closed) await daemon.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
