/**
 * The JSON-lines journal (`.wcs-records.jsonl`) the daemon kept of its
 * records before the SQLite catalog (src/catalog/). Only read now: the
 * catalog imports it once (src/catalog/journal-import.ts).
 */

export interface JournalEntry {
  readonly fileName: string;
  readonly mediaSessionId: string;
  readonly streamName: string;
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  readonly durationMs: number;
}

/** Parses journal lines (pure): the last entry of each file name wins; bad lines are skipped. */
export function parseJournal(text: string): Map<string, JournalEntry> {
  const entries = new Map<string, JournalEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as Partial<JournalEntry>;
      if (
        typeof e.fileName === 'string' &&
        typeof e.mediaSessionId === 'string' &&
        typeof e.streamName === 'string' &&
        typeof e.startTimeMillis === 'number' &&
        typeof e.endTimeMillis === 'number' &&
        typeof e.durationMs === 'number'
      ) {
        entries.set(e.fileName, {
          fileName: e.fileName,
          mediaSessionId: e.mediaSessionId,
          streamName: e.streamName,
          startTimeMillis: e.startTimeMillis,
          endTimeMillis: e.endTimeMillis,
          durationMs: e.durationMs,
        });
      }
    } catch {
      // a line cut short by a crash: skipped
    }
  }
  return entries;
}
