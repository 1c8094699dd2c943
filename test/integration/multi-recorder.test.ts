import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, REPO, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson, streamNamed, type ErrorJson } from '../helpers/rest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const URI = 'multi-recorder://room1';
const MIXER = path.join(REPO, 'tools', 'offline_mixer_tool.sh');

interface TrackJson {
  durationInMS: string;
  trackEdits: { startInMs: string; endInMs: string; type: string }[];
  trackType: string;
  trackId: string;
  streamName: string;
  mediaSessionId: string;
  timescale: string;
  trackCodec: string;
  width?: string;
  height?: string;
  channels?: string;
  sampleRate?: string;
}

/** Mean luma of a 40x40 region of the frame shown at `seconds`. */
function regionLuma(file: string, seconds: number, x: number, y: number): number {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-vf', `crop=40:40:${x}:${y},format=gray`, '-f', 'rawvideo', '-']);
  return raw.reduce((a, b) => a + b, 0) / raw.length;
}

describe('multipleRecorder: three RTMP publishers into one MP4, mixed by the hook', () => {
  let daemon: DaemonHandle;
  const publishers: Publisher[] = [];
  const callbacks: unknown[] = [];
  let callbackServer: http.Server;

  beforeAll(async () => {
    callbackServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        callbacks.push({ url: req.url, body: JSON.parse(body) as unknown });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
    const port = (callbackServer.address() as AddressInfo).port;
    const home = makeHome('wcs-multi-');
    // the shipped hook, behind a wrapper that logs the four arguments
    fs.copyFileSync(path.join(REPO, 'bin', 'on_multiple_record_hook.sh'), path.join(home, 'bin', 'on_multiple_record_hook.sh'));
    fs.writeFileSync(
      path.join(home, 'bin', 'test_multi_hook.sh'),
      '#!/usr/bin/env bash\nprintf "%s|" "$#" "$@" >> "$WCS_HOME/logs/hook-args.log"\necho >> "$WCS_HOME/logs/hook-args.log"\nLOGGER_ENABLED=true exec bash "$(dirname "$0")/on_multiple_record_hook.sh" "$@"\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(home, 'conf', 'offline_mixer.json'),
      JSON.stringify({ hasVideo: 'true', hasAudio: 'true', mixerDisplayStreamName: true, width: 640, height: 360, callbackUrl: `http://127.0.0.1:${port}/multiRecorderCallback`, minAvailableSpace: '1M' }),
    );
    daemon = await startDaemon(
      {
        record_streams: false,
        stream_record_policy_template: '{streamName}-{startTime}-{startTimeMillis}-{endTime}-{endTimeMillis}',
        on_multiple_record_hook_script: 'bin/test_multi_hook.sh',
      },
      home,
    );
  });

  afterAll(async () => {
    for (const p of publishers) p.proc.kill('SIGKILL');
    await daemon?.stop();
    await new Promise((r) => callbackServer.close(r));
  });

  it('answers every REST error code', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const pub = publish(clip, daemon.rtmpUrl('solo'), ['-stream_loop', '-1']);
    publishers.push(pub);
    const solo = await streamNamed(daemon, 'solo');
    const call = (what: string, body: unknown) => postJson<ErrorJson>(daemon, `/rest-api/multipleRecorder/${what}`, body);

    expect((await call('find_all', {})).status).toBe(404);
    for (const body of [{}, { uri: 'room1' }, { uri: 'rtmp://x' }, { uri: 'multi-recorder://' }, { uri: URI, extra: 1 }]) {
      expect((await call('startup', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('startup', { uri: 'multi-recorder://errors' })).status).toBe(200);
    const again = await call('startup', { uri: 'multi-recorder://errors' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 409, message: expect.stringContaining('already exists') });
    expect((await call('add', { uri: 'multi-recorder://nobody', mediaSessionId: solo.mediaSessionId })).status).toBe(404);
    expect((await call('add', { uri: 'multi-recorder://errors', mediaSessionId: 'no-such-stream' })).status).toBe(404);
    expect((await call('add', { uri: 'multi-recorder://errors' })).status).toBe(400);
    expect((await call('add', { uri: 'multi-recorder://errors', mediaSessionId: solo.mediaSessionId })).status).toBe(200);
    expect((await call('add', { uri: 'multi-recorder://errors', mediaSessionId: solo.mediaSessionId })).status).toBe(409);
    const all = await postJson<unknown[]>(daemon, '/rest-api/multipleRecorder/find_all');
    expect(all.body).toEqual([
      { uri: 'multi-recorder://errors', mediaSessionsId: [solo.mediaSessionId], fileName: expect.stringMatching(/^multi-recorder__errors--1-\d+--1-\{endTimeMillis\}\.mp4$/) },
    ]);
    expect((await call('remove', { uri: 'multi-recorder://nobody', mediaSessionId: solo.mediaSessionId })).status).toBe(404);
    expect((await call('remove', { uri: 'multi-recorder://errors', mediaSessionId: 'no-such-stream' })).status).toBe(404);
    expect((await call('remove', { uri: 'multi-recorder://errors', mediaSessionId: solo.mediaSessionId })).status).toBe(200);
    expect((await call('remove', { uri: 'multi-recorder://errors', mediaSessionId: solo.mediaSessionId })).status).toBe(404);
    expect((await call('terminate', { uri: 'multi-recorder://nobody' })).status).toBe(404);
    expect((await call('terminate', { uri: 'multi-recorder://errors' })).status).toBe(200);
    expect((await call('terminate', { uri: 'multi-recorder://errors' })).status).toBe(404);
    expect((await call('find_all', {})).status).toBe(404);
    pub.proc.kill('SIGKILL');
  });

  it('joins at 0, 5, 10 s, a remove and re-add, a publisher leaving at 15 s: tracks, edits, hook, mix and callback', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 0.5 });
    const live = (name: string) => {
      const p = publish(clip, daemon.rtmpUrl(name), ['-stream_loop', '-1']);
      publishers.push(p);
      return p;
    };
    live('alice');
    const bobPublisher = live('bob');
    live('carol');
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => streamNamed(daemon, n)));
    await sleep(1000); // every publisher is past its first GOPs

    const rest = (what: string, body: unknown) => postJson<ErrorJson>(daemon, `/rest-api/multipleRecorder/${what}`, body);
    expect((await rest('startup', { uri: URI })).status).toBe(200);
    const t0 = Date.now();
    const at = (s: number) => sleep(Math.max(0, t0 + s * 1000 - Date.now()));
    const add = async (id: string) => expect((await rest('add', { uri: URI, mediaSessionId: id })).status).toBe(200);
    await add(alice!.mediaSessionId);
    await at(5);
    await add(bob!.mediaSessionId);
    await at(10);
    await add(carol!.mediaSessionId);
    await at(12);
    expect((await rest('remove', { uri: URI, mediaSessionId: alice!.mediaSessionId })).status).toBe(200);
    await at(13);
    await add(alice!.mediaSessionId);
    await at(15);
    bobPublisher.proc.kill('SIGKILL');
    await waitFor(async () => {
      const all = await postJson<{ mediaSessionsId: string[] }[]>(daemon, '/rest-api/multipleRecorder/find_all');
      return all.body[0]!.mediaSessionsId.length === 2;
    }, 5000, 'bob leaving the recorder');
    const found = await postJson<{ mediaSessionsId: string[] }[]>(daemon, '/rest-api/multipleRecorder/find_all');
    expect(found.body[0]!.mediaSessionsId).toEqual([carol!.mediaSessionId, alice!.mediaSessionId]);
    await at(18);
    const terminated = await rest('terminate', { uri: URI });
    expect(terminated.status).toBe(200);

    const files = fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('multi-recorder__room1'));
    expect(files).toHaveLength(1);
    const name = files[0]!;
    expect(name).toMatch(/^multi-recorder__room1--1-\d{13}--1-\d{13}\.mp4$/);
    const file = path.join(daemon.recordDir, name);
    expect(fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('.multi-'))).toEqual([]);

    // ffprobe: 8 tracks, video + audio per participant session
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' }),
    ) as { streams: { codec_name: string; start_time: string; duration: string; tags: { handler_name: string } }[]; format: { duration: string; tags: { title: string } } };
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac', 'h264', 'aac', 'h264', 'aac', 'h264', 'aac']);
    expect(probe.format.tags.title).toBe(URI);

    // where each track's last packet ends (ffprobe's stream duration is not exact for edited tracks)
    const packetEnds = new Map<number, number>();
    for (const line of execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time,duration_time', '-of', 'csv=p=0', file], { encoding: 'utf8' }).split('\n')) {
      const [index, pts, duration] = line.split(',').map(Number) as [number, number, number];
      if (line.split(',').length !== 3 || [index, pts, duration].some((n) => !Number.isFinite(n))) continue;
      packetEnds.set(index, Math.max(packetEnds.get(index) ?? 0, (pts + duration) * 1000));
    }
    const info = JSON.parse(execFileSync(MIXER, ['--show-tracks-info', file], { encoding: 'utf8' })) as TrackJson[];
    expect(info.map((t) => t.trackId)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(info.map((t) => t.trackType)).toEqual(['VIDEO', 'AUDIO', 'VIDEO', 'AUDIO', 'VIDEO', 'AUDIO', 'VIDEO', 'AUDIO']);
    expect(info.map((t) => t.streamName)).toEqual(['alice', 'alice', 'bob', 'bob', 'carol', 'carol', 'alice', 'alice']);
    expect(info.map((t) => t.mediaSessionId)).toEqual([alice, alice, bob, bob, carol, carol, alice, alice].map((s) => s!.mediaSessionId));
    expect(info[0]).toMatchObject({ trackCodec: 'avc1', width: '640', height: '360', timescale: expect.any(String) });
    expect(info[1]).toMatchObject({ trackCodec: 'mp4a', channels: '2', sampleRate: '44100', timescale: '44100' });

    // each session's media starts at its join (a GOP of 0.5 s may come from before it) and ends at its leave
    const expected = [
      [0, 12],
      [5, 15],
      [10, 18],
      [13, 18],
    ];
    const fileEnd = Number(probe.format.duration) * 1000;
    info.forEach((t, i) => {
      const [join, leave] = expected[Math.floor(i / 2)]!.map((s) => s * 1000) as [number, number];
      const media = t.trackEdits.filter((e) => e.type === 'media');
      expect(media, `track ${i}`).toHaveLength(1);
      const start = Number(media[0]!.startInMs);
      const end = Number(media[0]!.endInMs);
      const firstStart = Number(info[0]!.trackEdits.find((e) => e.type === 'media')!.startInMs);
      // on the file's timeline, relative to alice's first media
      expect(start - firstStart, `track ${i} start`).toBeGreaterThan(join - 700);
      expect(start - firstStart, `track ${i} start`).toBeLessThan(join + 400);
      expect(end - firstStart, `track ${i} end`).toBeGreaterThan(leave - 700);
      expect(end - firstStart, `track ${i} end`).toBeLessThan(Math.min(leave + 600, fileEnd + 100));
      // a late track begins with a pause that ends where its media begins
      if (join > 0) expect(t.trackEdits[0]).toMatchObject({ type: 'pause', startInMs: '0', endInMs: media[0]!.startInMs });
      // the edits agree with ffprobe within 100 ms
      const s = probe.streams[i]!;
      expect(Math.abs(Number(s.start_time) * 1000 - start), `track ${i} ffprobe start`).toBeLessThan(100);
      expect(Math.abs(packetEnds.get(i)! - Number(t.durationInMS)), `track ${i} ffprobe end`).toBeLessThan(100);
      expect(Number(t.durationInMS)).toBe(end);
    });
    // a session's audio and video start and end together
    for (let i = 0; i < 8; i += 2) {
      const span = (t: TrackJson) => t.trackEdits.filter((e) => e.type === 'media').map((e) => [Number(e.startInMs), Number(e.endInMs)])[0]!;
      expect(Math.abs(span(info[i]!)[0]! - span(info[i + 1]!)[0]!)).toBeLessThan(150);
      // a cut between chunks may leave one stream up to a few frames / audio packets longer
      expect(Math.abs(span(info[i]!)[1]! - span(info[i + 1]!)[1]!)).toBeLessThan(300);
    }

    // the hook: four arguments, then the mixer and the callback
    const hookLog = path.join(daemon.home, 'logs', 'hook-args.log');
    const hookLine = () => (fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8').split('\n').find((l) => l.includes(`|${URI}|`)) : undefined);
    await waitFor(() => hookLine() !== undefined, 10_000, 'the hook');
    const args = hookLine()!.split('|').filter(Boolean);
    const durationMs = Math.round(Number(probe.format.duration) * 1000);
    expect(args[0]).toBe('4');
    expect(args[1]).toBe(file);
    expect(Number(args[2])).toBeGreaterThan(Math.floor(t0 / 1000) + 2082844800 - 5); // MP4 time: seconds since 1904
    expect(Math.abs(Number(args[3]) - durationMs)).toBeLessThan(50);
    expect(args[4]).toBe(URI);

    const ours = () => callbacks.find((c) => (c as { body: { recorderUri: string } }).body.recorderUri === URI);
    await waitFor(() => ours() !== undefined, 90_000, 'the mixer callback');
    const mixed = file.replace(/\.mp4$/, '_mixed.mp4');
    expect(ours()).toEqual({
      url: '/multiRecorderCallback',
      body: {
        multiRecorderCreationModificationTime: Number(args[2]),
        multiRecorderDurationInMS: Number(args[3]),
        multiRecorderFilePath: file,
        recorderUri: URI,
        mixerParams: [{ path: mixed, durationInMs: expect.any(Number), creationModificationTime: expect.any(Number) }],
      },
    });
    const logFile = path.join(daemon.home, 'logs', 'multi-record.log');
    // the callback comes from the mixer, before the hook writes its last line
    await waitFor(() => fs.readFileSync(logFile, 'utf8').includes(`${file} is mixed successfully`), 10_000, 'the hook to finish');
    const multiLog = fs.readFileSync(logFile, 'utf8');
    expect(multiLog).toContain(`Start mixing multiple recording file ${file}`);
    expect(multiLog).toContain('mixing 100%');
    expect(multiLog).toContain(`Multiple recording file ${file} is mixed successfully`);

    // the mix: as long as the recording; one picture over the whole frame, then two side by side
    const mixedProbe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', mixed], { encoding: 'utf8' })) as {
      streams: { codec_type: string; width?: number }[];
      format: { duration: string };
    };
    expect(mixedProbe.streams.map((s) => s.codec_type)).toEqual(['video', 'audio']);
    expect(mixedProbe.streams[0]!.width).toBe(640);
    expect(Math.abs(Number(mixedProbe.format.duration) * 1000 - durationMs)).toBeLessThan(200);
    const firstStart = Number(info[0]!.trackEdits.find((e) => e.type === 'media')!.startInMs) / 1000;
    // top-left corner: alice's picture when alone, black letterbox above the 2-up tiles once bob joins
    expect(regionLuma(mixed, firstStart + 3, 10, 10)).toBeGreaterThan(40);
    expect(regionLuma(mixed, firstStart + 7.5, 10, 10)).toBeLessThan(20);
    // right half: nothing of bob before he joins... his picture after
    expect(regionLuma(mixed, firstStart + 7.5, 330, 150)).toBeGreaterThan(40);
  }, 120_000);

  it('offline_mixer_tool.sh: --help, exit codes 64 and 65, unknown keys warned about and ignored', () => {
    const help = spawnSync(MIXER, ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--show-tracks-info');
    expect(spawnSync(MIXER, ['/no/such/file.mp4'], { encoding: 'utf8' }).status).toBe(64);
    const some = fs.readdirSync(daemon.recordDir).find((f) => f.endsWith('_mixed.mp4'));
    expect(some).toBeDefined();
    const noConf = spawnSync(MIXER, ['--config', '/no/such/offline_mixer.json', path.join(daemon.recordDir, some!)], { encoding: 'utf8' });
    expect(noConf.status).toBe(65);
    expect(noConf.stderr).toContain('offline mixer config not found');
    // unknown keys: one warning line each, and the tool goes on (here to the disk space check: 66, not 65)
    const conf = path.join(daemon.recordDir, '..', 'unknown_keys_mixer.json');
    fs.writeFileSync(conf, JSON.stringify({ hasVideo: 'true', mixerLayout: 'grid', recordDir: '/x', minAvailableSpace: '999999T' }));
    const unknownKeys = spawnSync(MIXER, ['--config', conf, path.join(daemon.recordDir, some!)], { encoding: 'utf8' });
    expect(unknownKeys.status).toBe(66);
    expect(unknownKeys.stderr.split('\n').filter((l) => l.includes('unknown setting'))).toEqual([
      expect.stringContaining('"mixerLayout" ignored'),
      expect.stringContaining('"recordDir" ignored'),
    ]);
    // a known key with a wrong value still stops it
    fs.writeFileSync(conf, JSON.stringify({ mixerLayout: 'grid', width: 'wide' }));
    expect(spawnSync(MIXER, ['--config', conf, path.join(daemon.recordDir, some!)], { encoding: 'utf8' }).status).toBe(65);
    expect(spawnSync(MIXER, [], { encoding: 'utf8' }).status).toBe(2);
  });
});

describe('multipleRecorder with the default template stream-{mediaSessionId}-{login}', () => {
  let daemon: DaemonHandle;
  let publisher: Publisher | undefined;

  beforeAll(async () => {
    const home = makeHome('wcs-multi-name-');
    // no mixing here: a hook that does nothing
    fs.writeFileSync(path.join(home, 'bin', 'noop_hook.sh'), '#!/usr/bin/env bash\nexit 0\n', { mode: 0o755 });
    daemon = await startDaemon({ record_streams: false, on_multiple_record_hook_script: 'bin/noop_hook.sh' }, home);
  });

  afterAll(async () => {
    publisher?.proc.kill('SIGKILL');
    await daemon?.stop();
  });

  it("names the file after the recorder's own id and WCS's mockLogin, the same name in find_all and on disk", async () => {
    publisher = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), daemon.rtmpUrl('dana'), ['-stream_loop', '-1']);
    const dana = await streamNamed(daemon, 'dana');
    const rest = (what: string, body?: unknown) => postJson<ErrorJson>(daemon, `/rest-api/multipleRecorder/${what}`, body);
    const NAME = /^stream-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-mockLogin\.mp4$/;
    const names: string[] = [];
    for (const uri of ['multi-recorder://name-a', 'multi-recorder://name-b']) {
      expect((await rest('startup', { uri })).status).toBe(200);
      expect((await rest('add', { uri, mediaSessionId: dana.mediaSessionId })).status).toBe(200);
      const all = await postJson<{ uri: string; fileName: string }[]>(daemon, '/rest-api/multipleRecorder/find_all');
      expect(all.status).toBe(200);
      const fileName = all.body.find((r) => r.uri === uri)?.fileName ?? '';
      expect(fileName).toMatch(NAME);
      // the recorder's own id, not the id of the stream it records
      expect(NAME.exec(fileName)![1]).not.toBe(dana.mediaSessionId);
      await sleep(2500);
      expect((await rest('terminate', { uri })).status).toBe(200);
      // the file on disk is the name find_all showed
      expect(fs.existsSync(path.join(daemon.recordDir, fileName))).toBe(true);
      names.push(fileName);
    }
    expect(new Set(names).size).toBe(2);
    expect(fs.readdirSync(daemon.recordDir).filter((f) => f.startsWith('stream--'))).toEqual([]);
    expect(fs.readdirSync(daemon.recordDir).filter((f) => f.endsWith('.mp4')).sort()).toEqual([...names].sort());
  }, 90_000);
});
