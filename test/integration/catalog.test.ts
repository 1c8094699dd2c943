import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson, streamNamed, type ErrorJson } from '../helpers/rest.js';

interface CatalogRecordJson {
  fileName: string;
  streamName: string | null;
  mediaSessionId: string | null;
  provider: string;
  startTimeMillis: number;
  endTimeMillis: number | null;
  duration: number | null;
  size: number;
  container: string;
  videoCodec: string;
  part: number;
  state: string;
  pinned: boolean;
  deletedAt: number | null;
  deletedReason: string | null;
  downloadUrl: string | null;
}

interface FindJson {
  total: number;
  records: CatalogRecordJson[];
}

interface TimelineJson {
  streamName: string;
  spans: { start: number; end: number; fileName: string }[];
  gaps: { start: number; end: number }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const daemons: DaemonHandle[] = [];
const publishers: Publisher[] = [];

afterEach(async () => {
  for (const p of publishers.splice(0)) p.proc.kill('SIGKILL');
  for (const d of daemons.splice(0)) await d.stop();
});

async function start(props: Record<string, string | number | boolean> = {}, home?: string): Promise<DaemonHandle> {
  const d = await startDaemon(props, home);
  daemons.push(d);
  return d;
}

async function find(d: DaemonHandle, body: Record<string, unknown> = {}): Promise<FindJson> {
  const res = await postJson<FindJson>(d, '/rest-api/records/find', body);
  expect(res.status).toBe(200);
  return res.body;
}

function recordFiles(d: DaemonHandle): string[] {
  return fs
    .readdirSync(d.recordDir)
    .filter((f) => !f.startsWith('.') && /\.(mp4|mkv|webm|ts)$/.test(f))
    .sort();
}

/** Copies a clip into record_dir with a modification time `ageMs` ago. */
function copyIn(d: DaemonHandle, name: string, ageMs: number, seconds = 4): string {
  const file = path.join(d.recordDir, name);
  fs.copyFileSync(makeClip({ video: true, audio: true, seconds, gop: 1 }), file);
  const t = (Date.now() - ageMs) / 1000;
  fs.utimesSync(file, t, t);
  return file;
}

describe('record catalog', () => {
  it('a rotated recording: a row from its first byte, parts found by stream and time, a timeline with the gap; delete and pin', async () => {
    const d = await start({ record_rotation: '2', stream_record_policy_template: '{streamName}-{startTimeMillis}' });
    const clip = makeClip({ video: true, audio: true, seconds: 7, gop: 1 });
    const first = publish(clip, d.rtmpUrl('cat1'));
    publishers.push(first);
    const stream = await streamNamed(d, 'cat1');
    // while recording: the part is in the catalog as 'recording', and cannot be deleted
    await waitFor(async () => (await find(d, { streamName: 'cat1', state: 'recording' })).total === 1, 10_000, 'recording row');
    const live = (await find(d, { streamName: 'cat1', state: 'recording' })).records[0]!;
    expect(live).toMatchObject({ mediaSessionId: stream.mediaSessionId, provider: 'RTMP', endTimeMillis: null, downloadUrl: null, container: 'mp4' });
    expect((await postJson(d, '/rest-api/records/delete', { fileName: live.fileName })).status).toBe(409);
    const inProgress = (await postJson<{ fileName: string }[]>(d, '/rest-api/recorder/find_all')).body[0]!;
    expect((await postJson(d, '/rest-api/records/delete', { fileName: inProgress.fileName })).status).toBe(409);
    expect(await first.exited).toBe(0);
    await waitFor(async () => (await find(d, { streamName: 'cat1', state: 'recording' })).total === 0, 15_000, 'first publish finished');
    const firstEnd = Date.now();
    await sleep(3000);
    const second = publish(makeClip({ video: true, audio: true, seconds: 3, gop: 1 }), d.rtmpUrl('cat1'));
    publishers.push(second);
    expect(await second.exited).toBe(0);
    await waitFor(async () => {
      const all = await find(d, { streamName: 'cat1', state: ['recording', 'finished'] });
      return all.records.every((r) => r.state === 'finished') && all.records.some((r) => r.startTimeMillis > firstEnd);
    }, 15_000, 'second publish finished');

    const all = await find(d, { streamName: 'cat1' });
    const files = recordFiles(d);
    expect(all.records.map((r) => r.fileName).sort()).toEqual(files);
    expect(all.total).toBeGreaterThanOrEqual(4);
    for (const r of all.records) {
      expect(r.state).toBe('finished');
      expect(r.size).toBe(fs.statSync(path.join(d.recordDir, r.fileName)).size);
      expect(r.endTimeMillis!).toBeGreaterThan(r.startTimeMillis);
      expect(r.downloadUrl).toBe(d.url(`/client/records/${encodeURIComponent(r.fileName)}`));
      expect(r.videoCodec).toBe('H264');
    }
    const firstParts = all.records.filter((r) => r.startTimeMillis < firstEnd);
    expect(firstParts.length).toBeGreaterThanOrEqual(3);
    expect(firstParts.map((r) => r.part)).toEqual(firstParts.map((_, i) => i + 1));
    // by time: a range inside the second part finds that part alone (ISO 8601 and epoch ms alike)
    const p2 = firstParts[1]!;
    const mid = Math.round((p2.startTimeMillis + p2.endTimeMillis!) / 2);
    const byTime = await find(d, { streamName: 'cat1', from: new Date(mid - 100).toISOString(), to: mid + 100 });
    expect(byTime.records.map((r) => r.fileName)).toEqual([p2.fileName]);
    // paging
    const page = await find(d, { streamName: 'cat1', limit: 2, offset: 1, sort: '-start' });
    expect(page.total).toBe(all.total);
    expect(page.records.map((r) => r.fileName)).toEqual([...all.records].reverse().slice(1, 3).map((r) => r.fileName));
    // the legacy listing keeps its array answer and takes the same filters
    const legacy = await postJson<{ fileName: string }[]>(d, '/rest-api/recorder/find_records', { streamName: 'cat1', from: mid - 100, to: mid + 100 });
    expect(legacy.body.map((r) => r.fileName)).toEqual([p2.fileName]);

    const tl = await postJson<TimelineJson>(d, '/rest-api/records/timeline', { streamName: 'cat1' });
    expect(tl.status).toBe(200);
    expect(tl.body.spans.map((s) => s.fileName)).toEqual(all.records.map((r) => r.fileName));
    expect(tl.body.gaps).toHaveLength(1);
    const gap = tl.body.gaps[0]!;
    expect(gap.end - gap.start).toBeGreaterThan(2000);
    expect(gap.start).toBe(Math.max(...firstParts.map((r) => r.endTimeMillis!)));

    // pin protects from deletion; unknown names 404; bad input 400
    const victim = all.records[0]!;
    expect((await postJson<CatalogRecordJson>(d, '/rest-api/records/pin', { fileName: victim.fileName, pinned: true })).body.pinned).toBe(true);
    expect((await postJson<ErrorJson>(d, '/rest-api/records/delete', { fileName: victim.fileName })).status).toBe(409);
    expect((await postJson(d, '/rest-api/records/pin', { fileName: victim.fileName, pinned: false })).status).toBe(200);
    expect((await postJson(d, '/rest-api/records/delete', { fileName: victim.fileName })).status).toBe(200);
    expect(fs.existsSync(path.join(d.recordDir, victim.fileName))).toBe(false);
    const deleted = await find(d, { state: 'deleted' });
    expect(deleted.records.map((r) => [r.fileName, r.deletedReason])).toEqual([[victim.fileName, 'deleted by REST']]);
    expect((await find(d, { streamName: 'cat1' })).total).toBe(all.total - 1);
    expect((await postJson(d, '/rest-api/records/delete', { fileName: victim.fileName })).status).toBe(404);
    expect((await postJson(d, '/rest-api/records/delete', { fileName: 'nope.mp4' })).status).toBe(404);
    expect((await postJson(d, '/rest-api/records/pin', { fileName: 'nope.mp4', pinned: true })).status).toBe(404);
    for (const [url, body] of [
      ['/rest-api/records/find', { from: 'yesterday' }],
      ['/rest-api/records/find', { from: 10, to: 5 }],
      ['/rest-api/records/find', { limit: 0 }],
      ['/rest-api/records/find', { state: 'lost' }],
      ['/rest-api/records/find', { name: 'cat1' }],
      ['/rest-api/records/timeline', {}],
      ['/rest-api/records/timeline', { streamName: 'cat1', to: '2026-13-99' }],
      ['/rest-api/records/delete', { fileName: '' }],
      ['/rest-api/records/pin', { fileName: 'a.mp4' }],
      ['/rest-api/recorder/find_records', { from: 'soon' }],
    ] as const) {
      const res = await postJson<ErrorJson>(d, url, body);
      expect(res.status, `${url} ${JSON.stringify(body)}`).toBe(400);
    }
  });

  it('start-up reconciles files added and removed while the daemon was down', async () => {
    const d = await start();
    const kept = copyIn(d, 'kept.mp4', 60_000);
    const removed = copyIn(d, 'removed.mp4', 60_000);
    await waitFor(async () => (await find(d)).total === 2, 10_000, 'two records');
    expect((await d.stop()).code).toBe(0);
    daemons.pop();
    fs.rmSync(removed);
    copyIn(d, 'added.mkv.mp4', 30_000);
    fs.writeFileSync(path.join(d.recordDir, 'junk.mp4'), 'not media');
    const again = await start({ 'http.port': d.httpPort, 'rtmp.port': d.rtmpPort }, d.home);
    const present = await find(again);
    expect(present.records.map((r) => [r.fileName, r.state]).sort()).toEqual([
      ['added.mkv.mp4', 'finished'],
      ['junk.mp4', 'broken'],
      ['kept.mp4', 'finished'],
    ]);
    expect(present.records.find((r) => r.fileName === 'added.mkv.mp4')).toMatchObject({ provider: 'file', streamName: null, duration: 4000 });
    expect((await find(again, { state: 'gone' })).records.map((r) => r.fileName)).toEqual(['removed.mp4']);
    expect(fs.existsSync(kept)).toBe(true);
    expect(fs.existsSync(path.join(d.recordDir, '.wcs-catalog.sqlite'))).toBe(true);
  });

  it('retention: max_age, max_size and min_free_space delete exactly what they should, never pinned, in progress or unknown files', async () => {
    const DAY = 86_400_000;
    const d = await start({
      record_retention_max_age: '2d',
      record_retention_check_interval: '1',
      on_record_delete_hook_script: 'bin/on_delete.sh',
    });
    const hookLog = path.join(d.home, 'logs', 'delete.log');
    fs.writeFileSync(path.join(d.home, 'bin', 'on_delete.sh'), `#!/bin/sh\necho "$1|$2|$3" >> "${hookLog}"\n`, { mode: 0o755 });
    // pinned while young, then made old: retention sees it old and pinned
    const pinned = copyIn(d, 'old-pinned.mp4', 0);
    await waitFor(async () => (await postJson(d, '/rest-api/records/pin', { fileName: 'old-pinned.mp4', pinned: true })).status === 200, 5000, 'pin');
    fs.utimesSync(pinned, (Date.now() - 3 * DAY) / 1000, (Date.now() - 3 * DAY) / 1000);
    copyIn(d, 'old.mp4', 3 * DAY);
    copyIn(d, 'young.mp4', DAY);
    fs.writeFileSync(path.join(d.recordDir, 'notes.txt'), 'old');
    fs.copyFileSync(makeClip({ video: true, audio: true, seconds: 4, gop: 1 }), path.join(d.recordDir, '.hidden.mp4'));
    for (const f of ['notes.txt', '.hidden.mp4']) fs.utimesSync(path.join(d.recordDir, f), (Date.now() - 5 * DAY) / 1000, (Date.now() - 5 * DAY) / 1000);
    await waitFor(() => !fs.existsSync(path.join(d.recordDir, 'old.mp4')), 10_000, 'old.mp4 deleted by max_age');
    await sleep(2500);
    // .wcs-* (the catalog) and .playback (time-range playback's ffmpeg answers) are the daemon's own
    expect(fs.readdirSync(d.recordDir).filter((f) => !f.startsWith('.wcs-') && f !== '.playback').sort()).toEqual(['.hidden.mp4', 'notes.txt', 'old-pinned.mp4', 'young.mp4']);
    expect((await find(d, { state: 'deleted' })).records.map((r) => [r.fileName, r.deletedReason])).toEqual([['old.mp4', 'max_age']]);
    await waitFor(() => fs.existsSync(hookLog), 5000, 'delete hook');
    expect(fs.readFileSync(hookLog, 'utf8')).toBe(`|${path.join(d.recordDir, 'old.mp4')}|max_age\n`);
    expect(d.output).toMatch(/Record deleted/);
    expect((await d.stop()).code).toBe(0);
    daemons.pop();

    // max_size: records take 3 x the clip; a limit of 2.5 clips deletes the oldest unpinned one
    const size = fs.statSync(path.join(d.recordDir, 'young.mp4')).size;
    copyIn(d, 'newest.mp4', 1000);
    const s = await start(
      { 'http.port': d.httpPort, 'rtmp.port': d.rtmpPort, record_retention_max_size: String(Math.round(size * 2.5)), record_retention_check_interval: '1' },
      d.home,
    );
    await waitFor(async () => (await find(s, { state: 'deleted' })).total === 2, 10_000, 'max_size deletion');
    expect((await find(s, { state: 'deleted' })).records.map((r) => [r.fileName, r.deletedReason]).sort()).toEqual([
      ['old.mp4', 'max_age'],
      ['young.mp4', 'max_size'],
    ]);
    expect(recordFiles(s)).toEqual(['newest.mp4', 'old-pinned.mp4']);
    expect((await s.stop()).code).toBe(0);
    daemons.pop();

    // min_free_space beyond the disk: everything deletable goes, but not a recording in progress nor a pinned record
    const m = await start(
      { 'http.port': d.httpPort, 'rtmp.port': d.rtmpPort, record_retention_min_free_space: '1000T', record_retention_check_interval: '1', stream_record_policy_template: '{streamName}' },
      d.home,
    );
    const publisher = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), m.rtmpUrl('keepme'), ['-stream_loop', '-1']);
    publishers.push(publisher);
    await waitFor(async () => (await find(m, { state: 'deleted' })).records.some((r) => r.fileName === 'newest.mp4'), 10_000, 'min_free_space deletion');
    await waitFor(async () => (await find(m, { state: 'recording' })).total === 1, 10_000, 'recording row');
    await sleep(2500);
    expect(recordFiles(m)).toEqual(['old-pinned.mp4']);
    expect((await find(m, { state: 'recording' })).records[0]!.streamName).toBe('keepme');
    expect((await find(m, { state: 'deleted' })).records.find((r) => r.fileName === 'newest.mp4')!.deletedReason).toBe('min_free_space');
    expect(fs.readdirSync(m.recordDir)).toContain('notes.txt');
  });

  it('a multiple recording: a row while it runs (provider multi), the finished file after terminate', async () => {
    const d = await start({ record_streams: false, on_multiple_record_hook_script: '' });
    const pub = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), d.rtmpUrl('guest'), ['-stream_loop', '-1']);
    publishers.push(pub);
    const guest = await streamNamed(d, 'guest');
    const uri = 'multi-recorder://catroom';
    expect((await postJson(d, '/rest-api/multipleRecorder/startup', { uri })).status).toBe(200);
    expect((await postJson(d, '/rest-api/multipleRecorder/add', { uri, mediaSessionId: guest.mediaSessionId })).status).toBe(200);
    await waitFor(async () => (await find(d, { provider: 'multi', state: 'recording' })).total === 1, 10_000, 'multi recording row');
    expect((await find(d, { provider: 'multi', state: 'recording' })).records[0]).toMatchObject({ streamName: 'multi-recorder__catroom', downloadUrl: null });
    await sleep(2500);
    expect((await postJson(d, '/rest-api/multipleRecorder/terminate', { uri })).status).toBe(200);
    await waitFor(async () => (await find(d, { provider: 'multi' })).records.every((r) => r.state === 'finished'), 10_000, 'multi finished');
    const done = await find(d, { provider: 'multi' });
    expect(done.total).toBe(1);
    expect(done.records[0]!.fileName).toBe(recordFiles(d)[0]);
    expect(done.records[0]!.duration!).toBeGreaterThan(1500);
  });

  it('SIGKILL mid-write: the catalog opens and agrees with the folder after recovery', async () => {
    const d = await start({ record_rotation: '2', stream_record_policy_template: '{streamName}-{startTimeMillis}' });
    const publisher = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), d.rtmpUrl('crashcat'), ['-stream_loop', '-1']);
    publishers.push(publisher);
    await waitFor(async () => (await find(d, { streamName: 'crashcat', state: 'finished' })).total >= 1, 20_000, 'a finished part');
    await waitFor(async () => (await find(d, { streamName: 'crashcat', state: 'recording' })).total === 1, 10_000, 'a part being written');
    await sleep(1000);
    d.proc.kill('SIGKILL');
    await d.exited;
    daemons.pop();
    publisher.proc.kill('SIGKILL');
    // the file a killed daemon left opens and is consistent
    const dbFile = path.join(d.recordDir, '.wcs-catalog.sqlite');
    const db = new Database(dbFile, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((db.prepare("SELECT COUNT(*) AS n FROM records WHERE state = 'recording'").get() as { n: number }).n).toBe(1);
    db.close();
    await sleep(1000);
    const again = await start({ 'http.port': d.httpPort, 'rtmp.port': d.rtmpPort, record_rotation: '2', stream_record_policy_template: '{streamName}-{startTimeMillis}' }, d.home);
    await again.waitForOutput(/Recovered an interrupted recording/, 20_000);
    const present = await find(again, { streamName: 'crashcat' });
    expect(present.records.every((r) => r.state === 'finished' || r.state === 'recovered')).toBe(true);
    expect(present.records.filter((r) => r.state === 'recovered')).toHaveLength(1);
    expect(present.records.map((r) => r.fileName).sort()).toEqual(recordFiles(again));
    for (const r of present.records) expect(r.size).toBe(fs.statSync(path.join(again.recordDir, r.fileName)).size);
    expect((await find(again, { state: 'recording' })).total).toBe(0);
  });
});
