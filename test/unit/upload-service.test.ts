import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordRow } from '../../src/catalog/catalog.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import type { S3Bucket } from '../../src/storage/s3-bucket.js';
import { SqliteUploadStore } from '../../src/storage/sqlite-upload-store.js';
import { UploadService } from '../../src/storage/upload-service.js';

let dir: string;
let catalog: SqliteCatalog;

function row(fileName: string, endMs: number, over: Partial<RecordRow> = {}): RecordRow {
  return {
    fileName, dir, streamName: 'cam', mediaSessionId: 'm', provider: 'RTMP', login: '', startMs: endMs - 1000, endMs, durationMs: 1000, size: 10,
    container: 'mp4', videoCodec: 'H264', audioCodec: 'AAC', width: 640, height: 360, part: 1, state: 'finished', mtimeMs: endMs, ...over,
  };
}

/** A store that is never reached: every upload fails (the rows stay queued). */
const unreachable = {
  bucket: 'b',
  upload: async () => {
    throw new Error('unreachable');
  },
  head: async () => {
    throw new Error('unreachable');
  },
  close: () => undefined,
} as unknown as S3Bucket;

function service(store: SqliteUploadStore): UploadService {
  return new UploadService(
    store,
    unreachable,
    catalog,
    { node: 'n1', target: { bucket: 'b', prefix: 'p/' }, concurrency: 1, partSize: 5 * 1024 * 1024, deleteLocal: false, verify: 'etag', retryMinMs: 60_000, retryMaxMs: 60_000, maxAttempts: 5, pollMs: 60_000, takeover: null },
    pino({ level: 'silent' }),
  );
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-sweep-'));
  catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
});
afterEach(async () => {
  await catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('UploadService start-up sweep', () => {
  it('queues records finished since uploads were turned on that were never queued; older ones and foreign files are left alone', async () => {
    const store = new SqliteUploadStore(catalog.database);
    await catalog.upsert(row('before.mp4', Date.now() - 60_000));
    const first = service(store);
    await first.start();
    await first.close();
    expect((await store.list({})).total).toBe(0);

    // finished after uploads were turned on, but the daemon died before queueing them
    const later = Date.now() + 1000;
    await catalog.upsertMany([row('missed.mp4', later), row('foreign.mp4', later, { provider: 'file', streamName: null }), row('rec.mp4', later, { state: 'recovered' })]);
    const second = service(store);
    await second.start();
    await second.close();
    const queued = (await store.list({})).rows.map((r) => r.fileName).sort();
    expect(queued).toEqual(['missed.mp4', 'rec.mp4']);
    expect((await store.get('missed.mp4'))?.key).toBe('p/missed.mp4');
  });
});

describe('UploadService verification', () => {
  it('an object whose HEAD does not match the file is never taken for uploaded, and the local file stays', async () => {
    const store = new SqliteUploadStore(catalog.database);
    const file = path.join(dir, 'cam-1.mp4');
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    await catalog.upsert(row('cam-1.mp4', Date.now()));
    let uploads = 0;
    // the store accepts the upload but holds something else (a truncated object, another ETag)
    const lying = {
      bucket: 'b',
      upload: async () => {
        uploads++;
      },
      head: async () => ({ size: 4096, etag: '"0123456789abcdef0123456789abcdef"', lastModified: new Date() }),
      close: () => undefined,
    } as unknown as S3Bucket;
    const svc = new UploadService(
      store,
      lying,
      catalog,
      { node: 'n1', target: { bucket: 'b', prefix: '' }, concurrency: 1, partSize: 5 * 1024 * 1024, deleteLocal: true, verify: 'etag', retryMinMs: 60_000, retryMaxMs: 60_000, maxAttempts: 5, pollMs: 60_000, takeover: null },
      pino({ level: 'silent' }),
    );
    await svc.start();
    await svc.enqueue({ fileName: 'cam-1.mp4', dir, size: 4096, startMs: Date.now() - 1000 });
    const deadline = Date.now() + 10_000;
    while ((await store.get('cam-1.mp4'))?.attempts !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await svc.close();
    const r = await store.get('cam-1.mp4');
    expect(uploads).toBe(1);
    expect(r).toMatchObject({ state: 'pending', attempts: 1, localDeleted: false, uploadedMs: null });
    expect(r?.lastError).toMatch(/verification failed: the bucket's ETag/);
    expect(fs.existsSync(file)).toBe(true);
    expect((await catalog.get('cam-1.mp4'))?.state).toBe('finished');
  });
});
