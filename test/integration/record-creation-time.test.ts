import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makeHome, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, makeClip, publish } from '../helpers/media.js';

/**
 * Issue 18: single-stream MP4 records said creation time 0 (1904). The
 * record's wall-clock start goes into mvhd/tkhd/mdhd, which ffprobe shows as
 * format.tags.creation_time (and each stream's creation_time).
 */

interface Tagged {
  format: { tags?: Record<string, string> };
  streams: { codec_type: string; tags?: Record<string, string> }[];
}

function probeTags(file: string): Tagged {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as Tagged;
}

/** ISO 8601 from ffprobe ("2026-12-06T22:10:05.000000Z") to ms since 1970. */
function isoMs(value: string | undefined): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(value ?? '');
  expect(m, `creation_time ${value}`).not.toBeNull();
  return Date.parse(`${m![1]}Z`);
}

function records(daemon: DaemonHandle): string[] {
  return fs.existsSync(daemon.recordDir) ? fs.readdirSync(daemon.recordDir).filter((f) => !f.startsWith('.') && f.endsWith('.mp4')) : [];
}

/** creation_time of the file and of each of its streams, all within `slackMs` of [from, to]. */
function expectCreatedBetween(file: string, from: number, to: number, slackMs = 3000): void {
  const probe = probeTags(file);
  const created = isoMs(probe.format.tags?.creation_time);
  expect(created).toBeGreaterThanOrEqual(from - slackMs);
  expect(created).toBeLessThanOrEqual(to + slackMs);
  expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  for (const s of probe.streams) expect(isoMs(s.tags?.creation_time)).toBe(created);
}

describe('creation_time of single-stream MP4 records', () => {
  it.each(['in-process', 'ffmpeg'] as const)('record_muxer=%s: ffprobe shows the publish time', async (muxer) => {
    const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });
    const daemon = await startDaemon({ record_muxer: muxer });
    try {
      const publishedAt = Date.now();
      const publisher = publish(clip, daemon.rtmpUrl(`created_${muxer.replace('-', '_')}`));
      await daemon.waitForOutput(/"Recording started"/, 15_000);
      // the muxer asked for is the one that wrote it (H.264 + AAC: in process unless told ffmpeg)
      expect(daemon.output).toMatch(new RegExp(`"muxer":"${muxer}"[^\\n]*"Recording started"`));
      const recordingStartedAt = Date.now();
      expect(await publisher.exited).toBe(0);
      await waitFor(() => records(daemon).length === 1, 20_000, 'the finished record');
      const file = path.join(daemon.recordDir, records(daemon)[0]!);
      expectCreatedBetween(file, publishedAt, recordingStartedAt);
      expect(decodeErrors(file)).toBe('');
    } finally {
      await daemon.stop();
    }
  });

  it('a record recovered after a SIGKILL of the daemon keeps its creation time', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
    const home = makeHome();
    const first = await startDaemon({}, home);
    const publishedAt = Date.now();
    const publisher = publish(clip, first.rtmpUrl('created_crash'));
    let recordingStartedAt = 0;
    try {
      await first.waitForOutput(/"Recording started"/, 15_000);
      recordingStartedAt = Date.now();
      // media written before the kill: the publisher's own count, not the wall clock
      await waitFor(() => publisher.sentSeconds() >= 3, 30_000, '3 s sent');
      first.proc.kill('SIGKILL');
      await first.exited;
    } finally {
      publisher.proc.kill('SIGKILL');
    }
    const second = await startDaemon({ 'http.port': first.httpPort, 'rtmp.port': first.rtmpPort }, home);
    try {
      await second.waitForOutput(/Recovered an interrupted recording/, 20_000);
      await waitFor(() => records(second).length === 1, 10_000, 'the recovered record');
      expectCreatedBetween(path.join(second.recordDir, records(second)[0]!), publishedAt, recordingStartedAt);
    } finally {
      await second.stop();
    }
  });
});
