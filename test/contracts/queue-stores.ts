import { expect, it } from 'vitest';
import type { WebhookOutbox } from '../../src/events/webhook-outbox.js';
import type { UploadJob, UploadStore } from '../../src/storage/upload-store.js';

/**
 * The contract of the upload queue and the webhook outbox, the same for
 * every engine (the cases of the SQLite stores' tests, issue 19 parts 1-2).
 * Each engine's test file calls these with its own factories.
 */

export interface QueueEngine {
  /** The stores on a fresh, empty catalog. */
  open(): Promise<{ uploads: UploadStore; outbox: WebhookOutbox }>;
  /** The same catalog closed and opened again (what a restart does). */
  reopen(): Promise<{ uploads: UploadStore; outbox: WebhookOutbox }>;
}

export function job(fileName: string, over: Partial<UploadJob> = {}): UploadJob {
  return { fileName, dir: '/rec', node: 'n1', bucket: 'b', key: `p/${fileName}`, size: 100, recordStartMs: 1000, ...over };
}

export function uploadStoreContract(engine: () => QueueEngine): void {
  it('upload queue: queues, claims due rows of its node once, retries, and survives reopening', async () => {
    const e = engine();
    const { uploads: store } = await e.open();
    expect(await store.enqueue(job('a.mp4'), 10)).toBe(true);
    expect(await store.enqueue(job('b.mp4', { node: 'n2' }), 10)).toBe(true);
    // the same file again while pending: not replaced
    expect(await store.enqueue(job('a.mp4'), 20)).toBe(false);
    const claimed = await store.claim('n1', 10, 5);
    expect(claimed.map((r) => [r.fileName, r.state])).toEqual([['a.mp4', 'uploading']]);
    expect(await store.claim('n1', 10, 5)).toEqual([]);
    await store.markRetry('a.mp4', 'endpoint down', 500, 11);
    expect(await store.claim('n1', 499, 5)).toEqual([]);
    const again = await store.claim('n1', 500, 5);
    expect(again[0]?.attempts).toBe(1);
    expect(again[0]?.lastError).toBe('endpoint down');
    // a crash while uploading: the reopened store gives it back
    const { uploads: reopened } = await e.reopen();
    expect((await reopened.get('a.mp4'))?.state).toBe('uploading');
    expect(await reopened.resetInterrupted('n1', 600)).toBe(1);
    expect((await reopened.claim('n1', 600, 5)).map((r) => r.fileName)).toEqual(['a.mp4']);
    await reopened.markUploaded('a.mp4', { sha256: 'ab', etag: '"e"', atMs: 700 });
    const done = await reopened.get('a.mp4');
    expect(done).toMatchObject({ state: 'uploaded', sha256: 'ab', etag: '"e"', uploadedMs: 700, localDeleted: false });
    expect(await reopened.counts()).toEqual({ pending: 1, uploading: 0, uploaded: 1, failed: 0 });
    expect((await reopened.list({ states: ['uploaded'] })).rows.map((r) => r.fileName)).toEqual(['a.mp4']);
    expect((await reopened.list({})).total).toBe(2);
    expect([...(await reopened.getMany(['a.mp4', 'nope.mp4', 'b.mp4'])).keys()].sort()).toEqual(['a.mp4', 'b.mp4']);
    await reopened.markLocalDeleted('a.mp4', 800);
    expect((await reopened.get('a.mp4'))?.localDeleted).toBe(true);
  });

  it('upload queue: re-queues a failed row or a file whose size changed, and lists bucket copies oldest first', async () => {
    const { uploads: store } = await engine().open();
    await store.enqueue(job('a.mp4', { recordStartMs: 3000, size: 10 }), 1);
    await store.enqueue(job('b.mp4', { recordStartMs: 2000, size: 20 }), 1);
    await store.markFailed('a.mp4', 'gave up', 2);
    expect(await store.enqueue(job('a.mp4', { recordStartMs: 3000, size: 10 }), 3)).toBe(true);
    expect((await store.get('a.mp4'))?.state).toBe('pending');
    for (const name of ['a.mp4', 'b.mp4']) await store.markUploaded(name, { sha256: 'x', etag: 'y', atMs: 4 });
    const bucket = await store.bucketRows(10);
    expect(bucket.rows.map((r) => r.fileName)).toEqual(['b.mp4', 'a.mp4']);
    expect(bucket.totalBytes).toBe(30);
    await store.markRemoteDeleted('b.mp4', 5);
    expect((await store.bucketRows(10)).totalBytes).toBe(10);
    expect(await store.enqueue(job('a.mp4', { recordStartMs: 3000, size: 11 }), 6)).toBe(true);
  });
}

export function webhookOutboxContract(engine: () => QueueEngine): void {
  it('webhook outbox: one delivery per URL, each claimed once, retried, dead, pruned', async () => {
    const { outbox: box } = await engine().open();
    await box.add({ id: 'e1', type: 'recording.finished', createdMs: 100, body: '{"a":1}' }, ['http://a/', 'http://b/', 'http://a/']);
    // the same event again (a retry of the caller): nothing doubled
    await box.add({ id: 'e1', type: 'recording.finished', createdMs: 100, body: '{"a":1}' }, ['http://a/']);
    const due = await box.claim(100, 10);
    expect(due.map((d) => [d.url, d.body, d.type])).toEqual([
      ['http://a/', '{"a":1}', 'recording.finished'],
      ['http://b/', '{"a":1}', 'recording.finished'],
    ]);
    expect(await box.claim(100, 10)).toEqual([]);
    await box.markDelivered('e1', 'http://a/', 204, 101);
    await box.markRetry('e1', 'http://b/', 500, 'HTTP 500', 200, 101);
    expect(await box.claim(150, 10)).toEqual([]);
    expect((await box.claim(200, 10)).map((d) => d.attempts)).toEqual([1]);
    expect(await box.resetInterrupted(210)).toBe(1);
    await box.claim(210, 10);
    await box.markDead('e1', 'http://b/', null, 'too old', 220);
    const listed = await box.list({ eventId: 'e1' });
    expect(listed.total).toBe(2);
    expect(Object.fromEntries(listed.deliveries.map((d) => [d.url, [d.state, d.attempts, d.lastStatus]]))).toEqual({
      'http://a/': ['delivered', 1, 204],
      'http://b/': ['dead', 2, null],
    });
    expect((await box.list({ states: ['dead'], type: 'recording.finished' })).deliveries.map((d) => d.url)).toEqual(['http://b/']);
    expect(await box.counts()).toEqual({ pending: 0, delivering: 0, delivered: 1, dead: 1 });
    expect(await box.prune(221)).toBe(2);
    expect((await box.list({})).total).toBe(0);
  });
}
