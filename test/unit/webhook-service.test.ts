import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import { SqliteWebhookOutbox } from '../../src/events/sqlite-webhook-outbox.js';
import { WebhookService, type WebhookServiceOptions } from '../../src/events/webhook-service.js';
import { waitFor } from '../helpers/daemon.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

let dir: string;
let catalog: SqliteCatalog;
let receiver: WebhookReceiver;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-'));
  catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
  receiver = await WebhookReceiver.start();
});
afterEach(async () => {
  await receiver.close();
  await catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function service(over: Partial<WebhookServiceOptions>): WebhookService {
  return new WebhookService(
    new SqliteWebhookOutbox(catalog.database),
    {
      urls: [receiver.url],
      secret: '',
      timeoutMs: 5000,
      retryMinMs: 10,
      retryMaxMs: 20,
      maxAttempts: 3,
      maxAgeMs: 3600_000,
      concurrency: 4,
      pollMs: 20,
      takeover: null,
      maxPending: 1000,
      node: 'n1',
      version: 'test',
      ...over,
    },
    pino({ level: 'silent' }),
  );
}

describe('WebhookService (a real HTTP receiver on loopback)', () => {
  it('a receiver that always fails: retried, then dead after max attempts, the same body each time; unsigned without a secret', async () => {
    receiver.answer = () => 500;
    const svc = service({ maxAttempts: 3 });
    await svc.start();
    const id = svc.emit('recording.failed', { reason: 'disk_space' });
    expect(id).toEqual(expect.any(String));
    await waitFor(async () => (await svc.outbox.counts()).dead === 1, 10_000, 'the delivery dead');
    await svc.close();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(receiver.received.map((r) => r.headers['x-wcs-delivery-attempt'])).toEqual(['1', '2', '3']);
    expect(receiver.received[0]!.headers['x-wcs-signature']).toBeUndefined();
    const d = (await svc.outbox.list({ eventId: id! })).deliveries[0]!;
    expect(d).toMatchObject({ state: 'dead', attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
  });

  it('a redirect is not followed (a failure), a 2xx delivers', async () => {
    receiver.answer = (_b, i) => (i === 0 ? 302 : 200);
    const svc = service({});
    await svc.start();
    svc.emit('stream.published', { streamName: 's' });
    await waitFor(async () => (await svc.outbox.counts()).delivered === 1, 10_000, 'delivered');
    await svc.close();
    expect(receiver.received.map((r) => r.status)).toEqual([302, 200]);
  });

  it('a full outbox drops new events (counted) instead of growing without bound', async () => {
    receiver.answer = () => 503;
    const svc = service({ maxPending: 2, retryMinMs: 60_000, retryMaxMs: 60_000 });
    await svc.start();
    const ids = [svc.emit('stream.published', {}), svc.emit('stream.published', {}), svc.emit('stream.published', {})];
    expect(ids.filter((x) => x !== null)).toHaveLength(2);
    expect(svc.dropped).toBe(1);
    await svc.close();
  });

  it('off without URLs: nothing stored', async () => {
    const svc = service({ urls: [] });
    await svc.start();
    expect(svc.emit('stream.published', {})).toBeNull();
    await svc.close();
    expect((await svc.outbox.list({})).total).toBe(0);
  });
});
