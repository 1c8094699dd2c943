#!/usr/bin/env node
// Finish latency (issue 9, part 3): time from the publisher's disconnect to
//   - the record appearing in record_dir, and
//   - the on_record_hook script starting (it writes its own clock),
// for a 1-minute and a 1-hour 720p H.264 + AAC record, with and without
// mp4_container_moov_first_reserve_space (and without it, with mp4_finish_insert_range
// true and false: issue 20). The publisher sends a generated
// 10-minute clip (3 Mbit/s, GOP 2 s) with -c copy at 40x real time (-readrate),
// looped for the 1-hour record, so an hour of media arrives in 90 s.
//
//   node bench/finish-latency.mjs [--minutes 1,60] [--runs 2] [--rate 40] [--insert both|true|false]
//
// Needs ffmpeg/ffprobe on PATH and the built daemon (npm run setup).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const MINUTES = arg('minutes', '1,60').split(',').map(Number);
const RUNS = Number(arg('runs', '2'));
const RATE = Number(arg('rate', '40'));
// mp4_finish_insert_range for the cases without reserved space: both (insert, then copy), true or false
const INSERT = arg('insert', 'both');
const CASES = [
  ...(INSERT === 'false' ? [] : [{ reserve: false, insert: true }]),
  ...(INSERT === 'true' ? [] : [{ reserve: false, insert: false }]),
  { reserve: true, insert: true },
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  return `nproc=${os.cpus().length}, cpu="${cpu}", ${ffmpeg}, node ${process.version}, kernel ${os.release()}`;
}

/** 10 minutes of testsrc2 720p30 + sine, x264 ultrafast 3 Mbit/s, GOP 2 s, FLV (what the publisher sends). Made once. */
function clip() {
  const dir = path.join(os.tmpdir(), 'wcs-bench-media');
  const file = path.join(dir, 'ten-minutes-720p.flv');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.flv`;
  const t0 = Date.now();
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '600',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3M', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'flv', tmp,
  ]);
  fs.renameSync(tmp, file);
  console.log(`made ${file} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
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

async function startDaemon(home, reserve, insert) {
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
  fs.mkdirSync(path.join(home, 'bin'), { recursive: true });
  const hook = path.join(home, 'bin', 'hook.sh');
  // the hook's first act: its own start time in ms, next to the record's name
  fs.writeFileSync(hook, '#!/bin/sh\necho "$(date +%s%3N) $2" >> "$(dirname "$0")/../hook-times.txt"\n');
  fs.chmodSync(hook, 0o755);
  fs.writeFileSync(
    path.join(home, 'conf', 'server.properties'),
    [
      `http.port=${httpPort}`, `rtmp.port=${rtmpPort}`, 'ip_local=127.0.0.1',
      `on_record_hook_script=${hook}`,
      `mp4_container_moov_first_reserve_space=${reserve}`,
      `mp4_finish_insert_range=${insert}`,
      // an hour of 720p H.264 + AAC needs a moov of about 1.3 MB; the default 2048 KB holds it
      'record_stop_timeout=600',
    ].join('\n') + '\n',
  );
  const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!out.includes('wcs-recorder ready')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`daemon did not start:\n${out}`);
    await sleep(50);
  }
  return { proc, httpPort, rtmpPort, output: () => out };
}

/** Publishes `minutes` of the clip as fast as the server takes it; resolves with the wall-clock ms of the publisher's exit. */
function publish(src, minutes, url) {
  const loops = Math.ceil(minutes / 10) - 1;
  // -readrate: 40x real time (an hour in 90 s); unbounded (0.5 s for a minute) the recorder's
  // start-up (tens of ms) would cost seconds of media at the start
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-readrate', String(RATE), '-stream_loop', String(loops), '-i', src, '-t', String(minutes * 60), '-c', 'copy', '-f', 'flv', url];
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve(Date.now()) : reject(new Error(`publisher exit ${code}: ${err}`))));
  });
}

async function oneRun(src, minutes, reserve, insert) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-finish-'));
  const daemon = await startDaemon(home, reserve, insert);
  const records = path.join(home, 'records');
  try {
    const t0 = Date.now();
    const publishing = publish(src, minutes, `rtmp://127.0.0.1:${daemon.rtmpPort}/live/finish${minutes}`);
    // watch record_dir from before the disconnect: the first time a record is there
    let appeared = 0;
    let file = '';
    let stop = false;
    const watcher = (async () => {
      while (!stop) {
        const names = fs.existsSync(records) ? fs.readdirSync(records).filter((n) => n.endsWith('.mp4') && !n.startsWith('.')) : [];
        if (names.length > 0) {
          appeared = Date.now();
          file = names[0];
          return;
        }
        await sleep(2);
      }
    })();
    const exited = await publishing;
    const publishSeconds = (exited - t0) / 1000;
    const deadline = Date.now() + 600_000;
    while (!appeared && Date.now() < deadline) await sleep(5);
    stop = true;
    await watcher;
    const hookFile = path.join(home, 'hook-times.txt');
    while (!fs.existsSync(hookFile) && Date.now() < deadline) await sleep(5);
    const hookAt = Number(fs.readFileSync(hookFile, 'utf8').trim().split(' ')[0]);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'format=duration,size', path.join(records, file)], { encoding: 'utf8' }),
    );
    // the log's finish line says how the moov was written
    const log = daemon.output();
    const how = /"finish":"([a-z-]+)"/.exec(log)?.[1] ?? (/"usedReserve":true/.test(log) ? 'ffmpeg into reserved space' : 'ffmpeg remux');
    return {
      minutes,
      reserve,
      insert,
      publishSeconds,
      recordMs: appeared - exited,
      hookMs: hookAt - exited,
      duration: Number(probe.format.duration),
      sizeMB: Number(probe.format.size) / 1e6,
      how,
    };
  } finally {
    daemon.proc.kill('SIGTERM');
    await new Promise((r) => daemon.proc.once('exit', r));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

console.log(`machine: ${machine()}`);
const src = clip();
const rows = [];
for (const minutes of MINUTES) {
  for (const { reserve, insert } of CASES) {
    for (let i = 0; i < RUNS; i++) {
      const r = await oneRun(src, minutes, reserve, insert);
      rows.push(r);
      console.log(
        `${String(minutes).padStart(3)} min  reserve=${String(reserve).padEnd(5)} insert=${String(insert).padEnd(5)}  published in ${r.publishSeconds.toFixed(1)} s  ` +
          `disconnect->record ${r.recordMs} ms  disconnect->hook ${r.hookMs} ms  record ${r.duration.toFixed(1)} s ${r.sizeMB.toFixed(0)} MB, finished by: ${r.how}`,
      );
    }
  }
}
console.log('\nmedian per case (ms from the publisher\'s exit):');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const minutes of MINUTES)
  for (const { reserve, insert } of CASES) {
    const rs = rows.filter((r) => r.minutes === minutes && r.reserve === reserve && r.insert === insert);
    console.log(`  ${minutes} min, reserve_space=${reserve}, insert_range=${insert}: record ${median(rs.map((r) => r.recordMs))} ms, hook ${median(rs.map((r) => r.hookMs))} ms (${rs.length} runs)`);
  }
