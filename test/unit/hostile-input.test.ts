import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseByteRange } from '../../src/http/byte-range.js';
import { planEviction } from '../../src/http/cut-cache.js';
import { clampRange, cutFileName, estimatePartBytes, parseCutRange } from '../../src/http/cut-range.js';
import { downloadUrlOf } from '../../src/http/download-url.js';
import { openRecordInside, procFdPath } from '../../src/http/safe-path.js';
import { RtspAgentManager, RtspLimitError, RtspRequestError, type RtspAgentSettings } from '../../src/ingest/rtsp/rtsp-agent-manager.js';
import { CAMERA_LOST, CAMERA_UNREACHABLE, judgeExit, publicPullError } from '../../src/ingest/rtsp/rtsp-pull-rules.js';
import { parseRtspUri, RtspUriError } from '../../src/ingest/rtsp/rtsp-uri.js';
import { StreamRegistry } from '../../src/streams/stream-registry.js';
import { parseServerConfig } from '../../src/config/server-config.js';

const loadConfigFromProperties = (raw: Record<string, string>) => parseServerConfig(raw, '/srv/wcs-home').config;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-hostile-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('cuts: bounds that say nothing are dropped before naming (clampRange)', () => {
  const DURATION = 60.04;
  it('30 different past-the-end ends name one part', () => {
    const names = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const range = clampRange(parseCutRange({ start: '11', end: String(61 + i * 7) })!, DURATION)!;
      names.add(cutFileName('long.mp4', range));
    }
    expect([...names]).toEqual(['long-s11.mp4']);
  });
  it.each([
    [{ end: '600' }, null],
    [{ end: '60.040' }, null],
    [{ start: '0', end: '999' }, null],
    [{ start: '0', end: '20' }, { endMs: 20_000 }],
    [{ start: '11', end: '60.039' }, { startMs: 11_000, endMs: 60_039 }],
    [{ start: '55' }, { startMs: 55_000 }],
  ])('%j -> %j', (query, expected) => {
    expect(clampRange(parseCutRange(query)!, DURATION)).toEqual(expected);
  });
  it('estimates a part by its share of the record, never above the record plus 1 MiB', () => {
    expect(estimatePartBytes(100_000_000, 100, { startMs: 0, endMs: 10_000 })).toBe(11_000_000 + 1024 * 1024);
    expect(estimatePartBytes(100_000_000, 100, { startMs: 1 })).toBe(100_000_000 + 1024 * 1024);
  });
});

describe('cut cache eviction (planEviction)', () => {
  const parts = [
    { fileName: 'a', bytes: 400, lastUsedMs: 3 },
    { fileName: 'b', bytes: 400, lastUsedMs: 1 },
    { fileName: 'c', bytes: 400, lastUsedMs: 2 },
  ];
  it('removes least recently used first until the cache and the incoming part fit', () => {
    expect(planEviction(parts, 2000)).toEqual([]);
    expect(planEviction(parts, 1000)).toEqual(['b']);
    expect(planEviction(parts, 1000, 400)).toEqual(['b', 'c']);
  });
  it('never removes a kept part', () => {
    expect(planEviction(parts, 500, 0, new Set(['b']))).toEqual(['c', 'a']);
  });
});

describe('Range header (parseByteRange)', () => {
  it.each([
    [undefined, null],
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-123', { start: 100, end: 123 }],
    ['bytes=900-', { start: 900, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=0-5000', { start: 0, end: 999 }],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=0-1,5-6', null],
    ['items=0-1', null],
    ['bytes=5-1', null],
  ])('%j of 1000 bytes -> %j', (header, expected) => {
    expect(parseByteRange(header, 1000)).toEqual(expected);
  });
});

describe('downloadUrl (record_public_base_url)', () => {
  it('uses the request address when empty, else the configured base', () => {
    expect(downloadUrlOf('', 'http', '127.0.0.1:8081', 'a b.mp4')).toBe('http://127.0.0.1:8081/client/records/a%20b.mp4');
    expect(downloadUrlOf('https://media.example.com/wcs', 'http', '10.0.0.5:8081', 'x.mp4')).toBe('https://media.example.com/wcs/client/records/x.mp4');
    expect(downloadUrlOf('https://media.example.com/', 'http', 'h', 'x.mp4')).toBe('https://media.example.com/client/records/x.mp4');
  });
  it('record_public_base_url is checked when the config is read', () => {
    expect(loadConfigFromProperties({ record_public_base_url: 'https://media.example.com/wcs/' }).recordPublicBaseUrl).toBe('https://media.example.com/wcs');
    for (const bad of ['ftp://x', 'not a url', 'https://x/?a=1', 'https://u:p@x']) {
      expect(() => loadConfigFromProperties({ record_public_base_url: bad }), bad).toThrow(/record_public_base_url/);
    }
  });
  it('the cut limits parse with their defaults and K/M/G sizes', () => {
    const def = loadConfigFromProperties({});
    expect([def.mp4CutterMaxConcurrent, def.mp4CutterMaxQueued, def.mp4CutterCacheMaxSize, def.rtspMaxPulls]).toEqual([2, 8, 1024 ** 3, 32]);
    expect(loadConfigFromProperties({ mp4_cutter_cache_max_size: '500M' }).mp4CutterCacheMaxSize).toBe(500 * 1024 ** 2);
    expect(loadConfigFromProperties({ mp4_cutter_cache_max_size: '64k' }).mp4CutterCacheMaxSize).toBe(64 * 1024);
    expect(() => loadConfigFromProperties({ mp4_cutter_max_concurrent: '0' })).toThrow(/mp4_cutter_max_concurrent/);
  });
});

describe('downloads open a file once (openRecordInside)', () => {
  const dir = path.join(tmp, 'records');
  const outside = path.join(tmp, 'secret.txt');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(outside, 'OUTSIDE SECRET');
  fs.writeFileSync(path.join(dir, 'inside.mp4'), 'inside record');
  fs.symlinkSync(outside, path.join(dir, 'leak.mp4'));
  fs.symlinkSync(path.join(dir, 'inside.mp4'), path.join(dir, 'alias.mp4'));
  fs.mkdirSync(path.join(dir, 'folder.mp4'));

  async function read(name: string, fdPath = procFdPath): Promise<string | null> {
    const opened = await openRecordInside(dir, name, fdPath);
    if (opened === null) return null;
    try {
      return (await opened.handle.readFile()).toString();
    } finally {
      await opened.handle.close();
    }
  }

  it('serves a plain record and a symlink that stays inside; refuses one that leads out, folders, missing names and ..', async () => {
    expect(await read('inside.mp4')).toBe('inside record');
    expect(await read('alias.mp4')).toBe('inside record');
    expect(await read('leak.mp4')).toBeNull();
    expect(await read('folder.mp4')).toBeNull();
    expect(await read('missing.mp4')).toBeNull();
    expect(await read('../secret.txt')).toBeNull();
  });

  it('a swap to an outside symlink right after the open cannot serve outside content', async () => {
    const name = 'swap1.mp4';
    const file = path.join(dir, name);
    fs.writeFileSync(file, 'inside before swap');
    const swapping = async (fd: number) => {
      fs.rmSync(file);
      fs.symlinkSync(outside, file);
      return procFdPath(fd);
    };
    expect(await read(name, swapping)).toBe('inside before swap');
  });

  it('an outside symlink swapped for a plain file right after the open is refused, not served', async () => {
    const name = 'swap2.mp4';
    const file = path.join(dir, name);
    fs.symlinkSync(outside, file);
    const swapping = async (fd: number) => {
      fs.rmSync(file);
      fs.writeFileSync(file, 'harmless');
      return procFdPath(fd);
    };
    expect(await read(name, swapping)).toBeNull();
  });

  it('without /proc: symlinks are not followed at all', async () => {
    expect(await read('inside.mp4', async () => null)).toBe('inside record');
    expect(await read('leak.mp4', async () => null)).toBeNull();
  });

  it('a FIFO does not hang the open', async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [path.join(dir, 'pipe.mp4')]);
    expect(await read('pipe.mp4')).toBeNull();
  });
});

describe('RTSP limits', () => {
  const log = pino({ level: 'silent' });
  const managers: RtspAgentManager[] = [];
  const settings = (over: Partial<RtspAgentSettings> = {}): RtspAgentSettings => ({
    ffmpeg: '/bin/true',
    transport: 'tcp',
    timeoutSeconds: 5,
    reconnectMinDelayMs: 60_000,
    reconnectMaxDelayMs: 60_000,
    audioBufferMax: 100,
    pullAtStartup: [],
    ...over,
  });
  const manager = (over: Partial<RtspAgentSettings> = {}) => {
    const m = new RtspAgentManager(settings(over), new StreamRegistry(), log);
    managers.push(m);
    return m;
  };
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  it('rtsp_max_pulls: the pull after the last allowed one is refused', async () => {
    const m = manager({ maxPulls: 3 });
    for (let i = 0; i < 3; i++) m.startup({ uri: `rtsp://cam${i}/s` });
    expect(() => m.startup({ uri: 'rtsp://cam9/s' })).toThrow(RtspLimitError);
    await m.terminate('rtsp://cam0/s');
    expect(m.startup({ uri: 'rtsp://cam9/s' }).options.streamName).toBe('rtsp://cam9/s');
  });

  it('the default limit is 32', () => {
    const m = manager();
    for (let i = 0; i < 32; i++) m.startup({ uri: `rtsp://cam${i}/s` });
    expect(() => m.startup({ uri: 'rtsp://cam99/s' })).toThrow(RtspLimitError);
  });

  it.each(['RTSP://cam/s', 'Rtsp://cam/s', 'RTSPS://cam/s', 'Rtsps://u:p@cam/s'])('%s reaches ffmpeg with its scheme in lower case', (uri) => {
    const parsed = parseRtspUri(uri);
    expect(parsed.uri).toMatch(/^rtsps?:\/\//);
    expect(parsed.uri.slice(parsed.scheme.length)).toBe(uri.slice(parsed.scheme.length));
  });

  it.each(['http://cam/s', 'rtmp://cam/s', 'rtp://cam/s', 'file:///etc/passwd', 'RTSPU://cam/s'])('%s: unknown scheme refused', (uri) => {
    expect(() => parseRtspUri(uri)).toThrow(RtspUriError);
    expect(() => manager().startup({ uri })).toThrow(RtspRequestError);
  });

  it.each(['a\nb', 'x\u0000', 'bad\u007f', 'é'.repeat(150)])('toStream %j is refused by checkStreamName', (toStream) => {
    expect(() => manager().startup({ uri: 'rtsp://cam/s', toStream })).toThrow(RtspRequestError);
  });

  it('lastError for REST clients: a refused port reads as one that never answers', () => {
    const facts = { code: 1, signal: null, hadMedia: false, audio: 'copy' as const, secrets: [], killedBecause: null, timeoutMs: 5000 };
    const refused = judgeExit({ ...facts, stderr: ['[tcp @ 0x1] Connection to tcp://10.0.0.9:554?timeout=0 failed: Connection refused', 'rtsp://10.0.0.9/s: Connection refused'], elapsedMs: 5 });
    const silent = judgeExit({ ...facts, stderr: ['rtsp://10.0.0.9/s: Invalid data found when processing input'], elapsedMs: 5000 });
    const unknownHost = judgeExit({ ...facts, stderr: ['rtsp://nohost/s: Name or service not known'], elapsedMs: 20 });
    const auth = judgeExit({ ...facts, stderr: ['[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized'], elapsedMs: 20 });
    expect(refused.error).not.toBe(silent.error);
    for (const v of [refused, silent, unknownHost, auth]) expect(publicPullError(v, false)).toBe(CAMERA_UNREACHABLE);
    expect(publicPullError(judgeExit({ ...facts, code: 0, stderr: [], hadMedia: true, elapsedMs: 9000 }), true)).toBe(CAMERA_LOST);
    const hevc = judgeExit({ ...facts, stderr: ['[flv @ 0x1] Video codec hevc not compatible with flv'], elapsedMs: 50 });
    expect(publicPullError(hevc, false)).toMatch(/H\.265/);
  });

  it('a pull that never played shows the coarse reason in toJSON, the detail only on the server side', async () => {
    const m = manager();
    const p = m.startup({ uri: 'rtsp://cam/s' });
    await new Promise<void>((resolve) => p.on('status', (s) => s === 'RETRYING' && resolve()));
    expect(p.toJSON().lastError).toBe(CAMERA_UNREACHABLE);
    expect(p.lastError).toBe('ffmpeg exited with code 0 before any media');
  });
});
