import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCatalog } from '../../src/catalog/pg-catalog.js';
import { PgClusterStore } from '../../src/cluster/cluster-store.js';
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

  /** node-alive beats; node-dead beat and stopped (a clean stop or a SIGKILL long ago look the same to the rule); node-ghost never beat. */
  async function heartbeats(c: PgCatalog): Promise<void> {
    const nodes = new PgClusterStore(c.pool, () => c.ready());
    for (const nodeId of ['node-alive', 'node-dead', 'node-b']) await nodes.beat({ nodeId, publicUrl: 'http://x', startedMs: 0, version: 't', streams: [] });
    await nodes.leave('node-dead');
  }
  const RULE = { nodeTimeoutMs: 60_000, leaseMs: 1000 };

  it('deliveries claimed by a node that is not alive go back to pending once the claim is older than the lease; a live node keeps its own', async () => {
    const url = await server.createDatabase('outbox_takeover');
    const c = await catalog(url, 'node-b');
    await heartbeats(c);
    const outbox = (id: string) => stores(c, id).outbox;
    for (const [i, node] of ['node-alive', 'node-dead', 'node-ghost'].entries()) {
      await outbox(node).add({ id: `e${i}`, type: 'recording.started', createdMs: 0, body: '{}' }, ['http://r/']);
      expect((await outbox(node).claim(10_000, 1)).map((d) => d.eventId)).toEqual([`e${i}`]);
    }
    const b = outbox('node-b');
    // younger than the lease: nothing yet (a node claims before its first heartbeat)
    expect(await b.releaseAbandoned(10_999, RULE)).toEqual([]);
    const released = await b.releaseAbandoned(11_000, RULE);
    expect(released.map((r) => r.node).sort()).toEqual(['node-dead', 'node-ghost']);
    expect(await b.counts()).toMatchObject({ pending: 2, delivering: 1 });
    // node B sends them now: claimed by B, due at once
    expect((await b.claim(11_000, 5)).map((d) => d.eventId).sort()).toEqual(['e1', 'e2']);
    // B's own claims are never released by B, however old
    expect(await b.releaseAbandoned(99_000, RULE)).toEqual([]);
  });

  it('uploads of a node that is not alive: its uploading rows go back to pending (still its own); another node adopts a pending one once', async () => {
    const url = await server.createDatabase('uploads_takeover');
    const c = await catalog(url, 'node-b');
    await heartbeats(c);
    const store = stores(c).uploads;
    await store.enqueue(job('alive.mp4', { node: 'node-alive' }), 0);
    await store.enqueue(job('dead.mp4', { node: 'node-dead' }), 0);
    await store.enqueue(job('dead2.mp4', { node: 'node-dead' }), 0);
    await store.claim('node-alive', 100, 5);
    await store.claim('node-dead', 100, 1);
    expect(await store.releaseAbandoned('node-b', 1099, RULE)).toEqual([]);
    expect(await store.releaseAbandoned('node-b', 1100, RULE)).toEqual([{ what: 'dead.mp4', node: 'node-dead' }]);
    expect(await store.get('dead.mp4')).toMatchObject({ state: 'pending', node: 'node-dead', nextAttemptMs: 1100 });
    expect((await store.get('alive.mp4'))?.state).toBe('uploading');
    // pending rows of the dead node, untouched for the lease: dead2 (queued at 0) now, dead.mp4 (released at 1100) from 2100
    expect((await store.adoptable('node-b', 1500, RULE, 10)).map((r) => r.fileName)).toEqual(['dead2.mp4']);
    expect((await store.adoptable('node-b', 2100, RULE, 10)).map((r) => r.fileName).sort()).toEqual(['dead.mp4', 'dead2.mp4']);
    const taken = await store.adopt('dead.mp4', 'node-dead', 'node-b', 2100);
    expect(taken).toMatchObject({ fileName: 'dead.mp4', node: 'node-b', state: 'uploading' });
    // once only: a second node (or a second look) finds it taken
    expect(await store.adopt('dead.mp4', 'node-dead', 'node-c', 2100)).toBeNull();
    // the live node's row is never adoptable
    await store.markRetry('alive.mp4', 'x', 0, 0);
    expect((await store.adoptable('node-b', 99_000, RULE, 10)).map((r) => r.fileName)).toEqual(['dead2.mp4']);
  });
});
