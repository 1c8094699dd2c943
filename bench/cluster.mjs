#!/usr/bin/env node
// Benchmark (issue 19 part 3): the record catalog on PostgreSQL beside SQLite,
// and downloads proxied between two nodes.
//
//   node bench/cluster.mjs [--rows 100000] [--runs 5] [--mb 200]
//
// Catalog: ROWS finished 1-minute parts (24 streams) loaded into a throw-away
// PostgreSQL 15 cluster on loopback (initdb in a temp folder, fsync on as in
// production; as the `postgres` user when root) and into a SQLite file, then
// the medians (RUNS) of the calls the REST routes make: records/find pages,
// a 30-day timeline of one stream, time-range parts, the two writes per
// finished part; and the heartbeat write.
// Proxy: two daemons (A, B) on that PostgreSQL; A holds an MB-sized MP4 (a
// test clip looped with -c copy); curl downloads it from A directly and from
// B (proxied), and asks a 1-byte Range of both: throughput and time to
// first byte, medians of RUNS.
// Needs a built tree (npx tsc -p tsconfig.json), ffmpeg, curl and PostgreSQL's
// server binaries (tools/setup-postgres.sh).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg('--rows', 100_000);
const RUNS = arg('--runs', 5);
const MB = arg('--mb', 200);

const { PgCatalog } = await import(path.join(REPO, 'dist', 'catalog', 'pg-catalog.js'));
const { SqliteCatalog } = await import(path.join(REPO, 'dist', 'catalog', 'sqlite-catalog.js'));
const { PgClusterStore } = await import(path.join(REPO, 'dist', 'cluster', 'cluster-store.js'));
const pg = (await import('pg')).default;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function pgBin() {
  const base = '/usr/lib/postgresql';
  const v = fs.readdirSync(base).filter((d) => fs.existsSync(path.join(base, d, 'bin', 'pg_ctl'))).sort((a, b) => b - a)[0];
  if (!v) throw new Error('no PostgreSQL server binaries: run tools/setup-postgres.sh');
  return path.join(base, v, 'bin');
}

async function startPostgres() {
  const bin = pgBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-pg-'));
  let as = {};
  if (process.getuid() === 0) {
    as = { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
    fs.chownSync(dir, as.uid, as.gid);
  }
  const data = path.join(dir, 'data');
  const opts = { ...as, stdio: 'pipe', cwd: dir };
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'], opts);
  const port = await freePort();
  execFileSync(path.join(bin, 'pg_ctl'), ['-D', data, '-o', `-p ${port} -h 127.0.0.1 -k ${dir}`, '-l', path.join(dir, 'log'), '-w', 'start'], opts);
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/bench`,
    stop: () => {
      execFileSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], opts);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(fn) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

function row(i, t0) {
  const stream = `cam${i % 24}`;
  const k = Math.floor(i / 24);
  const start = t0 + k * 60_000;
  return {
    fileName: `${stream}-${start}.mp4`, dir: '/rec', streamName: stream, mediaSessionId: `s${i % 24}`, provider: 'RTMP', login: '',
    startMs: start, endMs: start + 60_000, durationMs: 60_000, size: 20_000_000, container: 'mp4', videoCodec: 'H264', audioCodec: 'AAC',
    width: 1280, height: 720, part: k + 1, state: 'finished', mtimeMs: start + 60_000,
  };
}

console.log(`machine: nproc=${os.cpus().length}, cpu="${os.cpus()[0]?.model}", node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const server = await startPostgres();
const results = [];
try {
  const t0 = Date.UTC(2026, 10, 1);
  const last = t0 + Math.floor((ROWS - 1) / 24) * 60_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-sqlite-'));
  const engines = {
    postgres: new PgCatalog(server.url, { nodeId: 'bench' }),
    sqlite: SqliteCatalog.open(path.join(tmp, 'c.sqlite'), { nodeId: 'bench' }),
  };
  for (const [name, c] of Object.entries(engines)) {
    await c.ready();
    const started = Date.now();
    for (let i = 0; i < ROWS; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(ROWS, i + 1000); j++) batch.push(row(j, t0));
      await c.upsertMany(batch);
    }
    // steady state: the count deltas of the load folded (each node does it every 30 s)
    if (name === 'postgres') {
      await c.compactCounts();
      await c.pool.query('ANALYZE');
    }
    const load = (Date.now() - started) / 1000;
    const r = { engine: name, loadSeconds: load };
    r.findFirstPage = await timed(() => c.find({ limit: 100 }));
    r.findByStream = await timed(() => c.find({ streamName: 'cam3', limit: 100 }));
    r.findByStreamHour = await timed(() => c.find({ streamName: 'cam3', fromMs: last - 3_600_000, toMs: last, limit: 100 }));
    r.findAllStreamsHour = await timed(() => c.find({ fromMs: last - 3_600_000, toMs: last, limit: 100 }));
    r.timeline30d = await timed(() => c.spansOverlapping('cam5', t0, t0 + 30 * 86_400_000));
    r.parts1h = await timed(() => c.partsOverlapping('cam5', last - 3_600_000, last));
    let n = 0;
    r.insertPerPart = await timed(async () => {
      const fin = row(ROWS + 24 * 1000 + n++ * 24, t0);
      await c.upsert({ ...fin, fileName: `.rec-${fin.fileName}`, state: 'recording', endMs: null, durationMs: null });
      await c.finishPart({ tempName: `.rec-${fin.fileName}`, row: fin });
    });
    if (name === 'postgres') {
      const store = new PgClusterStore(c.pool, () => c.ready());
      const streams = Array.from({ length: 50 }, (_, i) => ({ name: `cam${i}`, mediaSessionId: `m${i}`, status: 'PUBLISHING', record: true }));
      r.heartbeat50Streams = await timed(() => store.beat({ nodeId: 'bench', publicUrl: 'http://x', startedMs: 0, version: 'v', streams }));
      r.clusterNodes = await timed(() => store.nodes());
      const size = await c.pool.query("SELECT pg_total_relation_size('records') AS b");
      r.tableMiB = Number(size.rows[0].b) / 1048576;
    } else {
      r.tableMiB = fs.statSync(path.join(tmp, 'c.sqlite')).size / 1048576;
    }
    await c.close();
    results.push(r);
    console.log(JSON.stringify(r, (k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v)));
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  // --- proxied downloads between two nodes ---
  const fresh = new pg.Client({ connectionString: server.url.replace('/bench', '/postgres') });
  await fresh.connect();
  await fresh.query('CREATE DATABASE proxy');
  await fresh.end();
  const url = server.url.replace('/bench', '/proxy');
  const clipDir = path.join(os.tmpdir(), 'wcs-bench-media');
  fs.mkdirSync(clipDir, { recursive: true });
  const base = path.join(clipDir, 'cluster-base-10s.mp4');
  if (!fs.existsSync(base)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '10',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '8M', '-pix_fmt', 'yuv420p', '-g', '60', base]);
  }
  const loops = Math.max(1, Math.ceil((MB * 1048576) / fs.statSync(base).size) - 1);
  const homes = [];
  const daemons = [];
  for (const id of ['a', 'b']) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), `wcs-bench-node-${id}-`));
    homes.push(home);
    fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
    fs.mkdirSync(path.join(home, 'records'), { recursive: true });
    if (id === 'a') {
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(loops), '-i', base, '-c', 'copy', '-movflags', '+faststart',
        path.join(home, 'records', 'big-1.mp4')]);
    }
    const httpPort = await freePort();
    const rtmpPort = await freePort();
    fs.writeFileSync(path.join(home, 'conf', 'server.properties'),
      `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\non_record_hook_script=\ncatalog_url=${url}\nnode_id=${id}\ncluster_heartbeat_interval=1\n`);
    const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const deadline = Date.now() + 30_000;
    while (!out.includes('wcs-recorder ready')) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`daemon ${id} did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    daemons.push({ proc, httpPort });
  }
  try {
    const size = fs.statSync(path.join(homes[0], 'records', 'big-1.mp4')).size;
    const curl = async (port, range) => {
      const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_starttransfer} %{time_total} %{size_download}'];
      if (range) args.push('-r', range);
      const { stdout } = await promisify(execFile)('curl', [...args, `http://127.0.0.1:${port}/client/records/big-1.mp4`]);
      const [code, ttfb, total, bytes] = stdout.trim().split(' ');
      if (code !== '200' && code !== '206') throw new Error(`answered ${code}`);
      return { ttfb: Number(ttfb) * 1000, total: Number(total), bytes: Number(bytes) };
    };
    // B must know the record (A's start-up reconcile) and A alive
    const deadline = Date.now() + 30_000;
    while ((await curl(daemons[1].httpPort, '0-0').catch(() => null)) === null) {
      if (Date.now() > deadline) throw new Error('B never served A\'s record');
      await new Promise((r) => setTimeout(r, 200));
    }
    const p = { fileMiB: size / 1048576 };
    for (const [label, port] of [['direct', daemons[0].httpPort], ['proxied', daemons[1].httpPort]]) {
      const mbps = [];
      const firstByte = [];
      for (let i = 0; i < RUNS; i++) {
        const whole = await curl(port);
        if (whole.bytes !== size) throw new Error(`${label}: ${whole.bytes} of ${size} bytes`);
        mbps.push(size / 1048576 / whole.total);
        firstByte.push((await curl(port, '1000-1000')).ttfb);
      }
      p[`${label}MiBps`] = median(mbps);
      p[`${label}RangeTtfbMs`] = median(firstByte);
    }
    results.push(p);
    console.log(JSON.stringify(p, (k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v)));
  } finally {
    for (const d of daemons) {
      d.proc.kill('SIGTERM');
      await new Promise((r) => d.proc.once('exit', r));
    }
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  }
} finally {
  server.stop();
}
