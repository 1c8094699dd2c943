import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeHome, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, makeClip, mp4TopLevelBoxes, publish } from '../helpers/media.js';
import {
  firstVideoPackets,
  frameMd5,
  hookLines,
  logLines,
  waitForLogLines,
  moovFirst,
  postJson,
  rawRequest,
  streamNamed,
  type ErrorJson,
  type RecordJson,
} from '../helpers/rest.js';

const GOP = 2;
const FRAME = 1 / 30;

async function get(daemon: DaemonHandle, p: string, init: RequestInit = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(daemon.url(p), init);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** The cut's first shown frame is the record's frame at S (one frame of rounding allowed). */
function expectStartsAt(cut: string, source: string, seconds: number): void {
  const around = [seconds - FRAME, seconds, seconds + FRAME].filter((t) => t >= 0).map((t) => frameMd5(source, t));
  expect(around).toContain(frameMd5(cut, 0));
}

/** Starts at the keyframe at or before S (at most one GOP before), with an edit list so it plays from 0. */
function expectCutShape(cut: string, expectedSeconds: number): void {
  const probe = ffprobe(cut);
  expect(Math.abs(Number(probe.format.duration) - expectedSeconds), 'duration').toBeLessThanOrEqual(GOP);
  for (const s of probe.streams) expect(Math.abs(Number(s.start_time ?? 0)), `${s.codec_type} start`).toBeLessThan(0.05);
  const video = probe.streams.some((s) => s.codec_type === 'video');
  if (video) {
    const [first] = firstVideoPackets(cut, 1);
    expect(first!.key, 'first packet is a keyframe').toBe(true);
    expect(first!.pts).toBeLessThanOrEqual(0.001);
    expect(first!.pts).toBeGreaterThanOrEqual(-GOP - 0.001);
  }
  expect(moovFirst(cut), 'moov before mdat').toBe(true);
  expect(decodeErrors(cut)).toBe('');
}

describe('records over HTTP: ?start=&end= parts', () => {
  let daemon: DaemonHandle;
  let long: string;
  let voice: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    // a 60 s record placed in record_dir (the cutter serves any record there; recording one would take 60 s)
    long = path.join(daemon.recordDir, 'long.mp4');
    fs.copyFileSync(makeClip({ video: true, audio: true, seconds: 60, gop: GOP }), long);
    voice = path.join(daemon.recordDir, 'voice.mp4');
    fs.copyFileSync(makeClip({ video: false, audio: true, seconds: 20 }), voice);
    const short = makeClip({ video: true, audio: true, seconds: 8, gop: GOP });
    const ff = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
    ff(['-i', short, '-c', 'copy', path.join(daemon.recordDir, 'whole.mkv')]);
    ff(['-i', short, '-c', 'copy', '-f', 'mpegts', path.join(daemon.recordDir, 'whole.ts')]);
    ff(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=15', '-t', '2', '-c:v', 'libvpx', '-b:v', '200k', path.join(daemon.recordDir, 'whole.webm')]);
  });

  afterAll(async () => {
    const children = daemon.children();
    expect((await daemon.stop()).code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('cuts a 60 s MP4 record: starts at S, lasts E-S, plays from 0 with moov first', async () => {
    const res = await get(daemon, '/client/records/long.mp4?start=11&end=40');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-disposition')).toBe('inline;filename="long-s11-e40.mp4"');
    const part = path.join(daemon.recordDir, 'long-s11-e40.mp4');
    expect(res.body.equals(fs.readFileSync(part))).toBe(true);
    expectCutShape(part, 29);
    expectStartsAt(part, long, 11);
    expect(fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('.cut-'))).toEqual([]);

    const onlyStart = await get(daemon, '/client/records/long.mp4?start=50');
    expect(onlyStart.status).toBe(200);
    const tail = path.join(daemon.recordDir, 'long-s50.mp4');
    expectCutShape(tail, 10);
    expectStartsAt(tail, long, 50);
    const onlyEnd = await get(daemon, '/client/records/long.mp4?end=5.5');
    expect(onlyEnd.status).toBe(200);
    expect(onlyEnd.headers.get('content-disposition')).toBe('inline;filename="long-e5.5.mp4"');
    expectCutShape(path.join(daemon.recordDir, 'long-e5.5.mp4'), 5.5);
    // an end beyond the record: the part runs to its end, named without the end (one part for every such end)
    const beyond = await get(daemon, '/client/records/long.mp4?start=55&end=600');
    expect(beyond.status).toBe(200);
    expect(beyond.headers.get('content-disposition')).toBe('inline;filename="long-s55.mp4"');
    expectCutShape(path.join(daemon.recordDir, 'long-s55.mp4'), 5);
    expect(fs.existsSync(path.join(daemon.recordDir, 'long-s55-e600.mp4'))).toBe(false);
  });

  it('serves an identical request again from mp4_cutter_dir without cutting, and cuts concurrent ones once', async () => {
    const part = path.join(daemon.recordDir, 'long-s11-e40.mp4');
    const before = fs.statSync(part).mtimeMs;
    const again = await get(daemon, '/client/records/long.mp4?start=11.000&end=040');
    expect(again.status).toBe(200);
    expect(again.body.equals(fs.readFileSync(part))).toBe(true);
    expect(fs.statSync(part).mtimeMs).toBe(before);
    expect(await waitForLogLines(daemon, 'Cutting record part', '"part":"long-s11-e40.mp4"', 1)).toHaveLength(1);
    expect(await waitForLogLines(daemon, 'Record part served from mp4_cutter_dir', '"part":"long-s11-e40.mp4"', 1)).toHaveLength(1);

    const together = await Promise.all(Array.from({ length: 5 }, () => get(daemon, '/client/records/long.mp4?start=20&end=30')));
    for (const r of together) expect(r.status).toBe(200);
    for (const r of together) expect(r.body.equals(together[0]!.body)).toBe(true);
    expect(await waitForLogLines(daemon, 'Cutting record part', '"part":"long-s20-e30.mp4"', 1)).toHaveLength(1);
  });

  it('answers Range and HEAD requests on a part', async () => {
    const part = fs.readFileSync(path.join(daemon.recordDir, 'long-s11-e40.mp4'));
    const range = await get(daemon, '/client/records/long.mp4?start=11&end=40', { headers: { Range: 'bytes=100-1123' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 100-1123/${part.length}`);
    expect(range.body.equals(part.subarray(100, 1124))).toBe(true);
    const head = await get(daemon, '/client/records/long.mp4?start=11&end=40', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(part.length));
    expect(head.body.length).toBe(0);
  });

  it('cuts audio-only MP4 records', async () => {
    const res = await get(daemon, '/client/records/voice.mp4?start=5&end=12');
    expect(res.status).toBe(200);
    const part = path.join(daemon.recordDir, 'voice-s5-e12.mp4');
    expect(ffprobe(part).streams.map((s) => s.codec_name)).toEqual(['aac']);
    expect(Math.abs(durationOf(part) - 7)).toBeLessThan(0.1);
    expectCutShape(part, 7);
  });

  it.each([
    ['start=-1', /start '-1' is negative/],
    ['start=abc', /start 'abc' is not a number/],
    ['start=1e3', /not a number/],
    ['start=1.2345', /at most 3 decimals/],
    ['start=', /start is empty/],
    ['end=5&start=10', /end \(5\) must be after start \(10\)/],
    ['start=10&end=10', /must be after/],
    ['end=0', /must be after/],
    ['start=70', /start \(70\) is beyond the end of the record \(60(\.\d+)? s long\)/],
    ['start=60&end=90', /beyond the end/],
    ['start=1&start=2', /must be string/],
    ['begin=1', /must NOT have additional properties/],
  ])('?%s -> 400 with a message', async (query, message) => {
    const res = await rawRequest(daemon.httpPort, `/client/records/long.mp4?${query}`);
    expect(res.status).toBe(400);
    const body = JSON.parse(res.body.toString()) as ErrorJson;
    expect(body.error).toBe(400);
    expect(body.message).toMatch(message);
    expect(fs.existsSync(path.join(daemon.recordDir, 'long-s70.mp4'))).toBe(false);
  });

  it.each([
    ['whole.webm', 'video/webm'],
    ['whole.mkv', 'video/x-matroska'],
    ['whole.ts', 'video/mp2t'],
  ])('serves %s whole whatever the parameters, as %s', async (name, type) => {
    const whole = fs.readFileSync(path.join(daemon.recordDir, name));
    for (const query of ['', '?start=1&end=2', '?start=abc']) {
      const res = await get(daemon, `/client/records/${name}${query}`);
      expect(res.status, query).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-disposition')).toBe(`inline;filename="${name}"`);
      expect(res.body.equals(whole)).toBe(true);
    }
    expect(fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith(path.parse(name).name + '-'))).toEqual([]);
  });

  it('refuses paths out of record_dir, with or without a range, and never cuts them', async () => {
    const outside = makeClip({ video: true, audio: true, seconds: 60, gop: GOP });
    fs.symlinkSync(outside, path.join(daemon.recordDir, 'outside.mp4'));
    fs.copyFileSync(outside, path.join(daemon.recordDir, '.hidden.mp4'));
    const attempts = [
      '/client/records/../conf/server.properties',
      '/client/records/..%2Fconf%2Fserver.properties',
      '/client/records/%2e%2e%2fconf%2fserver.properties',
      '/client/records/%2e%2e/conf/server.properties',
      '/client/records/..%5Cconf%5Cserver.properties',
      '/client/records/%2Fetc%2Fpasswd',
      '/client/records//etc/passwd',
      `/client/records/${encodeURIComponent(outside)}`,
      '/client/records/outside.mp4',
      '/client/records/.hidden.mp4',
      '/client/records/..',
      '/client/records/.tmp',
      '/client/records/long.mp4%2F..%2F..%2Fconf%2Fserver.properties',
      '/client/records/long.mp4%00.mp4',
    ];
    for (const p of attempts) {
      for (const query of ['', '?start=1&end=2', '?start=1']) {
        const res = await rawRequest(daemon.httpPort, p + query);
        expect(res.status, p + query).toBe(404);
        expect(res.body.toString()).not.toContain('http.port');
        expect(res.body.toString()).not.toContain('root:');
      }
    }
    const parts = fs.readdirSync(daemon.recordDir).filter((f) => /^(outside|\.hidden|server)/.test(f) && /-[se]\d/.test(f));
    expect(parts).toEqual([]);
    expect(logLines(daemon, 'Cutting record part', 'outside')).toEqual([]);
    fs.rmSync(path.join(daemon.recordDir, 'outside.mp4'));
    fs.rmSync(path.join(daemon.recordDir, '.hidden.mp4'));
  });

  it('cuts a truly recorded record; parts are never listed as records nor given to the hook, also after a restart', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: GOP });
    const publisher = publish(clip, daemon.rtmpUrl('recorded'));
    const stream = await streamNamed(daemon, 'recorded');
    expect(await publisher.exited).toBe(0);
    const recordName = `stream-${stream.mediaSessionId}-.mp4`;
    await waitFor(() => hookLines(daemon).some((l) => l.startsWith('recorded:')), 15_000, 'hook of the record');
    const res = await get(daemon, `/client/records/${recordName}?start=3&end=6`);
    expect(res.status).toBe(200);
    const partName = `stream-${stream.mediaSessionId}--s3-e6.mp4`;
    expect(res.headers.get('content-disposition')).toBe(`inline;filename="${partName}"`);
    const part = path.join(daemon.recordDir, partName);
    expectCutShape(part, 3);
    expectStartsAt(part, path.join(daemon.recordDir, recordName), 3);

    const expected = ['long.mp4', recordName, 'voice.mp4', 'whole.mkv', 'whole.ts', 'whole.webm'].sort();
    const listed = async (d: DaemonHandle) => {
      const res = await postJson<RecordJson[]>(d, '/rest-api/recorder/find_records');
      expect(res.status).toBe(200);
      return res.body;
    };
    const records = await listed(daemon);
    expect(records.map((r) => r.fileName).sort()).toEqual(expected);
    expect(records.find((r) => r.fileName === recordName)).toMatchObject({ mediaSessionId: stream.mediaSessionId, streamName: 'recorded' });
    expect(records.find((r) => r.fileName === 'long.mp4')).toMatchObject({ mediaSessionId: null, streamName: null, duration: 60_000 });
    expect(hookLines(daemon)).toEqual([`recorded:${path.join(daemon.recordDir, recordName)}`]);

    // a new daemon on the same home: parts are recognised on disk, our record is still known
    expect((await daemon.stop()).code).toBe(0);
    daemon = await startDaemon({}, daemon.home);
    const after = await listed(daemon);
    expect(after.map((r) => r.fileName).sort()).toEqual(expected);
    expect(after.find((r) => r.fileName === recordName)).toMatchObject({ mediaSessionId: stream.mediaSessionId, streamName: 'recorded' });
    expect(hookLines(daemon)).toHaveLength(1);
  });
});

/**
 * A record damaged on disk after it was finished (a disk that lost the end
 * of the file, a crash while copying it, bad blocks zeroed): a cut of it
 * never answers 500 and never hangs. What its own tables say is cut short
 * is refused (422, naming the record) before ffmpeg runs; what ffmpeg can
 * still copy (zeros inside the media) is served.
 */
describe('records over HTTP: ?start=&end= of a damaged record', () => {
  let daemon: DaemonHandle;
  let recordName: string;
  let cutterDir: string;
  const copies = { half: 'damaged-half.mp4', moov: 'damaged-moov.mp4', zeros: 'damaged-zeros.mp4', rotted: 'rotted.mp4', intact: 'intact.mp4', promises: 'promises-more.mp4' };

  beforeAll(async () => {
    cutterDir = path.join(makeHome('wcs-cuts-'), 'cuts');
    daemon = await startDaemon({ mp4_cutter_dir: cutterDir });
    // a real record: ffmpeg publishes over RTMP, default config (MP4, moov first)
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: GOP });
    const publisher = publish(clip, daemon.rtmpUrl('damaged'));
    const stream = await streamNamed(daemon, 'damaged');
    expect(await publisher.exited).toBe(0);
    recordName = `stream-${stream.mediaSessionId}-.mp4`;
    await waitFor(() => hookLines(daemon).some((l) => l.startsWith('damaged:')), 15_000, 'hook of the record');
    const record = path.join(daemon.recordDir, recordName);
    expect(moovFirst(record)).toBe(true);
    for (const name of Object.values(copies)) fs.copyFileSync(record, path.join(daemon.recordDir, name));
    const boxes = mp4TopLevelBoxes(record);
    const moov = boxes.find((b) => b.type === 'moov')!;
    // the media runs from the first mdat to the end (the recorder writes it in several mdat boxes)
    const media = boxes.find((b) => b.type === 'mdat')!.offset;
    const size = fs.statSync(record).size;
    // the record itself and one copy lose their second half; one copy is cut inside its moov
    fs.truncateSync(record, Math.floor(size / 2));
    fs.truncateSync(path.join(daemon.recordDir, copies.half), Math.floor(size / 2));
    fs.truncateSync(path.join(daemon.recordDir, copies.moov), moov.offset + Math.floor(moov.size / 2));
    // 32 KiB of zeros a quarter into the media (about 2 s in): the file keeps its size and its tables
    const fd = fs.openSync(path.join(daemon.recordDir, copies.zeros), 'r+');
    fs.writeSync(fd, Buffer.alloc(32 * 1024), 0, 32 * 1024, media + Math.floor((size - media) / 4));
    fs.closeSync(fd);
    // a header that promises four times the media (mvhd duration): whole and intact, but nothing from 8 s on
    stretchMovieDuration(path.join(daemon.recordDir, copies.promises), 4);
  });

  afterAll(async () => {
    const children = daemon.children();
    expect((await daemon.stop()).code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
    fs.rmSync(path.dirname(cutterDir), { recursive: true, force: true });
  });

  /** A request that must end (a hang is a bug): aborted after 60 s, which fails the test. */
  async function cutOf(name: string, query: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
    return get(daemon, `/client/records/${encodeURIComponent(name)}?${query}`, { signal: AbortSignal.timeout(60_000) });
  }

  function expectDamaged(res: { status: number; body: Buffer }, name: string, why: RegExp): void {
    expect(res.status, res.body.subarray(0, 300).toString()).toBe(422);
    const body = JSON.parse(res.body.toString()) as ErrorJson;
    expect(body.error).toBe(422);
    expect(body.message).toContain(`Record '${name}' cannot be cut (the record is damaged)`);
    expect(body.message).toMatch(why);
    // never the server's own paths
    expect(body.message).not.toContain(daemon.recordDir);
  }

  it.each([
    ['the record itself, cut to half its size', () => recordName],
    ['a copy cut to half its size', () => copies.half],
  ])('%s: 422 naming it, before ffmpeg runs, for a range inside what remains and one past it', async (_what, nameOf) => {
    const name = nameOf();
    for (const query of ['start=1&end=3', 'start=5&end=7']) {
      const res = await cutOf(name, query);
      expectDamaged(res, name, /its media runs to byte \d+ but the file has \d+ bytes \(cut short\)/);
    }
    expect(logLines(daemon, 'Cutting record part', name)).toEqual([]);
    expect(await waitForLogLines(daemon, 'Record part refused: the record is damaged', `"record":"${name}"`, 2)).toHaveLength(2);
    expect(fs.readdirSync(cutterDir).filter((f) => f.startsWith(path.parse(name).name))).toEqual([]);
  });

  it('a copy cut inside its moov: 422 naming it, before ffmpeg runs', async () => {
    for (const query of ['start=1&end=3', 'start=5&end=7']) {
      const res = await cutOf(copies.moov, query);
      expectDamaged(res, copies.moov, /moov box runs to byte \d+ but the file has \d+ bytes \(cut short\)/);
    }
    expect(logLines(daemon, 'Cutting record part', copies.moov)).toEqual([]);
    expect(await waitForLogLines(daemon, 'Record part refused: the record is damaged', `"record":"${copies.moov}"`, 2)).toHaveLength(2);
  });

  it('a copy with zeros inside its media: ffmpeg copies them, the part is served (200)', async () => {
    const res = await cutOf(copies.zeros, 'start=1&end=3');
    expect(res.status, res.body.subarray(0, 300).toString()).toBe(200);
    const part = path.join(cutterDir, 'damaged-zeros-s1-e3.mp4');
    expect(res.body.equals(fs.readFileSync(part))).toBe(true);
    expect(moovFirst(part)).toBe(true);
    expect(Math.abs(durationOf(part) - 2)).toBeLessThanOrEqual(GOP);
    // and the intact copy next to it is cut as ever; the two parts differ only by the zeros copied
    expect((await cutOf(copies.intact, 'start=1&end=3')).status).toBe(200);
    const intact = fs.readFileSync(path.join(cutterDir, 'intact-s1-e3.mp4'));
    expect(intact.length).toBe(res.body.length);
    expect(intact.equals(res.body), 'the zeros are inside the part').toBe(false);
  });

  it('a record that rots in place (size and mtime unchanged, its moov header lost): ffmpeg cannot read it, 422 naming it', async () => {
    const file = path.join(daemon.recordDir, copies.rotted);
    const stamp = 1_700_000_000;
    fs.utimesSync(file, stamp, stamp);
    // read once while sound: ffprobe's answer and the table check are kept for this size and mtime
    expect((await cutOf(copies.rotted, 'start=1&end=3')).status).toBe(200);
    const moov = mp4TopLevelBoxes(file).find((b) => b.type === 'moov')!;
    const fd = fs.openSync(file, 'r+');
    // its header and the start of mvhd: ffmpeg finds no moov (a zeroed type alone it still finds)
    fs.writeSync(fd, Buffer.alloc(16), 0, 16, moov.offset);
    fs.closeSync(fd);
    fs.utimesSync(file, stamp, stamp);
    for (let i = 0; i < 2; i++) {
      const res = await cutOf(copies.rotted, 'start=2&end=4');
      expectDamaged(res, copies.rotted, /ffmpeg: .*rotted\.mp4/);
    }
    // ffmpeg ran (nothing before it could tell) and found it; nothing was stored
    expect(await waitForLogLines(daemon, 'Cutting record part', '"part":"rotted-s2-e4.mp4"', 2)).toHaveLength(2);
    expect(await waitForLogLines(daemon, 'Record part refused: the record is damaged', `"record":"${copies.rotted}"`, 2)).toHaveLength(2);
    expect(fs.existsSync(path.join(cutterDir, 'rotted-s2-e4.mp4'))).toBe(false);
    expect(fs.readdirSync(cutterDir).filter((f) => f.startsWith('.cut-'))).toEqual([]);
  });

  it('a record whose header promises more than its media holds: a range past the media is 422 naming it, not an empty part', async () => {
    const file = path.join(daemon.recordDir, copies.promises);
    expect(durationOf(file), 'ffprobe believes the header').toBeGreaterThan(30);
    for (let i = 0; i < 2; i++) {
      const res = await cutOf(copies.promises, 'start=20&end=24');
      expectDamaged(res, copies.promises, /holds no media from 20 s to 24 s, although its header says it lasts \d+(\.\d+)? s/);
    }
    // ffmpeg ran (the tables are sound) and wrote nothing worth keeping: no part stored, no temp left
    expect(await waitForLogLines(daemon, 'Cutting record part', '"part":"promises-more-s20-e24.mp4"', 2)).toHaveLength(2);
    expect(fs.existsSync(path.join(cutterDir, 'promises-more-s20-e24.mp4'))).toBe(false);
    expect(fs.readdirSync(cutterDir).filter((f) => f.startsWith('.cut-'))).toEqual([]);
    // a range inside its media is cut as ever
    const inside = await cutOf(copies.promises, 'start=1&end=3');
    expect(inside.status, inside.body.subarray(0, 300).toString()).toBe(200);
    expect(Math.abs(durationOf(path.join(cutterDir, 'promises-more-s1-e3.mp4')) - 2)).toBeLessThanOrEqual(GOP);
  });

  it('mp4_cutter_dir gone (ffmpeg cannot write the part): 503 with Retry-After and a log line, never 500', async () => {
    fs.rmSync(cutterDir, { recursive: true, force: true });
    const res = await cutOf(copies.intact, 'start=2&end=4');
    expect(res.status, res.body.subarray(0, 300).toString()).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = JSON.parse(res.body.toString()) as ErrorJson;
    expect(body.message).toMatch(/cannot be cut now/);
    expect(body.message).not.toContain(cutterDir);
    expect(await waitForLogLines(daemon, 'Record part could not be cut', `"record":"${copies.intact}"`, 1)).toHaveLength(1);
    fs.mkdirSync(cutterDir, { recursive: true });
  });
});

/** Multiplies the movie header's duration (mvhd, version 0 or 1) in place: the tracks keep what they hold. */
function stretchMovieDuration(file: string, factor: number): void {
  const moov = mp4TopLevelBoxes(file).find((b) => b.type === 'moov')!;
  const fd = fs.openSync(file, 'r+');
  try {
    const head = Buffer.alloc(40);
    fs.readSync(fd, head, 0, head.length, moov.offset + 8);
    expect(head.toString('latin1', 4, 8)).toBe('mvhd');
    const version = head[8];
    const at = moov.offset + 8 + (version === 1 ? 32 : 24);
    const field = Buffer.alloc(version === 1 ? 8 : 4);
    fs.readSync(fd, field, 0, field.length, at);
    if (version === 1) field.writeBigUInt64BE(field.readBigUInt64BE(0) * BigInt(factor));
    else field.writeUInt32BE(field.readUInt32BE(0) * factor);
    fs.writeSync(fd, field, 0, field.length, at);
  } finally {
    fs.closeSync(fd);
  }
}
