import { describe, expect, it } from 'vitest';
import type { RecordRow } from '../../src/catalog/catalog.js';
import { cutOf, RECORD_READ_COLUMNS, RECORD_WRITTEN, recordColumnValues, recordOf, type RecordDbRow } from '../../src/catalog/record-db-row.js';

const ROW: RecordRow = {
  fileName: 'a.mp4',
  dir: '/rec',
  streamName: 'cam',
  mediaSessionId: 'm-1',
  provider: 'RTSP',
  login: 'bob',
  startMs: 1_765_000_000_000.4,
  endMs: 1_765_000_005_000.6,
  durationMs: 5000.2,
  size: 3_000_000_000,
  container: 'mp4',
  videoCodec: 'H264',
  audioCodec: 'AAC',
  width: 1280,
  height: 720,
  part: 2,
  state: 'finished',
  mtimeMs: 1_765_000_006_000,
  pauses: [{ pausedAt: 1, resumedAt: 2, positionMs: 3, skippedMs: 1 }],
};

/** What each engine gives back for the values written: SQLite numbers and 0/1, PostgreSQL BIGINT as text (without a type parser) and BOOLEAN. */
function stored(engine: 'sqlite' | 'pg', pinned: boolean): RecordDbRow {
  const v = recordColumnValues(ROW);
  const big = (x: string | number | null): number | string | null => (x === null ? null : engine === 'pg' ? String(x) : Number(x));
  return {
    ...(engine === 'pg' ? { node_id: 'node-b' } : {}),
    file_name: String(v.file_name),
    dir: String(v.dir),
    stream_name: v.stream_name as string | null,
    media_session_id: v.media_session_id as string | null,
    provider: String(v.provider),
    login: String(v.login),
    start_ms: big(v.start_ms)!,
    end_ms: big(v.end_ms),
    duration_ms: big(v.duration_ms),
    size: big(v.size)!,
    container: String(v.container),
    video_codec: String(v.video_codec),
    audio_codec: String(v.audio_codec),
    width: Number(v.width),
    height: Number(v.height),
    part: Number(v.part),
    state: String(v.state),
    pinned: engine === 'pg' ? pinned : pinned ? 1 : 0,
    mtime_ms: big(v.mtime_ms)!,
    deleted_at: big(null),
    deleted_reason: null,
    pauses: v.pauses as string | null,
  };
}

describe('one records-row mapping for both catalog engines', () => {
  it('writes a value for every column it names, times rounded to whole ms', () => {
    const v = recordColumnValues(ROW);
    expect(Object.keys(v).sort()).toEqual([...RECORD_WRITTEN].sort());
    expect([v.start_ms, v.end_ms, v.duration_ms]).toEqual([1_765_000_000_000, 1_765_000_005_001, 5000]);
    expect(v.pauses).toBe(JSON.stringify(ROW.pauses));
    // the read columns are the written ones plus the catalog's own bookkeeping
    expect(RECORD_READ_COLUMNS.split(', ').sort()).toEqual([...RECORD_WRITTEN, 'pinned', 'deleted_at', 'deleted_reason'].sort());
  });

  it.each(['sqlite', 'pg'] as const)('reads back what it wrote from %s, numbers as numbers, the pin as a boolean', (engine) => {
    for (const pinned of [true, false]) {
      const r = recordOf(stored(engine, pinned), 'node-a');
      expect(r).toEqual({
        ...ROW,
        startMs: 1_765_000_000_000,
        endMs: 1_765_000_005_001,
        durationMs: 5000,
        nodeId: engine === 'pg' ? 'node-b' : 'node-a',
        pinned,
        deletedAt: null,
        deletedReason: null,
      });
    }
  });

  it('a record without pauses has no pauses field; a cut row maps the same from either engine', () => {
    const none = recordOf({ ...stored('sqlite', false), pauses: null }, 'n');
    expect(none).not.toHaveProperty('pauses');
    const cut = { fileName: 'c.mp4', dir: '/cuts', sourceFileName: 'a.mp4', size: 3_000_000_000, createdMs: 1_765_000_000_000 };
    expect(cutOf({ file_name: 'c.mp4', dir: '/cuts', source_file_name: 'a.mp4', size: 3_000_000_000, created_ms: 1_765_000_000_000 })).toEqual(cut);
    expect(cutOf({ file_name: 'c.mp4', dir: '/cuts', source_file_name: 'a.mp4', size: '3000000000', created_ms: '1765000000000' })).toEqual(cut);
  });
});
