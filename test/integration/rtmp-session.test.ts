/**
 * Issue 20: our own RTMP session layer against real publishers.
 *
 * The chunk reader against a publisher that chunks small
 * and uses extended timestamps. ffmpeg cannot be made to: it has no option
 * for its chunk size (4096), and with -output_ts_offset past 2^24 ms its
 * sequence headers still go out at 0, which the timestamp-jump check
 * (issue 14) refuses. So a raw client sends a real clip with a 7-byte chunk
 * size and timestamps that cross 0xffffff mid-stream (extended timestamps
 * on type-0 and type-3 chunks from there on): recorded whole. And the
 * live broadcast's grace window with ffmpeg killed and started again.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, ffprobe, makeClip, publish } from '../helpers/media.js';
import { RawRtmpClient } from '../fuzz/rtmp-client.js';
import { chunk, HANDSHAKE_SIZE, mediaMessage, readFlvFile, setChunkSize, type RtmpMessage } from '../fuzz/rtmp-wire.js';
import { ChunkReader } from '../../src/ingest/rtmp/chunk-reader.js';
import { hookRecordsOf, recordOf } from '../helpers/rest.js';



describe('RTMP chunking recorded whole', () => {
  let daemon: DaemonHandle;
  const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });

  beforeAll(async () => {
    daemon = await startDaemon({ rtmp_publish_grace_ms: 300 });
  });

  afterAll(async () => {
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });

  it('a raw publisher with a 7-byte chunk size whose timestamps cross 0xffffff mid-stream', async () => {
    const flv = path.join(os.tmpdir(), `wcs-chunking-${process.pid}.flv`);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', '-f', 'flv', flv]);
    const tags = readFlvFile(fs.readFileSync(flv));
    fs.rmSync(flv, { force: true });
    // the first 4 s below 2^24 ms, the rest above
    const base = 0xffffff - 4000;
    const messages: RtmpMessage[] = tags
      .filter((t) => t.type === 8 || t.type === 9 || t.type === 18)
      .map((t) =>
        t.type === 18
          ? { csid: 6, type: 18, streamId: 1, timestamp: 0, payload: t.data }
          : mediaMessage(t.type as 8 | 9, base + t.timestamp, t.data),
      );
    expect(messages.some((m) => m.timestamp > 0xffffff) && messages.some((m) => m.type !== 18 && m.timestamp < 0xffffff)).toBe(true);
    const c = await RawRtmpClient.connect(daemon.rtmpPort);
    await c.handshake();
    c.publish(daemon.rtmpPort, 'small_chunks');
    expect(await c.waitUntil(() => c.received.includes('NetStream.Publish.Start'), 10_000)).toBe(true);
    c.send(chunk(setChunkSize(7), 4096));
    // a few hundred messages a write: the whole clip, faster than real time
    for (let i = 0; i < messages.length; i += 200) {
      expect(c.send(Buffer.concat(messages.slice(i, i + 200).map((m) => chunk(m, 7))))).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(c.isClosed).toBe(false);
    c.socket.end();
    const file = await recordOf(daemon, 'small_chunks', [], 30_000);
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.5);
    expect(daemon.output).not.toMatch(/RTMP connection [^"]* closed/);
  });
});

describe('acknowledgements', () => {
  let daemon: DaemonHandle;

  beforeAll(async () => {
    daemon = await startDaemon({});
  });

  afterAll(async () => {
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });

  it('are sent once the client has sent a window of bytes (Window Acknowledgement Size)', async () => {
    const c = await RawRtmpClient.connect(daemon.rtmpPort);
    await c.handshake();
    c.publish(daemon.rtmpPort, 'acked');
    expect(await c.waitUntil(() => c.received.includes('NetStream.Publish.Start'), 10_000)).toBe(true);
    const window = { csid: 2, type: 5, streamId: 0, timestamp: 0, payload: Buffer.from([0, 0, 0x10, 0]) }; // 4096 bytes
    c.send(chunk(window, 4096));
    const frame = Buffer.concat([Buffer.from([0x27, 1, 0, 0, 0]), Buffer.alloc(3000)]);
    for (let i = 0; i < 4; i++) c.sendMessages([mediaMessage(9, i * 40, frame)], 4096);
    const acks = (): number[] => {
      const got: number[] = [];
      const r = new ChunkReader({ allocate: (_t, n) => Buffer.alloc(n), message: (type, _s, _ts, body) => type === 3 && got.push(body.readUInt32BE(0)) }, 1 << 22);
      r.setChunkSize(0xffff);
      r.push(c.received, 1 + 2 * HANDSHAKE_SIZE);
      return got;
    };
    expect(await c.waitUntil(() => acks().length > 0, 5000)).toBe(true);
    // the byte count said is what we had read by then, at least a window past the start of the window
    expect(acks()[0]).toBeGreaterThanOrEqual(4096);
    c.destroy();
  });
});

describe('a publisher that reconnects within rtmp_publish_grace_ms', () => {
  let daemon: DaemonHandle;
  const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });

  beforeAll(async () => {
    daemon = await startDaemon({ rtmp_publish_grace_ms: 4000 });
  });

  afterAll(async () => {
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });

  it('resumes the same stream: one record holding both connections, its timeline going on', async () => {
    const first = publish(clip, daemon.rtmpUrl('resumed'));
    await waitFor(() => first.sentSeconds() >= 3, 20_000, 'three seconds published');
    first.proc.kill('SIGKILL');
    await first.exited;
    const firstSeconds = first.sentSeconds();
    const second = publish(clip, daemon.rtmpUrl('resumed'));
    expect(await second.exited, second.stderr()).toBe(0);
    await waitFor(() => daemon.output.includes('RTMP publisher reconnected within the grace window; the publish goes on'), 5000, 'the resume line');
    const file = await recordOf(daemon, 'resumed', [], 30_000);
    expect(hookRecordsOf(daemon, 'resumed')).toHaveLength(1);
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    // the first connection's media (up to what ffmpeg had read when it was killed) and the whole clip after it
    const duration = Number(probe.format.duration);
    expect(duration).toBeGreaterThan(durationOf(clip) + 1.5);
    expect(duration).toBeLessThanOrEqual(durationOf(clip) + firstSeconds + 0.5);
  });
});
