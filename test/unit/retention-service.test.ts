import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordRow } from '../../src/catalog/catalog.js';
import { RecordDeleter } from '../../src/catalog/record-deleter.js';
import { RetentionService } from '../../src/catalog/retention-service.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';

let dir: string;
let catalog: SqliteCatalog;
const log = pino({ level: 'silent' });

function add(fileName: string, startMs: number, over: Partial<RecordRow> = {}): Promise<void> {
  fs.writeFileSync(path.join(dir, fileName), Buffer.alloc(100));
  return catalog.upsert({
    fileName,
    dir,
    streamName: 's',
    mediaSessionId: null,
    provider: 'RTMP',
    login: '',
    startMs,
    endMs: startMs + 1000,
    durationMs: 1000,
    size: 100,
    container: 'mp4',
    videoCodec: '',
    audioCodec: '',
    width: 0,
    height: 0,
    part: 1,
    state: 'finished',
    mtimeMs: startMs,
    ...over,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retention-'));
  catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
});
afterEach(async () => {
  await catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RetentionService', () => {
  it('min_free_space: free space is watched between passes; the oldest deletable record goes, the hook gets stream, path, reason', async () => {
    await add('a.mp4', 1000);
    await add('b.mp4', 2000);
    await add('.rec-live.mp4', 500, { state: 'recording', endMs: null });
    const hooks: string[][] = [];
    const deleter = new RecordDeleter(catalog, { runArgs: async (args) => hooks.push([...args]) }, () => false, log);
    let free = 1000;
    const service = new RetentionService(
      catalog,
      deleter,
      { rules: { maxAgeMs: 0, maxSizeBytes: 0, minFreeBytes: 1050 }, intervalMs: 3_600_000, freeSpace: async () => free },
      log,
    );
    free = 2000; // enough at start: the first pass deletes nothing
    service.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(path.join(dir, 'a.mp4'))).toBe(true);
    free = 1000; // space runs low between two passes
    await new Promise((r) => setTimeout(r, 2500));
    await service.close();
    await deleter.drain();
    expect(fs.existsSync(path.join(dir, 'a.mp4'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'b.mp4'))).toBe(true);
    expect(fs.existsSync(path.join(dir, '.rec-live.mp4'))).toBe(true);
    expect(await catalog.get('a.mp4')).toMatchObject({ state: 'deleted', deletedReason: 'min_free_space' });
    expect(hooks).toEqual([['s', path.join(dir, 'a.mp4'), 'min_free_space']]);
  });

  it('all rules off: start() does nothing', async () => {
    await add('a.mp4', 1000);
    const deleter = new RecordDeleter(catalog, null, () => false, log);
    const service = new RetentionService(catalog, deleter, { rules: { maxAgeMs: 0, maxSizeBytes: 0, minFreeBytes: 0 }, intervalMs: 10, freeSpace: async () => 0 }, log);
    expect(service.enabled).toBe(false);
    service.start();
    expect(await service.runNow()).toEqual([]);
    await service.close();
    expect(fs.existsSync(path.join(dir, 'a.mp4'))).toBe(true);
  });

  it('the deleter refuses what is being written, pinned or unknown', async () => {
    await add('p.mp4', 1000);
    await catalog.pin('p.mp4', true);
    await add('.rec-x.mp4', 1000, { state: 'recording', endMs: null });
    await add('busy.mp4', 1000);
    const deleter = new RecordDeleter(catalog, null, (name) => name === 'busy.mp4', log);
    expect(await deleter.deleteRecord('p.mp4', 'test')).toBe('pinned');
    expect(await deleter.deleteRecord('.rec-x.mp4', 'test')).toBe('in-progress');
    expect(await deleter.deleteRecord('busy.mp4', 'test')).toBe('in-progress');
    expect(await deleter.deleteRecord('nope.mp4', 'test')).toBe('unknown');
    for (const f of ['p.mp4', '.rec-x.mp4', 'busy.mp4']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  });

  it('a pass goes through the catalog a window of oldest rows at a time, past the first window', async () => {
    const rows: RecordRow[] = [];
    for (let i = 0; i < 6500; i++) {
      rows.push({
        fileName: `old-${i}.mp4`, dir, streamName: 's', mediaSessionId: null, provider: 'RTMP', login: '', startMs: i, endMs: i + 1,
        durationMs: 1, size: 1, container: 'mp4', videoCodec: '', audioCodec: '', width: 0, height: 0, part: 1, state: 'finished', mtimeMs: i,
      });
    }
    await catalog.upsertMany(rows);
    await add('young.mp4', Date.now());
    const deleter = new RecordDeleter(catalog, null, () => false, log);
    const service = new RetentionService(catalog, deleter, { rules: { maxAgeMs: 86_400_000, maxSizeBytes: 0, minFreeBytes: 0 }, intervalMs: 3_600_000, freeSpace: async () => 0 }, log);
    const done = await service.runNow();
    expect(done).toHaveLength(6500);
    expect((await catalog.find({ states: ['deleted'], limit: 1 })).total).toBe(6500);
    expect((await catalog.get('young.mp4'))?.state).toBe('finished');
    await service.close();
  }, 60_000);
});
