import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { containerOf } from '../records/containers.js';
import { parseJournal } from '../records/record-catalog.js';
import type { Catalog } from './catalog.js';
import { statEntry } from './folder-scan.js';

const IMPORTED_KEY = 'journal_imported';

/**
 * Imports the JSON-lines journal the daemon kept before the catalog
 * (`.wcs-records.jsonl` in record_dir) once: each entry whose file is still
 * there becomes a finished row; the journal is then renamed `.imported`.
 * Returns the number of rows imported.
 */
export async function importJournalOnce(catalog: Catalog, journalFile: string, recordDir: string, log: Logger): Promise<number> {
  if ((await catalog.getMeta(IMPORTED_KEY)) !== null) return 0;
  let text: string;
  try {
    text = await fs.promises.readFile(journalFile, 'utf8');
  } catch {
    await catalog.setMeta(IMPORTED_KEY, String(Date.now()));
    return 0;
  }
  let count = 0;
  for (const e of parseJournal(text).values()) {
    const disk = statEntry(recordDir, e.fileName);
    if (!disk) continue;
    await catalog.upsert({
      fileName: e.fileName,
      dir: recordDir,
      streamName: e.streamName,
      mediaSessionId: e.mediaSessionId,
      provider: 'file',
      login: '',
      startMs: e.startTimeMillis,
      endMs: e.endTimeMillis,
      durationMs: e.durationMs,
      size: disk.size,
      container: containerOf(e.fileName) ?? '',
      videoCodec: '',
      audioCodec: '',
      width: 0,
      height: 0,
      part: 1,
      state: 'finished',
      mtimeMs: disk.mtimeMs,
    });
    count++;
  }
  await catalog.setMeta(IMPORTED_KEY, String(Date.now()));
  await fs.promises.rename(journalFile, `${journalFile}.imported`).catch(() => undefined);
  log.info({ journal: path.basename(journalFile), records: count }, 'Record journal imported into the catalog');
  return count;
}
