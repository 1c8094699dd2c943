import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson, streamNamed, type ErrorJson, type RecordJson, type StreamJson } from '../helpers/rest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WCS REST API with real RTMP publishers', () => {
  let daemon: DaemonHandle;
  const publishers: Publisher[] = [];
  const clip = () => makeClip({ video: true, audio: true, seconds: 8, gop: 2 });
  /** A publisher that goes on until it is stopped (the clip in a loop). */
  const live = (name: string, query = ''): Publisher => {
    const p = publish(clip(), daemon.rtmpUrl(name) + query, ['-stream_loop', '-1']);
    publishers.push(p);
    return p;
  };

  beforeAll(async () => {
    daemon = await startDaemon();
  });

  afterAll(async () => {
    for (const p of publishers) p.proc.kill('SIGKILL');
    const children = daemon.children();
    expect((await daemon.stop()).code).toBe(0);
    for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
  });

  it('/stream/find, /stream/find_all and /stream/terminate', async () => {
    const publisher = live('cam1', '?login=bob');
    const stream = await streamNamed(daemon, 'cam1');
    expect(stream).toMatchObject({ status: 'PUBLISHING', record: true, mediaProvider: 'Flash' });

    for (const filter of [{ name: 'cam1' }, { mediaSessionId: stream.mediaSessionId }, { name: 'cam1', status: 'PUBLISHING' }]) {
      const found = await postJson<StreamJson[]>(daemon, '/rest-api/stream/find', filter);
      expect(found.status, JSON.stringify(filter)).toBe(200);
      expect(found.body.map((s) => s.mediaSessionId)).toEqual([stream.mediaSessionId]);
    }
    for (const filter of [{ name: 'nobody' }, { name: 'cam1', status: 'PLAYING' }, { name: 'cam1', mediaSessionId: 'other' }]) {
      const none = await postJson<ErrorJson>(daemon, '/rest-api/stream/find', filter);
      expect(none.status, JSON.stringify(filter)).toBe(404);
      expect(none.body).toMatchObject({ error: 404, message: expect.stringContaining('No stream matches') });
    }
    for (const [body, message] of [
      [{}, /fewer than 1 properties/],
      [{ name: 'cam1', colour: 'red' }, /additional properties/],
      [{ status: 'SLEEPING' }, /allowed values/],
      [{ name: 42 }, /must be string/],
      ['[1,2]', /must be object/],
    ] as const) {
      const bad = await postJson<ErrorJson>(daemon, '/rest-api/stream/find', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.message).toMatch(message);
    }
    const all = await postJson<StreamJson[]>(daemon, '/rest-api/stream/find_all');
    expect(all.body.map((s) => s.name)).toContain('cam1');
    expect((await postJson(daemon, '/rest-api/stream/find_all', { name: 'cam1' })).status).toBe(400);

    const inProgress = await postJson<{ fileName: string; mediaSessionId: string }[]>(daemon, '/rest-api/recorder/find_all');
    expect(inProgress.body).toContainEqual(expect.objectContaining({ fileName: `stream-${stream.mediaSessionId}-bob.mp4`, mediaSessionId: stream.mediaSessionId }));

    await sleep(1500);
    expect((await postJson<ErrorJson>(daemon, '/rest-api/stream/terminate', {})).status).toBe(400);
    expect((await postJson<ErrorJson>(daemon, '/rest-api/stream/terminate', { name: 'nobody' })).status).toBe(404);
    const ended = await postJson(daemon, '/rest-api/stream/terminate', { name: 'cam1' });
    expect(ended.status).toBe(200);
    expect(ended.body).toEqual({});
    // answered once the recording is finished: the record is already in record_dir
    const file = path.join(daemon.recordDir, `stream-${stream.mediaSessionId}-bob.mp4`);
    expect(fs.existsSync(file)).toBe(true);
    expect(decodeErrors(file)).toBe('');
    const code = await Promise.race([publisher.exited, sleep(5000).then(() => 'still running')]);
    expect(code).not.toBe('still running');
    expect(code).not.toBe(0);
    await waitFor(async () => (await postJson(daemon, '/rest-api/stream/find', { name: 'cam1' })).status === 404, 5000, 'cam1 gone');
    expect((await postJson(daemon, '/rest-api/stream/terminate', { mediaSessionId: stream.mediaSessionId })).status).toBe(404);

    const records = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', { mediaSessionId: stream.mediaSessionId });
    expect(records.status).toBe(200);
    expect(records.body).toHaveLength(1);
    const record = records.body[0]!;
    expect(record).toMatchObject({
      fileName: path.basename(file),
      mediaSessionId: stream.mediaSessionId,
      streamName: 'cam1',
      size: fs.statSync(file).size,
      downloadUrl: daemon.url(`/client/records/${path.basename(file)}`),
    });
    expect(record.endTimeMillis).toBeGreaterThan(record.startTimeMillis);
    expect(Math.abs(record.duration! / 1000 - durationOf(file))).toBeLessThan(0.5);
    const download = await fetch(record.downloadUrl);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await download.arrayBuffer()).equals(fs.readFileSync(file))).toBe(true);
  });

  it('recording on demand: /recorder/startup, /stream/startRecording, /recorder/terminate, /stream/stopRecording', async () => {
    live('ondemand', '?record=false');
    const stream = await streamNamed(daemon, 'ondemand');
    expect(stream.record).toBe(false);
    const id = stream.mediaSessionId;

    const bad: [unknown, RegExp][] = [
      [{ mediaSessionId: id, config: { rotation: '20x' } }, /rotation '20x': allowed/],
      [{ mediaSessionId: id, config: { rotation: '0' } }, /rotation '0'/],
      [{ mediaSessionId: id, config: { fileTemplate: '{foo}-{streamName}' } }, /element \{foo\} is unknown/],
      [{ mediaSessionId: id, config: { fileTemplate: '' } }, /fileTemplate must NOT have fewer than 1 characters/],
      [{ mediaSessionId: id, config: { fileTemplate: '   ' } }, /fileTemplate is empty/],
      [{ mediaSessionId: id, config: { fileTemplate: '../../etc/x' } }, /path separator/],
      [{ mediaSessionId: id, config: { container: 'mp4' } }, /additional properties/],
      [{ mediaSessionId: id, config: { format: 'avi' } }, /format must be equal to one of the allowed values/],
      [{ mediaSessionId: id, extra: 1 }, /additional properties/],
      [{ config: {} }, /must have required property 'mediaSessionId'/],
      [{ mediaSessionId: 7 }, /must be string/],
    ];
    for (const url of ['/rest-api/recorder/startup', '/rest-api/stream/startRecording']) {
      for (const [body, message] of bad) {
        const res = await postJson<ErrorJson>(daemon, url, body);
        expect(res.status, `${url} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body.error).toBe(400);
        expect(res.body.message).toMatch(message);
      }
      const unknown = await postJson<ErrorJson>(daemon, url, { mediaSessionId: 'no-such-session' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.message).toContain('no-such-session');
    }
    expect((await postJson(daemon, '/rest-api/recorder/find_all')).status).toBe(404);
    for (const url of ['/rest-api/recorder/terminate', '/rest-api/stream/stopRecording']) {
      const none = await postJson<ErrorJson>(daemon, url, { mediaSessionId: id });
      expect(none.status).toBe(404);
      expect(none.body.message).toMatch(/No recording in progress/);
    }

    const first = await postJson(daemon, '/rest-api/recorder/startup', {
      mediaSessionId: id,
      config: { fileTemplate: '{streamName}-first', rotation: 'disabled' },
    });
    expect(first.status).toBe(200);
    const list = await postJson<{ fileName: string }[]>(daemon, '/rest-api/recorder/find_all');
    expect(list.body).toMatchObject([{ fileName: 'ondemand-first.mp4', mediaSessionId: id, state: 'RECORDING' }]);
    await sleep(1500);
    // a second startup finishes the current recording first, then starts one with the new settings
    const second = await postJson(daemon, '/rest-api/stream/startRecording', {
      mediaSessionId: id,
      config: { fileTemplate: '{streamName}-second', rotation: '20' },
    });
    expect(second.status).toBe(200);
    expect(fs.existsSync(path.join(daemon.recordDir, 'ondemand-first.mp4'))).toBe(true);
    // rotation '20' applies to this recording: its parts are numbered from _1
    expect((await postJson<{ fileName: string }[]>(daemon, '/rest-api/recorder/find_all')).body).toMatchObject([
      { fileName: 'ondemand-second_1.mp4', mediaSessionId: id },
    ]);
    await sleep(1500);
    const stopped = await postJson(daemon, '/rest-api/stream/stopRecording', { mediaSessionId: id });
    expect(stopped.status).toBe(200);
    const secondFile = path.join(daemon.recordDir, 'ondemand-second_1.mp4');
    expect(fs.existsSync(secondFile)).toBe(true);
    expect(durationOf(secondFile)).toBeGreaterThan(0.5);
    expect((await postJson(daemon, '/rest-api/recorder/terminate', { mediaSessionId: id })).status).toBe(404);
    // the stream goes on, unrecorded
    expect((await postJson<StreamJson[]>(daemon, '/rest-api/stream/find', { mediaSessionId: id })).body[0]!.record).toBe(false);

    const mine = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', { streamName: 'ondemand' });
    expect(mine.status).toBe(200);
    expect(mine.body.map((r) => r.fileName)).toEqual(['ondemand-first.mp4', 'ondemand-second_1.mp4']);
    expect(mine.body.every((r) => r.mediaSessionId === id)).toBe(true);
    expect((await postJson(daemon, '/rest-api/recorder/find_records', { fileName: 'nope.mp4' })).status).toBe(404);
    expect((await postJson(daemon, '/rest-api/recorder/find_records', { name: 'ondemand' })).status).toBe(400);
    expect((await postJson(daemon, '/rest-api/stream/terminate', { mediaSessionId: id })).status).toBe(200);
  });

  it('409 when the stream stops publishing while /recorder/startup is served', async () => {
    // startup first finishes the running recording; a /stream/terminate sent
    // together ends the publish meanwhile, so the new recording cannot start
    let outcome: [number, number] | null = null;
    for (let attempt = 1; attempt <= 3 && outcome?.[0] !== 409; attempt++) {
      const name = `racer${attempt}`;
      live(name);
      const stream = await streamNamed(daemon, name);
      await sleep(1000);
      const [startup, terminate] = await Promise.all([
        // other settings than the running recording's: it is finished first (the same settings would keep it)
        postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', { mediaSessionId: stream.mediaSessionId, config: { fileTemplate: '{streamName}-again' } }),
        postJson(daemon, '/rest-api/stream/terminate', { mediaSessionId: stream.mediaSessionId }),
      ]);
      outcome = [startup.status, terminate.status];
      if (startup.status === 409) expect(startup.body.message).toMatch(/stopped publishing/);
    }
    expect(outcome).toEqual([409, 200]);
  });

  it('413 for a body over the limit, 415 for a body that is not JSON', async () => {
    const huge = await postJson<ErrorJson>(daemon, '/rest-api/stream/find', { name: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe(413);
    const xml = await fetch(daemon.url('/rest-api/stream/find_all'), { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    expect(xml.status).toBe(415);
    const text = await fetch(daemon.url('/rest-api/stream/find_all'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(text.status).toBe(400);
    const malformed = await postJson<ErrorJson>(daemon, '/rest-api/recorder/startup', '{"mediaSessionId":');
    expect(malformed.status).toBe(400);
  });

  it('serves an OpenAPI description of every route at /rest-api/docs', async () => {
    const res = await fetch(daemon.url('/rest-api/docs'));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/rest-api/stream/find_all',
      '/rest-api/stream/find',
      '/rest-api/stream/terminate',
      '/rest-api/stream/startRecording',
      '/rest-api/stream/stopRecording',
      '/rest-api/recorder/startup',
      '/rest-api/recorder/terminate',
      '/rest-api/recorder/find_all',
      '/rest-api/recorder/find_records',
    ]) {
      expect(doc.paths[p]?.post, p).toBeDefined();
    }
    expect(doc.paths['/client/records/{file}']?.get).toBeDefined();
    expect(JSON.stringify(doc.paths['/rest-api/recorder/startup']!.post!.requestBody)).toContain('rotation');
    expect((await fetch(daemon.url('/rest-api/docs?x=1'))).status).toBe(400);
  });

  it('never lists a file being recorded, even when record_tmp_dir is record_dir', async () => {
    const other = await startDaemon({ record_tmp_dir: 'records' });
    const publisher = publish(clip(), other.rtmpUrl('inplace'), ['-stream_loop', '-1']);
    publishers.push(publisher);
    try {
      const stream = await streamNamed(other, 'inplace');
      await other.waitForOutput(/Recording started/);
      await waitFor(() => fs.readdirSync(other.recordDir).some((f) => f.startsWith(`.rec-${stream.mediaSessionId}`)), 5000, 'the file being written');
      expect((await postJson(other, '/rest-api/recorder/find_records')).status).toBe(404);
      expect((await postJson(other, '/rest-api/stream/terminate', { name: 'inplace' })).status).toBe(200);
      const records = await postJson<RecordJson[]>(other, '/rest-api/recorder/find_records');
      expect(records.body.map((r) => r.fileName)).toEqual([`stream-${stream.mediaSessionId}-.mp4`]);
    } finally {
      publisher.proc.kill('SIGKILL');
      expect((await other.stop()).code).toBe(0);
    }
  });
});
