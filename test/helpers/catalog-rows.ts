import type { RecordRow } from '../../src/catalog/catalog.js';

/** A finished MP4 part of stream cam1 (RTMP, 640x360, 1000-2000 ms, 100 bytes) in /rec; `over` changes what a test is about. */
export function row(fileName: string, over: Partial<RecordRow> = {}): RecordRow {
  return {
    fileName,
    dir: '/rec',
    streamName: 'cam1',
    mediaSessionId: 'msid-1',
    provider: 'RTMP',
    login: 'bob',
    startMs: 1000,
    endMs: 2000,
    durationMs: 1000,
    size: 100,
    container: 'mp4',
    videoCodec: 'H264',
    audioCodec: 'AAC',
    width: 640,
    height: 360,
    part: 1,
    state: 'finished',
    mtimeMs: 2000,
    ...over,
  };
}
