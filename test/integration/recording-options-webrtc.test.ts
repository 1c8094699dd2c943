/**
 * Issue 18 items 8-9 on a WebRTC (WHIP) publisher: its VP8 + Opus feed
 * transcoded by an H.264 preset into MP4 (Opus encoded to AAC), and
 * recorded into Matroska without its audio.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors } from '../helpers/media.js';
import { hookLines, postJson, streamNamed, type ErrorJson } from '../helpers/rest.js';

let daemon: DaemonHandle;
const portBase = 36001 + (process.pid % 10) * 100;

beforeAll(async () => {
  daemon = await startDaemon({
    record_streams: false,
    stream_record_policy_template: '{streamName}',
    media_port_from: portBase,
    media_port_to: portBase + 39,
  });
});

afterAll(async () => {
  expect((await daemon.stop()).code).toBe(0);
});

interface Probe {
  format: { format_name: string; duration: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; avg_frame_rate?: string }[];
}

function probe(file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as Probe;
}

describe('options on a WHIP publisher (VP8 + Opus)', () => {
  it('preset h264-480p: H.264 854x480 30 fps with AAC in MP4; format mkv + audio false: VP8 alone in Matroska', async () => {
    const proc = spawn(process.execPath, [path.join(REPO, 'test', 'helpers', 'wrtc-publishers.mjs'), daemon.url(''), 'wr', '2', '8'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const s1 = await streamNamed(daemon, 'wr1', 30_000);
      const s2 = await streamNamed(daemon, 'wr2', 30_000);
      expect(s1.videoCodec).toBe('VP8');
      const a = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: s1.mediaSessionId, config: { preset: 'h264-480p' } });
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      const b = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: s2.mediaSessionId, config: { format: 'mkv', audio: false } });
      expect(b.status, JSON.stringify(b.body)).toBe(200);
      // VP8 cannot go into MP4 without a preset
      const c = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: s2.mediaSessionId, config: { format: 'mp4' } });
      expect(c.status).toBe(400);
      expect(c.body.message).toMatch(/mp4 cannot hold the stream's VP8 video; choose mkv, webm/);
      expect(await exited, out).toBe(0);
      await waitFor(() => ['wr1:', 'wr2:'].every((p) => hookLines(daemon).some((l) => l.startsWith(p))), 60_000, 'both records');
      const file1 = hookLines(daemon).find((l) => l.startsWith('wr1:'))!.slice(4);
      const file2 = hookLines(daemon).find((l) => l.startsWith('wr2:'))!.slice(4);
      expect(path.extname(file1)).toBe('.mp4');
      const p1 = probe(file1);
      const v1 = p1.streams.find((s) => s.codec_type === 'video')!;
      expect([v1.codec_name, v1.width, v1.height, v1.avg_frame_rate]).toEqual(['h264', 854, 480, '30/1']);
      expect(p1.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
      expect(decodeErrors(file1)).toBe('');
      expect(path.extname(file2)).toBe('.mkv');
      expect(probe(file2).streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['video:vp8']);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});
