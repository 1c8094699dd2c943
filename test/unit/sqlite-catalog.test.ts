import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordRow } from '../../src/catalog/catalog.js';
import { CatalogOpenError, SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';

let dir: string;
let catalog: SqliteCatalog;

function row(fileName: string, over: Partial<RecordRow> = {}): RecordRow {
  return {
    fileName,
    dir: '/rec',
    streamName: 'cam1',
    mediaSessionId: 'msid-1',
    provider: 'RTMP',
    login: 'bob',
    startMs: 1000,
    endMs: 2000,
    durationMs: 1000,
    size: 100,
    container: 'mp4',
    videoCodec: 'H264',
    audioCodec: 'AAC',
    width: 640,
    height: 360,
    part: 1,
    state: 'finished',
    mtimeMs: 2000,
    ...over,
  };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
  catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
});

afterEach(async () => {
  await catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// the Catalog contract (both engines): test/unit/catalog-contract.test.ts; here what only the SQLite file has
describe('SqliteCatalog', () => {
  it('opens in WAL mode and keeps rows across a reopen', async () => {
    await catalog.upsert(row('a.mp4'));
    await catalog.close();
    catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
    expect(await catalog.get('a.mp4')).toMatchObject({ fileName: 'a.mp4', streamName: 'cam1', state: 'finished', pinned: false });
    expect(fs.existsSync(path.join(dir, '.wcs-catalog.sqlite-wal'))).toBe(true);
  });

  it('a file that is not a database: a clear error naming catalog_path', () => {
    const bad = path.join(dir, 'bad.sqlite');
    fs.writeFileSync(bad, 'this is not a database, it is a text file of some length'.repeat(100));
    expect(() => SqliteCatalog.open(bad)).toThrow(CatalogOpenError);
    expect(() => SqliteCatalog.open(bad)).toThrow(/catalog_path/);
  });
});
