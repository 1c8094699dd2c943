import path from 'node:path';
import { containerOf } from '../records/containers.js';
import type { MultiRecordInfo } from '../recording/multi/multi-recorder.js';
import { multiRecorderStreamName } from '../recording/multi/multi-uri.js';
import type { PartStartInfo, RecordInfo } from '../recording/recorder.js';
import type { FinishedPart, RecordProvider, RecordRow } from './catalog.js';

/** The catalog's provider name of a stream's mediaProvider (WCS calls RTMP publishers "Flash"). */
export function providerOf(mediaProvider: string | undefined): RecordProvider {
  switch (mediaProvider) {
    case 'RTSP':
      return 'RTSP';
    case 'WebRTC':
      return 'WebRTC';
    case 'Flash':
    case 'RTMP':
      return 'RTMP';
    default:
      return 'file';
  }
}

/** The row of a part being recorded, under its hidden temp name (pure). */
export function recordingRow(p: PartStartInfo): RecordRow {
  return {
    fileName: path.basename(p.tmpFile),
    dir: path.dirname(p.tmpFile),
    streamName: p.streamName,
    mediaSessionId: p.mediaSessionId,
    provider: providerOf(p.mediaProvider),
    login: p.login,
    startMs: p.startTimeMillis,
    endMs: null,
    durationMs: null,
    size: 0,
    container: p.container,
    videoCodec: p.videoCodec,
    audioCodec: p.audioCodec,
    width: p.width,
    height: p.height,
    part: p.part,
    state: 'recording',
    mtimeMs: p.startTimeMillis,
  };
}

/** The finished (or recovered) record replacing its in-progress row (pure; `mtimeMs` from the file). */
export function finishedPart(r: RecordInfo, mtimeMs: number): FinishedPart {
  return {
    tempName: r.tmpFile ? path.basename(r.tmpFile) : r.fileName,
    row: {
      fileName: r.fileName,
      dir: path.dirname(r.path),
      streamName: r.streamName,
      mediaSessionId: r.mediaSessionId,
      provider: providerOf(r.mediaProvider),
      login: r.login ?? '',
      startMs: r.startTimeMillis,
      endMs: r.endTimeMillis,
      durationMs: r.durationMs,
      size: r.size,
      container: containerOf(r.fileName) ?? '',
      videoCodec: r.videoCodec ?? '',
      audioCodec: r.audioCodec ?? '',
      width: r.width ?? 0,
      height: r.height ?? 0,
      part: r.part,
      state: r.recovered ? 'recovered' : 'finished',
      mtimeMs,
      ...(r.pauses && r.pauses.length > 0 ? { pauses: r.pauses } : {}),
    },
  };
}

/** A multiple recorder in progress, known by its hidden work folder until its file is assembled (pure). */
export function multiRecordingRow(uri: string, workDir: string, startTimeMillis: number): RecordRow {
  return {
    fileName: path.basename(workDir),
    dir: path.dirname(workDir),
    streamName: multiRecorderStreamName(uri),
    mediaSessionId: null,
    provider: 'multi',
    login: '',
    startMs: startTimeMillis,
    endMs: null,
    durationMs: null,
    size: 0,
    container: 'mp4',
    videoCodec: 'H264',
    audioCodec: '',
    width: 0,
    height: 0,
    part: 1,
    state: 'recording',
    mtimeMs: startTimeMillis,
  };
}

/** A multiple recording (several streams in one MP4) as a row (pure; the file's size and mtime given). */
export function multiRow(info: MultiRecordInfo, size: number, mtimeMs: number): RecordRow {
  return {
    fileName: info.fileName,
    dir: path.dirname(info.path),
    streamName: multiRecorderStreamName(info.uri),
    mediaSessionId: null,
    provider: 'multi',
    login: '',
    startMs: mtimeMs - info.durationMs,
    endMs: mtimeMs,
    durationMs: info.durationMs,
    size,
    container: 'mp4',
    videoCodec: 'H264',
    audioCodec: '',
    width: 0,
    height: 0,
    part: 1,
    state: 'finished',
    mtimeMs,
  };
}
