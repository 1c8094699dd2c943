import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCatalog } from '../../src/catalog/pg-catalog.js';
import { LocalClusterLock, withClusterLock } from '../../src/cluster/cluster-lock.js';
import { PgClusterLock } from '../../src/cluster/pg-cluster-lock.js';
import { PgClusterStore } from '../../src/cluster/cluster-store.js';
import { PgTestServer, postgresMissing } from '../helpers/postgres.js';
import { waitFor } from '../helpers/daemon.js';

const missing = postgresMissing();
if (missing !== null) console.warn(`cluster store tests skipped: ${missing}`);

describe.skipIf(missing !== null)('heartbeat table and cluster lock on a real PostgreSQL', () => {
  let server: PgTestServer;
  let a: PgCatalog;
  let b: PgCatalog;

  beforeAll(async () => {
    server = await PgTestServer.start();
    const url = await server.createDatabase('cluster');
    a = new PgCatalog(url, { nodeId: 'a', maxConnections: 4 });
    b = new PgCatalog(url, { nodeId: 'b', maxConnections: 4 });
    await Promise.all([a.ready(), b.ready()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.stop();
  });

  it('beats are listed with the database clock; a clean leave marks the node stopped, a new beat revives it', async () => {
    const store = new PgClusterStore(a.pool, () => a.ready());
    await store.beat({ nodeId: 'a', publicUrl: 'http://a:1', startedMs: 5, version: 'v', streams: [{ name: 'cam1', mediaSessionId: 'm' }] });
    await store.beat({ nodeId: 'b', publicUrl: 'http://b:1', startedMs: 6, version: 'v', streams: [] });
    const nodes = await store.nodes();
    expect(nodes.map((n) => [n.nodeId, n.publicUrl, n.streams.length, n.stoppedMs])).toEqual([
      ['a', 'http://a:1', 1, null],
      ['b', 'http://b:1', 0, null],
    ]);
    const first = nodes[0]!;
    expect(first.nowMs).toBeGreaterThanOrEqual(first.lastSeenMs);
    await store.leave('a');
    const left = await store.node('a');
    expect(left?.stoppedMs).not.toBeNull();
    expect(left?.streams).toEqual([]);
    await store.beat({ nodeId: 'a', publicUrl: 'http://a:2', startedMs: 7, version: 'v', streams: [] });
    expect(await store.node('a')).toMatchObject({ stoppedMs: null, publicUrl: 'http://a:2', startedMs: 7 });
    expect(await store.node('nobody')).toBeNull();
  });

  it('pg_try_advisory_lock: one node runs a task while the other skips it; released after, and after a failure', async () => {
    const lockA = new PgClusterLock(a.pool, () => a.ready());
    const lockB = new PgClusterLock(b.pool, () => b.ready());
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const first = withClusterLock(lockA, 's3-retention', async () => {
      entered();
      await holding;
      return 'a ran';
    });
    await inside;
    expect(await withClusterLock(lockB, 's3-retention', async () => 'b ran')).toBeNull();
    // the same node cannot take it twice either
    expect(await lockA.tryAcquire('s3-retention')).toBe(false);
    // another name is another lock
    expect(await withClusterLock(lockB, 'other-task', async () => 'b ran')).toBe('b ran');
    release();
    expect(await first).toBe('a ran');
    expect(await withClusterLock(lockB, 's3-retention', async () => 'b ran')).toBe('b ran');
    await expect(withClusterLock(lockA, 's3-retention', async () => Promise.reject(new Error('task failed')))).rejects.toThrow('task failed');
    expect(await withClusterLock(lockB, 's3-retention', async () => 'b again')).toBe('b again');
  });

  it('a node that dies while holding the lock: PostgreSQL frees it with its connection', async () => {
    const dying = new PgCatalog(a.url, { nodeId: 'dying', maxConnections: 1 });
    await dying.ready();
    const lock = new PgClusterLock(dying.pool, () => dying.ready());
    expect(await lock.tryAcquire('bucket-retention')).toBe(true);
    const other = new PgClusterLock(b.pool, () => b.ready());
    expect(await other.tryAcquire('bucket-retention')).toBe(false);
    // the connection ends without a release (what a SIGKILL does)
    await a.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wcs-recorder dying'");
    await waitFor(async () => other.tryAcquire('bucket-retention'), 10_000, 'the lock freed by the dead session');
    // the node whose connection broke no longer counts itself a holder (and did not crash on the error)
    await waitFor(() => lock.held.length === 0, 10_000, 'the broken holder forgotten');
    await other.release('bucket-retention');
    await dying.close();
  });

  it('the lock of one process (embedded catalog) still runs a task once at a time', async () => {
    const lock = new LocalClusterLock();
    let release!: () => void;
    const first = withClusterLock(lock, 't', () => new Promise<number>((r) => (release = () => r(1))));
    expect(await withClusterLock(lock, 't', async () => 2)).toBeNull();
    release();
    expect(await first).toBe(1);
  });
});
