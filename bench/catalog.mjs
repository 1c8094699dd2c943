#!/usr/bin/env node
// Benchmark (issue 15, part 5): the SQLite record catalog with 1,000,000 rows,
// and the start-up reconcile of a folder of 100,000 files.
//
//   node bench/catalog.mjs [--rows 1000000] [--files 100000] [--probe-files 300] [--skip-reconcile]
//
// Catalog (a temp file, WAL, synchronous=NORMAL, as the daemon opens it):
//   - load: ROWS finished 1-minute parts, 24 streams x 30 days of 1-minute
//     parts (43,200 per stream) until ROWS is reached;
//   - records/find: the page the route asks for (100 rows + total) with no
//     filter, by stream, by stream + 1-hour range, a deep page (offset 500k);
//   - timeline: one stream over its 30 days of 1-minute parts (43,200 parts)
//     with partsOverlapping + buildTimeline, as /records/timeline does;
//   - insert per finished part: the two writes the recorder causes (a
//     'recording' row when the part opens, finishPart when it is in place),
//     each its own transaction, on the 1M-row file;
//   - memory: in a fresh process, RSS growth (after GC) from before opening the
//     1M-row file, after find pages, 200 parts inserted and three 30-day
//     timelines (SQLite's page cache is 8 MB); and the file's size.
// Reconcile (a temp folder of FILES small files with record names):
//   - with a catalog that already knows every file (same size and mtime);
//   - with an empty catalog and FILES new real (tiny) MP4s whose duration the
//     daemon reads in process from their mvhd box (no ffprobe);
//   - with an empty catalog: every file is new and is ffprobed (2 at a time,
//     as the daemon does for what it cannot read in process); measured on
//     PROBE_FILES real small MP4s, then extrapolated to FILES.
// Needs a built tree (npx tsc -p tsconfig.json) and ffmpeg/ffprobe.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { SqliteCatalog } = await import(path.join(REPO, 'dist', 'catalog', 'sqlite-catalog.js'));
const { buildTimeline } = await import(path.join(REPO, 'dist', 'catalog', 'timeline.js'));
const { Reconciler } = await import(path.join(REPO, 'dist', 'catalog', 'reconciler.js'));
const { MediaProbe } = await import(path.join(REPO, 'dist', 'records', 'media-probe.js'));
const { mp4DurationSeconds } = await import(path.join(REPO, 'dist', 'catalog', 'mp4-duration.js'));
const { default: pino } = await import('pino');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const MEMORY_CHILD = process.argv.indexOf('--memory-child');
if (MEMORY_CHILD > 0) {
  // the catalog's memory alone, in a fresh process: RSS growth from before opening the 1M-row file
  const file = process.argv[MEMORY_CHILD + 1];
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const c = SqliteCatalog.open(file);
  const grow = () => {
    global.gc?.();
    return Number(((process.memoryUsage().rss - rss0) / 1024 / 1024).toFixed(1));
  };
  const out = { afterOpenMiB: grow() };
  const T = Date.UTC(2026, 10, 1);
  for (let i = 0; i < 5; i++) {
    c.findSync({ limit: 100 });
    c.findSync({ streamName: 'cam-0', limit: 100 });
    c.findSync({ fromMs: T + i * 86_400_000, toMs: T + i * 86_400_000 + 3_600_000, limit: 100 });
    c.findSync({ streamName: 'cam-1', sort: '-start', limit: 100, offset: 1000 });
  }
  out.afterFindPagesMiB = grow();
  for (let i = 0; i < 200; i++) {
    const start = T + 40 * 86_400_000 + i * 60_000;
    const base = { dir: '/srv/records', mediaSessionId: null, provider: 'RTMP', login: '', size: 1, container: 'mp4', videoCodec: '', audioCodec: '', width: 0, height: 0, part: 1, streamName: 'mem' };
    c.upsertSync({ ...base, fileName: `.rec-mem-${i}.mp4`, startMs: start, endMs: null, durationMs: null, state: 'recording', mtimeMs: start });
    await c.finishPart({ tempName: `.rec-mem-${i}.mp4`, row: { ...base, fileName: `mem-${i}.mp4`, startMs: start, endMs: start + 60_000, durationMs: 60_000, state: 'finished', mtimeMs: start } });
  }
  out.afterInsertsMiB = grow();
  for (let i = 0; i < 3; i++) c.spansOverlappingSync('cam-0', T, T + 30 * 86_400_000);
  out.afterTimeline30DaysMiB = grow();
  await c.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}

const ROWS = arg('rows', 1_000_000);
const FILES = arg('files', 100_000);
const PROBE_FILES = arg('probe-files', 300);
const SKIP_RECONCILE = process.argv.includes('--skip-reconcile');

const MINUTE = 60_000;
const PARTS_PER_STREAM = 30 * 24 * 60;
const T0 = Date.UTC(2026, 10, 1);
const mib = (b) => (b / 1024 / 1024).toFixed(1);
const ms = (t) => Number(t.toFixed(3));
const now = () => performance.now();

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn, runs = 20) {
  fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    fn();
    times.push(now() - t);
  }
  return { median: ms(median(times)), max: ms(Math.max(...times)) };
}

function row(i) {
  const stream = Math.floor(i / PARTS_PER_STREAM);
  const k = i % PARTS_PER_STREAM;
  const start = T0 + k * MINUTE;
  return {
    fileName: `cam-${stream}-${start}_${k + 1}.mp4`,
    dir: '/srv/records',
    streamName: `cam-${stream}`,
    mediaSessionId: `00000000-0000-4000-8000-${String(stream).padStart(12, '0')}`,
    provider: 'RTMP',
    login: '',
    startMs: start,
    endMs: start + MINUTE,
    durationMs: MINUTE,
    size: 22_000_000,
    container: 'mp4',
    videoCodec: 'H264',
    audioCodec: 'AAC',
    width: 1280,
    height: 720,
    part: k + 1,
    state: 'finished',
    mtimeMs: start + MINUTE,
  };
}

const results = {};
const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)), node: process.version, loadavg: os.loadavg().map((x) => x.toFixed(2)) };
console.log('machine', JSON.stringify(machine));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-catalog-'));
try {
  // ------------------------------------------------------------------ 1M rows
  const file = path.join(tmp, '.wcs-catalog.sqlite');
  let catalog = SqliteCatalog.open(file);
  let t = now();
  const BATCH = 10_000;
  for (let i = 0; i < ROWS; i += BATCH) {
    catalog.transaction(() => {
      for (let j = i; j < Math.min(ROWS, i + BATCH); j++) catalog.upsertSync(row(j));
    });
  }
  results.loadRowsSeconds = ms((now() - t) / 1000);
  await catalog.close();
  catalog = SqliteCatalog.open(file);
  results.fileMiB = mib(fs.statSync(file).size);

  const lastStream = `cam-${Math.floor((ROWS - 1) / PARTS_PER_STREAM)}`;
  results.find = {
    firstPageNoFilter: timeIt(() => catalog.findSync({ limit: 100 }), 5),
    firstPageByStream: timeIt(() => catalog.findSync({ streamName: 'cam-0', limit: 100 })),
    byStreamOneHour: timeIt(() => catalog.findSync({ streamName: 'cam-0', fromMs: T0 + 10 * 86_400_000, toMs: T0 + 10 * 86_400_000 + 3_600_000, limit: 100 })),
    allStreamsOneHour: timeIt(() => catalog.findSync({ fromMs: T0 + 10 * 86_400_000, toMs: T0 + 10 * 86_400_000 + 3_600_000, limit: 100 })),
    byStreamNewestFirst: timeIt(() => catalog.findSync({ streamName: lastStream, sort: '-start', limit: 100 })),
    deepPageOffset500k: timeIt(() => catalog.findSync({ offset: 500_000, limit: 100 }), 5),
  };
  let spans = 0;
  results.timeline30DaysOneStream = timeIt(() => {
    const tl = buildTimeline(catalog.spansOverlappingSync('cam-0', T0, T0 + 30 * 86_400_000), T0, T0 + 30 * 86_400_000, 1000);
    spans = tl.spans.length;
  }, 10);
  results.timelineSpans = spans;
  results.timelineOneDay = timeIt(() => catalog.partsOverlappingSync('cam-0', T0 + 5 * 86_400_000, T0 + 6 * 86_400_000));

  // insert per finished part: the two writes of a part's life, each its own transaction
  const N = 2000;
  const perPart = [];
  for (let i = 0; i < N; i++) {
    const start = T0 + 31 * 86_400_000 + i * MINUTE;
    const temp = `.rec-bench-1-${i}.mp4`;
    const t1 = now();
    catalog.upsertSync({ ...row(0), fileName: temp, streamName: 'live', startMs: start, endMs: null, durationMs: null, size: 0, state: 'recording', mtimeMs: start });
    await catalog.finishPart({ tempName: temp, row: { ...row(0), fileName: `live-${i}.mp4`, streamName: 'live', startMs: start, endMs: start + MINUTE, mtimeMs: start + MINUTE } });
    perPart.push(now() - t1);
  }
  results.insertPerFinishedPartMs = { median: ms(median(perPart)), p99: ms([...perPart].sort((a, b) => a - b)[Math.floor(N * 0.99)]), mean: ms(perPart.reduce((a, b) => a + b, 0) / N) };
  await catalog.close();
  const child = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--memory-child', file], { encoding: 'utf8' });
  results.memoryOfCatalogProcess = JSON.parse(child.trim().split('\n').pop());

  // ------------------------------------------------------------------ reconcile 100k files
  if (!SKIP_RECONCILE) {
    const log = pino({ level: 'silent' });
    const dir = path.join(tmp, 'records');
    fs.mkdirSync(dir);
    t = now();
    const payload = Buffer.alloc(512, 1);
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(dir, `file-${i}.mp4`), payload);
    results.reconcile = { files: FILES, generateSeconds: ms((now() - t) / 1000) };
    const rc = SqliteCatalog.open(path.join(tmp, 'rc.sqlite'));
    // a catalog that already knows every file with its size and mtime
    rc.transaction(() => {
      for (const name of fs.readdirSync(dir)) {
        const s = fs.statSync(path.join(dir, name));
        rc.upsertSync({ ...row(0), fileName: name, dir, streamName: null, mediaSessionId: null, provider: 'file', size: s.size, mtimeMs: Math.round(s.mtimeMs) });
      }
    });
    let probes = 0;
    const reconciler = (cat, probe) =>
      new Reconciler(cat, { folders: [{ dir, provider: 'file' }], cutDir: null, isCut: () => false, sourceOfCut: () => null, probe, concurrency: 2 }, log);
    t = now();
    const known = await reconciler(rc, async () => {
      probes++;
      throw new Error('not expected');
    }).reconcileAll();
    results.reconcile.knownSeconds = ms((now() - t) / 1000);
    results.reconcile.knownReport = { ...known, probes };
    await rc.close();

    // every file new, without ffprobe cost (the catalog work alone): the fake probe answers at once
    const empty = SqliteCatalog.open(path.join(tmp, 'rc2.sqlite'));
    t = now();
    await reconciler(empty, async () => ({ durationSeconds: 60, formatName: 'mov,mp4', comment: '' })).reconcileAll();
    results.reconcile.newWithoutProbeSeconds = ms((now() - t) / 1000);
    await empty.close();

    // FILES new real MP4s, durations from their mvhd in process (what the daemon does for finished MP4s)
    const tiny = path.join(tmp, 'tiny.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', tiny]);
    const mp4Dir = path.join(tmp, 'mp4s');
    fs.mkdirSync(mp4Dir);
    const tinyBytes = fs.readFileSync(tiny);
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(mp4Dir, `rec-${i}.mp4`), tinyBytes);
    fs.rmSync(dir, { recursive: true, force: true });
    const quickCatalog = SqliteCatalog.open(path.join(tmp, 'rc4.sqlite'));
    let ffprobes = 0;
    t = now();
    const quick = await new Reconciler(
      quickCatalog,
      {
        folders: [{ dir: mp4Dir, provider: 'file' }],
        cutDir: null,
        isCut: () => false,
        sourceOfCut: () => null,
        probe: async () => {
          ffprobes++;
          throw new Error('not expected');
        },
        quickDuration: mp4DurationSeconds,
        concurrency: 2,
      },
      log,
    ).reconcileAll();
    results.reconcile.newMp4InProcess = {
      files: FILES,
      seconds: ms((now() - t) / 1000),
      added: quick.added,
      finished: (await quickCatalog.find({ states: ['finished'], limit: 1 })).total,
      ffprobes,
    };
    await quickCatalog.close();
    fs.rmSync(mp4Dir, { recursive: true, force: true });

    // real ffprobe on PROBE_FILES new real MP4s (2 at a time), extrapolated
    const clipDir = path.join(tmp, 'clips');
    fs.mkdirSync(clipDir);
    const clip = path.join(tmp, 'clip.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', clip]);
    for (let i = 0; i < PROBE_FILES; i++) fs.copyFileSync(clip, path.join(clipDir, `clip-${i}.mp4`));
    const probeCatalog = SqliteCatalog.open(path.join(tmp, 'rc3.sqlite'));
    const mediaProbe = new MediaProbe('ffprobe', log, 2);
    t = now();
    const probed = await new Reconciler(
      probeCatalog,
      { folders: [{ dir: clipDir, provider: 'file' }], cutDir: null, isCut: () => false, sourceOfCut: () => null, probe: (f) => mediaProbe.probe(f), concurrency: 2 },
      log,
    ).reconcileAll();
    const probeSeconds = (now() - t) / 1000;
    const finished = (await probeCatalog.find({ states: ['finished'], limit: 1 })).total;
    results.reconcile.newWithProbe = {
      files: PROBE_FILES,
      seconds: ms(probeSeconds),
      perFileMs: ms((probeSeconds * 1000) / PROBE_FILES),
      catalogued: finished,
      added: probed.added,
      extrapolatedSecondsFor: { files: FILES, seconds: Math.round((probeSeconds / PROBE_FILES) * FILES) },
    };
    mediaProbe.close();
    await probeCatalog.close();
  }
} finally {
  if (!process.env.BENCH_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log("kept", tmp);
}
console.log(JSON.stringify(results, null, 2));
