import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isAlive, makeHome, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { ffprobe, makeClip, publish } from '../helpers/media.js';
import { postJson, rawRequest, type ErrorJson, type RecordJson } from '../helpers/rest.js';

const REST_TOKEN = 'rest-secret-4a1f';
const RECORDS_TOKEN = 'records-secret-9c2e';
const GOP = 2;

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * ffmpeg_path for the daemon: the system ffmpeg, under strace when it is a
 * cut (only cuts whitelist protocols), so the test can see what a cut reads.
 */
function tracingFfmpeg(home: string): string {
  const real = execFileSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).trim();
  const wrapper = path.join(home, 'bin', 'ffmpeg-traced');
  const trace = hasStrace()
    ? `exec strace -qq -f -e trace=openat,read,lseek,close -o "${path.join(home, 'cut-trace')}.$$" "${real}" "$@"`
    : `exec "${real}" "$@"`;
  // a cut from 13 s is read at the media's own pace (-re): slow enough to be caught running
  fs.writeFileSync(
    wrapper,
    `#!/usr/bin/env bash\ncase " $* " in\n  *" -ss 13 "*) exec "${real}" -re "$@";;\n  *" -protocol_whitelist "*) ${trace};;\nesac\nexec "${real}" "$@"\n`,
  );
  fs.chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Byte spans of `file` that a traced process read, from an strace log of openat/read/lseek/close. */
function readSpans(traceText: string, file: string): [number, number][] {
  const spans: [number, number][] = [];
  let fd: string | null = null;
  let pos = 0;
  for (const line of traceText.split('\n')) {
    const open = /openat\(AT_FDCWD, "([^"]+)",.*\)\s+=\s+(\d+)$/.exec(line);
    if (open) {
      if (open[1] === file) [fd, pos] = [open[2]!, 0];
      continue;
    }
    if (fd === null) continue;
    if (line.includes(`close(${fd})`)) fd = null;
    const seek = new RegExp(`lseek\\(${fd}, .*\\)\\s+=\\s+(\\d+)$`).exec(line);
    if (seek) pos = Number(seek[1]);
    const read = new RegExp(`read\\(${fd}, .*\\)\\s+=\\s+(\\d+)$`).exec(line);
    if (read && Number(read[1]) > 0) {
      spans.push([pos, pos + Number(read[1])]);
      pos += Number(read[1]);
    }
  }
  return spans;
}

function httpsRequest(port: number, ca: Buffer, p: string, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: p, method, headers, ca, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('tokens, HTTPS and mp4_cutter_dir', () => {
  let daemon: DaemonHandle;
  let httpsPort: number;
  let cert: Buffer;
  const bearer = { authorization: `Bearer ${REST_TOKEN}` };

  beforeAll(async () => {
    const home = makeHome();
    const conf = path.join(home, 'conf');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(conf, 'key.pem'), '-out', path.join(conf, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = fs.readFileSync(path.join(conf, 'cert.pem'));
    httpsPort = await freePort();
    daemon = await startDaemon(
      {
        rest_api_token: REST_TOKEN,
        records_access_token: RECORDS_TOKEN,
        mp4_cutter_dir: 'cuts',
        'https.port': httpsPort,
        'https.cert': 'conf/cert.pem',
        'https.key': 'conf/key.pem',
        ffmpeg_path: tracingFfmpeg(home),
        stream_record_policy_template: '{streamName}',
      },
      home,
    );
    const publisher = publish(makeClip({ video: true, audio: true, seconds: 4, gop: GOP }), daemon.rtmpUrl('secure'));
    fs.copyFileSync(makeClip({ video: true, audio: true, seconds: 60, gop: GOP }), path.join(daemon.recordDir, 'long.mp4'));
    expect(await publisher.exited).toBe(0);
    await waitFor(() => fs.existsSync(path.join(daemon.recordDir, 'secure.mp4')), 15_000, 'secure.mp4');
  });

  afterAll(async () => {
    expect((await daemon.stop()).code).toBe(0);
    expect(daemon.output).not.toContain(RECORDS_TOKEN);
    expect(daemon.output).not.toContain(REST_TOKEN);
  });

  it('every /rest-api call needs Authorization: Bearer <rest_api_token>', async () => {
    for (const [p, body] of [
      ['/rest-api/stream/find_all', {}],
      ['/rest-api/stream/find', { name: 'secure' }],
      ['/rest-api/stream/terminate', { name: 'secure' }],
      ['/rest-api/recorder/startup', { mediaSessionId: 'x' }],
      ['/rest-api/recorder/terminate', { mediaSessionId: 'x' }],
      ['/rest-api/recorder/find_all', {}],
      ['/rest-api/recorder/find_records', {}],
      ['/rest-api/no/such/route', {}],
    ] as const) {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Basic ${REST_TOKEN}` }, { authorization: `Bearer ${RECORDS_TOKEN}` }]) {
        const res = await postJson<ErrorJson>(daemon, p, body, headers);
        expect(res.status, `${p} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.body.error).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="rest-api"');
      }
    }
    expect((await fetch(daemon.url('/rest-api/docs'))).status).toBe(401);
    const docs = await fetch(daemon.url('/rest-api/docs'), { headers: bearer });
    expect(docs.status).toBe(200);
    expect(JSON.stringify(await docs.json())).toContain('"restApiToken":{"type":"http","scheme":"bearer"');

    const records = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', {}, bearer);
    expect(records.status).toBe(200);
    expect(records.body.map((r) => r.fileName).sort()).toEqual(['long.mp4', 'secure.mp4']);
    expect((await postJson(daemon, '/rest-api/recorder/find_all', {}, bearer)).status).toBe(404);
    expect((await postJson(daemon, '/rest-api/stream/find', { name: 'secure' }, bearer)).status).toBe(404);
  });

  it('/client/records needs records_access_token, as Bearer or ?token=', async () => {
    const whole = fs.readFileSync(path.join(daemon.recordDir, 'secure.mp4'));
    for (const [p, headers] of [
      ['/client/records/secure.mp4', {}],
      ['/client/records/secure.mp4?token=wrong', {}],
      ['/client/records/secure.mp4', { authorization: `Bearer ${REST_TOKEN}` }],
      ['/client/records/missing.mp4', {}],
      ['/client/records/..%2Fconf%2Fkey.pem', {}],
      ['/client/records/secure.mp4?start=1&end=2', {}],
    ] as const) {
      const res = await rawRequest(daemon.httpPort, p, 'GET', headers);
      expect(res.status, p).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="records"');
    }
    const byQuery = await rawRequest(daemon.httpPort, `/client/records/secure.mp4?token=${RECORDS_TOKEN}`);
    expect(byQuery.status).toBe(200);
    expect(byQuery.body.equals(whole)).toBe(true);
    const byHeader = await rawRequest(daemon.httpPort, '/client/records/secure.mp4', 'GET', { authorization: `Bearer ${RECORDS_TOKEN}` });
    expect(byHeader.status).toBe(200);
    expect((await rawRequest(daemon.httpPort, `/client/records/missing.mp4?token=${RECORDS_TOKEN}`)).status).toBe(404);
    expect((await rawRequest(daemon.httpPort, `/client/records/..%2Fconf%2Fkey.pem?token=${RECORDS_TOKEN}`)).status).toBe(404);
  });

  it('stores parts in mp4_cutter_dir, never in record_dir', async () => {
    const res = await rawRequest(daemon.httpPort, `/client/records/secure.mp4?start=1&end=3&token=${RECORDS_TOKEN}`);
    expect(res.status).toBe(200);
    const part = path.join(daemon.home, 'cuts', 'secure-s1-e3.mp4');
    expect(res.body.equals(fs.readFileSync(part))).toBe(true);
    expect(Math.abs(Number(ffprobe(part).format.duration) - 2)).toBeLessThanOrEqual(GOP);
    expect(fs.readdirSync(daemon.recordDir).filter((f) => !f.startsWith('.')).sort()).toEqual(['long.mp4', 'secure.mp4']);
    const again = await rawRequest(daemon.httpPort, '/client/records/secure.mp4?start=1&end=3', 'GET', { authorization: `Bearer ${RECORDS_TOKEN}` });
    expect(again.body.equals(res.body)).toBe(true);
  });

  it('serves the same API and records over https.port', async () => {
    const list = await httpsRequest(httpsPort, cert, '/rest-api/recorder/find_records', 'POST', { ...bearer, 'content-type': 'application/json' }, '{}');
    expect(list.status).toBe(200);
    const records = (JSON.parse(list.body.toString()) as RecordJson[]).filter((r) => r.fileName === 'secure.mp4');
    expect(records[0]!.downloadUrl).toBe(`https://127.0.0.1:${httpsPort}/client/records/secure.mp4`);
    const refused = await httpsRequest(httpsPort, cert, '/rest-api/stream/find_all', 'POST', { 'content-type': 'application/json' }, '{}');
    expect(refused.status).toBe(401);
    const file = await httpsRequest(httpsPort, cert, `/client/records/secure.mp4?token=${RECORDS_TOKEN}`, 'GET', {});
    expect(file.status).toBe(200);
    expect(file.body.equals(fs.readFileSync(path.join(daemon.recordDir, 'secure.mp4')))).toBe(true);
  });

  it.skipIf(!hasStrace())('a cut reads nothing of the record before the keyframe at or before S', async () => {
    const long = path.join(daemon.recordDir, 'long.mp4');
    const res = await rawRequest(daemon.httpPort, `/client/records/long.mp4?start=50&end=55&token=${RECORDS_TOKEN}`);
    expect(res.status).toBe(200);
    const traces = fs.readdirSync(daemon.home).filter((f) => f.startsWith('cut-trace.'));
    const spans = traces.flatMap((t) => readSpans(fs.readFileSync(path.join(daemon.home, t), 'utf8'), fs.realpathSync(long)));
    expect(spans.length).toBeGreaterThan(0);
    // where the media data starts, and where the GOP holding S = 50 s starts
    const packets = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts_time,pos,flags,codec_type', '-of', 'csv=p=0', long], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(','))
      .map(([type, pts, pos, flags]) => ({ type, pts: Number(pts), pos: Number(pos), key: (flags ?? '').includes('K') }))
      .filter((p) => Number.isFinite(p.pos) && Number.isFinite(p.pts));
    const mediaStart = Math.min(...packets.map((p) => p.pos));
    const gopStart = packets.filter((p) => p.type === 'video' && p.key && p.pts <= 50).at(-1)!.pos;
    expect(mediaStart).toBeLessThan(gopStart - 1024 * 1024);
    const slack = 64 * 1024; // ffmpeg reads in 32 KiB blocks
    const before = spans.filter(([from, to]) => to > mediaStart + slack && from < gopStart - slack);
    expect(before, `reads inside the media before S (media ${mediaStart}..${gopStart})`).toEqual([]);
    const total = spans.reduce((n, [from, to]) => n + to - from, 0);
    expect(total).toBeLessThan(fs.statSync(long).size * 0.3);
  });

  it('a cut running at shutdown is killed: the daemon exits at once, leaving no ffmpeg, temp file or part', async () => {
    const request = rawRequest(daemon.httpPort, `/client/records/long.mp4?start=13&end=40&token=${RECORDS_TOKEN}`).catch((err: Error) => err);
    let cutPid = 0;
    await waitFor(
      () => {
        const line = daemon.output.split('\n').find((l) => l.includes('"msg":"Cutting record part"') && l.includes('long-s13-e40.mp4'));
        cutPid = line ? (JSON.parse(line) as { ffmpegPid: number }).ffmpegPid : 0;
        return cutPid > 0;
      },
      10_000,
      'the slow cut to start',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(cutPid)).toBe(true);
    const stopping = Date.now();
    expect((await daemon.stop()).code).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5000);
    expect(isAlive(cutPid)).toBe(false);
    // the waiting request is answered before the listener closes
    const answer = await request;
    expect(answer).not.toBeInstanceOf(Error);
    expect((answer as { status: number }).status).toBe(503);
    const cuts = path.join(daemon.home, 'cuts');
    expect(fs.readdirSync(cuts).filter((f) => f.startsWith('.cut-') || f.startsWith('long-s13'))).toEqual([]);
  });
});
