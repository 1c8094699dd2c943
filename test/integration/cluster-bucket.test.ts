import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, durationOf, ffprobe, makeClip, publish } from '../helpers/media.js';
import { PgTestServer, postgresMissing } from '../helpers/postgres.js';
import { postJson } from '../helpers/rest.js';
import { sha256File, TestS3, useS3Credentials } from '../helpers/s3.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Issue 19, "stop A → B still serves A's uploaded records": two daemons on
 * one PostgreSQL catalog (a real throw-away server) and one bucket (s3rver),
 * uploads with record_upload_delete_local=true. A records with real ffmpeg
 * over RTMP, uploads and deletes its file, then stops; B still finds the
 * record, downloads it (whole, a byte range, a cut) and plays a time range
 * from the bucket. The upload queue and the webhook outbox live in the
 * shared database: B lists A's upload, and each event arrives once.
 */

const missing = postgresMissing();
if (missing !== null) console.warn(`cluster bucket integration test skipped: ${missing}`);

interface UploadJson {
  state: string;
  key: string;
  size: number;
  sha256: string | null;
  localDeleted: boolean;
}

interface RecordJson {
  fileName: string;
  nodeId: string;
  streamName: string;
  startTimeMillis: number;
  endTimeMillis: number;
  state: string;
  downloadUrl: string | null;
  upload: UploadJson | null;
}

async function recordsOf(d: DaemonHandle, streamName: string): Promise<RecordJson[]> {
  const res = await postJson<{ records: RecordJson[] }>(d, '/rest-api/records/find', { streamName });
  expect(res.status).toBe(200);
  return res.body.records;
}

async function get(d: DaemonHandle, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(d.url(p), { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

describe.skipIf(missing !== null)("two recorders on one PostgreSQL catalog and one bucket: A stopped, B serves A's uploaded records", () => {
  let pg: PgTestServer;
  let s3: TestS3;
  let hooks: WebhookReceiver;
  let a: DaemonHandle;
  let b: DaemonHandle;
  let record: RecordJson;
  let uploadedSha: string;
  let uploadedSize: number;

  beforeAll(async () => {
    useS3Credentials();
    pg = await PgTestServer.start();
    s3 = await TestS3.start();
    hooks = await WebhookReceiver.start();
    const url = await pg.createDatabase('cluster_bucket_it');
    const common = {
      catalog_url: url,
      cluster_heartbeat_interval: 1,
      cluster_node_timeout: 5,
      stream_record_policy_template: '{streamName}-{startTimeMillis}',
      record_upload_url: `s3://${s3.bucket}/rec/`,
      record_upload_endpoint: s3.endpoint,
      record_upload_force_path_style: true,
      record_upload_delete_local: true,
      record_upload_retry_min_delay: 1,
      record_upload_retry_max_delay: 2,
      record_webhook_url: hooks.url,
      record_webhook_secret: 'cluster-bucket-hooks',
      record_webhook_retry_min_delay: 1,
      record_webhook_retry_max_delay: 2,
    };
    [a, b] = await Promise.all([startDaemon({ ...common, node_id: 'node-a' }), startDaemon({ ...common, node_id: 'node-b' })]);
  }, 120_000);

  afterAll(async () => {
    for (const d of [a, b]) if (d) await d.stop();
    await hooks?.close();
    await s3?.close();
    await pg?.stop();
  }, 60_000);

  it('A records, uploads, verifies and deletes its file; the upload row is in the shared database (B lists it)', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 1 });
    const p = publish(clip, a.rtmpUrl('camU'));
    expect(await p.exited, p.stderr()).toBe(0);
    // the bytes A uploads: read while A still has its file (it is deleted once the upload is verified)
    let file = '';
    await waitFor(
      async () => {
        const rec = (await recordsOf(a, 'camU')).find((r) => r.state === 'finished' || r.state === 'remote');
        if (!rec) return false;
        record = rec;
        file = path.join(a.recordDir, rec.fileName);
        return true;
      },
      30_000,
      "camU's record on A",
    );
    expect(record.nodeId).toBe('node-a');
    await waitFor(
      async () => {
        const rec = (await recordsOf(b, 'camU')).find((r) => r.fileName === record.fileName);
        if (rec?.upload?.state !== 'uploaded' || !rec.upload.localDeleted) return false;
        record = rec;
        return true;
      },
      60_000,
      "camU's record uploaded and its local file deleted, seen from B",
    );
    expect(fs.existsSync(file)).toBe(false);
    expect(record.state).toBe('remote');
    expect(record.upload).toMatchObject({ key: `rec/${record.fileName}` });
    uploadedSha = record.upload!.sha256!;
    uploadedSize = record.upload!.size;
    expect(await s3.sha256(`rec/${record.fileName}`)).toBe(uploadedSha);

    // the upload queue is the shared one: B lists the row A made and worked
    const res = await fetch(b.url('/rest-api/uploads'));
    expect(res.status).toBe(200);
    const list = (await res.json()) as { enabled: boolean; counts: Record<string, number>; uploads: ({ fileName: string } & UploadJson & { node?: string })[] };
    expect(list.enabled).toBe(true);
    expect(list.counts.uploaded).toBe(1);
    expect(list.uploads.map((u) => [u.fileName, u.state, u.sha256])).toEqual([[record.fileName, 'uploaded', uploadedSha]]);
    // B never recorded or uploaded anything of its own
    expect(fs.readdirSync(b.recordDir).filter((f) => f.endsWith('.mp4'))).toEqual([]);
  }, 120_000);

  it('webhooks from the shared outbox: each event once, whichever node delivered it', async () => {
    const wanted = ['stream.published', 'recording.started', 'recording.finished', 'stream.unpublished', 'record.uploaded'];
    await waitFor(() => wanted.every((t) => hooks.accepted().some((e) => e.type === t)), 60_000, `webhooks ${wanted.join(', ')}`);
    const accepted = hooks.accepted();
    const ids = accepted.map((e) => e.id);
    expect(new Set(ids).size, JSON.stringify(accepted.map((e) => [e.id, e.type]))).toBe(ids.length);
    for (const t of wanted) expect(accepted.filter((e) => e.type === t), t).toHaveLength(1);
    expect(accepted.find((e) => e.type === 'record.uploaded')?.data).toMatchObject({ fileName: record.fileName, key: `rec/${record.fileName}` });
    // the delivery state is the shared one: B lists A's deliveries, delivered
    const res = await fetch(b.url('/rest-api/webhooks/deliveries?limit=100'));
    expect(res.status).toBe(200);
    const deliveries = ((await res.json()) as { deliveries: { eventId: string; state: string }[] }).deliveries;
    expect(new Set(deliveries.map((d) => d.eventId))).toEqual(new Set(ids));
    expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);
  }, 90_000);

  it('A stopped (SIGTERM): B still finds the record and downloads it from the bucket, whole and a byte range', async () => {
    expect((await a.stop()).code).toBe(0);
    const found = await recordsOf(b, 'camU');
    expect(found.map((r) => [r.fileName, r.nodeId, r.state])).toEqual([[record.fileName, 'node-a', 'remote']]);
    expect(found[0]!.downloadUrl).toContain(`/client/records/${encodeURIComponent(record.fileName)}`);
    const name = encodeURIComponent(record.fileName);
    const whole = await get(b, `/client/records/${name}`);
    expect(whole.status, whole.body.toString().slice(0, 300)).toBe(200);
    expect(whole.headers.get('x-record-source')).toBe('bucket');
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(whole.body.length).toBe(uploadedSize);
    expect(crypto.createHash('sha256').update(whole.body).digest('hex')).toBe(uploadedSha);
    const wholeFile = path.join(b.home, 'whole.mp4');
    fs.writeFileSync(wholeFile, whole.body);
    expect(sha256File(wholeFile)).toBe(uploadedSha);
    expect(ffprobe(wholeFile).streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(durationOf(wholeFile)).toBeGreaterThan(4);
    const part = await get(b, `/client/records/${name}`, { range: 'bytes=100-1099' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${uploadedSize}`);
    expect(part.body.equals(whole.body.subarray(100, 1100))).toBe(true);
  }, 60_000);

  it('A stopped: B cuts the record (?start=&end=) from the bucket copy', async () => {
    const cut = await get(b, `/client/records/${encodeURIComponent(record.fileName)}?start=1&end=4`);
    expect(cut.status, cut.body.toString().slice(0, 300)).toBe(200);
    // a cut, not the whole record
    expect(cut.body.length).toBeLessThan(uploadedSize);
    const cutFile = path.join(b.home, 'cut.mp4');
    fs.writeFileSync(cutFile, cut.body);
    const v = ffprobe(cutFile).streams.find((s) => s.codec_type === 'video');
    expect(Number(v?.duration)).toBeGreaterThan(2);
    expect(Number(v?.duration)).toBeLessThan(4.5);
    expect(decodeErrors(cutFile)).toBe('');
  }, 60_000);

  it('A stopped: B plays a time range of the stream A recorded, read from the bucket (not proxied to A)', async () => {
    const from = record.startTimeMillis + 1000;
    const to = record.startTimeMillis + 4000;
    const res = await get(b, `/client/streams/camU.mp4?from=${from}&to=${to}`);
    expect(res.status, res.body.toString().slice(0, 300)).toBe(200);
    expect(res.headers.get('x-recording-range')).toBe(`${from}-${to}`);
    expect(res.headers.get('x-wcs-node')).toBeNull();
    const file = path.join(b.home, 'range.mp4');
    fs.writeFileSync(file, res.body);
    expect(ffprobe(file).streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    const v = Number(ffprobe(file).streams.find((s) => s.codec_type === 'video')?.duration);
    // three seconds asked; the answer starts on the keyframe at or before `from` (1 s GOP)
    expect(v).toBeGreaterThan(2.5);
    expect(v).toBeLessThan(4.5);
    expect(decodeErrors(file)).toBe('');
    expect(b.output).not.toMatch(/Record of another node cannot be served|Time-range playback from another node cannot be served/);
  }, 60_000);
  it("A stopped: the stream goes on on B; B plays a range over A's bucket-only part and its own part", async () => {
    const p = publish(makeClip({ video: true, audio: true, seconds: 4, gop: 1 }), b.rtmpUrl('camU'));
    expect(await p.exited, p.stderr()).toBe(0);
    let onB: RecordJson | undefined;
    await waitFor(
      async () => {
        onB = (await recordsOf(b, 'camU')).find((r) => r.nodeId === 'node-b' && (r.state === 'finished' || r.state === 'remote'));
        return onB !== undefined;
      },
      30_000,
      "camU's record on B",
    );
    const from = record.startTimeMillis;
    const to = onB!.endTimeMillis;
    const res = await get(b, `/client/streams/camU.mp4?from=${from}&to=${to}`);
    expect(res.status, res.body.toString().slice(0, 300)).toBe(200);
    expect(res.headers.get('x-recording-range')).toBe(`${from}-${to}`);
    const file = path.join(b.home, 'both.mp4');
    fs.writeFileSync(file, res.body);
    const v = Number(ffprobe(file).streams.find((s) => s.codec_type === 'video')?.duration);
    const partA = (record.endTimeMillis - record.startTimeMillis) / 1000;
    const partB = (onB!.endTimeMillis - onB!.startTimeMillis) / 1000;
    // both parts are in the answer: longer than either, about their sum
    expect(v).toBeGreaterThan(Math.max(partA, partB) + 1);
    expect(Math.abs(v - (partA + partB))).toBeLessThan(1.5);
    expect(decodeErrors(file)).toBe('');
    // A's part came from the bucket, never from the stopped node
    expect(b.output).not.toMatch(/Copied a part from another node for playback|cannot be served/);
  }, 90_000);
});
