import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogOpenError, SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import { row } from '../helpers/catalog-rows.js';

let dir: string;
let catalog: SqliteCatalog;

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
