import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importJournalOnce } from '../../src/catalog/journal-import.js';
import { Reconciler } from '../../src/catalog/reconciler.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import type { MediaFacts } from '../../src/records/media-probe.js';

const log = pino({ level: 'silent' });
let home: string;
let dir: string;
let catalog: SqliteCatalog;

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'reconcile-'));
  dir = path.join(home, 'records');
  fs.mkdirSync(dir);
  catalog = SqliteCatalog.open(path.join(dir, '.wcs-catalog.sqlite'));
});
afterEach(async () => {
  await catalog.close();
  fs.rmSync(home, { recursive: true, force: true });
});

function write(name: string, bytes: number, mtimeMs = Date.now() - 60_000): void {
  fs.writeFileSync(path.join(dir, name), Buffer.alloc(bytes));
  fs.utimesSync(path.join(dir, name), mtimeMs / 1000, mtimeMs / 1000);
}

function reconciler(probed: string[]): Reconciler {
  return new Reconciler(
    catalog,
    {
      folders: [{ dir, provider: 'file' }],
      cutDir: null,
      isCut: (name, comment) => /-s\d+-e\d+\.mp4$/.test(name) || comment === 'cut',
      sourceOfCut: (name) => name.replace(/-s\d+-e\d+\.mp4$/, '.mp4'),
      probe: async (file): Promise<MediaFacts> => {
        probed.push(path.basename(file));
        if (file.endsWith('bad.mkv')) throw new Error('not media');
        return { durationSeconds: 8, formatName: 'matroska', comment: file.endsWith('tagged.mkv') ? 'cut' : '' };
      },
      concurrency: 2,
    },
    log,
  );
}

describe('Reconciler', () => {
  it('adds new files (probed once), cuts apart, broken files, gone files; unchanged files are never probed again', async () => {
    write('a.mkv', 100, 1_000_000);
    write('bad.mkv', 10);
    write('a-s1-e2.mp4', 5);
    write('tagged.mkv', 7);
    write('.hidden.mkv', 7);
    write('notes.txt', 7);
    const probed: string[] = [];
    const report = await reconciler(probed).reconcileAll();
    expect(report).toMatchObject({ listed: 4, added: 4, gone: 0, cuts: 2 });
    expect(probed.sort()).toEqual(['a.mkv', 'bad.mkv', 'tagged.mkv']);
    expect(await catalog.get('a.mkv')).toMatchObject({ state: 'finished', durationMs: 8000, endMs: 1_000_000, startMs: 992_000, provider: 'file', streamName: null });
    expect((await catalog.get('bad.mkv'))?.state).toBe('broken');
    expect((await catalog.cuts()).map((c) => [c.fileName, c.sourceFileName]).sort()).toEqual([
      ['a-s1-e2.mp4', 'a.mp4'],
      ['tagged.mkv', 'tagged.mkv'],
    ]);
    // again: nothing probed; a file grown is probed again; a removed one is gone
    probed.length = 0;
    write('a.mkv', 200, 1_000_000);
    fs.rmSync(path.join(dir, 'bad.mkv'));
    const again = await reconciler(probed).reconcileAll();
    expect(again).toMatchObject({ added: 0, changed: 1, gone: 1 });
    expect(probed).toEqual(['a.mkv']);
    expect((await catalog.get('bad.mkv'))?.state).toBe('gone');
    expect((await catalog.get('a.mkv'))?.size).toBe(200);
  });

  it('a record this daemon made keeps its stream when its file changes or comes back', async () => {
    write('cam.mp4', 100);
    await catalog.upsert({
      fileName: 'cam.mp4', dir, streamName: 'cam', mediaSessionId: 'm', provider: 'RTMP', login: '', startMs: 1, endMs: 2, durationMs: 1,
      size: 1, container: 'mp4', videoCodec: 'H264', audioCodec: '', width: 0, height: 0, part: 1, state: 'finished', mtimeMs: 0,
    });
    const probed: string[] = [];
    await reconciler(probed).reconcileAll();
    expect(probed).toEqual([]);
    expect(await catalog.get('cam.mp4')).toMatchObject({ streamName: 'cam', size: 100, state: 'finished' });
    await reconciler(probed).refreshNames(dir, ['cam.mp4', 'other.txt']);
    expect(probed).toEqual([]);
  });

  it('refreshNames: what a watcher saw appear or vanish', async () => {
    const probed: string[] = [];
    const r = reconciler(probed);
    write('new.mkv', 10);
    await r.refreshNames(dir, ['new.mkv']);
    expect((await catalog.get('new.mkv'))?.state).toBe('finished');
    fs.rmSync(path.join(dir, 'new.mkv'));
    await r.refreshNames(dir, ['new.mkv']);
    expect((await catalog.get('new.mkv'))?.state).toBe('gone');
  });
});

describe('importJournalOnce', () => {
  it('imports the entries whose files exist, once, and renames the journal', async () => {
    const journal = path.join(dir, '.wcs-records.jsonl');
    write('kept.mp4', 10);
    const line = (fileName: string) => JSON.stringify({ fileName, mediaSessionId: 'm1', streamName: 's1', startTimeMillis: 10, endTimeMillis: 20, durationMs: 10 });
    fs.writeFileSync(journal, [line('kept.mp4'), line('moved-away.mp4'), '{"broken'].join('\n'));
    expect(await importJournalOnce(catalog, journal, dir, log)).toBe(1);
    expect(await catalog.get('kept.mp4')).toMatchObject({ streamName: 's1', mediaSessionId: 'm1', startMs: 10, endMs: 20, size: 10 });
    expect(await catalog.get('moved-away.mp4')).toBeNull();
    expect(fs.existsSync(journal)).toBe(false);
    expect(fs.existsSync(`${journal}.imported`)).toBe(true);
    fs.writeFileSync(journal, line('kept.mp4'));
    expect(await importJournalOnce(catalog, journal, dir, log)).toBe(0);
  });
});
