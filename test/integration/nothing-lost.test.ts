import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, makeHome, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, firstVideoFrameIsKey, makeClip, publish } from '../helpers/media.js';

interface StreamJson {
  mediaSessionId: string;
  name: string;
  status: string;
  record: boolean;
}

function records(daemon: DaemonHandle): string[] {
  return fs
    .readdirSync(daemon.recordDir)
    .filter((f) => !f.startsWith('.') && /\.(mp4|mkv|webm|ts)$/.test(f))
    .sort();
}

function hookLines(daemon: DaemonHandle): string[] {
  const log = path.join(daemon.home, 'logs', 'record.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

async function stream(daemon: DaemonHandle, name: string): Promise<StreamJson> {
  let found: StreamJson | undefined;
  await waitFor(
    async () => {
      found = (await daemon.post<StreamJson[]>('/rest-api/stream/find_all')).body.find((s) => s.name === name);
      return found !== undefined;
    },
    10_000,
    `stream ${name}`,
  );
  return found!;
}

/** The recorder muxers: the daemon's ffmpeg children. */
function muxers(daemon: DaemonHandle): number[] {
  return daemon.children().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg';
    } catch {
      return false;
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('crash safety and recovery', () => {
  it('SIGKILL of the daemon 10 s into a publish: the restart recovers a playable record of all but the last second sent, named and hooked', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const home = makeHome();
    const first = await startDaemon({}, home);
    const publisher = publish(clip, first.rtmpUrl('crash'), ['-stream_loop', '3']);
    let msid = '';
    let sentAtKill = 0;
    try {
      msid = (await stream(first, 'crash')).mediaSessionId;
      await sleep(10_000);
      sentAtKill = publisher.sentSeconds();
      first.proc.kill('SIGKILL');
      await first.exited;
    } finally {
      publisher.proc.kill('SIGKILL');
    }
    // the orphaned muxer sees its input close and ends by itself
    const leftovers = fs.readdirSync(first.recordDir).filter((f) => f.startsWith('.rec-') && !f.endsWith('.json'));
    expect(leftovers).toHaveLength(1);
    const second = await startDaemon({ 'http.port': first.httpPort, 'rtmp.port': first.rtmpPort }, home);
    try {
      await second.waitForOutput(/Recovered an interrupted recording/, 20_000);
      const file = path.join(second.recordDir, `stream-${msid}-.mp4`);
      await waitFor(() => hookLines(second).some((l) => l === `crash:${file}`), 10_000, 'hook of the recovered record');
      // what the publisher had sent (its own count, not the wall clock: a busy machine sends less in 10 s), less 1 s
      expect(sentAtKill).toBeGreaterThan(3);
      expect(durationOf(file)).toBeGreaterThanOrEqual(sentAtKill - 1);
      expect(decodeErrors(file)).toBe('');
      expect(ffprobe(file).streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
      expect(fs.readdirSync(second.recordDir).filter((f) => f.startsWith('.rec-'))).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('a recorder muxer killed mid-stream: its part is kept, the recording goes on in a new part from the next keyframe', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    // the muxer process is killed: the ffmpeg muxer (H.264 + AAC would be written in process)
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}', record_muxer: 'ffmpeg' });
    try {
      const publisher = publish(clip, daemon.rtmpUrl('phoenix'));
      await stream(daemon, 'phoenix');
      await daemon.waitForOutput(/Recording started/);
      await sleep(3000);
      const [muxer] = muxers(daemon);
      expect(muxer).toBeDefined();
      process.kill(muxer!, 'SIGKILL');
      expect(await publisher.exited).toBe(0);
      await waitFor(() => hookLines(daemon).length >= 2, 15_000, 'two records');
      expect(records(daemon)).toEqual(['phoenix.mp4', 'phoenix_2.mp4']);
      let total = 0;
      for (const f of records(daemon)) {
        const file = path.join(daemon.recordDir, f);
        expect(decodeErrors(file)).toBe('');
        expect(firstVideoFrameIsKey(file)).toBe(true);
        total += durationOf(file);
      }
      // lost at most what the killed muxer had not written yet plus one GOP
      expect(total).toBeGreaterThan(durationOf(clip) - 2);
      expect(daemon.output).toMatch(/Recorder muxer exited unexpectedly/);
    } finally {
      await daemon.stop();
    }
  });

  it('error budget: after file_recorder_max_errors_per_interval muxer failures the recording stops cleanly; the stream goes on', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}', file_recorder_max_errors_per_interval: 2, record_muxer: 'ffmpeg' });
    const publisher = publish(clip, daemon.rtmpUrl('budget'), ['-stream_loop', '2']);
    try {
      await stream(daemon, 'budget');
      for (let i = 0; i < 2; i++) {
        await waitFor(() => muxers(daemon).length === 1, 10_000, 'a running muxer');
        // a muxer's output reaches the disk about 1.5 s after it starts (probe + first fragment)
        await sleep(3000);
        process.kill(muxers(daemon)[0]!, 'SIGKILL');
        await waitFor(() => muxers(daemon).length === 0, 5000, 'muxer gone');
      }
      await daemon.waitForOutput(/2 errors within 60 min \(file_recorder_max_errors_per_interval\)/, 10_000);
      await waitFor(() => hookLines(daemon).length >= 2, 15_000, 'records of both parts');
      await sleep(2000);
      expect(muxers(daemon)).toEqual([]);
      const s = await stream(daemon, 'budget');
      expect(s.status).toBe('PUBLISHING');
      expect(s.record).toBe(false);
      expect(records(daemon)).toEqual(['budget.mp4', 'budget_2.mp4']);
      for (const f of records(daemon)) expect(decodeErrors(path.join(daemon.recordDir, f))).toBe('');
    } finally {
      publisher.proc.kill('SIGKILL');
      await daemon.stop();
    }
  });

  it('record_stop_timeout: a muxer that hangs is forced closed and its file is still kept playable', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 5, gop: 1 });
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}', record_stop_timeout: 2, record_muxer: 'ffmpeg' });
    try {
      const publisher = publish(clip, daemon.rtmpUrl('hang'));
      await daemon.waitForOutput(/Recording started/);
      await sleep(3000);
      const [muxer] = muxers(daemon);
      process.kill(muxer!, 'SIGSTOP');
      const sentAtHang = publisher.sentSeconds();
      expect(await publisher.exited).toBe(0);
      const stoppedAt = Date.now();
      await waitFor(() => hookLines(daemon).length >= 1, 20_000, 'the record');
      // 2 s to finish, then SIGINT, then SIGKILL 5 s later (a stopped process only dies to SIGKILL)
      expect(Date.now() - stoppedAt).toBeLessThan(12_000);
      expect(isAlive(muxer!)).toBe(false);
      const file = path.join(daemon.recordDir, 'hang.mp4');
      expect(decodeErrors(file)).toBe('');
      // the hung muxer had got up to what was sent when it stopped; it may lose what it had not flushed
      expect(sentAtHang).toBeGreaterThan(1.5);
      expect(durationOf(file)).toBeGreaterThan(sentAtHang - 1.5);
    } finally {
      await daemon.stop();
    }
  });
});

describe('limits and liveness', () => {
  it('record_max_length ends the recording; record_idle_timeout ends it when media stops; a reconnect gets new files', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const daemon = await startDaemon({
      stream_record_policy_template: '{streamName}-{mediaSessionId}',
      record_max_length: '3s',
      record_idle_timeout: 2,
      rtmp_publisher_idle_timeout: 60,
    });
    try {
      const long = publish(clip, daemon.rtmpUrl('maxlen'));
      const first = await stream(daemon, 'maxlen');
      await daemon.waitForOutput(/record_max_length of 3 s reached/, 15_000);
      await waitFor(() => hookLines(daemon).length >= 1, 10_000, 'record');
      const capped = path.join(daemon.recordDir, `maxlen-${first.mediaSessionId}.mp4`);
      expect(durationOf(capped)).toBeGreaterThan(2.5);
      expect(durationOf(capped)).toBeLessThan(4.2);
      expect(await long.exited).toBe(0);

      // the same name again: a new media session and new files
      const again = publish(clip, daemon.rtmpUrl('maxlen'));
      const second = await stream(daemon, 'maxlen');
      expect(second.mediaSessionId).not.toBe(first.mediaSessionId);
      await daemon.waitForOutput(/Recording started[\s\S]*Recording started/, 10_000);
      await sleep(1500);
      again.proc.kill('SIGSTOP');
      const sentBeforeSilence = again.sentSeconds();
      await daemon.waitForOutput(/no media for 2 s/, 10_000);
      await waitFor(() => hookLines(daemon).length >= 2, 10_000, 'second record');
      const idle = path.join(daemon.recordDir, `maxlen-${second.mediaSessionId}.mp4`);
      // everything sent before the publisher went silent is in the record
      expect(durationOf(idle)).toBeGreaterThan(sentBeforeSilence - 0.5);
      expect(decodeErrors(idle)).toBe('');
      // the publisher is still connected: the stream is live, not recorded
      const s = await stream(daemon, 'maxlen');
      expect(s.record).toBe(false);
      again.proc.kill('SIGKILL');
    } finally {
      await daemon.stop();
    }
  });
});

function canMountTmpfs(): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-mnt-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
  if (ok) spawnSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  return ok;
}

describe('disk guard', () => {
  it('file_recorder_min_space on a small tmpfs that really fills: the recording stops with a playable file, the hook runs, REST restarts it once space is back', async () => {
    expect(canMountTmpfs(), 'this test needs root and tmpfs (mount -t tmpfs)').toBe(true);
    const home = makeHome();
    const records = path.join(home, 'records');
    fs.mkdirSync(records);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', records]);
    const daemon = await startDaemon({ stream_record_policy_template: '{streamName}-{startTimeMillis}', file_recorder_min_space: '30m' }, home);
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1, bitrate: '4M' });
    const publisher = publish(clip, daemon.rtmpUrl('full'), ['-stream_loop', '2']);
    try {
      const s = await stream(daemon, 'full');
      await daemon.waitForOutput(/Recording started/);
      // leave about 6 MiB above the limit: 4 Mbit/s eats it in a dozen seconds
      const fill = path.join(records, 'ballast.bin');
      const free = fs.statfsSync(records).bavail * fs.statfsSync(records).bsize;
      execFileSync('dd', ['if=/dev/zero', `of=${fill}`, 'bs=1M', `count=${Math.floor((free - 36 * 1024 * 1024) / (1024 * 1024))}`], { stdio: 'ignore' });
      await daemon.waitForOutput(/Not enough available disk space/, 30_000);
      await waitFor(() => hookLines(daemon).length >= 1, 15_000, 'hook after the disk guard stopped the recording');
      const [line] = hookLines(daemon);
      const file = line!.slice(line!.indexOf(':') + 1);
      expect(decodeErrors(file)).toBe('');
      expect(durationOf(file)).toBeGreaterThan(1);
      // the daemon still serves and keeps the stream's state right
      let st = await stream(daemon, 'full');
      expect(st.status).toBe('PUBLISHING');
      expect(st.record).toBe(false);
      const refused = await daemon.post<{ message: string }>('/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.body.message).toMatch(/Not enough available disk space/);
      // space back: recording resumes by REST
      fs.rmSync(fill);
      const resumed = await daemon.post('/rest-api/recorder/startup', { mediaSessionId: s.mediaSessionId });
      expect(resumed.status).toBe(200);
      st = await stream(daemon, 'full');
      expect(st.record).toBe(true);
    } finally {
      publisher.proc.kill('SIGKILL');
      await daemon.stop();
      spawnSync('umount', ['-l', records]);
    }
  });
});
