import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/events/webhook-signature.js';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, ffprobe, makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson } from '../helpers/rest.js';
import { sha256File, TestS3, useS3Credentials } from '../helpers/s3.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

interface UploadJson {
  state: string;
  bucket: string;
  key: string;
  size: number;
  attempts: number;
  lastError: string | null;
  sha256: string | null;
  localDeleted: boolean;
}
interface RecordJson {
  fileName: string;
  streamName: string | null;
  startTimeMillis: number;
  endTimeMillis: number | null;
  size: number;
  state: string;
  downloadUrl: string | null;
  upload: UploadJson | null;
}

const SECRET = 'hook-secret-19';
const daemons: DaemonHandle[] = [];
const publishers: Publisher[] = [];
const closers: (() => Promise<void>)[] = [];
let s3: TestS3;

beforeAll(async () => {
  useS3Credentials();
  s3 = await TestS3.start();
});
afterAll(async () => {
  await s3.close();
});
afterEach(async () => {
  for (const p of publishers.splice(0)) p.proc.kill('SIGKILL');
  for (const d of daemons.splice(0)) await d.stop();
  for (const c of closers.splice(0)) await c();
});

async function start(props: Record<string, string | number | boolean>, home?: string): Promise<DaemonHandle> {
  const d = await startDaemon(
    {
      record_upload_url: `s3://${s3.bucket}/rec/`,
      record_upload_endpoint: s3.endpoint,
      record_upload_force_path_style: true,
      record_upload_part_size: '5m',
      record_upload_retry_min_delay: 1,
      record_upload_retry_max_delay: 2,
      ...props,
    },
    home,
  );
  daemons.push(d);
  return d;
}

/** A clip that does not compress (noise over the test pattern): 12 Mbit/s H.264 + AAC, 5 s (made once). */
function noisyClip(): string {
  const file = path.join(os.tmpdir(), 'wcs-test-media', 'clip-noise-5s-12M.mp4');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30,noise=alls=40:allf=t',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '5', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '12M', '-minrate', '12M', '-maxrate', '12M', '-bufsize', '4M',
    '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k', tmp,
  ]);
  fs.renameSync(tmp, file);
  return file;
}

async function records(d: DaemonHandle, streamName: string): Promise<RecordJson[]> {
  const res = await postJson<{ records: RecordJson[] }>(d, '/rest-api/records/find', { streamName });
  expect(res.status).toBe(200);
  return res.body.records;
}

/** Publishes a clip to the end and waits for its record in the catalog. */
async function recordClip(d: DaemonHandle, stream: string, clip: string): Promise<RecordJson> {
  const pub = publish(clip, d.rtmpUrl(stream));
  publishers.push(pub);
  expect(await pub.exited).toBe(0);
  let rec: RecordJson | undefined;
  await waitFor(
    async () => {
      rec = (await records(d, stream)).find((r) => r.state === 'finished' || r.state === 'remote');
      return rec !== undefined;
    },
    30_000,
    `the record of ${stream}`,
  );
  return rec!;
}

async function uploadOf(d: DaemonHandle, stream: string, check: (u: UploadJson) => boolean, what: string, timeoutMs = 60_000): Promise<RecordJson> {
  let found: RecordJson | undefined;
  await waitFor(
    async () => {
      found = (await records(d, stream)).find((r) => r.upload !== null && check(r.upload));
      return found !== undefined;
    },
    timeoutMs,
    what,
  );
  return found!;
}

describe('records to S3-compatible storage and webhooks (issue 19)', () => {
  it('uploads a record by multipart upload, verified; webhooks arrive signed, once per event id, and are redelivered after the receiver fails', async () => {
    const hooks = await WebhookReceiver.start();
    closers.push(() => hooks.close());
    // the first two POSTs fail (500): those events must come again
    hooks.answer = (_body, i) => (i < 2 ? 500 : 204);
    const d = await start({ record_webhook_url: hooks.url, record_webhook_secret: SECRET, record_webhook_retry_min_delay: 1, record_webhook_retry_max_delay: 2 });
    // noise at 12 Mbit/s for 5 s: a record above the 5 MiB part size, so the upload takes several parts
    const rec = await recordClip(d, 'up1', noisyClip());
    const file = path.join(d.recordDir, rec.fileName);
    const uploaded = await uploadOf(d, 'up1', (u) => u.state === 'uploaded', 'upload verified');
    const localSha = sha256File(file);
    expect(uploaded.upload).toMatchObject({ bucket: s3.bucket, key: `rec/${rec.fileName}`, size: fs.statSync(file).size, sha256: localSha, localDeleted: false });
    expect(await s3.sha256(`rec/${rec.fileName}`)).toBe(localSha);
    expect(uploaded.state).toBe('finished');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.statSync(file).size, 'a record larger than one 5 MiB part').toBeGreaterThan(5 * 1024 * 1024);

    const wanted = ['stream.published', 'recording.started', 'recording.finished', 'stream.unpublished', 'record.uploaded'];
    await waitFor(() => wanted.every((t) => hooks.accepted().some((e) => e.type === t)), 60_000, `webhooks ${wanted.join(', ')}`);
    for (const r of hooks.received) {
      expect(verifyWebhookSignature(SECRET, r.body, r.headers['x-wcs-signature'] as string | undefined), `signature of ${r.body}`).toBe(true);
      expect(r.headers['x-wcs-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      const event = JSON.parse(r.body) as { id: string; type: string };
      expect(r.headers['x-wcs-event-id']).toBe(event.id);
      expect(r.headers['x-wcs-event']).toBe(event.type);
    }
    // the failed ones came again with the same id and body, and each event id was accepted once
    const failed = hooks.received.filter((r) => r.status === 500);
    expect(failed).toHaveLength(2);
    for (const f of failed) expect(hooks.received.filter((r) => r.status === 204 && r.body === f.body)).toHaveLength(1);
    const ids = hooks.accepted().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const finished = hooks.accepted().find((e) => e.type === 'recording.finished')!;
    expect(finished.data).toMatchObject({ fileName: rec.fileName, streamName: 'up1', size: fs.statSync(file).size, recovered: false, checksum: { algorithm: 'sha256', value: localSha } });
    expect(finished.data.mediaSessionId).toEqual(expect.any(String));
    expect(finished.data.durationMillis).toBeGreaterThan(3000);
    const up = hooks.accepted().find((e) => e.type === 'record.uploaded')!;
    expect(up.data).toMatchObject({ fileName: rec.fileName, key: `rec/${rec.fileName}`, checksum: { algorithm: 'sha256', value: localSha } });

    // delivery state in the API: the two redelivered ones took two attempts
    const res = await fetch(d.url('/rest-api/webhooks/deliveries?limit=100'));
    const deliveriesText = await res.text();
    expect(res.status, deliveriesText).toBe(200);
    const deliveries = JSON.parse(deliveriesText) as { enabled: boolean; deliveries: { eventId: string; state: string; attempts: number; lastStatus: number }[] };
    expect(deliveries.enabled).toBe(true);
    expect(deliveries.deliveries.filter((x) => x.attempts === 2 && x.state === 'delivered')).toHaveLength(2);
    expect(deliveries.deliveries.every((x) => x.state === 'delivered' && x.lastStatus === 204)).toBe(true);
    // the upload queue in the API; no credentials anywhere in the answers or the log
    const queue = (await (await fetch(d.url('/rest-api/uploads'))).json()) as { counts: Record<string, number> };
    expect(queue.counts.uploaded).toBe(1);
    expect(d.output).not.toContain('S3RVER');
    expect(d.output).not.toContain(SECRET);
  });

  it('with the endpoint down, retries until it is back; nothing is deleted before it is verified; then the record downloads, cuts and plays a time range from the bucket', async () => {
    const proxy = await TcpProxy.start(s3.port, 'refuse');
    closers.push(() => proxy.close());
    const d = await start({ record_upload_endpoint: proxy.url, record_upload_delete_local: true });
    const rec = await recordClip(d, 'down1', makeClip({ video: true, audio: true, seconds: 6, gop: 1 }));
    const file = path.join(d.recordDir, rec.fileName);
    const localSha = sha256File(file);
    const localSize = fs.statSync(file).size;
    const retried = await uploadOf(d, 'down1', (u) => u.state === 'pending' && u.attempts >= 2 && u.lastError !== null, 'two failed tries');
    expect(proxy.seen.refuse).toBeGreaterThanOrEqual(2);
    expect(retried.state).toBe('finished');
    expect(fs.existsSync(file), 'the local file is kept while the upload is not verified').toBe(true);
    expect(await s3.exists(`rec/${rec.fileName}`)).toBe(false);

    proxy.mode = 'open';
    const done = await uploadOf(d, 'down1', (u) => u.state === 'uploaded' && u.localDeleted, 'upload verified after the endpoint came back');
    expect(done.upload!.attempts).toBeGreaterThanOrEqual(2);
    expect(await s3.sha256(`rec/${rec.fileName}`)).toBe(localSha);
    expect(fs.existsSync(file)).toBe(false);
    expect(done.state).toBe('remote');
    expect(done.downloadUrl).not.toBeNull();

    // the whole record, from the bucket through the daemon
    const whole = await fetch(d.url(`/client/records/${encodeURIComponent(rec.fileName)}`));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('x-record-source')).toBe('bucket');
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(bytes.length).toBe(localSize);
    expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(localSha);
    // a byte range (players seek)
    const part = await fetch(d.url(`/client/records/${encodeURIComponent(rec.fileName)}`), { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${localSize}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bucket-reads-'));
    closers.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));
    // a cut
    const cut = await fetch(d.url(`/client/records/${encodeURIComponent(rec.fileName)}?start=1&end=4`));
    expect(cut.status).toBe(200);
    const cutFile = path.join(tmp, 'cut.mp4');
    fs.writeFileSync(cutFile, Buffer.from(await cut.arrayBuffer()));
    expect(durationOf(cutFile)).toBeGreaterThan(2.5);
    expect(durationOf(cutFile)).toBeLessThan(4);
    // a time range of the stream
    const from = rec.startTimeMillis + 1000;
    const to = rec.startTimeMillis + 4000;
    const range = await fetch(d.url(`/client/streams/down1.mp4?from=${from}&to=${to}`));
    expect(range.status).toBe(200);
    const rangeFile = path.join(tmp, 'range.mp4');
    fs.writeFileSync(rangeFile, Buffer.from(await range.arrayBuffer()));
    expect(ffprobe(rangeFile).streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(durationOf(rangeFile)).toBeGreaterThan(2.5);
    expect(durationOf(rangeFile)).toBeLessThan(4);
    // a name that is not a record never reaches the bucket
    expect((await fetch(d.url('/client/records/..%2Fetc%2Fpasswd'))).status).toBe(404);
  });

  it('a SIGKILL mid-upload: after the restart the upload starts again and completes', async () => {
    // the store's connection is held: the upload cannot progress, whatever the machine's speed
    const proxy = await TcpProxy.start(s3.port, 'hold');
    closers.push(() => proxy.close());
    const d = await start({ record_upload_endpoint: proxy.url, record_upload_delete_local: true });
    const rec = await recordClip(d, 'kill1', makeClip({ video: true, audio: true, seconds: 4, gop: 1 }));
    const file = path.join(d.recordDir, rec.fileName);
    const localSha = sha256File(file);
    await uploadOf(d, 'kill1', (u) => u.state === 'uploading', 'upload in progress');
    await waitFor(() => proxy.seen.hold > 0, 30_000, 'the upload connection held');
    d.proc.kill('SIGKILL');
    await d.exited;
    daemons.splice(daemons.indexOf(d), 1);
    expect(fs.existsSync(file), 'nothing deleted before verification').toBe(true);
    expect(await s3.exists(`rec/${rec.fileName}`)).toBe(false);

    proxy.mode = 'open';
    const again = await start({ record_upload_endpoint: proxy.url, record_upload_delete_local: true }, d.home);
    await again.waitForOutput(/Uploads interrupted by a stop or crash are queued again/);
    const done = await uploadOf(again, 'kill1', (u) => u.state === 'uploaded', 'the upload resumed after restart');
    expect(done.upload!.sha256).toBe(localSha);
    expect(await s3.sha256(`rec/${rec.fileName}`)).toBe(localSha);
    expect(fs.existsSync(file)).toBe(false);
    expect(done.state).toBe('remote');
  });
  it('webhook deliveries survive a restart; bucket retention removes bucket copies and says so', async () => {
    const hooks = await WebhookReceiver.start();
    closers.push(() => hooks.close());
    hooks.answer = () => 503;
    const props = { record_upload_delete_local: true, record_webhook_url: hooks.url, record_webhook_secret: SECRET, record_webhook_retry_min_delay: 1, record_webhook_retry_max_delay: 2 };
    const d = await start(props);
    const rec = await recordClip(d, 'keep1', makeClip({ video: true, audio: true, seconds: 3, gop: 1 }));
    await uploadOf(d, 'keep1', (u) => u.state === 'uploaded' && u.localDeleted, 'upload verified');
    await waitFor(() => hooks.received.some((r) => JSON.parse(r.body).type === 'record.uploaded'), 30_000, 'record.uploaded tried');
    await d.stop();
    daemons.splice(daemons.indexOf(d), 1);
    const tried = new Set(hooks.received.map((r) => (JSON.parse(r.body) as { id: string }).id));
    expect(hooks.accepted()).toHaveLength(0);

    // the receiver is back; a new daemon on the same home delivers what the outbox kept
    hooks.answer = () => 204;
    const again = await start({ ...props, record_upload_retention_max_size: 1, record_upload_retention_check_interval: 1 }, d.home);
    await waitFor(() => [...tried].every((id) => hooks.accepted().some((e) => e.id === id)), 60_000, 'every stored event delivered after the restart').catch(async (err: Error) => {
      const state = await (await fetch(again.url('/rest-api/webhooks/deliveries'))).text();
      throw new Error(`${err.message}; deliveries: ${state}; received ${hooks.received.length}; log: ${again.output.split('\n').filter((l) => l.includes('ebhook')).slice(-10).join('\n')}`);
    });
    const ids = hooks.accepted().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);

    // bucket retention (at most 1 byte in the bucket): the only copy goes, and the bucket-only record with it
    await waitFor(async () => !(await s3.exists(`rec/${rec.fileName}`)), 60_000, 'bucket copy deleted by retention');
    let deleted: RecordJson | undefined;
    await waitFor(
      async () => {
        const res = await postJson<{ records: (RecordJson & { deletedReason: string | null })[] }>(again, '/rest-api/records/find', { streamName: 'keep1', state: 'deleted' });
        deleted = res.body.records.find((r) => r.fileName === rec.fileName && r.deletedReason === 'bucket_max_size');
        return deleted !== undefined;
      },
      30_000,
      'the record deleted by bucket retention',
    );
    expect((await fetch(again.url(`/client/records/${encodeURIComponent(rec.fileName)}`))).status).toBe(404);
    await waitFor(() => hooks.accepted().some((e) => e.type === 'record.deleted' && e.data.fileName === rec.fileName), 30_000, 'record.deleted');
    const gone = hooks.accepted().find((e) => e.type === 'record.deleted' && e.data.fileName === rec.fileName)!;
    expect(gone.data).toMatchObject({ reason: 'bucket_max_size', bucket: true, local: false, recordDeleted: true });
  }, 240_000);

  it('a REST delete of a record only in the bucket deletes the bucket copy', async () => {
    const d = await start({ record_upload_delete_local: true });
    const rec = await recordClip(d, 'del1', makeClip({ video: true, audio: true, seconds: 3, gop: 1 }));
    await uploadOf(d, 'del1', (u) => u.state === 'uploaded' && u.localDeleted, 'upload verified');
    expect(await s3.exists(`rec/${rec.fileName}`)).toBe(true);
    const res = await postJson(d, '/rest-api/records/delete', { fileName: rec.fileName });
    expect(res.status).toBe(200);
    expect(await s3.exists(`rec/${rec.fileName}`)).toBe(false);
    expect((await records(d, 'del1')).some((r) => r.fileName === rec.fileName)).toBe(false);
    expect((await fetch(d.url(`/client/records/${encodeURIComponent(rec.fileName)}`))).status).toBe(404);
  });
  it('a daemon killed while recording: after the restart, recovery finishes the record, it is uploaded, and recording.finished says recovered', async () => {
    const hooks = await WebhookReceiver.start();
    closers.push(() => hooks.close());
    const props = { record_webhook_url: hooks.url, record_webhook_secret: SECRET, record_webhook_retry_min_delay: 1, record_webhook_retry_max_delay: 2 };
    const d = await start(props);
    const pub = publish(makeClip({ video: true, audio: true, seconds: 8, gop: 1 }), d.rtmpUrl('crash1'), ['-stream_loop', '-1']);
    publishers.push(pub);
    await waitFor(() => hooks.accepted().some((e) => e.type === 'recording.started'), 30_000, 'recording.started');
    await waitFor(() => pub.sentSeconds() > 3, 30_000, '3 s sent');
    d.proc.kill('SIGKILL');
    await d.exited;
    daemons.splice(daemons.indexOf(d), 1);
    pub.proc.kill('SIGKILL');

    const again = await start(props, d.home);
    await again.waitForOutput(/Recovered an interrupted recording/, 30_000);
    const done = await uploadOf(again, 'crash1', (u) => u.state === 'uploaded', 'the recovered record uploaded');
    const local = path.join(again.recordDir, done.fileName);
    expect(await s3.sha256(`rec/${done.fileName}`)).toBe(sha256File(local));
    await waitFor(() => hooks.accepted().some((e) => e.type === 'recording.finished' && e.data.fileName === done.fileName), 30_000, 'recording.finished of the recovered record');
    const finished = hooks.accepted().find((e) => e.type === 'recording.finished' && e.data.fileName === done.fileName)!;
    expect(finished.data).toMatchObject({ recovered: true, checksum: { algorithm: 'sha256', value: sha256File(local) } });
  }, 180_000);
});
