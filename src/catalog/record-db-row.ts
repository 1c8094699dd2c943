import type { CatalogRecord, CutEntry, RecordProvider, RecordRow, RecordState } from './catalog.js';
import { pausesFromColumn, pausesToColumn } from './pauses-column.js';

/**
 * A `records` table row as either engine returns it: SQLite gives numbers
 * and 0/1; PostgreSQL's BIGINT columns come back as numbers through the
 * catalog's type parser (as strings without it) and BOOLEAN as true/false.
 * One mapping for both catalogs, as upload-db-row.ts is for the uploads.
 */
export interface RecordDbRow {
  /** PostgreSQL only (the embedded catalog holds only its own node's records). */
  node_id?: string;
  file_name: string;
  dir: string;
  stream_name: string | null;
  media_session_id: string | null;
  provider: string;
  login: string;
  start_ms: number | string;
  end_ms: number | string | null;
  duration_ms: number | string | null;
  size: number | string;
  container: string;
  video_codec: string;
  audio_codec: string;
  width: number;
  height: number;
  part: number;
  state: string;
  pinned: number | boolean;
  mtime_ms: number | string;
  deleted_at: number | string | null;
  deleted_reason: string | null;
  pauses: string | null;
}

/** The columns a RecordRow writes (every engine), in the order of recordColumnValues(). */
export const RECORD_WRITTEN = [
  'file_name',
  'dir',
  'stream_name',
  'media_session_id',
  'provider',
  'login',
  'start_ms',
  'end_ms',
  'duration_ms',
  'size',
  'container',
  'video_codec',
  'audio_codec',
  'width',
  'height',
  'part',
  'state',
  'mtime_ms',
  'pauses',
] as const;

export type RecordColumn = (typeof RECORD_WRITTEN)[number];

/** The columns read back into a CatalogRecord (besides node_id), comma-separated for a SELECT. */
export const RECORD_READ_COLUMNS = [...RECORD_WRITTEN.slice(0, -1), 'pinned', 'deleted_at', 'deleted_reason', 'pauses'].join(', ');

const numberOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** A stored row as a record; `nodeId` is the embedded catalog's own node when the row has no node_id. */
export function recordOf(r: RecordDbRow, nodeId: string): CatalogRecord {
  return {
    fileName: r.file_name,
    nodeId: r.node_id ?? nodeId,
    dir: r.dir,
    streamName: r.stream_name,
    mediaSessionId: r.media_session_id,
    provider: r.provider as RecordProvider,
    login: r.login,
    startMs: Number(r.start_ms),
    endMs: numberOrNull(r.end_ms),
    durationMs: numberOrNull(r.duration_ms),
    size: Number(r.size),
    container: r.container,
    videoCodec: r.video_codec,
    audioCodec: r.audio_codec,
    width: Number(r.width),
    height: Number(r.height),
    part: Number(r.part),
    state: r.state as RecordState,
    pinned: r.pinned === true || r.pinned === 1,
    mtimeMs: Number(r.mtime_ms),
    deletedAt: numberOrNull(r.deleted_at),
    deletedReason: r.deleted_reason,
    ...pausesFromColumn(r.pauses),
  };
}

/** A record row's column values (times rounded to whole ms: the columns are integers). */
export function recordColumnValues(row: RecordRow): Record<RecordColumn, string | number | null> {
  return {
    file_name: row.fileName,
    dir: row.dir,
    stream_name: row.streamName,
    media_session_id: row.mediaSessionId,
    provider: row.provider,
    login: row.login,
    start_ms: Math.round(row.startMs),
    end_ms: row.endMs === null ? null : Math.round(row.endMs),
    duration_ms: row.durationMs === null ? null : Math.round(row.durationMs),
    size: row.size,
    container: row.container,
    video_codec: row.videoCodec,
    audio_codec: row.audioCodec,
    width: row.width,
    height: row.height,
    part: row.part,
    state: row.state,
    mtime_ms: Math.round(row.mtimeMs),
    pauses: pausesToColumn(row.pauses),
  };
}

/** A `cuts` table row as either engine returns it. */
export interface CutDbRow {
  file_name: string;
  dir: string;
  source_file_name: string;
  size: number | string;
  created_ms: number | string;
}

export const CUT_READ_COLUMNS = 'file_name, dir, source_file_name, size, created_ms';

export function cutOf(r: CutDbRow): CutEntry {
  return { fileName: r.file_name, dir: r.dir, sourceFileName: r.source_file_name, size: Number(r.size), createdMs: Number(r.created_ms) };
}
