import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalClusterLock, withClusterLock } from '../../src/cluster/cluster-lock.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import { SqliteWebhookOutbox } from '../../src/events/sqlite-webhook-outbox.js';
import { SqliteUploadStore } from '../../src/storage/sqlite-upload-store.js';
import { job, uploadStoreContract, webhookOutboxContract, type QueueEngine } from '../contracts/queue-stores.js';

let dir: string;
let catalog: SqliteCatalog;
const file = (): string => path.join(dir, '.wcs-catalog.sqlite');

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queues-'));
  catalog = SqliteCatalog.open(file());
});

afterEach(async () => {
  await catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The SQLite stores in the catalog's file of this test; reopen() closes and opens the file again (a restart). */
const engine = (): QueueEngine => {
  const stores = () => ({ uploads: new SqliteUploadStore(catalog.database), outbox: new SqliteWebhookOutbox(catalog.database) });
  return {
    open: async () => stores(),
    reopen: async () => {
      await catalog.close();
      catalog = SqliteCatalog.open(file());
      return stores();
    },
  };
};

describe('upload queue and webhook outbox in the SQLite catalog file', () => {
  // the same cases run on PostgreSQL in pg-queue-stores.test.ts
  uploadStoreContract(engine);
  webhookOutboxContract(engine);

  it('migrates once: the version is kept in meta', async () => {
    new SqliteUploadStore(catalog.database);
    new SqliteUploadStore(catalog.database);
    expect(await catalog.getMeta('uploads_schema_version')).toBe('1');
  });

  it('one node: nothing of another node to take over (its own claims come back when it starts)', async () => {
    const { uploads, outbox } = await engine().open();
    await uploads.enqueue(job('a.mp4', { node: 'gone-node' }), 0);
    await uploads.claim('gone-node', 0, 1);
    await outbox.add({ id: 'e1', type: 'recording.started', createdMs: 0, body: '{}' }, ['http://a/']);
    await outbox.claim(0, 1);
    const rule = { nodeTimeoutMs: 1, leaseMs: 1 };
    expect(await uploads.releaseAbandoned('n1', 1e12, rule)).toEqual([]);
    expect(await uploads.adoptable('n1', 1e12, rule, 10)).toEqual([]);
    expect(await uploads.adopt('a.mp4', 'gone-node', 'n1', 1e12)).toBeNull();
    expect(await outbox.releaseAbandoned(1e12, rule)).toEqual([]);
    expect((await uploads.get('a.mp4'))?.state).toBe('uploading');
  });
});

describe('LocalClusterLock', () => {
  it('has one holder at a time', async () => {
    const lock = new LocalClusterLock();
    let inner: string | null = 'unset';
    const outer = await withClusterLock(lock, 'retention', async () => {
      inner = await withClusterLock(lock, 'retention', async () => 'ran');
      return 'outer';
    });
    expect(outer).toBe('outer');
    expect(inner).toBeNull();
    expect(await lock.tryAcquire('retention')).toBe(true);
  });
});
