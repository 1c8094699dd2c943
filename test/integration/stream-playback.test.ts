import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, ffprobe, makeClip, publish } from '../helpers/media.js';
import { firstVideoPackets, frameMd5, logLines, moovFirst, waitForLogLines } from '../helpers/rest.js';

const TOKEN = 'playback-secret';
const GOP = 1;
const FRAME_MS = 1000 / 30;

interface JournalPart {
  fileName: string;
  streamName: string;
  startTimeMillis: number;
  endTimeMillis: number;
}

/** The finished parts of `stream`, oldest first, as the record catalog lists them (/rest-api/records/find). */
async function partsOf(daemon: DaemonHandle, stream: string): Promise<JournalPart[]> {
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/rest-api/records/find`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ streamName: stream, state: 'finished', sort: 'start', limit: 1000 }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: JournalPart[] }).records;
}

async function get(daemon: DaemonHandle, p: string, init: RequestInit = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  try {
    return await getOnce(daemon, p, init);
  } catch (err) {
    // a connection the daemon ended mid-answer: its log says why
    throw new Error(`GET ${p} failed (${(err as Error).message}); daemon log tail:\n${daemon.output.split('\n').slice(-15).join('\n')}`);
  }
}

async function getOnce(daemon: DaemonHandle, p: string, init: RequestInit): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(daemon.url(p), init);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function playUrl(stream: string, query: Record<string, string | number>): string {
  const q = new URLSearchParams(Object.entries({ ...query, token: TOKEN }).map(([k, v]) => [k, String(v)]));
  return `/client/streams/${encodeURIComponent(stream)}.mp4?${q.toString()}`;
}

/** Video packet times in presentation order: the largest step between neighbours. */
function largestVideoStep(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  });
  const pts = out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((t) => t >= 0)
    .sort((a, b) => a - b);
  let step = 0;
  for (let i = 1; i < pts.length; i++) step = Math.max(step, pts[i]! - pts[i - 1]!);
  return step;
}

function videoDuration(file: string): number {
  return Number(ffprobe(file).streams.find((s) => s.codec_type === 'video')!.duration);
}

/** The answer's first shown frame is one of the part's frames around `offsetMs` (wall clock vs media: a few frames of slack). */
function expectStartsAt(answer: string, partFile: string, offsetMs: number): void {
  const around = [-3, -2, -1, 0, 1, 2, 3].map((k) => (offsetMs + k * FRAME_MS) / 1000).filter((t) => t >= 0);
  expect(around.map((t) => frameMd5(partFile, t))).toContain(frameMd5(answer, 0));
}

function saveAnswer(daemon: DaemonHandle, body: Buffer, name: string): string {
  const file = path.join(daemon.home, name);
  fs.writeFileSync(file, body);
  return file;
}

describe('time-range playback: /client/streams/<name>.mp4?from=&to=', () => {
  let daemon: DaemonHandle;
  let gapPause: [number, number];

  beforeAll(async () => {
    daemon = await startDaemon({ record_rotation: 2, records_access_token: TOKEN, stream_record_policy_template: '{streamName}-{startTimeMillis}' });
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: GOP });
    const small = makeClip({ video: true, audio: true, seconds: 4, gop: GOP });
    // the same name at 1280x720 after a 640x360 publish: parts that cannot be joined
    const big = path.join(os.tmpdir(), 'wcs-test-media', 'clip-720p-4s-g1.mp4');
    if (!fs.existsSync(big)) {
      const tmp = `${big}.${process.pid}.tmp.mp4`;
      execFileSync('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0',
        '-c:a', 'aac', '-b:a', '128k', '-ac', '2', tmp,
      ]);
      fs.renameSync(tmp, big);
    }
    const run = async (stream: string, file: string): Promise<void> => {
      const before = (await partsOf(daemon, stream)).length;
      const p = publish(file, daemon.rtmpUrl(stream));
      expect(await p.exited, p.stderr()).toBe(0);
      // the last part is finished after the publisher left: wait until the catalog's list stops growing
      let seen = -1;
      await waitFor(
        async () => {
          const n = (await partsOf(daemon, stream)).length;
          const settled = n > before && n === seen;
          seen = n;
          if (!settled) await new Promise((r) => setTimeout(r, 700));
          return settled;
        },
        20_000,
        `records of ${stream}`,
      );
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // 'cam': 8 s in 2 s parts, a pause of about 3 s, then 4 s more; 'cam2': 640x360 then 1280x720
    await Promise.all([
      (async () => {
        await run('cam', clip);
        await pause(3000);
        await run('cam', small);
      })(),
      (async () => {
        await run('cam2', small);
        await run('cam2', big);
      })(),
    ]);
    const cam = await partsOf(daemon, 'cam');
    const sessionBreak = cam.findIndex((p, i) => i > 0 && p.startTimeMillis - cam[i - 1]!.endTimeMillis > 1000);
    expect(sessionBreak, JSON.stringify(cam)).toBeGreaterThan(2);
    gapPause = [cam[sessionBreak - 1]!.endTimeMillis, cam[sessionBreak]!.startTimeMillis];
  }, 120_000);

  afterAll(async () => {
    const children = daemon.children();
    expect((await daemon.stop()).code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('a range across three rotated parts plays from `from`, for to-from, moov first, no decode errors; cached after', async () => {
    const parts = await partsOf(daemon, 'cam');
    expect(parts.length).toBeGreaterThanOrEqual(4);
    const [p1, , p3] = parts as [JournalPart, JournalPart, JournalPart];
    const from = p1.startTimeMillis + 700;
    const to = p3.startTimeMillis + 1000;
    const res = await get(daemon, playUrl('cam', { from, to }));
    expect(res.status, res.body.toString()).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('x-recording-gaps')).toBe('');
    expect(res.headers.get('x-recording-range')).toBe(`${from}-${to}`);
    expect(res.headers.get('content-disposition')).toBe(`inline;filename="cam-${from}-${to}.mp4"`);
    const answer = saveAnswer(daemon, res.body, 'three.mp4');
    const seconds = (to - from) / 1000;
    console.log(`[figures] 3 parts: asked ${seconds.toFixed(3)} s, video ${videoDuration(answer).toFixed(3)} s, format ${ffprobe(answer).format.duration} s`);
    expect(Math.abs(videoDuration(answer) - seconds)).toBeLessThanOrEqual(GOP);
    expect(moovFirst(answer)).toBe(true);
    expect(decodeErrors(answer)).toBe('');
    // starts on the keyframe at or before `from`, shown from 0 through the edit list
    const [first] = firstVideoPackets(answer, 1);
    expect(first!.key).toBe(true);
    expect(first!.pts).toBeLessThanOrEqual(0.001);
    expect(first!.pts).toBeGreaterThanOrEqual(-GOP - 0.001);
    expectStartsAt(answer, path.join(daemon.recordDir, p1.fileName), 700);
    // continuous across the part boundaries
    expect(largestVideoStep(answer)).toBeLessThan(0.2);

    // composed from the parts' sample tables (no ffmpeg, no copy); the same again: from memory
    expect(await waitForLogLines(daemon, 'Playback composed', `"fromMs":${from}`, 1)).toHaveLength(1);
    expect(logLines(daemon, 'Stitching playback')).toHaveLength(0);
    const again = await get(daemon, playUrl('cam', { from, to }));
    expect(again.status).toBe(200);
    expect(again.body.equals(res.body)).toBe(true);
    expect(again.headers.get('etag')).toBe(res.headers.get('etag'));
    expect(await waitForLogLines(daemon, 'Playback composed', `"fromMs":${from}`, 1)).toHaveLength(1);
  });

  it('answers Range and HEAD requests with the right bytes', async () => {
    const [p1, p2] = (await partsOf(daemon, 'cam')) as [JournalPart, JournalPart];
    const q = { from: p1.startTimeMillis + 200, to: p2.endTimeMillis - 200 };
    const whole = await get(daemon, playUrl('cam', q));
    expect(whole.status).toBe(200);
    const range = await get(daemon, playUrl('cam', q), { headers: { Range: 'bytes=100-1123' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 100-1123/${whole.body.length}`);
    expect(range.body.equals(whole.body.subarray(100, 1124))).toBe(true);
    const tail = await get(daemon, playUrl('cam', q), { headers: { Range: 'bytes=-500' } });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(whole.body.subarray(whole.body.length - 500))).toBe(true);
    const head = await get(daemon, playUrl('cam', q), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(whole.body.length));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.body.length).toBe(0);
    // a range across the head (moov) and the media of two parts
    const mid = Math.floor(whole.body.length / 2);
    const across = await get(daemon, playUrl('cam', q), { headers: { Range: `bytes=1000-${mid}` } });
    expect(across.status).toBe(206);
    expect(across.body.equals(whole.body.subarray(1000, mid + 1))).toBe(true);
    const outside = await get(daemon, playUrl('cam', q), { headers: { Range: `bytes=${whole.body.length}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${whole.body.length}`);
  });

  it('a publisher that stopped and came back: the pause is listed in X-Recording-Gaps and left out', async () => {
    const parts = await partsOf(daemon, 'cam');
    const from = parts[0]!.startTimeMillis + 500;
    const res = await get(daemon, playUrl('cam', { from }));
    expect(res.status, res.body.toString()).toBe(200);
    expect(res.headers.get('x-recording-gaps')).toBe(`${gapPause[0]}-${gapPause[1]}`);
    const last = parts.at(-1)!;
    expect(res.headers.get('x-recording-range')).toBe(`${from}-${last.endTimeMillis}`);
    const answer = saveAnswer(daemon, res.body, 'gap.mp4');
    const expected = (last.endTimeMillis - from - (gapPause[1] - gapPause[0])) / 1000;
    console.log(`[figures] across a ${gapPause[1] - gapPause[0]} ms pause: expected ${expected.toFixed(3)} s, video ${videoDuration(answer).toFixed(3)} s`);
    expect(Math.abs(videoDuration(answer) - expected)).toBeLessThanOrEqual(GOP);
    expect(largestVideoStep(answer)).toBeLessThan(0.2);
    expect(decodeErrors(answer)).toBe('');
  });

  it('422 when the stream changed resolution, naming the boundary', async () => {
    const parts = await partsOf(daemon, 'cam2');
    const bigFirst = parts.findIndex((p) => ffprobe(path.join(daemon.recordDir, p.fileName)).streams.some((s) => s.codec_type === 'video' && (s as { width?: number }).width === 1280));
    expect(bigFirst).toBeGreaterThan(0);
    const res = await get(daemon, playUrl('cam2', { from: parts[0]!.startTimeMillis, to: parts.at(-1)!.endTimeMillis }));
    expect(res.status).toBe(422);
    const body = JSON.parse(res.body.toString()) as { message: string };
    expect(body.message).toContain(parts[bigFirst]!.fileName);
    expect(body.message).toContain(new Date(parts[bigFirst]!.startTimeMillis).toISOString());
    expect(body.message).toMatch(/640x360 -> video avc1 1280x720/);
    // each side on its own plays
    const before = await get(daemon, playUrl('cam2', { from: parts[0]!.startTimeMillis, to: parts[bigFirst - 1]!.endTimeMillis }));
    expect(before.status).toBe(200);
  });

  it('404 when nothing overlaps; 400 for bad ranges', async () => {
    const t = (await partsOf(daemon, 'cam'))[0]!.startTimeMillis;
    expect((await get(daemon, playUrl('cam', { from: t - 3_600_000, to: t - 3_000_000 }))).status).toBe(404);
    expect((await get(daemon, playUrl('nosuchstream', { from: t }))).status).toBe(404);
    expect((await get(daemon, `/client/streams/cam.mkv?from=${t}&token=${TOKEN}`)).status).toBe(404);
    for (const [query, message] of [
      [{ from: t, to: t }, /must be after from/],
      [{ from: t, to: t - 5 }, /must be after from/],
      [{ from: 'yesterday' }, /from 'yesterday'/],
      [{ from: t, to: t + 25 * 3_600_000 }, /24 h/],
      [{ to: t }, /from is required/],
      [{ from: new Date(t).toISOString().replace('Z', '') }, /with a zone/],
    ] as const) {
      const res = await get(daemon, playUrl('cam', query));
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect((JSON.parse(res.body.toString()) as { message: string }).message).toMatch(message);
    }
    const unknown = await get(daemon, `/client/streams/cam.mp4?from=${t}&start=1&token=${TOKEN}`);
    expect(unknown.status).toBe(400);
  });

  it('ISO 8601 times name the same answer as epoch ms', async () => {
    const [p1] = (await partsOf(daemon, 'cam')) as [JournalPart];
    const from = p1.startTimeMillis + 300;
    const to = from + 1500;
    const epoch = await get(daemon, playUrl('cam', { from, to }));
    const iso = await get(daemon, playUrl('cam', { from: new Date(from).toISOString(), to: new Date(to).toISOString() }));
    expect(iso.status).toBe(200);
    expect(iso.body.equals(epoch.body)).toBe(true);
  });

  it('records_access_token applies: 401 without it, Bearer or ?token= accepted', async () => {
    const t = (await partsOf(daemon, 'cam'))[0]!.startTimeMillis;
    const bare = `/client/streams/cam.mp4?from=${t + 100}&to=${t + 1500}`;
    const none = await get(daemon, bare);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="records"');
    expect((await get(daemon, `${bare}&token=wrong`)).status).toBe(401);
    expect((await get(daemon, bare, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await get(daemon, `${bare}&token=${TOKEN}`)).status).toBe(200);
  });

  it('writes no copy of the media: the ffmpeg cache folder of mp4_cutter_dir stays empty, nothing listed as records', async () => {
    const cache = path.join(daemon.recordDir, '.playback');
    // every answer above was composed in process: the ffmpeg joins' folder holds nothing
    expect(fs.readdirSync(cache)).toEqual([]);
    const listed = await daemon.post<{ records?: { fileName: string }[] }>('/rest-api/recorder/find_records', {});
    expect(JSON.stringify(listed.body)).not.toContain('.playback');
  });

  it('a part cut short on disk: 422 naming the record, never a 500; the ranges around it still play', async () => {
    const parts = await partsOf(daemon, 'cam2');
    const last = parts.at(-1)!;
    const file = path.join(daemon.recordDir, last.fileName);
    // a disk or copy that lost the end of the file: the moov (first) still lists the media that is gone
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    const res = await get(daemon, playUrl('cam2', { from: last.startTimeMillis, to: last.endTimeMillis }));
    expect(res.status).toBe(422);
    const body = JSON.parse(res.body.toString()) as { message: string };
    expect(body.message).toContain(`part '${last.fileName}' cannot be read (the record is damaged)`);
    expect(body.message).toMatch(/past|runs to byte \d+ but the file has \d+ bytes/);
    expect(daemon.output).toMatch(/Playback refused: a part of the range is damaged/);
    // the same again (nothing cached as good), and the other stream's ranges are unaffected
    expect((await get(daemon, playUrl('cam2', { from: last.startTimeMillis, to: last.endTimeMillis }))).status).toBe(422);
    const cam = await partsOf(daemon, 'cam');
    expect((await get(daemon, playUrl('cam', { from: cam[0]!.startTimeMillis, to: cam[0]!.endTimeMillis }))).status).toBe(200);
  });
});
