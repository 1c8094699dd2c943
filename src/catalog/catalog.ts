import type { TimelineSpan } from './timeline.js';
import type { PartSource } from './part-source.js';

/**
 * The record catalog: one row per record file (one per rotated part), from
 * the first byte of a recording to its deletion. The folder stays the
 * truth: rows are reconciled with it at start-up and when it changes. This
 * is the whole contract callers see; SqliteCatalog is the embedded
 * implementation, PgCatalog the one several daemons (nodes) share. Every
 * row belongs to the node that holds its file (nodeId): reads (get, find,
 * spans, parts) cover every node, the bookkeeping of files on disk
 * (presentIn, markGone, retention rows, cuts, meta) only this node's.
 */

/** remote: the local file was deleted after a verified upload; the record is served from the bucket (issue 19). */
export type RecordState = 'recording' | 'finished' | 'recovered' | 'broken' | 'deleted' | 'gone' | 'remote';
export const RECORD_STATES: readonly RecordState[] = ['recording', 'finished', 'recovered', 'broken', 'deleted', 'gone', 'remote'];
/** States of a file that is on disk (or being written). */
export const PRESENT_STATES: readonly RecordState[] = ['recording', 'finished', 'recovered', 'broken'];
/** What /records/find lists by default: the files on disk and the records only in the bucket. */
export const FINDABLE_STATES: readonly RecordState[] = [...PRESENT_STATES, 'remote'];

export type RecordProvider = 'RTMP' | 'RTSP' | 'WebRTC' | 'multi' | 'file';
export const RECORD_PROVIDERS: readonly RecordProvider[] = ['RTMP', 'RTSP', 'WebRTC', 'multi', 'file'];

/** A pause inside a record (issue 18): positions from the record's first media. */
export interface CatalogPause {
  readonly pausedAt: number;
  readonly resumedAt: number | null;
  readonly positionMs: number;
  readonly skippedMs: number;
}

export interface CatalogRecord {
  /** Unique over the whole catalog (every node's records). */
  readonly fileName: string;
  /** The node (node_id) whose disk holds the file; the embedded catalog has only its own. */
  readonly nodeId: string;
  /** Absolute folder holding the file. */
  readonly dir: string;
  /** null for a file this daemon did not record. */
  readonly streamName: string | null;
  readonly mediaSessionId: string | null;
  readonly provider: RecordProvider;
  readonly login: string;
  /** Wall-clock start of the media, epoch ms. */
  readonly startMs: number;
  /** Wall-clock end; null while recording. */
  readonly endMs: number | null;
  /** Media duration, ms; null when unknown (unreadable file, in progress). */
  readonly durationMs: number | null;
  readonly size: number;
  /** 'mp4' | 'mkv' | 'webm' | 'ts' */
  readonly container: string;
  readonly videoCodec: string;
  readonly audioCodec: string;
  readonly width: number;
  readonly height: number;
  /** 1-based part number. */
  readonly part: number;
  readonly state: RecordState;
  readonly pinned: boolean;
  /** File modification time (ms) when last seen on disk: reconcile skips unchanged files. */
  readonly mtimeMs: number;
  readonly deletedAt: number | null;
  readonly deletedReason: string | null;
  /** The pauses of a paused-and-resumed record (absent when none). */
  readonly pauses?: readonly CatalogPause[];
}

/** A row as written: everything but the bookkeeping the catalog keeps itself. */
export type RecordRow = Omit<CatalogRecord, 'pinned' | 'deletedAt' | 'deletedReason' | 'nodeId'>;

/** A finished part replacing its in-progress row (found by its temp name). */
export interface FinishedPart {
  readonly tempName: string;
  readonly row: RecordRow;
}

export type FindSort = 'start' | '-start' | 'end' | '-end';

export interface FindQuery {
  readonly streamName?: string;
  readonly mediaSessionId?: string;
  readonly provider?: RecordProvider;
  readonly fileName?: string;
  /** Only files of this folder. */
  readonly dir?: string;
  /** Only records this node holds (a shared catalog has every node's). */
  readonly nodeId?: string;
  /** Records overlapping [fromMs, toMs). */
  readonly fromMs?: number;
  readonly toMs?: number;
  /** Default: the states of files on disk (PRESENT_STATES). */
  readonly states?: readonly RecordState[];
  readonly offset?: number;
  /** Default 100. */
  readonly limit?: number;
  readonly sort?: FindSort;
}

export interface FindResult {
  readonly total: number;
  readonly records: CatalogRecord[];
}

/** A cut (?start=&end= part) kept as a cache entry, never as a record. */
export interface CutEntry {
  readonly fileName: string;
  readonly dir: string;
  readonly sourceFileName: string;
  readonly size: number;
  readonly createdMs: number;
}

/** What retention decides over. */
export interface RetentionRows {
  /** The oldest present rows (recording, finished, recovered, broken), oldest first, at most the limit asked. */
  readonly records: CatalogRecord[];
  /** Every row being recorded. */
  readonly recording: CatalogRecord[];
  readonly cuts: CutEntry[];
  /** Bytes of every present row and every cut, as the catalog knows them. */
  readonly totalBytes: number;
}

export interface Catalog extends PartSource {
  /** This node: the rows it writes are its own. */
  readonly nodeId: string;
  /** Resolves once the catalog is open and its schema current; rejects with a clear message otherwise. */
  ready(): Promise<void>;
  /**
   * Inserts or replaces the row of `row.fileName` (the pin is kept). A row
   * without a stream (a file found on disk) never replaces the present row
   * of a record this daemon made.
   */
  upsert(row: RecordRow): Promise<void>;
  /** upsert() of many rows in one transaction. */
  upsertMany(rows: readonly RecordRow[]): Promise<void>;
  /** Turns an in-progress row into its finished record (or inserts it when the temp row is unknown). */
  finishPart(part: FinishedPart): Promise<void>;
  /** Marks rows whose files vanished (rows already deleted stay deleted); this node's rows only. */
  markGone(fileNames: readonly string[]): Promise<void>;
  markBroken(fileName: string): Promise<void>;
  markDeleted(fileName: string, reason: string, atMs: number): Promise<void>;
  /** Removes a row (an in-progress part that produced no file). */
  remove(fileName: string): Promise<void>;
  get(fileName: string): Promise<CatalogRecord | null>;
  find(query: FindQuery): Promise<FindResult>;
  /** What a timeline draws of partsOverlapping(): start, end and file name only, oldest first. */
  spansOverlapping(streamName: string, fromMs: number, toMs: number): Promise<TimelineSpan[]>;
  /** Present rows of a folder of this node: file name -> size and mtime (what reconcile compares with the disk). */
  presentIn(dir: string): Promise<Map<string, { size: number; mtimeMs: number; state: RecordState }>>;
  /** Sets the pin; false when the file is not known. */
  pin(fileName: string, pinned: boolean): Promise<boolean>;
  upsertCut(cut: CutEntry): Promise<void>;
  removeCut(fileName: string): Promise<void>;
  cuts(): Promise<CutEntry[]>;
  /** The cuts made from one record. */
  cutsOf(sourceFileName: string): Promise<CutEntry[]>;
  /** This node's oldest `limit` present rows, rows being recorded, cuts and total bytes (each node cleans its own disk). */
  retentionRows(limit: number): Promise<RetentionRows>;
  /** Small key/value store of this node (journal import done, ...). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
