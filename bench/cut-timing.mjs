#!/usr/bin/env node
// Time to answer GET /client/records/<file>?start=&end= on a 10-minute
// (or, with --minutes 60, a 1-hour) 720p H.264/AAC record: the first request (ffmpeg cuts the part) and an
// identical second one (served from mp4_cutter_dir), measured with curl
// against a real daemon (bin/wcs-recorder, built with `npm run setup`).
//
//   node bench/cut-timing.mjs [--runs 5] [--minutes 10|60]
//
// A longer record is the 10-minute one concatenated (stream copy) to length.
//
// Prints the machine (nproc, CPU model, ffmpeg) and the figures.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const minutesArg = process.argv.indexOf('--minutes');
const MINUTES = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 10;
if (!Number.isInteger(MINUTES) || MINUTES < 10 || MINUTES % 10 !== 0) throw new Error('--minutes must be a multiple of 10');
const SECONDS = 600;
const TOTAL = MINUTES * 60;

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  return { nproc, cpu, ffmpeg, node: process.version, kernel: os.release() };
}

/** The 10-minute record: testsrc2 720p30 + sine, x264 ultrafast, GOP 2 s, +faststart like a record. Made once. */
function tenMinuteRecord() {
  const dir = path.join(os.tmpdir(), 'wcs-bench-media');
  const file = path.join(dir, `ten-minutes-720p.mp4`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  const started = Date.now();
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(SECONDS),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3M', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-movflags', '+faststart', tmp,
  ]);
  fs.renameSync(tmp, file);
  console.log(`made ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return file;
}

/** The record of --minutes length: the 10-minute one concatenated by stream copy, +faststart. Made once. */
function longRecord() {
  const ten = tenMinuteRecord();
  if (MINUTES === 10) return ten;
  const dir = path.dirname(ten);
  const file = path.join(dir, `${MINUTES}-minutes-720p.mp4`);
  if (fs.existsSync(file)) return file;
  const list = path.join(dir, `concat-${process.pid}.txt`);
  fs.writeFileSync(list, Array.from({ length: MINUTES / 10 }, () => `file '${ten}'`).join('\n') + '\n');
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  const started = Date.now();
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', '-movflags', '+faststart', tmp]);
  fs.rmSync(list);
  fs.renameSync(tmp, file);
  console.log(`made ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return file;
}

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

async function startDaemon(home) {
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
  fs.writeFileSync(path.join(home, 'conf', 'server.properties'), `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\non_record_hook_script=\n`);
  const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!out.includes('wcs-recorder ready')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`daemon did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, httpPort, output: () => out };
}

/** curl's own timings (seconds) of one GET; the body is discarded. Async, so the daemon's log keeps draining. */
async function curl(url) {
  const { stdout: out } = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_starttransfer} %{time_total} %{size_download}', url], { encoding: 'utf8' });
  const [code, ttfb, total, size] = out.trim().split(' ');
  if (code !== '200') throw new Error(`GET ${url} answered ${code}`);
  return { ttfb: Number(ttfb), total: Number(total), size: Number(size) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (s) => `${(s * 1000).toFixed(0)} ms`;

const info = machine();
console.log(`machine: nproc=${info.nproc}, cpu="${info.cpu}", ${info.ffmpeg}, node ${info.node}, kernel ${info.kernel}`);
const source = longRecord();
const size = fs.statSync(source).size;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-home-'));
const daemon = await startDaemon(home);
try {
  fs.copyFileSync(source, path.join(home, 'records', 'long.mp4'));
  const base = `http://127.0.0.1:${daemon.httpPort}/client/records/long.mp4`;
  console.log(`record: ${MINUTES} min, 1280x720 30 fps H.264 (GOP 2 s) + AAC, ${(size / 1e6).toFixed(0)} MB; ${RUNS} runs per row, median (min-max) of curl's time_starttransfer and time_total`);
  // the very first part of a record also waits for its one ffprobe (duration check); later ones use the cache
  const cold = await curl(`${base}?start=1&end=2`);
  console.log(`very first request on the record (ffprobe + cut, 1 s part): ${ms(cold.ttfb)} to first byte, ${ms(cold.total)} complete`);
  const rows = [
    ['first 60 s part near the start', (i) => `start=${10 + i}&end=${70 + i}`],
    ['first 60 s part in the middle', (i) => `start=${TOTAL / 2 + i}&end=${TOTAL / 2 + 60 + i}`],
    ['first 10 s part near the end', (i) => `start=${TOTAL - 15 + i}&end=${TOTAL - 5 + i}`],
    [`first part from ${TOTAL / 2} s to the end`, (i) => `start=${TOTAL / 2 + i}`],
  ];
  const results = [];
  for (const [label, query] of rows) {
    const first = [];
    const cached = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = await curl(`${base}?${query(i)}`);
      const b = await curl(`${base}?${query(i)}`);
      first.push(a);
      cached.push(b);
      bytes = a.size;
    }
    results.push({ label, first, cached, bytes });
  }
  const whole = [];
  for (let i = 0; i < RUNS; i++) whole.push((await curl(base)).total);
  await new Promise((r) => setTimeout(r, 200));
  const cell = (xs) => `${ms(median(xs))} (${ms(Math.min(...xs))}-${ms(Math.max(...xs))})`;
  console.log(`${''.padEnd(34)} ${'first: to first byte'.padEnd(24)}${'first: complete'.padEnd(24)}${'cached: to first byte'.padEnd(24)}cached: complete`);
  for (const r of results) {
    console.log(
      `${r.label.padEnd(34)} ${cell(r.first.map((x) => x.ttfb)).padEnd(24)}${cell(r.first.map((x) => x.total)).padEnd(24)}` +
        `${cell(r.cached.map((x) => x.ttfb)).padEnd(24)}${cell(r.cached.map((x) => x.total))}   part ${(r.bytes / 1e6).toFixed(1)} MB`,
    );
  }
  console.log(`${'whole record, no cut'.padEnd(34)} ${ms(median(whole))} (${(size / 1e6).toFixed(0)} MB)`);
  const cuts = daemon.output().split('\n').filter((l) => l.includes('"msg":"Record part cut"')).map((l) => JSON.parse(l).ms);
  console.log(`ffmpeg cut time inside the daemon (log): median ${median(cuts)} ms over ${cuts.length} cuts`);
} finally {
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
  fs.rmSync(home, { recursive: true, force: true });
}
