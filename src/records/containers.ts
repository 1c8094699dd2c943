/**
 * Record containers by file extension (pure): which files are records, the
 * Content-Type they are served with, and which can be cut by time range.
 */
export type RecordContainer = 'mp4' | 'webm' | 'mkv' | 'ts';

export const CONTENT_TYPES: Readonly<Record<RecordContainer, string>> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  ts: 'video/mp2t',
};

/** The container of a record file, or null when the name is not one of a record. */
export function containerOf(fileName: string): RecordContainer | null {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = fileName.slice(dot + 1).toLowerCase();
  return ext === 'mp4' || ext === 'webm' || ext === 'mkv' || ext === 'ts' ? ext : null;
}

/** Only MP4 records are cut by ?start=&end= (WCS: WebM is always served whole). */
export function isCuttable(container: RecordContainer | null): boolean {
  return container === 'mp4';
}
