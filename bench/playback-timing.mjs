#!/usr/bin/env node
// Time to answer GET /client/streams/<stream>.mp4?from=&to= over one hour
// stitched from sixty 1-minute 720p H.264/AAC parts: the first request
// (ffmpeg joins the parts) and an identical second one (served from the
// cache), measured with curl against a real daemon (bin/wcs-recorder, built).
//
//   node bench/playback-timing.mjs [--runs 3] [--minutes 60]
//
// The parts are one encoded minute (testsrc2 1280x720 30 fps, x264
// ultrafast 3 Mbit/s, GOP 2 s, AAC) copied --minutes times into record_dir,
// with a .wcs-records.jsonl journal giving each its wall-clock minute, as
// the daemon's own recordings with record_rotation=60 would have.
// Each run asks a range shifted by one second, so each first request joins anew.
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
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 3);
const MINUTES = arg('--minutes', 60);
if (!Number.isInteger(MINUTES) || MINUTES < 2 || MINUTES > 24 * 60) throw new Error('--minutes must be an integer from 2 to 1440');

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  return { nproc, cpu, ffmpeg, node: process.version, kernel: os.release(), load: os.loadavg().map((l) => l.toFixed(1)).join(" ") };
}

/** One minute of 720p, made once: the part every minute is a copy of. */
function oneMinutePart() {
  const dir = path.join(os.tmpdir(), 'wcs-bench-media');
  const file = path.join(dir, 'one-minute-720p.mp4');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  const started = Date.now();
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '60',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3M', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-movflags', '+faststart', tmp,
  ]);
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

/** curl's own timings (seconds) of one GET; the body is discarded. */
async function curl(url) {
  const { stdout: out } = await promisify(execFile)(
    'curl',
    ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_starttransfer} %{time_total} %{size_download}', url],
    { encoding: 'utf8', maxBuffer: 1024 * 1024 },
  );
  const [code, ttfb, total, size] = out.trim().split(' ');
  if (code !== '200') throw new Error(`GET ${url} answered ${code}`);
  return { ttfb: Number(ttfb), total: Number(total), size: Number(size) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
const cell = (xs) => `${ms(median(xs))} (${ms(Math.min(...xs))}-${ms(Math.max(...xs))})`;

const info = machine();
console.log(`machine: nproc=${info.nproc}, cpu="${info.cpu}", ${info.ffmpeg}, node ${info.node}, kernel ${info.kernel}, load average ${info.load}`);
const part = oneMinutePart();
const partSize = fs.statSync(part).size;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-home-'));
const records = path.join(home, 'records');
fs.mkdirSync(records, { recursive: true });
// wall clock of the parts: MINUTES whole minutes ending an hour ago
const t0 = Math.floor((Date.now() - (MINUTES + 60) * 60_000) / 60_000) * 60_000;
const journal = [];
for (let i = 0; i < MINUTES; i++) {
  const fileName = `bench-${t0 + i * 60_000}_${i + 1}.mp4`;
  fs.copyFileSync(part, path.join(records, fileName));
  journal.push(
    JSON.stringify({ fileName, mediaSessionId: 'bench-session', streamName: 'bench', startTimeMillis: t0 + i * 60_000, endTimeMillis: t0 + (i + 1) * 60_000, durationMs: 60_000 }),
  );
}
fs.writeFileSync(path.join(records, '.wcs-records.jsonl'), journal.join('\n') + '\n');
// the parts were just written: they are in the page cache, as a recent recording's would be
const daemon = await startDaemon(home);
try {
  const url = (fromMs, toMs) => `http://127.0.0.1:${daemon.httpPort}/client/streams/bench.mp4?from=${fromMs}&to=${toMs}`;
  console.log(
    `parts: ${MINUTES} x 1 min, 1280x720 30 fps H.264 (GOP 2 s) + AAC, ${(partSize / 1e6).toFixed(1)} MB each; ` +
      `${RUNS} runs, median (min-max) of curl's time_starttransfer and time_total`,
  );
  const rows = [
    [`${MINUTES} min (all parts)`, (i) => [t0 + i * 1000, t0 + MINUTES * 60_000 - i * 1000]],
    ['10 min across 11 parts', (i) => [t0 + 30_000 + i * 1000, t0 + 630_000 + i * 1000]],
    ['1 min across 2 parts', (i) => [t0 + 90_000 + i * 1000, t0 + 150_000 + i * 1000]],
  ];
  console.log(`${''.padEnd(26)} ${'first: to first byte'.padEnd(28)}${'first: complete'.padEnd(28)}${'cached: to first byte'.padEnd(24)}${'cached: complete'.padEnd(28)}answer`);
  for (const [label, range] of rows) {
    const first = [];
    const cached = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const [from, to] = range(i);
      first.push(await curl(url(from, to)));
      cached.push(await curl(url(from, to)));
      bytes = first.at(-1).size;
    }
    console.log(
      `${label.padEnd(26)} ${cell(first.map((x) => x.ttfb)).padEnd(28)}${cell(first.map((x) => x.total)).padEnd(28)}` +
        `${cell(cached.map((x) => x.ttfb)).padEnd(24)}${cell(cached.map((x) => x.total)).padEnd(28)}${(bytes / 1e6).toFixed(0)} MB`,
    );
  }
  await new Promise((r) => setTimeout(r, 200));
  const stitched = daemon
    .output()
    .split('\n')
    .filter((l) => /"msg":"Playback (stitched|composed)"/.test(l))
    .map((l) => JSON.parse(l).ms);
  console.log(`time to make each first answer inside the daemon (log), in request order: ${stitched.join(', ')} ms`);
  // the same work in this process, as CPU time: what a quiet core would take, whatever the machine's load
  const { readPartMedia } = await import(path.join(REPO, 'dist', 'http', 'playback', 'mp4-sample-table.js'));
  const { composeMp4 } = await import(path.join(REPO, 'dist', 'http', 'playback', 'compose-mp4.js'));
  const files = journal.map((l) => path.join(records, JSON.parse(l).fileName));
  const cpuMs = (u) => ((u.user + u.system) / 1000).toFixed(0);
  let cpu = process.cpuUsage();
  const media = await Promise.all(files.map((f) => readPartMedia(f)));
  console.log(`in-process CPU time: parsing ${files.length} moovs ${cpuMs(process.cpuUsage(cpu))} ms`);
  const composeCpu = [];
  for (let i = 0; i < RUNS; i++) {
    cpu = process.cpuUsage();
    await composeMp4(media.map((m, k) => ({ media: m, inSeconds: k === 0 ? 1 : 0, outSeconds: k === media.length - 1 ? 59 : null })));
    composeCpu.push(Number(cpuMs(process.cpuUsage(cpu))));
  }
  console.log(`in-process CPU time: composing ${MINUTES} min, ${RUNS} runs: ${composeCpu.join(', ')} ms (median ${median(composeCpu)} ms)`);
} finally {
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
  fs.rmSync(home, { recursive: true, force: true });
}
