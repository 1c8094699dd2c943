#!/usr/bin/env node
// Benchmark: pull N RTSP cameras with wcs-recorder and measure, per camera,
//   - the time from POST /rest-api/rtsp/startup to status PLAYING;
//   - CPU (% of one core) and memory (RSS, USS) of the daemon (node), of each
//     pull ffmpeg (RTSP -> FLV, -c copy; the one reading its camera from pipe:3) and of each recorder ffmpeg (FLV -> MP4),
//     sampled from /proc every 500 ms after a 2 s warm-up;
//   - the stand-in cameras (GStreamer, x264 encoding) are measured separately:
//     they are NOT part of the server.
// Each run is done twice: cameras recorded (record_rtsp_streams default) and
// pulled only ("record": false), so the cost of the pull alone shows.
//
// Usage: node bench/rtsp-pull.mjs [--cameras 1,4] [--seconds 20] [--size 1280x720] [--bitrate 2000]
// Needs: a built checkout (dist/), ffmpeg/ffprobe, /usr/bin/python3 with GStreamer's
// RTSP server (tools/setup.sh --test), Linux /proc. Plain Node 20 ESM, no dependencies.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE_MS = 500;
const WARMUP_MS = 2000;

function parseArgs(argv) {
  const o = { cameras: [1, 4], seconds: 20, size: '1280x720', bitrate: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=');
    const v = inline ?? argv[++i];
    if (k === '--cameras') o.cameras = v.split(',').map(Number);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--size') o.size = v;
    else if (k === '--bitrate') o.bitrate = Number(v);
    else throw new Error(`unknown argument ${k}; usage: node bench/rtsp-pull.mjs [--cameras 1,4] [--seconds 20] [--size WxH] [--bitrate kbps]`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function readProc(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const roll = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const ussKb = Number(/^Private_Clean:\s+(\d+)/m.exec(roll)?.[1] ?? 0) + Number(/^Private_Dirty:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    return { ticks, rssKb, ussKb };
  } catch {
    return null;
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function children(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU % of one core and mean RSS/USS (MiB) of each pid over `ms`. */
async function measure(groups, ms) {
  const first = new Map();
  const mem = new Map();
  const t0 = performance.now();
  for (const pids of Object.values(groups)) for (const pid of pids) first.set(pid, readProc(pid));
  let last = new Map(first);
  while (performance.now() - t0 < ms) {
    await sleep(SAMPLE_MS);
    for (const pids of Object.values(groups)) {
      for (const pid of pids) {
        const s = readProc(pid);
        if (!s) continue;
        last.set(pid, s);
        const m = mem.get(pid) ?? { rss: 0, uss: 0, n: 0 };
        mem.set(pid, { rss: m.rss + s.rssKb, uss: m.uss + s.ussKb, n: m.n + 1 });
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const out = {};
  for (const [name, pids] of Object.entries(groups)) {
    const per = pids.map((pid) => {
      const a = first.get(pid);
      const b = last.get(pid);
      const m = mem.get(pid) ?? { rss: 0, uss: 0, n: 1 };
      return {
        cpu: a && b ? ((b.ticks - a.ticks) / CLK_TCK / seconds) * 100 : NaN,
        rssMiB: m.rss / m.n / 1024,
        ussMiB: m.uss / m.n / 1024,
      };
    });
    const sum = (k) => per.reduce((n, p) => n + p[k], 0);
    out[name] = { count: per.length, cpu: sum('cpu'), rssMiB: sum('rssMiB'), ussMiB: sum('ussMiB') };
  }
  return out;
}

async function startCamera(size, bitrate) {
  const proc = spawn('/usr/bin/python3', [path.join(repo, 'test/fixtures/rtsp-camera.py'), '--size', size, '--bitrate', String(bitrate), '--audio', 'aac'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (c) => reject(new Error(`camera exited ${c}`)));
  });
  return { proc, port, url: `rtsp://bench:pw@127.0.0.1:${port}/cam` };
}

async function startDaemon() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-rtsp-'));
  fs.mkdirSync(path.join(home, 'conf'));
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  fs.writeFileSync(path.join(home, 'conf/server.properties'), `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\non_record_hook_script=\n`);
  const proc = spawn(path.join(repo, 'bin/wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const post = async (p, body = {}) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  for (let i = 0; i < 200; i++) {
    try {
      await post('/rest-api/stream/find_all');
      break;
    } catch {
      await sleep(50);
    }
  }
  return { proc, home, post };
}

async function run(cameras, record, o) {
  const cams = [];
  for (let i = 0; i < cameras; i++) cams.push(await startCamera(o.size, o.bitrate));
  const daemon = await startDaemon();
  await sleep(1000);
  const idle = await measure({ daemon: [daemon.proc.pid] }, 3000);
  const startup = [];
  await Promise.all(
    cams.map(async (cam, i) => {
      const t0 = performance.now();
      const res = await daemon.post('/rest-api/rtsp/startup', { uri: cam.url, toStream: `cam${i}`, record });
      if (res.status !== 200) throw new Error(`startup: ${res.status} ${JSON.stringify(res.body)}`);
      for (;;) {
        const f = await daemon.post('/rest-api/rtsp/find', { uri: cam.url, status: 'PLAYING' });
        if (f.status === 200) break;
        if (performance.now() - t0 > 30_000) throw new Error('camera never PLAYING');
        await sleep(20);
      }
      startup[i] = performance.now() - t0;
    }),
  );
  await sleep(WARMUP_MS);
  const kids = children(daemon.proc.pid);
  const pulls = kids.filter((pid) => cmdline(pid).includes('pipe:3'));
  const recorders = kids.filter((pid) => !pulls.includes(pid) && cmdline(pid).some((a) => a.includes('ffmpeg')));
  const m = await measure({ daemon: [daemon.proc.pid], pulls, recorders, cameras: cams.map((c) => c.proc.pid) }, o.seconds * 1000);
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.on('exit', r));
  const records = fs.readdirSync(path.join(daemon.home, 'records')).filter((f) => f.endsWith('.mp4'));
  for (const c of cams) c.proc.kill('SIGTERM');
  fs.rmSync(daemon.home, { recursive: true, force: true });
  return { cameras, record, idle, startup, m, records: records.length };
}

const o = parseArgs(process.argv.slice(2));
const cpus = os.cpus();
console.log(`machine: ${cpus.length} x ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, node ${process.version}`);
console.log(`ffmpeg: ${execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0]}`);
console.log(`cameras: GStreamer RTSP server, H.264 ${o.size} 25 fps ${o.bitrate} kbit/s (x264 ultrafast, GOP 1 s) + AAC 96 kbit/s, over TCP; ${o.seconds} s measured after ${WARMUP_MS / 1000} s warm-up`);
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
for (const n of o.cameras) {
  for (const record of [true, false]) {
    const r = await run(n, record, o);
    const per = (g) => `${f1(r.m[g].cpu / n)} % CPU, USS ${f1(r.m[g].ussMiB / n)} MiB (RSS ${f1(r.m[g].rssMiB / n)})`;
    console.log(`\n${n} camera(s), ${record ? 'recorded' : 'pulled only'}:`);
    console.log(`  startup -> PLAYING: ${r.startup.map((t) => `${Math.round(t)} ms`).join(', ')}`);
    console.log(`  daemon idle before: ${f1(r.idle.daemon.cpu)} % CPU, RSS ${f1(r.idle.daemon.rssMiB)} MiB`);
    console.log(`  daemon (node):      ${f1(r.m.daemon.cpu)} % CPU in all, RSS ${f1(r.m.daemon.rssMiB)} MiB, USS ${f1(r.m.daemon.ussMiB)} MiB`);
    console.log(`  per camera, pull ffmpeg (${r.m.pulls.count}):     ${per('pulls')}`);
    if (record && r.m.recorders.count === 0) console.log('  per camera, recorder ffmpeg: none (H.264 + AAC is written by the in-process muxer)');
    else if (record) console.log(`  per camera, recorder ffmpeg (${r.m.recorders.count}): ${per('recorders')}`);
    const server = r.m.daemon.cpu + r.m.pulls.cpu + r.m.recorders.cpu;
    console.log(`  server total (daemon + its ffmpegs): ${f1(server)} % CPU = ${f1(server / n)} % per camera; ffmpeg USS ${f1((r.m.pulls.ussMiB + r.m.recorders.ussMiB) / n)} MiB per camera`);
    console.log(`  stand-in cameras (not the server): ${f1(r.m.cameras.cpu / n)} % CPU each`);
    if (record) console.log(`  records written: ${r.records}`);
  }
}
