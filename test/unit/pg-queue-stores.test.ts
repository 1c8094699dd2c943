import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCatalog } from '../../src/catalog/pg-catalog.js';
import { PgWebhookOutbox } from '../../src/events/pg-webhook-outbox.js';
import { PgUploadStore } from '../../src/storage/pg-upload-store.js';
import { job, uploadStoreContract, webhookOutboxContract, type QueueEngine } from '../contracts/queue-stores.js';
import { PgTestServer, postgresMissing } from '../helpers/postgres.js';

/**
 * The upload queue and webhook outbox on a real PostgreSQL: the same
 * contract as the SQLite stores (test/contracts/queue-stores.ts), then what
 * only a shared database has: two nodes claiming at once.
 */

const missing = postgresMissing();
if (missing !== null) console.warn(`PostgreSQL queue store tests skipped: ${missing}`);

let server: PgTestServer;
const open: PgCatalog[] = [];

function stores(c: PgCatalog, nodeId = 'n1') {
  return { uploads: new PgUploadStore(c.pool, () => c.ready()), outbox: new PgWebhookOutbox(c.pool, () => c.ready(), nodeId) };
}

async function catalog(url: string, nodeId = 'n1'): Promise<PgCatalog> {
  const c = new PgCatalog(url, { nodeId, maxConnections: 4 });
  open.push(c);
  await c.ready();
  return c;
}

const engine = (): QueueEngine => {
  let url = '';
  let current: PgCatalog | null = null;
  return {
    open: async () => {
      url = await server.createDatabase('queues');
      current = await catalog(url);
      return stores(current);
    },
    reopen: async () => {
      await current?.close();
      current = await catalog(url);
      return stores(current);
    },
  };
};

describe.skipIf(missing !== null)('upload queue and webhook outbox on PostgreSQL', () => {
  beforeAll(async () => {
    server = await PgTestServer.start();
  }, 120_000);

  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });

  uploadStoreContract(engine);
  webhookOutboxContract(engine);

  it('two nodes claiming the outbox at once never take the same delivery; each gives back only its own after a crash', async () => {
    const url = await server.createDatabase('outbox2');
    const a = stores(await catalog(url, 'node-a'), 'node-a').outbox;
    const b = stores(await catalog(url, 'node-b'), 'node-b').outbox;
    for (let i = 0; i < 40; i++) await a.add({ id: `e${i}`, type: 'record.uploaded', createdMs: i, body: `{"i":${i}}` }, ['http://r/']);
    const claims = await Promise.all([a.claim(1000, 15), b.claim(1000, 15), a.claim(1000, 15), b.claim(1000, 15)]);
    const ids = claims.flat().map((d) => d.eventId);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    const byB = claims[1]!.length + claims[3]!.length;
    // node B restarts: only the deliveries B had go back
    expect(await b.resetInterrupted(2000)).toBe(byB);
    expect((await a.counts()).delivering).toBe(40 - byB);
  });

  it("each node claims only its own uploads (it holds their files), concurrently without doubles", async () => {
    const url = await server.createDatabase('uploads2');
    const s1 = stores(await catalog(url, 'n1')).uploads;
    const s2 = stores(await catalog(url, 'n1')).uploads;
    for (let i = 0; i < 20; i++) await s1.enqueue(job(`a${i}.mp4`, { node: 'n1' }), i);
    await s1.enqueue(job('other.mp4', { node: 'n2' }), 0);
    const got = (await Promise.all([s1.claim('n1', 100, 8), s2.claim('n1', 100, 8), s1.claim('n1', 100, 8)])).flat().map((r) => r.fileName);
    expect(got).toHaveLength(20);
    expect(new Set(got).size).toBe(20);
    expect(got).not.toContain('other.mp4');
  });
});
