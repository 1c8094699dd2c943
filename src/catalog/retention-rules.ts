import type { CatalogRecord, CutEntry } from './catalog.js';

/** The record_retention_* limits; 0 = that rule is off. */
export interface RetentionRules {
  readonly maxAgeMs: number;
  readonly maxSizeBytes: number;
  readonly minFreeBytes: number;
}

export type DeletionReason = 'max_age' | 'max_size' | 'min_free_space' | 'source_deleted';

export interface Deletion {
  readonly kind: 'record' | 'cut';
  readonly fileName: string;
  readonly dir: string;
  readonly streamName: string | null;
  readonly size: number;
  readonly reason: DeletionReason;
}

export interface RetentionInput {
  /** Rows of files on disk or being written (recording, finished, recovered, broken). */
  readonly records: readonly CatalogRecord[];
  readonly cuts: readonly CutEntry[];
  /**
   * Bytes taken by every present record and cut. Default: the sum over
   * `records` and `cuts` (when `records` holds them all; the service passes
   * only the oldest rows, with the catalog's total).
   */
  readonly totalBytes?: number;
  readonly nowMs: number;
  /** Free bytes on the records filesystem; null when unknown (the free-space rule then waits). */
  readonly freeBytes: number | null;
}

export function retentionOff(rules: RetentionRules): boolean {
  return rules.maxAgeMs <= 0 && rules.maxSizeBytes <= 0 && rules.minFreeBytes <= 0;
}

/** Whether retention may ever delete this record: finished (or recovered, or unreadable) and not pinned. Never one being written. */
export function deletable(r: CatalogRecord): boolean {
  return !r.pinned && (r.state === 'finished' || r.state === 'recovered' || r.state === 'broken');
}

/**
 * What retention deletes now (pure). Cuts are a cache: they go first when
 * space is needed, and with the record they were cut from. Records go
 * oldest first. Never deleted: a record being written, a pinned record,
 * and anything not in the rows (files the catalog does not know).
 *   - max_age: records that ended (cuts made) before now - maxAge;
 *   - max_size: while records + cuts take more than maxSize;
 *   - min_free_space: while free space (plus what is deleted) is below minFree.
 */
export function decideDeletions(input: RetentionInput, rules: RetentionRules): Deletion[] {
  const out: Deletion[] = [];
  const goneRecords = new Set<string>();
  const goneCuts = new Set<string>();
  let freedBytes = 0;
  const cutOf = (c: CutEntry, reason: DeletionReason): Deletion => ({ kind: 'cut', fileName: c.fileName, dir: c.dir, streamName: null, size: c.size, reason });
  const dropCut = (c: CutEntry, reason: DeletionReason): void => {
    if (goneCuts.has(c.fileName)) return;
    goneCuts.add(c.fileName);
    freedBytes += c.size;
    out.push(cutOf(c, reason));
  };
  const dropRecord = (r: CatalogRecord, reason: DeletionReason): void => {
    if (goneRecords.has(r.fileName)) return;
    goneRecords.add(r.fileName);
    freedBytes += r.size;
    out.push({ kind: 'record', fileName: r.fileName, dir: r.dir, streamName: r.streamName, size: r.size, reason });
    for (const c of input.cuts) if (c.sourceFileName === r.fileName) dropCut(c, 'source_deleted');
  };
  const oldestFirst = input.records.filter(deletable).sort((a, b) => a.startMs - b.startMs || a.fileName.localeCompare(b.fileName));
  const cutsOldestFirst = [...input.cuts].sort((a, b) => a.createdMs - b.createdMs || a.fileName.localeCompare(b.fileName));

  if (rules.maxAgeMs > 0) {
    const limit = input.nowMs - rules.maxAgeMs;
    for (const c of cutsOldestFirst) if (c.createdMs < limit) dropCut(c, 'max_age');
    for (const r of oldestFirst) if ((r.endMs ?? r.startMs) < limit) dropRecord(r, 'max_age');
  }

  const freed = (): number => freedBytes;
  /** Deletes the next candidate (cuts, then records, oldest first); false when nothing is left. */
  const dropNext = (reason: DeletionReason): boolean => {
    const cut = cutsOldestFirst.find((c) => !goneCuts.has(c.fileName));
    if (cut) {
      dropCut(cut, reason);
      return true;
    }
    const record = oldestFirst.find((r) => !goneRecords.has(r.fileName));
    if (record) {
      dropRecord(record, reason);
      return true;
    }
    return false;
  };

  if (rules.maxSizeBytes > 0) {
    const total = input.totalBytes ?? input.records.reduce((s, r) => s + r.size, 0) + input.cuts.reduce((s, c) => s + c.size, 0);
    while (total - freed() > rules.maxSizeBytes && dropNext('max_size'));
  }

  if (rules.minFreeBytes > 0 && input.freeBytes !== null) {
    const free = input.freeBytes;
    while (free + freed() < rules.minFreeBytes && dropNext('min_free_space'));
  }
  return out;
}
