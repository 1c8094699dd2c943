import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketDeletions } from '../../src/storage/bucket-retention.js';
import { digestFile, verifyObject } from '../../src/storage/file-digest.js';
import { objectKey } from '../../src/storage/upload-service.js';
import type { UploadRow } from '../../src/storage/upload-store.js';
import { endpointValue, uploadUrlValue, webhookUrlsValue } from '../../src/storage/upload-values.js';
import { eventBody } from '../../src/events/webhook-service.js';
import { verifyWebhookSignature, webhookSignature } from '../../src/events/webhook-signature.js';
import { backoffMs } from '../../src/util/backoff.js';
import { ValueError } from '../../src/config/values.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-logic-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('record_upload_url, record_upload_endpoint, record_webhook_url', () => {
  it.each([
    ['', null],
    ['s3://records', { bucket: 'records', prefix: '' }],
    ['s3://records/', { bucket: 'records', prefix: '' }],
    ['s3://my.bucket-1/cams/site a', { bucket: 'my.bucket-1', prefix: 'cams/site a/' }],
    ['  s3://rec/x/y/  ', { bucket: 'rec', prefix: 'x/y/' }],
  ])('%j -> %j', (raw, want) => expect(uploadUrlValue(raw)).toEqual(want));

  it.each(['http://bucket/x', 's3://', 's3://UPPER/x', 's3://ab/x', 's3://rec/../x', 's3://rec/a//b', 's3://rec/a\u0000b', 'bucket/prefix'])('refuses %j', (raw) =>
    expect(() => uploadUrlValue(raw)).toThrow(ValueError),
  );

  it('endpoints are http(s) URLs without credentials', () => {
    expect(endpointValue('')).toBeNull();
    expect(endpointValue('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000');
    expect(endpointValue('https://abc.r2.cloudflarestorage.com')).toBe('https://abc.r2.cloudflarestorage.com');
    for (const bad of ['ftp://x', 'http://user:pw@host', 'not a url', 'file:///etc/passwd']) expect(() => endpointValue(bad)).toThrow(ValueError);
  });

  it('webhook URLs: comma-separated http(s), de-duplicated, at most 10', () => {
    expect(webhookUrlsValue('')).toEqual([]);
    expect(webhookUrlsValue(' http://a/h , https://b:8443/x,http://a/h ')).toEqual(['http://a/h', 'https://b:8443/x']);
    for (const bad of ['javascript:alert(1)', 'http://a, ftp://b', 'file:///x', Array.from({ length: 11 }, (_, i) => `http://h${i}/`).join(',')]) {
      expect(() => webhookUrlsValue(bad)).toThrow(ValueError);
    }
  });

  it('object keys are the prefix and the file name', () => {
    expect(objectKey({ bucket: 'b', prefix: 'cams/' }, 'stream-1.mp4')).toBe('cams/stream-1.mp4');
    expect(objectKey({ bucket: 'b', prefix: '' }, 'x.mp4')).toBe('x.mp4');
  });
});

describe('digestFile and verifyObject', () => {
  const partSize = 1024;
  const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

  it.each([0, 1, 1023, 1024, 1025, 3000, 4096])('a %i-byte file: sha256, MD5 and the multipart ETag of 1 KiB parts', async (size) => {
    const bytes = crypto.randomBytes(size);
    const file = path.join(dir, `f${size}`);
    fs.writeFileSync(file, bytes);
    const d = await digestFile(file, partSize);
    expect(d.size).toBe(size);
    expect(d.sha256).toBe(crypto.createHash('sha256').update(bytes).digest('hex'));
    expect(d.md5).toBe(md5(bytes));
    const parts: Buffer[] = [];
    for (let o = 0; o < size; o += partSize) parts.push(crypto.createHash('md5').update(bytes.subarray(o, o + partSize)).digest());
    if (parts.length === 0) parts.push(crypto.createHash('md5').update(Buffer.alloc(0)).digest());
    expect(d.multipartEtag).toBe(`${md5(Buffer.concat(parts))}-${parts.length}`);
  });

  it('accepts the whole-file MD5 (s3rver, single PUT) or the multipart form (AWS, MinIO), with the size; nothing else', () => {
    const d = { size: 10, sha256: 's', md5: 'aa', multipartEtag: 'bb-2' };
    expect(verifyObject(d, { size: 10, etag: '"aa"' }, 'etag')).toBeNull();
    expect(verifyObject(d, { size: 10, etag: '"BB-2"' }, 'etag')).toBeNull();
    expect(verifyObject(d, { size: 10, etag: '"cc"' }, 'etag')).toMatch(/ETag cc/);
    expect(verifyObject(d, { size: 9, etag: '"aa"' }, 'etag')).toMatch(/9 bytes/);
    expect(verifyObject(d, { size: undefined, etag: undefined }, 'size')).toMatch(/no bytes/);
    expect(verifyObject(d, { size: 10, etag: '"kms-opaque"' }, 'size')).toBeNull();
  });
});

describe('backoff', () => {
  it('doubles from the minimum up to the maximum, jitter at most 10 %', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, 1000, 20_000))).toEqual([1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    expect(backoffMs(1, 1000, 20_000, 0.999)).toBe(1100);
    expect(backoffMs(10, 1000, 20_000, 0.999)).toBe(20000);
    expect(backoffMs(10_000, 1000, 20_000)).toBe(20000);
  });
});

describe('webhook bodies and signatures', () => {
  it('signs the exact body: sha256=<hex HMAC-SHA256>', () => {
    const body = eventBody('id-1', 'recording.finished', Date.UTC(2026, 11, 6), 'node-a', { fileName: 'x.mp4' });
    expect(JSON.parse(body)).toEqual({ id: 'id-1', type: 'recording.finished', time: '2026-12-06T00:00:00.000Z', timeMillis: Date.UTC(2026, 11, 6), node: 'node-a', data: { fileName: 'x.mp4' } });
    const sig = webhookSignature('k', body);
    expect(sig).toBe(`sha256=${crypto.createHmac('sha256', 'k').update(body).digest('hex')}`);
    expect(verifyWebhookSignature('k', body, sig)).toBe(true);
    expect(verifyWebhookSignature('other', body, sig)).toBe(false);
    expect(verifyWebhookSignature('k', body.replace('x.mp4', 'y.mp4'), sig)).toBe(false);
    expect(verifyWebhookSignature('k', body, undefined)).toBe(false);
    expect(verifyWebhookSignature('k', body, 'sha256=00')).toBe(false);
  });
});

describe('bucket retention decisions', () => {
  const DAY = 86_400_000;
  const row = (fileName: string, ageDays: number, size: number): UploadRow => ({
    fileName, dir: '/r', node: 'n', bucket: 'b', key: `k/${fileName}`, size, recordStartMs: 100 * DAY - ageDays * DAY,
    state: 'uploaded', attempts: 0, nextAttemptMs: 0, lastError: null, sha256: 'x', etag: 'e', createdMs: 0, updatedMs: 0, uploadedMs: 0, localDeleted: false, remoteDeletedAt: null,
  });
  const rows = [row('a', 40, 10), row('b', 35, 10), row('c', 20, 10), row('d', 1, 10)];
  const now = 100 * DAY;

  it('by age: copies older than max age go, oldest first', () => {
    expect(bucketDeletions(rows, 40, { maxAgeMs: 30 * DAY, maxSizeBytes: 0 }, now, new Set()).map((d) => [d.row.fileName, d.reason])).toEqual([
      ['a', 'bucket_max_age'],
      ['b', 'bucket_max_age'],
    ]);
  });

  it('by size: the oldest go while the total is above the limit; pinned records stay', () => {
    expect(bucketDeletions(rows, 40, { maxAgeMs: 0, maxSizeBytes: 15 }, now, new Set(['b'])).map((d) => [d.row.fileName, d.reason])).toEqual([
      ['a', 'bucket_max_size'],
      ['c', 'bucket_max_size'],
      ['d', 'bucket_max_size'],
    ]);
    expect(bucketDeletions(rows, 40, { maxAgeMs: 0, maxSizeBytes: 25 }, now, new Set()).map((d) => d.row.fileName)).toEqual(['a', 'b']);
  });

  it('rules off: nothing goes', () => {
    expect(bucketDeletions(rows, 40, { maxAgeMs: 0, maxSizeBytes: 0 }, now, new Set())).toEqual([]);
  });
});
