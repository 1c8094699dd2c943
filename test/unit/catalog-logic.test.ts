import { describe, expect, it } from 'vitest';
import type { CatalogRecord, CutEntry } from '../../src/catalog/catalog.js';
import { diffFolder } from '../../src/catalog/folder-scan.js';
import { decideDeletions, type RetentionRules } from '../../src/catalog/retention-rules.js';
import { retentionDurationValue, retentionIntervalValue, retentionSizeValue } from '../../src/catalog/retention-values.js';
import { buildTimeline } from '../../src/catalog/timeline.js';
import { ConfigError, parseServerConfig } from '../../src/config/server-config.js';
import { ValueError } from '../../src/config/values.js';
import { parseTimeBound, parseTimeRange, TimeBoundError } from '../../src/http/time-bound.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;

function rec(fileName: string, startMs: number, size: number, over: Partial<CatalogRecord> = {}): CatalogRecord {
  return {
    fileName,
    nodeId: 'n1',
    dir: '/rec',
    streamName: 's',
    mediaSessionId: null,
    provider: 'RTMP',
    login: '',
    startMs,
    endMs: startMs + 60_000,
    durationMs: 60_000,
    size,
    container: 'mp4',
    videoCodec: '',
    audioCodec: '',
    width: 0,
    height: 0,
    part: 1,
    state: 'finished',
    pinned: false,
    mtimeMs: startMs,
    deletedAt: null,
    deletedReason: null,
    ...over,
  };
}

const cut = (fileName: string, source: string, createdMs: number, size: number): CutEntry => ({ fileName, dir: '/rec', sourceFileName: source, size, createdMs });
const OFF: RetentionRules = { maxAgeMs: 0, maxSizeBytes: 0, minFreeBytes: 0 };

describe('retention decisions (decideDeletions)', () => {
  const records = [
    rec('old.mp4', NOW - 40 * DAY, 100),
    rec('pinned-old.mp4', NOW - 50 * DAY, 100, { pinned: true }),
    rec('live.mp4', NOW - 60 * DAY, 100, { state: 'recording', endMs: null }),
    rec('broken.mp4', NOW - 35 * DAY, 10, { state: 'broken' }),
    rec('mid.mp4', NOW - 20 * DAY, 100, { state: 'recovered' }),
    rec('new.mp4', NOW - 1 * DAY, 100),
  ];
  const cuts = [cut('old-s1-e2.mp4', 'old.mp4', NOW - 2 * DAY, 5), cut('new-s1-e2.mp4', 'new.mp4', NOW - 40 * DAY, 5)];
  const run = (rules: Partial<RetentionRules>, freeBytes: number | null = null) =>
    decideDeletions({ records, cuts, nowMs: NOW, freeBytes }, { ...OFF, ...rules }).map((d) => `${d.kind}:${d.fileName}:${d.reason}`);

  it.each([
    ['all rules off', {}, null, []],
    [
      'max_age 30d: old cuts and records ended before now-30d; never pinned, never recording',
      { maxAgeMs: 30 * DAY },
      null,
      ['cut:new-s1-e2.mp4:max_age', 'record:old.mp4:max_age', 'cut:old-s1-e2.mp4:source_deleted', 'record:broken.mp4:max_age'],
    ],
    ['max_age 100d: nothing that old', { maxAgeMs: 100 * DAY }, null, []],
    // total = 510 + 10 cuts = 520; down to 400: cuts first (10), then old.mp4 (100) -> 410, then broken (10) -> 400
    [
      'max_size: cuts first, then the oldest deletable records',
      { maxSizeBytes: 400 },
      null,
      ['cut:new-s1-e2.mp4:max_size', 'cut:old-s1-e2.mp4:max_size', 'record:old.mp4:max_size', 'record:broken.mp4:max_size'],
    ],
    ['max_size above the total: nothing', { maxSizeBytes: 1000 }, null, []],
    [
      'max_size 0 bytes wanted: everything deletable goes, pinned and recording stay',
      { maxSizeBytes: 1 },
      null,
      [
        'cut:new-s1-e2.mp4:max_size',
        'cut:old-s1-e2.mp4:max_size',
        'record:old.mp4:max_size',
        'record:broken.mp4:max_size',
        'record:mid.mp4:max_size',
        'record:new.mp4:max_size',
      ],
    ],
    ['min_free_space: free 1000, want 1105: cuts (10) then old (100)', { minFreeBytes: 1105 }, 1000, ['cut:new-s1-e2.mp4:min_free_space', 'cut:old-s1-e2.mp4:min_free_space', 'record:old.mp4:min_free_space']],
    ['min_free_space with free space unknown: waits', { minFreeBytes: 1105 }, null, []],
    ['min_free_space already met', { minFreeBytes: 500 }, 1000, []],
  ] as const)('%s', (_what, rules, free, expected) => {
    expect(run(rules, free)).toEqual(expected);
  });

  it('rules combine without deleting twice', () => {
    const out = run({ maxAgeMs: 30 * DAY, maxSizeBytes: 300 });
    expect(out).toEqual([
      'cut:new-s1-e2.mp4:max_age',
      'record:old.mp4:max_age',
      'cut:old-s1-e2.mp4:source_deleted',
      'record:broken.mp4:max_age',
      'record:mid.mp4:max_size',
    ]);
    expect(new Set(out.map((o) => o.split(':')[1])).size).toBe(out.length);
  });
});

describe('retention values', () => {
  it.each([
    ['0', 0],
    ['60', 60],
    ['45s', 45],
    ['90m', 5400],
    ['12h', 43200],
    ['30d', 2_592_000],
    [' 7D ', 604_800],
  ])('duration %s = %i s', (raw, s) => expect(retentionDurationValue(raw)).toBe(s));
  it.each(['', '-1', '1w', '1.5h', 'h', '30 days'])('duration %s is refused', (raw) => expect(() => retentionDurationValue(raw)).toThrow(ValueError));
  it.each([
    ['0', 0],
    ['1024', 1024],
    ['64K', 65536],
    ['100M', 104_857_600],
    ['500G', 500 * 1024 ** 3],
    ['2T', 2 * 1024 ** 4],
    ['2tb', 2 * 1024 ** 4],
    ['1GiB', 1024 ** 3],
  ])('size %s = %i bytes', (raw, n) => expect(retentionSizeValue(raw)).toBe(n));
  it.each(['', '-5G', '5P', '1.5G', 'G'])('size %s is refused', (raw) => expect(() => retentionSizeValue(raw)).toThrow(ValueError));
  it('check interval: at least 1 s', () => {
    expect(retentionIntervalValue('5m')).toBe(300);
    expect(() => retentionIntervalValue('0')).toThrow(ValueError);
  });
});

describe('records query times', () => {
  it.each([
    [1_700_000_000_000, 1_700_000_000_000],
    ['1700000000000', 1_700_000_000_000],
    ['2026-12-06T20:00:00Z', Date.UTC(2026, 11, 6, 20)],
    ['2026-12-06T21:00:00+01:00', Date.UTC(2026, 11, 6, 20)],
    ['2026-12-06T20:00:00.250Z', Date.UTC(2026, 11, 6, 20) + 250],
    ['2026-12-06', Date.UTC(2026, 11, 6)],
  ] as const)('%s', (v, ms) => expect(parseTimeBound('from', v)).toBe(ms));
  it.each([-1, Number.NaN, 1e20, 'yesterday', '2026-13-45T00:00:00Z', '12/06/2026', ''])('%s is refused', (v) =>
    expect(() => parseTimeBound('from', v)).toThrow(TimeBoundError),
  );
  it('to must be after from', () => {
    expect(parseTimeRange(1, 2)).toEqual({ fromMs: 1, toMs: 2 });
    expect(parseTimeRange(undefined, undefined)).toEqual({});
    expect(() => parseTimeRange(2, 2)).toThrow(TimeBoundError);
  });
});

describe('timeline', () => {
  const spans = [
    { start: 0, end: 60_000, fileName: 'a_1.mp4' },
    { start: 60_010, end: 120_000, fileName: 'a_2.mp4' },
    { start: 180_000, end: 200_000, fileName: 'a_3.mp4' },
  ];
  it('parts that touch make no gap; a stop and a return make one', () => {
    expect(buildTimeline(spans, null, null, 1000)).toEqual({ spans, gaps: [{ start: 120_000, end: 180_000 }] });
  });
  it('gaps at the edges of the range asked for', () => {
    expect(buildTimeline(spans.slice(2), 100_000, 300_000, 1000).gaps).toEqual([
      { start: 100_000, end: 180_000 },
      { start: 200_000, end: 300_000 },
    ]);
  });
  it('nothing recorded: the whole range is a gap', () => {
    expect(buildTimeline([], 5, 10, 1000)).toEqual({ spans: [], gaps: [{ start: 5, end: 10 }] });
    expect(buildTimeline([], null, null, 1000)).toEqual({ spans: [], gaps: [] });
  });
});

describe('folder diff', () => {
  it('added, changed (size or mtime), vanished; unchanged files left alone', () => {
    const known = new Map([
      ['same.mp4', { size: 1, mtimeMs: 10 }],
      ['grown.mp4', { size: 1, mtimeMs: 10 }],
      ['touched.mp4', { size: 1, mtimeMs: 10 }],
      ['gone.mp4', { size: 1, mtimeMs: 10 }],
    ]);
    const diff = diffFolder(known, [
      { name: 'same.mp4', size: 1, mtimeMs: 10 },
      { name: 'grown.mp4', size: 2, mtimeMs: 10 },
      { name: 'touched.mp4', size: 1, mtimeMs: 11 },
      { name: 'new.mp4', size: 1, mtimeMs: 10 },
    ]);
    expect(diff.added.map((e) => e.name)).toEqual(['new.mp4']);
    expect(diff.changed.map((e) => e.name)).toEqual(['grown.mp4', 'touched.mp4']);
    expect(diff.vanished).toEqual(['gone.mp4']);
  });
});

describe('catalog and retention properties', () => {
  const parse = (raw: Record<string, string>) => parseServerConfig(raw, '/srv/wcs-home').config;
  it('defaults: catalog hidden in record_dir, retention off, checks every 60 s, no delete hook', () => {
    const c = parse({});
    expect(c.catalogPathAbs).toBe('/srv/wcs-home/records/.wcs-catalog.sqlite');
    expect([c.recordRetentionMaxAge, c.recordRetentionMaxSize, c.recordRetentionMinFreeSpace]).toEqual([0, 0, 0]);
    expect(c.recordRetentionCheckInterval).toBe(60);
    expect(c.onRecordDeleteHookScriptAbs).toBeNull();
  });
  it('values with units; paths under WCS_HOME', () => {
    const c = parse({
      catalog_path: 'db/catalog.sqlite',
      record_retention_max_age: '30d',
      record_retention_max_size: '2T',
      record_retention_min_free_space: '50G',
      file_recorder_min_space: '10g',
      record_retention_check_interval: '5m',
      on_record_delete_hook_script: 'bin/deleted.sh',
    });
    expect(c.catalogPathAbs).toBe('/srv/wcs-home/db/catalog.sqlite');
    expect(c.recordRetentionMaxAge).toBe(30 * 86400);
    expect(c.recordRetentionMaxSize).toBe(2 * 1024 ** 4);
    expect(c.recordRetentionMinFreeSpace).toBe(50 * 1024 ** 3);
    expect(c.recordRetentionCheckInterval).toBe(300);
    expect(c.onRecordDeleteHookScriptAbs).toBe('/srv/wcs-home/bin/deleted.sh');
  });
  it('record_retention_min_free_space must be above file_recorder_min_space (it acts first)', () => {
    expect(() => parse({ record_retention_min_free_space: '1G' })).toThrow(ConfigError);
    expect(() => parse({ record_retention_min_free_space: '512M' })).toThrow(/file_recorder_min_space/);
    expect(parse({ record_retention_min_free_space: '2G' }).recordRetentionMinFreeSpace).toBe(2 * 1024 ** 3);
  });
  it.each([
    ['record_retention_max_age', '1 week'],
    ['record_retention_max_size', '-1'],
    ['record_retention_check_interval', '0'],
  ])('%s=%s is refused naming the key', (key, value) => {
    expect(() => parse({ [key]: value })).toThrow(new RegExp(`Bad value for ${key}`));
  });
});
