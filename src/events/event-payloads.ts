import path from 'node:path';
import type { CatalogRecord } from '../catalog/catalog.js';
import type { MultiRecordInfo } from '../recording/multi/multi-recorder.js';
import type { PartStartInfo, RecordInfo } from '../recording/recorder.js';
import type { UploadRow } from '../storage/upload-store.js';

/** The `data` of each webhook event (pure): what docs/webhooks.md lists. */

export interface StreamFacts {
  readonly name: string;
  readonly mediaSessionId: string;
  readonly mediaProvider: string;
  readonly login: string;
}

export function streamData(s: StreamFacts): Record<string, unknown> {
  return { streamName: s.name, mediaSessionId: s.mediaSessionId, mediaProvider: s.mediaProvider, login: s.login };
}

export function startedData(p: PartStartInfo): Record<string, unknown> {
  return {
    streamName: p.streamName,
    mediaSessionId: p.mediaSessionId,
    mediaProvider: p.mediaProvider,
    part: p.part,
    startTimeMillis: p.startTimeMillis,
    container: p.container,
    videoCodec: p.videoCodec,
    audioCodec: p.audioCodec,
    width: p.width,
    height: p.height,
  };
}

export function finishedData(r: RecordInfo, sha256: string | null): Record<string, unknown> {
  return {
    fileName: r.fileName,
    path: r.path,
    streamName: r.streamName,
    mediaSessionId: r.mediaSessionId,
    mediaProvider: r.mediaProvider ?? null,
    part: r.part,
    startTimeMillis: r.startTimeMillis,
    endTimeMillis: r.endTimeMillis,
    durationMillis: r.durationMs,
    size: r.size,
    videoCodec: r.videoCodec ?? null,
    audioCodec: r.audioCodec ?? null,
    width: r.width ?? null,
    height: r.height ?? null,
    checksum: sha256 === null ? null : { algorithm: 'sha256', value: sha256 },
    recovered: r.recovered === true,
  };
}

export function multiFinishedData(m: MultiRecordInfo, size: number, sha256: string | null, endMs: number): Record<string, unknown> {
  return {
    fileName: m.fileName,
    path: m.path,
    streamName: null,
    mediaSessionId: null,
    multiRecorder: m.uri,
    participants: m.participants,
    startTimeMillis: endMs - m.durationMs,
    endTimeMillis: endMs,
    durationMillis: m.durationMs,
    size,
    checksum: sha256 === null ? null : { algorithm: 'sha256', value: sha256 },
    recovered: false,
  };
}

export function failedData(reason: string, tmpFile: string | null): Record<string, unknown> {
  return { reason, tempFile: tmpFile === null ? null : path.basename(tmpFile) };
}

export function uploadedData(u: UploadRow, seconds: number): Record<string, unknown> {
  return {
    fileName: u.fileName,
    bucket: u.bucket,
    key: u.key,
    size: u.size,
    checksum: u.sha256 === null ? null : { algorithm: 'sha256', value: u.sha256 },
    etag: u.etag,
    attempts: u.attempts + 1,
    seconds: Number(seconds.toFixed(3)),
    localDeleted: u.localDeleted,
  };
}

export function deletedData(
  r: Pick<CatalogRecord, 'fileName' | 'streamName' | 'mediaSessionId'>,
  reason: string,
  where: { local: boolean; bucket: boolean; recordDeleted: boolean },
): Record<string, unknown> {
  return { fileName: r.fileName, streamName: r.streamName, mediaSessionId: r.mediaSessionId, reason, ...where };
}
