import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, makeClip, publish, type Publisher } from '../helpers/media.js';
import { logLines, postJson, streamNamed, waitForLogLines, type ErrorJson, type RecordJson } from '../helpers/rest.js';
import { agentInStatus, FakeCamera, requireGstRtspServer, silentServer, type AgentJson } from '../helpers/rtsp-camera.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cut ffmpegs the daemon runs now (children whose command line is a cut: -metadata comment=wcs-recorder cut). */
function cutFfmpegs(daemon: DaemonHandle): number {
  let out = '';
  try {
    out = execFileSync('ps', ['--ppid', String(daemon.proc.pid), '-o', 'args='], { encoding: 'utf8' });
  } catch {
    return 0;
  }
  return out.split('\n').filter((l) => l.includes('wcs-recorder cut')).length;
}

describe('issue 14: hostile input to recorder control, cuts, downloads and RTSP', () => {
  let daemon: DaemonHandle;
  const publishers: Publisher[] = [];
  let outsideDir: string;

  beforeAll(async () => {
    outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-outside-'));
    daemon = await startDaemon({
      record_streams: false,
      stream_record_policy_template: '{streamName}-{startTimeMillis}',
      mp4_cutter_max_concurrent: 2,
      mp4_cutter_max_queued: 3,
      mp4_cutter_cache_max_size: '16m',
      rtsp_max_pulls: 3,
      rtsp_timeout: 2,
      rtsp_reconnect_min_delay: 300,
      rtsp_reconnect_max_delay: 600,
      record_public_base_url: 'https://media.example.com/wcs',
    });
    fs.copyFileSync(makeClip({ video: true, audio: true, seconds: 60, gop: 2, bitrate: '2M' }), path.join(daemon.recordDir, 'long.mp4'));
  });

  afterAll(async () => {
    for (const p of publishers) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    const children = daemon.children();
    expect((await daemon.stop()).code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
    fs.rmSync(outsideDir, { recursive: true, force: true });
  });

  it('parallel startups on one live stream: exactly one recorder, listed, finished by terminate; one record file', async () => {
    const p = publish(makeClip({ video: true, audio: true, seconds: 30, gop: 1 }), daemon.rtmpUrl('racy'));
    publishers.push(p);
    const stream = await streamNamed(daemon, 'racy');
    await sleep(1500);
    const id = stream.mediaSessionId;
    const answers = await Promise.all(Array.from({ length: 12 }, () => postJson(daemon, '/rest-api/recorder/startup', { mediaSessionId: id })));
    for (const a of answers) expect(a.status).toBe(200);
    const listed = await postJson<{ fileName: string; mediaSessionId: string }[]>(daemon, '/rest-api/recorder/find_all');
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(1);
    expect(logLines(daemon, 'Recording starting; waiting for a keyframe', id)).toHaveLength(1);
    await sleep(2000);
    expect((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status).toBe(200);
    expect((await postJson(daemon, '/rest-api/recorder/find_all')).status).toBe(404);
    const files = fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('racy-'));
    expect(files).toHaveLength(1);
    const file = path.join(daemon.recordDir, files[0]!);
    expect(durationOf(file)).toBeGreaterThan(1);
    expect(decodeErrors(file)).toBe('');
    // downloadUrl names the configured public base
    const records = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', { fileName: files[0] });
    expect(records.body[0]!.downloadUrl).toBe(`https://media.example.com/wcs/client/records/${encodeURIComponent(files[0]!)}`);
    // and so does the catalog's answer
    const found = await postJson<{ records: RecordJson[] }>(daemon, '/rest-api/records/find', { streamName: 'racy' });
    expect(found.body.records.map((r) => r.downloadUrl)).toContain(`https://media.example.com/wcs/client/records/${encodeURIComponent(files[0]!)}`);
  });

  it('startups and terminates interleaved: never two recorders, every started one is finished', async () => {
    const stream = await streamNamed(daemon, 'racy');
    const id = stream.mediaSessionId;
    let most = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const r = await postJson<unknown[]>(daemon, '/rest-api/recorder/find_all');
        if (r.status === 200) most = Math.max(most, r.body.length);
        await sleep(20);
      }
    })();
    const calls: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 16; i++) {
      calls.push(postJson(daemon, '/rest-api/recorder/startup', { mediaSessionId: id, config: { fileTemplate: `{streamName}-mix${i}` } }));
      if (i % 4 === 3) calls.push(postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id }));
    }
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    for (const s of statuses) expect([200, 404]).toContain(s);
    // requests sent together arrive in any order: at most one recording runs now, and terminate ends it
    const now = await postJson<unknown[]>(daemon, '/rest-api/recorder/find_all');
    if (now.status === 200) expect(now.body).toHaveLength(1);
    expect([200, 404]).toContain((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status);
    polling = false;
    await poll;
    expect(most).toBeLessThanOrEqual(1);
    expect((await postJson(daemon, '/rest-api/recorder/find_all')).status).toBe(404);
    await waitFor(
      () => logLines(daemon, 'Recording finishing', id).length === logLines(daemon, 'Recording starting; waiting for a keyframe', id).length,
      15_000,
      'every started recording finished',
    );
  });

  it('a flood of control calls on one stream: beyond 32 waiting they answer 503 with Retry-After, never 500; one recorder after', async () => {
    const stream = await streamNamed(daemon, 'racy');
    const id = stream.mediaSessionId;
    // each startup with other settings finishes the recording before it: they queue behind each other
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) => postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: id, config: { fileTemplate: `{streamName}-flood${i}` } })),
    );
    const statuses = answers.map((a) => a.status);
    for (const s of statuses) expect([200, 503]).toContain(s);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const a of busy) {
      expect(a.headers.get('retry-after')).toBe('1');
      expect(a.body.message).toMatch(/queued for this stream/);
    }
    const now = await postJson<unknown[]>(daemon, '/rest-api/recorder/find_all');
    expect(now.status).toBe(200);
    expect(now.body).toHaveLength(1);
    expect((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status).toBe(200);
    expect(daemon.output).not.toMatch(/"Request failed"/);
  });

  it('30 different past-the-end ends: one stored part; the record itself for end alone', async () => {
    const before = fs.readdirSync(daemon.recordDir).length;
    for (let i = 0; i < 30; i++) {
      const res = await fetch(daemon.url(`/client/records/long.mp4?start=50&end=${61 + i * 13}`));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toBe('inline;filename="long-s50.mp4"');
      await res.arrayBuffer();
    }
    const whole = await fetch(daemon.url('/client/records/long.mp4?end=999'));
    expect(whole.status).toBe(200);
    expect(Number(whole.headers.get('content-length'))).toBe(fs.statSync(path.join(daemon.recordDir, 'long.mp4')).size);
    await whole.arrayBuffer();
    expect(fs.readdirSync(daemon.recordDir).length).toBe(before + 1);
    expect(await waitForLogLines(daemon, 'Cutting record part', 'long-s50.mp4', 1)).toHaveLength(1);
  });

  it('many concurrent distinct cuts: never more than mp4_cutter_max_concurrent ffmpegs, 503s carry Retry-After, the cache stays under its limit', async () => {
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, cutFfmpegs(daemon));
        await sleep(10);
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await fetch(daemon.url(`/client/records/long.mp4?start=${i}&end=${i + 20}`));
        const body = Buffer.from(await res.arrayBuffer());
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
      }),
    );
    watching = false;
    await watch;
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    expect(ok.length + busy.length).toBe(20);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      expect(b.retryAfter).toMatch(/^\d+$/);
      expect((JSON.parse(b.body.toString()) as ErrorJson).message).toMatch(/Too many record parts/);
    }
    const parts = fs.readdirSync(daemon.recordDir).filter((f) => /^long-s\d+(-e\d+)?\.mp4$/.test(f));
    const bytes = parts.reduce((sum, f) => sum + fs.statSync(path.join(daemon.recordDir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    // each 20 s part of the 2 Mbit/s record is about 5.5 MB (up to 7 MB estimated): older ones were removed to stay under 16 MB
    expect(logLines(daemon, 'Record part removed: mp4_cutter_cache_max_size').length).toBeGreaterThan(0);
    // a part larger than the whole cache is refused, not cut
    const huge = await fetch(daemon.url('/client/records/long.mp4?start=0.5'));
    expect(huge.status).toBe(507);
    expect(((await huge.json()) as ErrorJson).message).toMatch(/mp4_cutter_cache_max_size/);
  });

  it('a symlink in record_dir that leads out answers 404, never the outside content; Range still works', async () => {
    const secret = path.join(outsideDir, 'secret.mp4');
    fs.writeFileSync(secret, 'OUTSIDE SECRET CONTENT');
    fs.symlinkSync(secret, path.join(daemon.recordDir, 'leak.mp4'));
    for (const q of ['', '?start=1&end=2']) {
      const res = await fetch(daemon.url(`/client/records/leak.mp4${q}`));
      const text = await res.text();
      expect(res.status).toBe(404);
      expect(text).not.toContain('OUTSIDE SECRET');
    }
    const long = fs.readFileSync(path.join(daemon.recordDir, 'long.mp4'));
    const range = await fetch(daemon.url('/client/records/long.mp4'), { headers: { Range: 'bytes=10-99' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 10-99/${long.length}`);
    expect(Buffer.from(await range.arrayBuffer()).equals(long.subarray(10, 100))).toBe(true);
    const bad = await fetch(daemon.url('/client/records/long.mp4'), { headers: { Range: `bytes=${long.length + 5}-` } });
    expect(bad.status).toBe(416);
    await bad.arrayBuffer();
    // a copy the client has already: 304 by ETag or by date; a stale If-Range gets the whole file
    const whole = await fetch(daemon.url('/client/records/long.mp4'));
    const etag = whole.headers.get('etag');
    const lastModified = whole.headers.get('last-modified');
    await whole.arrayBuffer();
    expect(etag).toMatch(/^W\/"/);
    expect(lastModified).not.toBeNull();
    const byTag = await fetch(daemon.url('/client/records/long.mp4'), { headers: { 'If-None-Match': etag ?? '' } });
    expect(byTag.status).toBe(304);
    const byDate = await fetch(daemon.url('/client/records/long.mp4'), { headers: { 'If-Modified-Since': lastModified ?? '' } });
    expect(byDate.status).toBe(304);
    const stale = await fetch(daemon.url('/client/records/long.mp4'), { headers: { Range: 'bytes=10-99', 'If-Range': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).length).toBe(long.length);
  });

  it('RTSP: upper-case schemes play, unknown schemes and bad toStream are 400, rtsp_max_pulls is 503, lastError does not tell refused from silent', async () => {
    requireGstRtspServer();
    const cam = await FakeCamera.start({ audio: 'aac' });
    const silent = await silentServer();
    const closedPort = await freePort();
    try {
      const upper = `RTSP://127.0.0.1:${cam.port}/cam`;
      expect((await postJson(daemon, '/rest-api/rtsp/startup', { uri: upper, toStream: 'upper' })).status).toBe(200);
      await agentInStatus(daemon, 'upper', 'PLAYING', 15_000);
      expect(daemon.output).not.toMatch(/Protocol not found/);

      for (const uri of ['http://127.0.0.1/x', 'rtmp://127.0.0.1/x', 'file:///etc/passwd']) {
        const res = await postJson<ErrorJson>(daemon, '/rest-api/rtsp/startup', { uri });
        expect(res.status, uri).toBe(400);
      }
      const badName = await postJson<ErrorJson>(daemon, '/rest-api/rtsp/startup', { uri: 'rtsp://127.0.0.1:9/x', toStream: 'a\u0001b' });
      expect(badName.status).toBe(400);
      expect(badName.body.message).toMatch(/toStream: stream name holds a control character/);

      expect((await postJson(daemon, '/rest-api/rtsp/startup', { uri: `rtsp://127.0.0.1:${silent.port}/cam`, toStream: 'silent' })).status).toBe(200);
      expect((await postJson(daemon, '/rest-api/rtsp/startup', { uri: `rtsp://127.0.0.1:${closedPort}/cam`, toStream: 'closed' })).status).toBe(200);
      const over = await postJson<ErrorJson>(daemon, '/rest-api/rtsp/startup', { uri: 'rtsp://127.0.0.1:10/x', toStream: 'fourth' });
      expect(over.status).toBe(503);
      expect(over.body.message).toMatch(/rtsp_max_pulls/);

      const silentAgent = await agentInStatus(daemon, 'silent', 'RETRYING', 15_000);
      const closedAgent = await agentInStatus(daemon, 'closed', 'RETRYING', 15_000);
      expect(silentAgent.lastError).toBe(closedAgent.lastError);
      expect(closedAgent.lastError).toMatch(/camera unreachable/);
      // the detailed reason is in the server log
      await daemon.waitForOutput(/Connection refused/);
      expect((await postJson<AgentJson[]>(daemon, '/rest-api/rtsp/find_all')).body.map((a) => a.lastError).join()).not.toMatch(/refused|timed out|Invalid data/i);
    } finally {
      for (const uri of [`rtsp://127.0.0.1:${cam.port}/cam`, `rtsp://127.0.0.1:${silent.port}/cam`, `rtsp://127.0.0.1:${closedPort}/cam`]) {
        await postJson(daemon, '/rest-api/rtsp/terminate', { uri });
      }
      await cam.kill();
      await silent.close();
    }
  });
});
