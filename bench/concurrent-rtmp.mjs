#!/usr/bin/env node
// Benchmark (issue 9, parts 1 and 2): N concurrent RTMP recordings on
// wcs-recorder and, in the same run, the same load on nginx-rtmp
// (`record all` to FLV) plus the `ffmpeg -c copy` remux of its FLVs to MP4
// that a user needs to get what wcs-recorder writes.
//
//   node bench/concurrent-rtmp.mjs [--n 1,10,50,100] [--seconds 60] [--servers wcs,wcs-ffmpeg,nginx]
//                                  [--profile DIR] [--props key=value,key=value] [--warmup SECONDS]
//
// --profile DIR: the daemon runs with node --cpu-prof, one .cpuprofile per run
// into DIR (read it with bench/cpuprofile-top.mjs, or Chrome DevTools / speedscope).
// --props: extra lines for the daemon's conf/server.properties (both wcs servers).
// --warmup S: before the measured publish, the same N streams publish the clip's first S seconds
// and their records are finished and removed: the measurement is then of a server that has run
// a while (V8 has compiled the media path), as a daemon in service has; 0 (default) measures a
// server that has just started. Both servers get the same warm-up.
//
// wcs = the default configuration (H.264 + AAC written by the in-process muxer);
// wcs-ffmpeg = record_muxer=ffmpeg (one ffmpeg -c copy per recording, as before).
//
// For each N and server: one ffmpeg (`-re`, `-f tee`, one [f=flv]rtmp://…/live/sK
// output per stream) publishes a generated 3 Mbit/s 1280x720 30 fps H.264 +
// AAC clip (keyframe every 2 s). Measured from /proc:
//   - CPU seconds of the server's whole process tree (own + reaped children:
//     recorder ffmpegs, finalizing remuxes, hooks), from just before the
//     publish until every record is finished;
//   - PSS (smaps_rollup) summed over the tree every second: peak and mean,
//     and per additional stream ((peak - idle) / N);
//   - frames: video/audio packets published (the clip's, per stream) vs
//     packets in each record (ffprobe -count_packets);
//   - wcs-recorder's event-loop delay (POST /rest-api/server/stats);
//   - the load generator's own CPU, reported apart from the servers.
// Needs Linux, Node 20, ffmpeg/ffprobe, a built daemon (bash tools/setup.sh),
// and for nginx Debian's nginx-core + libnginx-mod-rtmp (installed with apt
// when missing and root; otherwise skipped with a line saying so).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAEMON = path.join(REPO, 'bin', 'wcs-recorder');
const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ arguments
function parseArgs(argv) {
  const o = { n: [1, 10, 50, 100], seconds: 60, servers: ['wcs', 'wcs-ffmpeg', 'nginx'], profile: null, props: [], warmup: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--n') o.n = v().split(',').map((s) => Number(s.trim()));
    else if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--servers') o.servers = v().split(',').map((s) => s.trim());
    else if (a === '--profile') o.profile = path.resolve(v());
    else if (a === '--props') o.props = v().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--warmup') o.warmup = Number(v());
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/concurrent-rtmp.mjs [--n 1,10,50,100] [--seconds 60] [--servers wcs,wcs-ffmpeg,nginx] [--profile DIR] [--props k=v,k=v] [--warmup S]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.n.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--n takes positive integers');
  if (!Number.isInteger(o.seconds) || o.seconds < 10) throw new Error('--seconds must be an integer >= 10');
  if (!Number.isInteger(o.warmup) || o.warmup < 0 || o.warmup > o.seconds) throw new Error('--warmup must be an integer from 0 to --seconds');
  for (const s of o.servers) if (!['wcs', 'wcs-ffmpeg', 'nginx'].includes(s)) throw new Error(`unknown server ${s}`);
  return o;
}

// ------------------------------------------------------------------ processes
const owned = new Set();
function run(cmd, args, options = {}) {
  const cp = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  owned.add(cp);
  let out = '';
  let err = '';
  cp.stdout?.on('data', (d) => (out += d));
  cp.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  cp.done = new Promise((resolve) => cp.on('close', (code, signal) => { owned.delete(cp); resolve({ code, signal, out, err }); }));
  return cp;
}
function killAll() {
  for (const cp of owned) try { cp.kill('SIGKILL'); } catch {}
}
process.on('SIGINT', () => { killAll(); process.exit(130); });

/**
 * Runs a command under `sh` that prints its own /proc stat once the command
 * has exited: the reaped child's CPU is then in cutime+cstime (fields 16, 17).
 */
function runCounted(cmd, args) {
  const cp = run('sh', ['-c', '"$@" </dev/null >/dev/null; rc=$?; cat /proc/$$/stat; exit $rc', 'sh', cmd, ...args]);
  return {
    cp,
    result: cp.done.then((r) => {
      const stat = r.out.trim().split('\n').pop() ?? '';
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ...r, cpuSeconds: (Number(f[13]) + Number(f[14])) / CLK_TCK };
    }),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// ------------------------------------------------------------------ /proc
function procTable() {
  const t = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {}
  }
  return t;
}
/** The root and all its descendants. */
function tree(root, table = procTable()) {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, p] of table) if (p.ppid === out[i]) out.push(pid);
  return out.filter((p) => table.has(p));
}
/** CPU seconds of a tree: each member's own time plus the time of the children it reaped. */
function treeCpuSeconds(root) {
  const table = procTable();
  return tree(root, table).reduce((sum, pid) => sum + table.get(pid).ticks, 0) / CLK_TCK;
}
function pssMiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
const treePssMiB = (root) => tree(root).reduce((sum, pid) => sum + pssMiB(pid), 0);

function machineBusy() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total };
}

/** Samples PSS of a tree every second (and the machine's busy share). */
function memorySampler(root) {
  const samples = [];
  const m0 = machineBusy();
  const timer = setInterval(() => samples.push(treePssMiB(root)), 1000);
  return {
    stop() {
      clearInterval(timer);
      const m1 = machineBusy();
      const peak = samples.length ? Math.max(...samples) : 0;
      const mean = samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : 0;
      return { peak, mean, machinePct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * os.cpus().length * 100 };
    },
  };
}

// ------------------------------------------------------------------ media
function ffprobeJson(args) {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-of', 'json', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}
/** Video and audio packets in a file. */
function packetCounts(file) {
  const j = ffprobeJson(['-count_packets', '-show_entries', 'stream=codec_type,nb_read_packets', file]);
  const c = { video: 0, audio: 0 };
  for (const s of j.streams ?? []) if (s.codec_type in c) c[s.codec_type] += Number(s.nb_read_packets ?? 0);
  return c;
}

function makeClip(seconds) {
  const file = path.join(os.tmpdir(), `wcs-bench-clip-720p30-h264-3M-aac128k-${seconds}s.flv`);
  if (fs.existsSync(file)) return { file, cached: true };
  const tmp = `${file}.${process.pid}.tmp.flv`;
  execFileSync('ffmpeg', [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-b:v', '3M', '-maxrate', '3M', '-bufsize', '6M', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-f', 'flv', tmp,
  ]);
  fs.renameSync(tmp, file);
  return { file, cached: false };
}

/** One ffmpeg publishing the clip in real time to every URL (tee muxer; a failed output does not stop the others). */
function publishTee(clip, urls, seconds = 0) {
  const outputs = urls.map((u) => `[f=flv:onfail=ignore]${u}`).join('|');
  const limit = seconds > 0 ? ['-t', String(seconds)] : [];
  return runCounted('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-i', clip, ...limit, '-map', '0:v', '-map', '0:a', '-c', 'copy', '-f', 'tee', outputs]);
}

/** Waits until the server has finished `n` records; after 120 s throws what `whyNot` says. */
async function recordsFinished(server, n, whyNot) {
  const deadline = Date.now() + 120_000;
  while (!(await server.finished(n))) {
    if (Date.now() > deadline) throw new Error(await whyNot());
    await sleep(100);
  }
}

/** --warmup: the same streams publish the clip's first `seconds`; their records are finished, then removed. */
async function warmUp(server, clip, n, seconds) {
  const pub = await publishTee(clip, Array.from({ length: n }, (_, i) => server.url(i + 1)), seconds).result;
  if (pub.code !== 0) throw new Error(`warm-up publisher failed: ${pub.err.trim().slice(-300)}`);
  await recordsFinished(server, n, async () => `${server.name}: warm-up records not finished 120 s after the publisher left`);
  for (const f of fs.readdirSync(server.recordsDir)) if (!f.startsWith('.') && f.endsWith(server.ext)) fs.rmSync(path.join(server.recordsDir, f));
  await sleep(2000);
}

// ------------------------------------------------------------------ wcs-recorder
async function rest(port, route, body = {}) {
  const r = await fetch(`http://127.0.0.1:${port}/rest-api/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: r.status === 200 ? await r.json() : null };
}

async function startWcs(dir, muxer, opts) {
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  for (const d of ['conf', 'bin']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  // the tee publisher connects its outputs one after another (about 0.1 s each) and sends media only
  // once all are connected: at N=100 the first ones wait over 10 s, which the default
  // rtmp_publisher_idle_timeout (10 s) would take for a dead publisher (nginx-rtmp has no such timeout on)
  fs.writeFileSync(
    path.join(dir, 'conf', 'server.properties'),
    `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\nrecord_muxer=${muxer}\nrtmp_publisher_idle_timeout=120\nrecord_idle_timeout=120\nrtmp_max_connections_per_ip=10000\nrtmp_max_connections=10000\n` +
      opts.props.map((l) => `${l}\n`).join(''),
  );
  const hook = path.join(dir, 'bin', 'on_record_hook.sh');
  fs.copyFileSync(path.join(REPO, 'bin', 'on_record_hook.sh'), hook);
  fs.chmodSync(hook, 0o755);
  const env = { ...process.env, WCS_HOME: dir };
  // --cpu-prof is refused in NODE_OPTIONS: node itself, as bin/wcs-recorder runs it
  if (opts.profile) fs.mkdirSync(opts.profile, { recursive: true });
  const cp = opts.profile
    ? run(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`, path.join(REPO, 'dist', 'main.js')], { env })
    : run(DAEMON, [], { env });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await rest(httpPort, 'server/stats')).status === 200) break;
    } catch {}
    await sleep(100);
  }
  const table = procTable();
  // bin/wcs-recorder execs node; if a wrapper stays, measure from it anyway (its tree holds the daemon)
  return {
    name: muxer === 'ffmpeg' ? 'wcs-ffmpeg' : 'wcs-recorder',
    root: cp.pid,
    url: (k) => `rtmp://127.0.0.1:${rtmpPort}/live/s${k}`,
    recordsDir: path.join(dir, 'records'),
    ext: '.mp4',
    httpPort,
    rootsAlive: () => table.has(cp.pid),
    async resetStats() { await rest(httpPort, 'server/stats', { reset: true }); },
    async stats() { return (await rest(httpPort, 'server/stats')).body; },
    /** Every record finished: no stream, no recording, n files in records/. */
    async finished(n) {
      const s = await this.stats();
      const files = fs.readdirSync(this.recordsDir).filter((f) => !f.startsWith('.') && f.endsWith('.mp4'));
      return s.streams === 0 && s.recordings === 0 && files.length >= n;
    },
    async stop() {
      cp.kill('SIGTERM');
      const r = await Promise.race([cp.done, sleep(30000).then(() => null)]);
      if (!r) cp.kill('SIGKILL');
      return r;
    },
  };
}

// ------------------------------------------------------------------ nginx-rtmp
function ensureNginx() {
  const have = () => fs.existsSync('/usr/sbin/nginx') && fs.existsSync(NGINX_RTMP_MODULE);
  if (have()) return { ok: true, installed: false };
  if (process.getuid?.() !== 0) return { ok: false, why: 'nginx-core/libnginx-mod-rtmp missing and not root: cannot apt-get install them' };
  // keep the package's own service from starting (it would listen on :80)
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  try {
    if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'nginx-core', 'libnginx-mod-rtmp'], { env, stdio: 'ignore' });
  } catch (e) {
    return { ok: false, why: `apt-get install nginx-core libnginx-mod-rtmp failed: ${e.message.split('\n')[0]}` };
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  return have() ? { ok: true, installed: true } : { ok: false, why: `installed, but ${NGINX_RTMP_MODULE} is missing` };
}

async function startNginx(dir) {
  const port = await freePort();
  const recordsDir = path.join(dir, 'records');
  fs.mkdirSync(recordsDir, { recursive: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, [
    `load_module ${NGINX_RTMP_MODULE};`,
    'user root;',
    'worker_processes 1;',
    'daemon off;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/logs/error.log warn;`,
    'events { worker_connections 4096; }',
    'rtmp {',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    application live {',
    '      live on;',
    '      record all;',
    `      record_path ${recordsDir};`,
    '      record_unique off;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n'));
  const cp = run('/usr/sbin/nginx', ['-e', `${dir}/logs/error.log`, '-p', dir, '-c', conf]);
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(50);
  }
  return {
    name: 'nginx-rtmp',
    root: cp.pid,
    url: (k) => `rtmp://127.0.0.1:${port}/live/s${k}`,
    recordsDir,
    ext: '.flv',
    async resetStats() {},
    async stats() { return null; },
    /** nginx closes each FLV when its publisher leaves: done when no worker holds one open. */
    async finished(n) {
      const files = fs.readdirSync(recordsDir).filter((f) => f.endsWith('.flv'));
      if (files.length < n) return false;
      for (const pid of tree(cp.pid)) {
        try {
          for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
            if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('.flv')) return false;
          }
        } catch {}
      }
      return true;
    },
    async stop() {
      cp.kill('SIGQUIT');
      const r = await Promise.race([cp.done, sleep(15000).then(() => null)]);
      if (!r) cp.kill('SIGKILL');
      return r;
    },
  };
}

// ------------------------------------------------------------------ one run
async function measure(serverName, n, clip, expected, seconds, opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wcs-bench-${serverName}-${n}-`));
  const server = serverName === 'nginx' ? await startNginx(dir) : await startWcs(dir, serverName === 'wcs-ffmpeg' ? 'ffmpeg' : 'in-process', opts);
  try {
    await sleep(2000);
    if (opts.warmup > 0) await warmUp(server, clip, n, opts.warmup);
    const idle = treePssMiB(server.root);
    const cpu0 = treeCpuSeconds(server.root);
    const mem = memorySampler(server.root);
    const t0 = performance.now();
    const pub = publishTee(clip, Array.from({ length: n }, (_, i) => server.url(i + 1)));
    await sleep(3000);
    await server.resetStats();
    const published = await pub.result;
    const publishSeconds = (performance.now() - t0) / 1000;
    const loop = await server.stats();
    await recordsFinished(server, n, async () =>
      `${server.name}: records not finished 120 s after the publisher left (publisher exit ${published.code}: ${published.err.trim().slice(-300)}); ` +
      `stats ${JSON.stringify(await server.stats())}; records/: ${fs.readdirSync(server.recordsDir).join(', ')}`);
    const cpuSeconds = treeCpuSeconds(server.root) - cpu0;
    const memory = mem.stop();
    const stopped = await server.stop();

    const files = fs.readdirSync(server.recordsDir).filter((f) => !f.startsWith('.') && f.endsWith(server.ext)).map((f) => path.join(server.recordsDir, f));
    let remuxCpu = 0;
    let remuxWall = 0;
    const counted = [];
    for (const f of files) {
      if (server.ext === '.flv') {
        const mp4 = f.replace(/\.flv$/, '.mp4');
        const w0 = performance.now();
        const r = await runCounted('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', f, '-c', 'copy', '-movflags', '+faststart', mp4]).result;
        remuxWall += (performance.now() - w0) / 1000;
        if (r.code !== 0) throw new Error(`remux of ${f} failed: ${r.err}`);
        remuxCpu += r.cpuSeconds;
        counted.push(packetCounts(mp4));
      } else {
        counted.push(packetCounts(f));
      }
    }
    const lostVideo = n * expected.video - counted.reduce((s, c) => s + c.video, 0);
    const lostAudio = n * expected.audio - counted.reduce((s, c) => s + c.audio, 0);
    return {
      server: server.name, n, files: files.length, publishSeconds, publisherCpu: published.cpuSeconds, publisherCode: published.code,
      cpuSeconds, remuxCpu, remuxWall, idle, memory, lostVideo, lostAudio,
      perRecord: counted, loop: loop?.eventLoopDelay ?? null, stopCode: stopped?.code ?? 'killed',
      seconds,
    };
  } catch (err) {
    // keep the server's own account of what went wrong
    const r = await server.stop().catch(() => null);
    if (r?.out || r?.err) {
      const log = path.join(os.tmpdir(), `wcs-bench-failed-${serverName}-${n}.log`);
      fs.writeFileSync(log, `${r.out ?? ''}\n--- stderr\n${r.err ?? ''}`);
      console.log(`server log kept in ${log}`);
    }
    throw err;
  } finally {
    await server.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report
const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);
function row(r) {
  const pct = (r.cpuSeconds / r.publishSeconds) * 100;
  const perStreamMem = (r.memory.peak - r.idle) / r.n;
  const minV = Math.min(...r.perRecord.map((c) => c.video));
  return [
    r.server.padEnd(11), String(r.n).padStart(4), String(r.files).padStart(5),
    f1(r.cpuSeconds).padStart(8), f2(r.cpuSeconds / r.n).padStart(9), f1(pct).padStart(7),
    (r.remuxCpu ? f1(r.remuxCpu) : '-').padStart(8),
    f1(r.idle).padStart(7), f1(r.memory.peak).padStart(8), f1(r.memory.mean).padStart(8), f1(perStreamMem).padStart(9),
    `${r.lostVideo}/${r.lostAudio}`.padStart(9), String(minV).padStart(6),
    (r.loop ? `${f1(r.loop.p99Ms)}/${f1(r.loop.maxMs)}` : '-').padStart(11),
    `${f1(r.publisherCpu)}s ${f1(r.publishSeconds)}s`.padStart(14), f1(r.memory.machinePct).padStart(6),
  ].join(' ');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(REPO, 'dist', 'main.js'))) throw new Error('dist/main.js missing: run bash tools/setup.sh first');
  const ffv = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  console.log(`wcs-recorder concurrent RTMP recording benchmark`);
  console.log(`command : node bench/concurrent-rtmp.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`machine : nproc=${os.cpus().length}, CPU "${os.cpus()[0]?.model}", ${f1(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}`);
  console.log(`software: node ${process.version}; ${ffv}`);
  console.log(`load avg: ${os.loadavg().map(f2).join(' ')} (1/5/15 min) at start`);
  const clip = makeClip(opts.seconds);
  const expected = packetCounts(clip.file);
  console.log(`clip    : ${clip.file}${clip.cached ? ' (cached)' : ''}: ${expected.video} video + ${expected.audio} audio packets`);
  let servers = opts.servers;
  if (servers.includes('nginx')) {
    const ng = ensureNginx();
    if (!ng.ok) {
      console.log(`nginx   : SKIPPED: ${ng.why}`);
      servers = servers.filter((s) => s !== 'nginx');
    } else {
      const v = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
      console.log(`nginx   : ${`${v.stdout}${v.stderr}`.trim()} with libnginx-mod-rtmp${ng.installed ? ' (installed now)' : ''}`);
    }
  }
  console.log('');
  const head = 'server         N files  CPU s  CPU s/str  %core  remux s  idle MiB  peak MiB  mean MiB  MiB/str+  lost v/a  min v  loop p99/max  publisher   mach%';
  console.log(head);
  const results = [];
  for (const n of opts.n) {
    for (const s of servers) {
      const r = await measure(s, n, clip.file, expected, opts.seconds, opts);
      results.push(r);
      console.log(row(r));
    }
  }
  console.log('');
  console.log('CPU s = CPU seconds of the server process tree (own + reaped children) from publish start until every record is finished;');
  console.log('%core = CPU s / publish wall time; remux s = CPU of ffmpeg -c copy -movflags +faststart of each nginx FLV to MP4 (run after);');
  console.log('MiB = PSS summed over the tree (idle before publishing; peak and mean of 1 s samples); MiB/str+ = (peak - idle) / N;');
  console.log('lost v/a = video/audio packets published (clip x N) minus packets in the records; min v = fewest video packets in one record;');
  console.log('loop = wcs-recorder event-loop delay in ms from 3 s into the publish to its end; publisher = load generator CPU s and wall s; mach% = whole machine busy, % of one core.');
  const byN = new Map();
  for (const r of results) byN.set(r.n, { ...byN.get(r.n), [r.server]: r });
  const ratios = [];
  for (const [n, v] of byN) {
    const g = v['nginx-rtmp'];
    for (const name of ['wcs-recorder', 'wcs-ffmpeg']) {
      const w = v[name];
      if (!w || !g) continue;
      ratios.push(`N=${n} ${name}: CPU ours/nginx = ${f2(w.cpuSeconds / g.cpuSeconds)}, ours/(nginx + remux) = ${f2(w.cpuSeconds / (g.cpuSeconds + g.remuxCpu))}; ` +
        // nginx's own growth can be under its 1 s sampling's noise (0.1 MiB, or below its idle figure): no ratio then
        `memory per stream ours/nginx = ${g.memory.peak - g.idle >= 0.5 ? f2((w.memory.peak - w.idle) / (g.memory.peak - g.idle)) : `- (nginx grew ${f1(g.memory.peak - g.idle)} MiB)`}`);
    }
  }
  if (ratios.length) {
    console.log('');
    for (const l of ratios) console.log(l);
  }
  const bad = results.filter((r) => r.lostVideo !== 0 || r.lostAudio !== 0 || r.files !== r.n);
  if (bad.length) {
    console.log('');
    for (const r of bad) console.log(`FRAMES LOST: ${r.server} N=${r.n}: ${r.files}/${r.n} records, ${r.lostVideo} video and ${r.lostAudio} audio packets missing`);
  }
}

main().catch((e) => { console.error(`bench failed: ${e.stack ?? e}`); killAll(); process.exit(1); }).then(() => killAll());
