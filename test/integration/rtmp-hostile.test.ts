/**
 * Issue 14: hostile RTMP input ends one connection, never the daemon nor the
 * recordings of others. Each case once stopped the whole process (1-3), or
 * left connections open for ever (4), or let anybody play any stream (5).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, ffprobe, makeClip, publish, type Publisher } from '../helpers/media.js';
import { RawRtmpClient } from '../fuzz/rtmp-client.js';
import { AmfRaw, chunk, command, connectCommand, mediaMessage, OMIT, playCommand, publishCommand, setChunkSize, type RtmpMessage } from '../fuzz/rtmp-wire.js';
import { hookRecordsOf } from '../helpers/rest.js';

interface StreamJson {
  name: string;
  status: string;
}

async function streamStatus(daemon: DaemonHandle, name: string): Promise<string | undefined> {
  const res = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
  return res.body.find((s) => s.name === name)?.status;
}


/** Runs ffmpeg as an RTMP player for up to `seconds` of media; resolves its exit code and the frames it got. */
function play(url: string, seconds: number): Promise<{ code: number | null; frames: number; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn('ffmpeg', ['-hide_banner', '-nostats', '-rw_timeout', '8000000', '-i', url, '-t', String(seconds), '-map', '0:v?', '-c', 'copy', '-f', 'null', '-'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const m = /frame=\s*(\d+)/g;
      let frames = 0;
      for (const hit of stderr.matchAll(m)) frames = Number(hit[1]);
      resolve({ code, frames, stderr });
    });
  });
}

/** A client that has shaken hands and published NAME (the server answered). */
async function publishedClient(daemon: DaemonHandle, name: string): Promise<RawRtmpClient> {
  const c = await RawRtmpClient.connect(daemon.rtmpPort);
  await c.handshake();
  c.publish(daemon.rtmpPort, name);
  await c.waitUntil(() => c.received.includes('NetStream.Publish.Start'), 10_000);
  return c;
}

async function expectClosedAndLogged(daemon: DaemonHandle, client: RawRtmpClient, reason: RegExp): Promise<void> {
  expect(client.isClosed).toBe(true);
  const named = (): string | undefined => daemon.output.split('\n').find((l) => l.includes(`RTMP connection ${client.localPeer}`));
  await waitFor(() => named() !== undefined, 5000, `a log line naming ${client.localPeer}`).catch(() => undefined);
  const line = daemon.output.split('\n').find((l) => l.includes(`RTMP connection ${client.localPeer}`));
  expect(line, `a log line naming ${client.localPeer}`).toBeDefined();
  expect(line).toMatch(reason);
}

/** One write: chunk size, connect, createStream, then `command`, then media messages (as a client that does not wait for answers). */
async function sayAtOnce(daemon: DaemonHandle, streamCommand: RtmpMessage, media: RtmpMessage[]): Promise<RawRtmpClient> {
  const c = await RawRtmpClient.connect(daemon.rtmpPort);
  await c.handshake();
  const messages = [connectCommand('live', `rtmp://127.0.0.1:${daemon.rtmpPort}/live`), command('createStream', 2, null), streamCommand, ...media];
  c.send(Buffer.concat([chunk(setChunkSize(4096), 128), ...messages.map((m) => chunk(m, 4096))]));
  return c;
}

/** A video frame half an hour ahead: written into a live stream, it would stretch its record to 30 minutes. */
const intrusion = (): RtmpMessage[] => [mediaMessage(9, 1_800_000, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 0, 2, 9, 9]))];

describe('hostile RTMP input beside a healthy recorded publish', () => {
  let daemon: DaemonHandle;
  let healthy: Publisher;
  const clip = makeClip({ video: true, audio: true, seconds: 16, gop: 1 });

  beforeAll(async () => {
    daemon = await startDaemon({ rtmp_publish_timeout: 3 });
    healthy = publish(clip, daemon.rtmpUrl('healthy'));
    await waitFor(async () => (await streamStatus(daemon, 'healthy')) === 'PUBLISHING', 15_000, 'healthy publish');
  });

  afterAll(async () => {
    healthy.proc.kill('SIGKILL');
    const children = daemon.children();
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('a zero-length video message closes that connection only', async () => {
    const c = await publishedClient(daemon, 'hostile_zero');
    // node-media-server reads the payload state of a message on the next byte: a valid message follows
    c.sendMessages([mediaMessage(9, 0, Buffer.alloc(0)), mediaMessage(8, 0, Buffer.from([0xaf, 1, 0]))], 4096);
    expect(await c.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, c, /empty video message/);
    const a = await publishedClient(daemon, 'hostile_zero_audio');
    a.sendMessages([mediaMessage(8, 0, Buffer.alloc(0)), mediaMessage(8, 0, Buffer.from([0xaf, 1, 0]))], 4096);
    expect(await a.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, a, /empty audio message/);
    expect(daemon.proc.exitCode).toBeNull();
  });

  it('a connect without tcUrl is refused', async () => {
    const c = await RawRtmpClient.connect(daemon.rtmpPort);
    await c.handshake();
    c.sendMessages([connectCommand('live', OMIT)], 128);
    expect(await c.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, c, /connect without a tcUrl/);
    const bad = await RawRtmpClient.connect(daemon.rtmpPort);
    await bad.handshake();
    bad.sendMessages([connectCommand(['live'], 'not a url')], 128);
    expect(await bad.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, bad, /app name must be a string/);
  });

  it('a publish whose name is AMF null, or holds a control character, is refused', async () => {
    for (const [name, reason] of [
      [null, /stream name must be a string \(got null\)/],
      ['bad\u0001name', /control character \(U\+0001\)/],
      ['ok_name?login=a%0Ab', /login holds a control character/],
    ] as const) {
      const c = await RawRtmpClient.connect(daemon.rtmpPort);
      await c.handshake();
      c.send(chunk(setChunkSize(4096), 128));
      c.sendMessages([connectCommand('live', `rtmp://127.0.0.1:${daemon.rtmpPort}/live`), command('createStream', 2, null), publishCommand(name)], 4096);
      expect(await c.waitClosed(5000)).toBe(true);
      await expectClosedAndLogged(daemon, c, reason);
    }
    expect(daemon.output).not.toMatch(/bad\u0001name/);
  });

  it('an oversized message, a bad chunk size and broken AMF close their connections', async () => {
    const big = await publishedClient(daemon, 'hostile_big');
    big.sendMessages([{ ...mediaMessage(9, 0, Buffer.alloc(16)), declaredLength: 0xfffff0 }], 4096);
    expect(await big.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, big, /larger than rtmp_max_message_size/);

    const zeroChunk = await publishedClient(daemon, 'hostile_chunk');
    zeroChunk.sendMessages([setChunkSize(0)], 4096);
    expect(await zeroChunk.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, zeroChunk, /chunk size 0 is out of range/);

    // an unknown AMF type marker: node-media-server's own decoder would throw (TypeError); refused before it
    const amf = await RawRtmpClient.connect(daemon.rtmpPort);
    await amf.handshake();
    amf.sendMessages([{ csid: 3, type: 20, streamId: 0, timestamp: 0, payload: Buffer.concat([command('connect', 1).payload, new AmfRaw(Buffer.from([0x42, 1, 2])).bytes]) }], 128);
    expect(await amf.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, amf, /malformed AMF command: AMF0 marker 0x42/);
  });

  it('a second publisher of a live name cannot write into it', async () => {
    const c = await sayAtOnce(daemon, publishCommand('healthy'), intrusion());
    expect(await c.waitClosed(5000)).toBe(true);
    await expectClosedAndLogged(daemon, c, /publish of 'healthy' refused: it is published already/);
  });

  it('closes connections that do not publish within rtmp_publish_timeout', async () => {
    const idle = await RawRtmpClient.connect(daemon.rtmpPort);
    const shaken = await RawRtmpClient.connect(daemon.rtmpPort);
    await shaken.handshake();
    expect(await idle.waitClosed(1500)).toBe(false);
    expect(await idle.waitClosed(10_000)).toBe(true);
    expect(await shaken.waitClosed(10_000)).toBe(true);
    await expectClosedAndLogged(daemon, idle, /did not publish within 3 s/);
    await expectClosedAndLogged(daemon, shaken, /did not publish within 3 s/);
  });

  it('refuses RTMP play by default', async () => {
    const res = await play(daemon.rtmpUrl('healthy'), 2);
    expect(res.frames).toBe(0);
    expect(res.code).not.toBe(0);
    expect(daemon.output).toMatch(/play of 'healthy' refused: RTMP play is off \(rtmp_play_enabled=false\)/);
  });

  it('the healthy recording went on and its record is whole', async () => {
    expect(await streamStatus(daemon, 'healthy')).toBe('PUBLISHING');
    expect(await healthy.exited).toBe(0);
    let file = '';
    await waitFor(() => (file = hookRecordsOf(daemon, 'healthy')[0] ?? '') !== '', 20_000, 'the healthy record');
    const probe = ffprobe(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probe.format.duration) - durationOf(clip))).toBeLessThanOrEqual(0.5);
    expect(daemon.proc.exitCode).toBeNull();
    // the refused publishes left no stream behind
    const streams = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
    expect(streams.body.filter((s) => s.name.startsWith('hostile'))).toEqual([]);
  });
});

describe('RTMP connection caps and play when enabled', () => {
  let daemon: DaemonHandle;

  beforeAll(async () => {
    daemon = await startDaemon({
      rtmp_max_connections: 5,
      rtmp_max_connections_per_ip: 3,
      rtmp_publish_timeout: 60,
      rtmp_play_enabled: true,
      records_access_token: 'play-secret',
      record_streams: false,
    });
  });

  afterAll(async () => {
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });

  it('refuses connections past the per-address and the total cap', async () => {
    const sockets: net.Socket[] = [];
    const connect = (localAddress: string): Promise<{ socket: net.Socket; closed: Promise<void> }> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port: daemon.rtmpPort, host: '127.0.0.1', localAddress });
        const closed = new Promise<void>((r) => socket.on('close', () => r()));
        socket.on('error', () => undefined);
        socket.once('connect', () => resolve({ socket, closed }));
        setTimeout(() => reject(new Error('connect timed out')), 10_000).unref();
        sockets.push(socket);
      });
    const stillOpen = async (c: { closed: Promise<void> }): Promise<boolean> =>
      Promise.race([c.closed.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 1000))]);
    try {
      const first = [await connect('127.0.0.1'), await connect('127.0.0.1'), await connect('127.0.0.1')];
      const fourth = await connect('127.0.0.1');
      expect(await stillOpen(fourth)).toBe(false);
      await daemon.waitForOutput(/refused: 3 RTMP connections are open from 127\.0\.0\.1 \(rtmp_max_connections_per_ip=3\)/, 5000);
      const others = [await connect('127.0.0.2'), await connect('127.0.0.2')];
      const sixth = await connect('127.0.0.3');
      expect(await stillOpen(sixth)).toBe(false);
      await daemon.waitForOutput(/refused: 5 RTMP connections are open \(rtmp_max_connections=5\)/, 5000);
      expect(await Promise.all([...first, ...others].map(stillOpen))).toEqual([true, true, true, true, true]);
      // closing frees the places
      for (const c of first) c.socket.destroy();
      await Promise.all(first.map((c) => c.closed));
      await new Promise((r) => setTimeout(r, 200));
      const again = await connect('127.0.0.1');
      expect(await stillOpen(again)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('plays a live stream with ?token=<records_access_token>, and only with it', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 16, gop: 1 });
    const publisher = publish(clip, daemon.rtmpUrl('playable'));
    try {
      await waitFor(async () => (await streamStatus(daemon, 'playable')) === 'PUBLISHING', 15_000, 'publish');
      const without = await play(daemon.rtmpUrl('playable'), 2);
      expect(without.frames).toBe(0);
      expect(daemon.output).toMatch(/play of 'playable' refused: no \?token= \(records_access_token is set\)/);
      const wrong = await play(`${daemon.rtmpUrl('playable')}?token=nope`, 2);
      expect(wrong.frames).toBe(0);
      expect(daemon.output).toMatch(/play of 'playable' refused: wrong token/);
      // a player may not write into what it plays (node-media-server would pass its media on)
      const intruder = await sayAtOnce(daemon, playCommand('playable?token=play-secret'), intrusion());
      expect(await intruder.waitClosed(5000)).toBe(true);
      await expectClosedAndLogged(daemon, intruder, /media from a player of 'playable'/);
      const right = await play(`${daemon.rtmpUrl('playable')}?token=play-secret`, 2);
      expect(right.code, right.stderr).toBe(0);
      expect(right.frames).toBeGreaterThan(20);
    } finally {
      publisher.proc.kill('SIGKILL');
      await publisher.exited;
    }
  });
});
