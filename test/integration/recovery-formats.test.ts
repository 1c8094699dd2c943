import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { liveMuxerArgs, planRecording } from '../../src/recording/formats.js';
import { fallocateInsertRange } from '../../src/recording/mp4/insert-range.js';
import { writeSidecar } from '../../src/recording/part-sidecar.js';
import { recoverInterruptedParts } from '../../src/recording/recovery.js';
import { decodeErrors, durationOf, ffprobe, makeClip } from '../helpers/media.js';

const MSID = '0b7e6c2a-1f0e-4c55-9a59-2a5a3c7d9e11';

// recovery's insert-range helper, as the daemon owns it
const insertRange = fallocateInsertRange();
afterAll(async () => {
  await insertRange.close?.();
});

/** Start-up recovery of what `dir` holds, as the daemon runs it (records named by `template` when a part has no description). */
function recover(dir: string, template: string, timeoutMs: number) {
  return recoverInterruptedParts({
    tmpDir: dir,
    recordDir: dir,
    ffmpeg: 'ffmpeg',
    ffprobe: 'ffprobe',
    mp4: { moovFirst: true, reserveSpace: false, reservedBytes: 0, insertRange: true },
    insertRange,
    formats: { h264: 'mp4', vp8: 'webm' },
    naming: { template, encoding: 'none', exclude: '/' },
    timeoutMs,
    log: pino({ level: 'silent' }),
  });
}

/**
 * A live muxer killed with SIGKILL while it writes, as when the server dies:
 * the FLV feed is piped in real time (-re) and the muxer is killed once it
 * reports (-progress) that it has muxed `killAfterSeconds` of media. Counting
 * the muxer's own progress instead of wall-clock time keeps the test's
 * meaning on a busy machine, where the live VP8 encoder of the feed falls
 * behind real time: "of what the muxer had written when it died, how much
 * does recovery keep", not "how fast is this machine".
 */
async function killedMuxerOutput(
  dir: string,
  container: 'mp4' | 'mkv' | 'ts' | 'webm',
  killAfterSeconds: number,
): Promise<{ tmp: string; muxedSeconds: number }> {
  const video = container === 'webm' ? 'VP8' : 'H264';
  const plan = planRecording(video, container === 'webm' ? 'OPUS' : 'AAC', { h264: container === 'webm' ? 'mp4' : (container as 'mp4' | 'mkv' | 'ts'), vp8: 'webm' });
  const tmp = path.join(dir, `.rec-${MSID}-1-1.${plan.extension}`);
  const feedArgs =
    container === 'webm'
      ? ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '8',
         '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30', '-c:a', 'libopus', '-f', 'webm', '-live', '1', 'pipe:1']
      : ['-i', makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), '-c', 'copy', '-f', 'flv', 'pipe:1'];
  const feeder = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', ...feedArgs], { stdio: ['ignore', 'pipe', 'ignore'] });
  const args = liveMuxerArgs(plan, container === 'webm' ? 'webm' : 'flv', { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 }, { clusterDurationLimitMs: 100000, clusterSizeLimit: 131072 }, tmp);
  // -progress is a global option: the muxer's own count of the media time it has written
  const muxer = spawn('ffmpeg', ['-progress', 'pipe:2', '-stats_period', '0.1', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let muxedUs = 0;
  muxer.stderr.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/out_time_us=(\d+)/g)) muxedUs = Math.max(muxedUs, Number(m[1]));
  });
  feeder.stdout.pipe(muxer.stdin);
  muxer.stdin.on('error', () => undefined);
  writeSidecar(tmp, {
    version: 1,
    streamName: `cam_${container}`,
    mediaSessionId: MSID,
    sessionId: '',
    login: 'op',
    audioCodec: container === 'webm' ? 'OPUS' : 'AAC',
    videoCodec: video,
    naming: { template: '{streamName}-{login}-{duration}', encoding: 'none', exclude: '/' },
    nameIndex: null,
    plan,
    startTimeMillis: Date.now(),
    firstTimestampMs: 0,
  });
  const muxerExit = new Promise((r) => muxer.on('exit', r));
  const deadline = Date.now() + 45_000;
  while (muxedUs < killAfterSeconds * 1e6 && muxer.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const muxedSeconds = muxedUs / 1e6;
  muxer.kill('SIGKILL');
  feeder.kill('SIGKILL');
  await muxerExit;
  return { tmp, muxedSeconds };
}

describe('start-up recovery of parts left by a crash, for every container', () => {
  it.each(['mp4', 'mkv', 'ts', 'webm'] as const)('%s', async (container) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wcs-recover-${container}-`));
    try {
      const { tmp, muxedSeconds } = await killedMuxerOutput(dir, container, 4);
      expect(muxedSeconds).toBeGreaterThanOrEqual(4);
      expect(fs.statSync(tmp).size).toBeGreaterThan(0);
      const records = await recover(dir, 'unused', 30_000);
      expect(records).toHaveLength(1);
      const record = records[0]!;
      expect(record.fileName).toMatch(new RegExp(`^cam_${container}-op-\\d+\\.${container}$`));
      // {duration} comes from the media itself
      const duration = durationOf(record.path);
      expect(Math.abs(Number(/-(\d+)\./.exec(record.fileName)![1]) / 1000 - duration)).toBeLessThan(0.1);
      // a SIGKILL loses at most what the muxer had not flushed yet: 1.5 s of the 4 s it had written
      console.log(`${container}: muxed ${muxedSeconds.toFixed(2)} s before SIGKILL, recovered ${duration.toFixed(2)} s`);
      expect(duration).toBeGreaterThan(muxedSeconds - 1.5);
      expect(decodeErrors(record.path)).toBe('');
      expect(ffprobe(record.path).streams.length).toBe(2);
      // nothing left behind: no temp file, no description
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable leftover is kept aside as .broken, not retried, not served', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-recover-broken-'));
    try {
      fs.writeFileSync(path.join(dir, `.rec-${MSID}-1-1.mp4`), Buffer.alloc(1000, 7));
      const records = await recover(dir, 'x', 10_000);
      expect(records).toEqual([]);
      expect(fs.readdirSync(dir)).toEqual([`.rec-${MSID}-1-1.mp4.broken`]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
