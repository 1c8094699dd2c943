import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog, RecordRow } from '../../src/catalog/catalog.js';
import { PgCatalog } from '../../src/catalog/pg-catalog.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import { row } from '../helpers/catalog-rows.js';
import { PgTestServer, postgresMissing } from '../helpers/postgres.js';

/**
 * The Catalog contract, run against both engines: the embedded SQLite file
 * and PostgreSQL (a real server: a throw-away cluster of test/helpers/postgres.ts).
 */

interface Engine {
  /** A new empty catalog of node 'node-a'. */
  open(): Promise<Catalog>;
  /** The same catalog opened again (after close()). */
  reopen(): Promise<Catalog>;
  cleanup(): Promise<void>;
}

const missing = postgresMissing();
let server: PgTestServer | null = null;

beforeAll(async () => {
  if (missing === null) server = await PgTestServer.start();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

const ENGINES: Record<string, () => Engine> = {
  sqlite: () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
    const file = path.join(dir, '.wcs-catalog.sqlite');
    return {
      open: async () => SqliteCatalog.open(file, { nodeId: 'node-a' }),
      reopen: async () => SqliteCatalog.open(file, { nodeId: 'node-a' }),
      cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
  postgres: () => {
    let url = '';
    const open = async (): Promise<Catalog> => {
      const c = new PgCatalog(url, { nodeId: 'node-a', maxConnections: 3 });
      await c.ready();
      return c;
    };
    return {
      open: async () => {
        url = await server!.createDatabase('contract');
        return open();
      },
      reopen: open,
      cleanup: async () => undefined,
    };
  },
};

for (const [name, makeEngine] of Object.entries(ENGINES)) {
  const skip = name === 'postgres' && missing !== null;
  if (skip) console.warn(`catalog contract on postgres skipped: ${missing}`);
  describe.skipIf(skip)(`Catalog contract (${name})`, () => {
    let engine: Engine;
    let catalog: Catalog;

    beforeEach(async () => {
      engine = makeEngine();
      catalog = await engine.open();
    }, 60_000);

    afterEach(async () => {
      await catalog.close();
      await engine.cleanup();
    });

    it('keeps rows across a reopen; rows carry this node', async () => {
      await catalog.upsert(row('a.mp4'));
      await catalog.close();
      catalog = await engine.reopen();
      expect(await catalog.get('a.mp4')).toMatchObject({ fileName: 'a.mp4', nodeId: 'node-a', streamName: 'cam1', state: 'finished', pinned: false });
    });

    it('the pauses of a paused-and-resumed record are kept with it; a record without pauses has none', async () => {
      const pauses = [
        { pausedAt: 1_000, resumedAt: 4_000, positionMs: 2_000, skippedMs: 3_000 },
        { pausedAt: 9_000, resumedAt: null, positionMs: 5_000, skippedMs: 0 },
      ];
      await catalog.upsert(row('paused.mp4', { pauses }));
      await catalog.upsert(row('plain.mp4'));
      await catalog.close();
      catalog = await engine.reopen();
      expect((await catalog.get('paused.mp4'))?.pauses).toEqual(pauses);
      expect(await catalog.get('plain.mp4')).not.toHaveProperty('pauses');
      const found = await catalog.find({ streamName: 'cam1' });
      expect(found.records.find((r) => r.fileName === 'paused.mp4')?.pauses).toEqual(pauses);
    });

    it('every column round-trips with its JS type: get, find, retention rows, after a reopen', async () => {
      // values past 2^31 (BIGINT columns), a distinct value in every field, and the nullable ones both ways
      const full: RecordRow = {
        fileName: 'full.mkv',
        dir: '/data/rec/x',
        streamName: 'stream-ü',
        mediaSessionId: 'b0c1d2e3-0000-4000-8000-000000000001',
        provider: 'WebRTC',
        login: 'alice',
        startMs: 1_765_000_000_123,
        endMs: 1_765_000_009_876,
        durationMs: 9_753,
        size: 5_000_000_123,
        container: 'mkv',
        videoCodec: 'VP8',
        audioCodec: 'OPUS',
        width: 1920,
        height: 1080,
        part: 7,
        state: 'recovered',
        mtimeMs: 1_765_000_010_000,
        pauses: [{ pausedAt: 1_765_000_001_000, resumedAt: 1_765_000_002_000, positionMs: 877, skippedMs: 1000 }],
      };
      const open: RecordRow = { ...full, fileName: '.rec-open.mkv', streamName: 'other', mediaSessionId: null, endMs: null, durationMs: null, state: 'recording', pauses: undefined };
      delete (open as { pauses?: unknown }).pauses;
      await catalog.upsert(full);
      await catalog.upsert(open);
      expect(await catalog.pin('full.mkv', true)).toBe(true);
      await catalog.close();
      catalog = await engine.reopen();
      const expected = { ...full, nodeId: 'node-a', pinned: true, deletedAt: null, deletedReason: null };
      const expectedOpen = { ...open, nodeId: 'node-a', pinned: false, deletedAt: null, deletedReason: null };
      expect(await catalog.get('full.mkv')).toEqual(expected);
      expect(await catalog.get('.rec-open.mkv')).toEqual(expectedOpen);
      expect((await catalog.find({ streamName: 'stream-ü' })).records).toEqual([expected]);
      const retention = await catalog.retentionRows(10);
      expect(retention.records).toEqual([expected, expectedOpen]);
      expect(retention.recording).toEqual([expectedOpen]);
      // numbers are numbers and the pin a boolean on both engines (PostgreSQL's BIGINT would come back as text)
      const got = (await catalog.get('full.mkv'))!;
      for (const key of ['startMs', 'endMs', 'durationMs', 'size', 'width', 'height', 'part', 'mtimeMs'] as const) expect(typeof got[key]).toBe('number');
      expect(typeof got.pinned).toBe('boolean');
      expect(await catalog.presentIn('/data/rec/x')).toEqual(new Map([['full.mkv', { size: full.size, mtimeMs: full.mtimeMs, state: 'recovered' }]]));
      await catalog.markDeleted('full.mkv', 'max_size', 1_765_000_020_000);
      const deleted = (await catalog.find({ states: ['deleted'] })).records[0]!;
      expect(deleted).toEqual({ ...expected, state: 'deleted', deletedAt: 1_765_000_020_000, deletedReason: 'max_size' });
      await catalog.upsertCut({ fileName: 'full-s1-e2.mkv', dir: '/data/cuts', sourceFileName: 'full.mkv', size: 4_500_000_000, createdMs: 1_765_000_030_000 });
      expect(await catalog.cutsOf('full.mkv')).toEqual([{ fileName: 'full-s1-e2.mkv', dir: '/data/cuts', sourceFileName: 'full.mkv', size: 4_500_000_000, createdMs: 1_765_000_030_000 }]);
    });

    it('a part: row while recording under its temp name, then the finished record in its place', async () => {
      await catalog.upsert(row('.rec-x-1-1.mp4', { state: 'recording', endMs: null, durationMs: null, size: 0 }));
      expect((await catalog.find({ streamName: 'cam1' })).records.map((r) => [r.fileName, r.state])).toEqual([['.rec-x-1-1.mp4', 'recording']]);
      // the watcher saw the final file first and catalogued it as a foreign file: the recorder's row wins
      await catalog.upsert(row('cam1_1.mp4', { streamName: null, mediaSessionId: null, provider: 'file' }));
      await catalog.finishPart({ tempName: '.rec-x-1-1.mp4', row: row('cam1_1.mp4', { size: 5000 }) });
      const all = await catalog.find({});
      expect(all.total).toBe(1);
      expect(all.records[0]).toMatchObject({ fileName: 'cam1_1.mp4', state: 'finished', size: 5000, streamName: 'cam1', provider: 'RTMP' });
      // a file found on disk later (a rescan) never replaces the record the recorder reported
      await catalog.upsert(row('cam1_1.mp4', { streamName: null, mediaSessionId: null, provider: 'file', size: 1 }));
      expect(await catalog.get('cam1_1.mp4')).toMatchObject({ streamName: 'cam1', size: 5000 });
      // ... but replaces a row that was gone
      await catalog.markGone(['cam1_1.mp4']);
      await catalog.upsertMany([row('cam1_1.mp4', { streamName: null, mediaSessionId: null, provider: 'file', size: 1 })]);
      expect(await catalog.get('cam1_1.mp4')).toMatchObject({ streamName: null, size: 1, state: 'finished' });
      // a finished part whose temp row is unknown (recovered after a lost catalog write) is inserted
      await catalog.finishPart({ tempName: '.rec-y-1-1.mp4', row: row('cam1_2.mp4', { state: 'recovered' }) });
      expect((await catalog.get('cam1_2.mp4'))?.state).toBe('recovered');
    });

    it('find: filters, overlap of from/to, states, paging and sort', async () => {
      for (let i = 0; i < 10; i++) {
        await catalog.upsert(row(`p${i}.mp4`, { startMs: i * 1000, endMs: i * 1000 + 1000, streamName: i % 2 ? 'odd' : 'even', part: i + 1 }));
      }
      await catalog.upsert(row('live.mp4', { startMs: 9500, endMs: null, state: 'recording', streamName: 'odd' }));
      await catalog.upsert(row('gone.mp4', { startMs: 0, endMs: 100000, state: 'gone' }));
      expect((await catalog.find({})).total).toBe(11);
      expect((await catalog.find({ streamName: 'even' })).records.map((r) => r.fileName)).toEqual(['p0.mp4', 'p2.mp4', 'p4.mp4', 'p6.mp4', 'p8.mp4']);
      // overlapping [2500, 4500): p2 (2000-3000), p3, p4 (4000-5000)
      expect((await catalog.find({ fromMs: 2500, toMs: 4500 })).records.map((r) => r.fileName)).toEqual(['p2.mp4', 'p3.mp4', 'p4.mp4']);
      // touching ends do not overlap
      expect((await catalog.find({ fromMs: 3000, toMs: 4000 })).records.map((r) => r.fileName)).toEqual(['p3.mp4']);
      // a recording in progress overlaps anything after its start
      expect((await catalog.find({ fromMs: 50_000, toMs: 60_000 })).records.map((r) => r.fileName)).toEqual(['live.mp4']);
      expect((await catalog.find({ states: ['gone'] })).records.map((r) => r.fileName)).toEqual(['gone.mp4']);
      const page = await catalog.find({ limit: 3, offset: 3, sort: '-start' });
      expect(page.total).toBe(11);
      expect(page.records.map((r) => r.fileName)).toEqual(['p7.mp4', 'p6.mp4', 'p5.mp4']);
      expect((await catalog.find({ provider: 'WebRTC' })).total).toBe(0);
      expect((await catalog.find({ mediaSessionId: 'msid-1', fileName: 'p1.mp4' })).total).toBe(1);
      expect((await catalog.find({ nodeId: 'node-a', streamName: 'even' })).total).toBe(5);
      expect((await catalog.find({ nodeId: 'someone-else' })).total).toBe(0);
    });

    it('partsOverlapping: finished and recovered parts of one stream, oldest first (the PartSource contract)', async () => {
      await catalog.upsert(row('b.mp4', { startMs: 2000, endMs: 3000, state: 'recovered' }));
      await catalog.upsert(row('a.mp4', { startMs: 1000, endMs: 2000 }));
      await catalog.upsert(row('c.mp4', { startMs: 3000, endMs: 4000, state: 'deleted' }));
      await catalog.upsert(row('d.mp4', { startMs: 1000, endMs: 4000, streamName: 'other' }));
      await catalog.upsert(row('.rec-1.mp4', { startMs: 3500, endMs: null, state: 'recording' }));
      const parts = await catalog.partsOverlapping('cam1', 1500, 3500);
      expect(parts).toEqual([
        { path: path.join('/rec', 'a.mp4'), fileName: 'a.mp4', streamName: 'cam1', startMs: 1000, endMs: 2000, container: 'mp4', nodeId: 'node-a' },
        { path: path.join('/rec', 'b.mp4'), fileName: 'b.mp4', streamName: 'cam1', startMs: 2000, endMs: 3000, container: 'mp4', nodeId: 'node-a' },
      ]);
      // a long part that started well before the range is still found
      await catalog.upsert(row('long.mp4', { startMs: -100_000, endMs: 1600 }));
      expect((await catalog.partsOverlapping('cam1', 1500, 1700)).map((p) => p.fileName)).toEqual(['long.mp4', 'a.mp4']);
    });

    it('pin, gone, deleted, cuts, meta, retention rows', async () => {
      await catalog.upsert(row('a.mp4'));
      await catalog.upsert(row('b.mp4'));
      await catalog.upsert(row('.rec-c.mp4', { state: 'recording', endMs: null }));
      expect(await catalog.pin('a.mp4', true)).toBe(true);
      expect(await catalog.pin('nope.mp4', true)).toBe(false);
      // an upsert (reconcile) keeps the pin
      await catalog.upsert(row('a.mp4', { size: 7 }));
      expect(await catalog.get('a.mp4')).toMatchObject({ pinned: true, size: 7 });
      await catalog.markDeleted('b.mp4', 'max_age', 12345);
      expect(await catalog.get('b.mp4')).toMatchObject({ state: 'deleted', deletedAt: 12345, deletedReason: 'max_age' });
      await catalog.upsertCut({ fileName: 'a-s1-e2.mp4', dir: '/rec', sourceFileName: 'a.mp4', size: 10, createdMs: 5 });
      expect(await catalog.cuts()).toEqual([{ fileName: 'a-s1-e2.mp4', dir: '/rec', sourceFileName: 'a.mp4', size: 10, createdMs: 5 }]);
      expect((await catalog.cutsOf('a.mp4')).map((c) => c.fileName)).toEqual(['a-s1-e2.mp4']);
      expect(await catalog.cutsOf('b.mp4')).toEqual([]);
      const rows = await catalog.retentionRows(1000);
      expect(rows.records.map((r) => r.fileName).sort()).toEqual(['.rec-c.mp4', 'a.mp4']);
      expect(rows.recording.map((r) => r.fileName)).toEqual(['.rec-c.mp4']);
      expect(rows.cuts).toHaveLength(1);
      // a.mp4 (7) + .rec-c.mp4 (100) + the cut (10); b.mp4 is deleted
      expect(rows.totalBytes).toBe(117);
      expect((await catalog.retentionRows(1)).records).toHaveLength(1);
      await catalog.removeCut('a-s1-e2.mp4');
      expect(await catalog.cuts()).toEqual([]);
      await catalog.markGone(['a.mp4', 'b.mp4']);
      // a deleted row is not turned into a vanished one
      expect(await catalog.get('b.mp4')).toMatchObject({ state: 'deleted', deletedReason: 'max_age' });
      expect((await catalog.presentIn('/rec')).size).toBe(0);
      expect(await catalog.getMeta('k')).toBeNull();
      await catalog.setMeta('k', 'v');
      expect(await catalog.getMeta('k')).toBe('v');
    });

    it('upsertMany: many rows in one go, a name given twice keeps its last row, the pin and the rules of upsert hold', async () => {
      const rows = Array.from({ length: 1203 }, (_, i) => row(`m${i}.mp4`, { startMs: i * 1000, endMs: i * 1000 + 1000 }));
      await catalog.upsertMany([...rows, row('m5.mp4', { startMs: 5000, endMs: 6000, size: 555 })]);
      expect((await catalog.find({})).total).toBe(1203);
      expect(await catalog.get('m5.mp4')).toMatchObject({ size: 555 });
      await catalog.pin('m7.mp4', true);
      // a rescan: files found on disk never replace the recorder's rows, and the pin stays
      await catalog.upsertMany([row('m7.mp4', { streamName: null, mediaSessionId: null, provider: 'file', size: 1 })]);
      expect(await catalog.get('m7.mp4')).toMatchObject({ streamName: 'cam1', size: 100, pinned: true });
    });

    it('the total of an unfiltered find follows inserts, state changes and removals', async () => {
      const count = async (states?: RecordRow['state'][]) => (await catalog.find(states ? { states } : {})).total;
      for (let i = 0; i < 5; i++) await catalog.upsert(row(`t${i}.mp4`));
      await catalog.upsert(row('.rec-t.mp4', { state: 'recording', endMs: null }));
      expect(await count()).toBe(6);
      await catalog.upsert(row('t0.mp4', { size: 9 }));
      expect(await count()).toBe(6);
      await catalog.markGone(['t1.mp4']);
      await catalog.markDeleted('t2.mp4', 'x', 1);
      await catalog.finishPart({ tempName: '.rec-t.mp4', row: row('t5.mp4') });
      await catalog.remove('t3.mp4');
      expect(await count()).toBe(3);
      expect(await count(['gone', 'deleted'])).toBe(2);
      expect(await count(['finished'])).toBe(3);
      await catalog.close();
      catalog = await engine.reopen();
      expect(await count()).toBe(3);
    });
  });
}

describe.skipIf(missing !== null)('PgCatalog: several nodes on one database', () => {
  let a: PgCatalog;
  let b: PgCatalog;

  beforeEach(async () => {
    const url = await server!.createDatabase('nodes');
    a = new PgCatalog(url, { nodeId: 'node-a', maxConnections: 3 });
    b = new PgCatalog(url, { nodeId: 'node-b', maxConnections: 3 });
    // both start together: the migration runs once, under its lock
    await Promise.all([a.ready(), b.ready()]);
  }, 60_000);

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('reads cover every node; disk bookkeeping, retention, cuts and meta stay per node', async () => {
    await a.upsert(row('a1.mp4', { startMs: 1000, endMs: 2000 }));
    await b.upsert(row('b1.mp4', { startMs: 2000, endMs: 3000 }));
    // the same folder path on both machines
    expect((await b.find({})).records.map((r) => [r.fileName, r.nodeId])).toEqual([
      ['a1.mp4', 'node-a'],
      ['b1.mp4', 'node-b'],
    ]);
    expect((await b.partsOverlapping('cam1', 0, 5000)).map((p) => p.nodeId)).toEqual(['node-a', 'node-b']);
    expect((await b.find({ nodeId: 'node-a' })).records.map((r) => r.fileName)).toEqual(['a1.mp4']);
    // a long record one node writes bounds the overlap searches of every node (the bound is in the database)
    await b.upsert(row('b-long.mp4', { startMs: -5_000_000, endMs: 10_000 }));
    expect((await a.find({ fromMs: 5000, toMs: 6000 })).records.map((r) => r.fileName)).toEqual(['b-long.mp4']);
    expect((await a.spansOverlapping('cam1', 5000, 6000)).map((x) => x.fileName)).toEqual(['b-long.mp4']);
    await b.remove('b-long.mp4');
    expect((await a.spansOverlapping('cam1', 0, 5000)).map((s) => s.fileName)).toEqual(['a1.mp4', 'b1.mp4']);
    expect([...(await a.presentIn('/rec')).keys()]).toEqual(['a1.mp4']);
    expect([...(await b.presentIn('/rec')).keys()]).toEqual(['b1.mp4']);
    // B reconciling its folder (where a1.mp4 is not) never marks A's row gone, nor deletes it
    await b.markGone(['a1.mp4']);
    await b.markDeleted('a1.mp4', 'max_age', 1);
    await b.remove('a1.mp4');
    expect(await a.get('a1.mp4')).toMatchObject({ state: 'finished', nodeId: 'node-a' });
    // a file B finds on its disk under the same name does not take over A's present record
    await b.upsert(row('a1.mp4', { streamName: null, mediaSessionId: null, provider: 'file' }));
    expect(await b.get('a1.mp4')).toMatchObject({ nodeId: 'node-a', streamName: 'cam1' });
    expect((await a.retentionRows(100)).records.map((r) => r.fileName)).toEqual(['a1.mp4']);
    expect((await b.retentionRows(100)).totalBytes).toBe(100);
    await a.upsertCut({ fileName: 'a1-cut.mp4', dir: '/rec', sourceFileName: 'a1.mp4', size: 5, createdMs: 1 });
    expect(await b.cuts()).toEqual([]);
    expect(await a.cutsOf('a1.mp4')).toHaveLength(1);
    // the unfiltered total (kept by appended deltas) agrees with a count of the rows, before and after folding them
    const counted = async () => Number((await a.pool.query("SELECT COUNT(*) AS n FROM records WHERE state IN ('recording', 'finished', 'recovered', 'broken')")).rows[0].n);
    expect((await b.find({})).total).toBe(await counted());
    await Promise.all([a.compactCounts(), b.compactCounts()]);
    expect((await a.find({})).total).toBe(await counted());
    expect(Number((await a.pool.query('SELECT COUNT(*) AS n FROM state_deltas')).rows[0].n)).toBeLessThanOrEqual(6);
    await a.setMeta('journal_imported', 'yes');
    expect(await b.getMeta('journal_imported')).toBeNull();
    // a pin is the record's, whoever sets it
    expect(await b.pin('a1.mp4', true)).toBe(true);
    expect((await a.get('a1.mp4'))?.pinned).toBe(true);
    // once A's row is gone, B may catalog a file of that name as its own
    await a.markGone(['a1.mp4']);
    await b.upsert(row('a1.mp4', { streamName: null, mediaSessionId: null, provider: 'file' }));
    expect(await a.get('a1.mp4')).toMatchObject({ nodeId: 'node-b', state: 'finished' });
  });

  it('migrations are versioned: recorded once; a schema newer than the code is refused with a clear error', async () => {
    const versions = await a.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.rows.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5]);
    await a.pool.query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'from the future', 0)");
    const newer = new PgCatalog(a.url, { nodeId: 'node-c', maxConnections: 1 });
    await expect(newer.ready()).rejects.toThrow(/catalog_url.*schema is version 999/);
    await newer.close();
  });

  it('an unreachable database: ready() rejects naming catalog_url, without the password', async () => {
    const bad = new PgCatalog(`postgres://u:secret@127.0.0.1:${server!.port + 1}/none`, { nodeId: 'x', maxConnections: 1 });
    const err = await bad.ready().then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/catalog_url/);
    expect(err?.message).not.toMatch(/secret/);
    await bad.close();
  });
});
