import path from 'node:path';
import type { PartSource, RecordedPart } from '../../catalog/part-source.js';
import { containerOf } from '../../records/containers.js';
import type { FinishedRecord } from '../../records/record-catalog.js';

/** What this adapter needs of the record listing (RecordCatalog.list). */
export interface RecordLister {
  list(): Promise<FinishedRecord[]>;
}

/**
 * Interim PartSource over today's record listing (record_dir + its
 * journal): each listing reads the folder again, so it costs one readdir and
 * one stat per record. Only records this daemon made (whose stream name is
 * known) are found. The SQLite catalog replaces it.
 */
export class RecordCatalogPartSource implements PartSource {
  constructor(
    private readonly records: RecordLister,
    private readonly recordDir: string,
  ) {}

  async partsOverlapping(streamName: string, fromMs: number, toMs: number): Promise<readonly RecordedPart[]> {
    const all = await this.records.list();
    const parts: RecordedPart[] = [];
    for (const r of all) {
      if (r.streamName !== streamName || r.endTimeMillis <= fromMs || r.startTimeMillis >= toMs) continue;
      const container = containerOf(r.fileName);
      if (container === null) continue;
      parts.push({
        path: path.join(this.recordDir, r.fileName),
        fileName: r.fileName,
        streamName,
        startMs: r.startTimeMillis,
        endMs: r.endTimeMillis,
        container,
      });
    }
    return parts.sort((a, b) => a.startMs - b.startMs || a.fileName.localeCompare(b.fileName));
  }
}
